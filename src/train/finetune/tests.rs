//! Unit tests of fine-tuning (the module and its parts).

use super::window::holdout_spans;
use super::*;
use crate::features::Spectrogram;
use crate::model::{ModelConfig, ZeroNs};
use crate::tracking::Activation;

#[test]
fn changed_beats_counts_moves_and_extras() {
    assert_eq!(changed_beats(&[1.0, 2.0, 3.0], &[1.0, 2.05, 3.0], 0.07), 0);
    assert_eq!(changed_beats(&[1.0, 2.0, 3.0], &[1.0, 2.2, 3.0], 0.07), 2);
    assert_eq!(changed_beats(&[1.0, 2.0], &[1.0, 2.0, 3.0], 0.07), 1);
}

#[test]
fn corrected_until_is_the_last_edit() {
    let model = [0.5, 1.0, 1.5, 2.0, 2.5, 3.0];
    assert_eq!(corrected_until_s(&model, &model, 0.02), None);
    // Moved beat 2, added one at 1.75: corrected until 1.75 s.
    assert_eq!(
        corrected_until_s(&model, &[0.5, 1.1, 1.5, 1.75, 2.0, 2.5, 3.0], 0.02),
        Some(1.75)
    );
    // Removed the beat at 2.5 (the user's list ends earlier than the model's change).
    assert_eq!(
        corrected_until_s(&model, &[0.5, 1.0, 1.5, 2.0, 3.0], 0.02),
        Some(2.5)
    );
    // A 10 ms nudge is within tolerance.
    assert_eq!(
        corrected_until_s(&model, &[0.51, 1.0, 1.5, 2.0, 2.5, 3.0], 0.02),
        None
    );
}
fn spec(n_frames: usize, f: impl Fn(usize, usize) -> f32) -> Spectrogram {
    let mut data = Vec::with_capacity(96 * n_frames);
    for bin in 0..96 {
        for t in 0..n_frames {
            data.push(f(bin, t));
        }
    }
    Spectrogram {
        data,
        n_bins: 96,
        n_frames,
        fps: FPS,
    }
}

/// A synthetic song: broadband "clicks" every `period` frames in the percussive stem and a
/// steady tone in the other, beats on the clicks.
fn click_song(
    n_frames: usize,
    period: usize,
    phase: usize,
) -> (Spectrogram, Spectrogram, Vec<f64>) {
    let perc = spec(
        n_frames,
        |_, t| {
            if t % period == phase { 0.0 } else { -6.0 }
        },
    );
    let non = spec(n_frames, |bin, _| if bin == 40 { -1.0 } else { -6.0 });
    let beats = (0..n_frames)
        .filter(|t| t % period == phase)
        .map(|t| t as f64 / FPS)
        .collect();
    (non, perc, beats)
}

#[test]
fn targets_and_masks_follow_the_recipe() {
    let (non, perc, beats) = click_song(2000, 31, 5);
    let song = AnnotatedSong::new("s", non, perc, &beats, Some(20.0)).unwrap();
    assert_eq!(song.region_s.0, 0.0);
    assert!((song.region_s.1 - 20.0).abs() < 1e-9);
    let w = window_of(&song, 10, 0.2, 6.0);
    assert_eq!(w.start, 0);
    assert_eq!(w.len, 1260);
    assert_eq!(w.target[5], 1.0);
    assert_eq!(w.target[4], 0.5);
    assert_eq!(w.target[6], 0.5);
    assert_eq!(w.target[7], 0.0);
    assert_eq!(w.train_mask.iter().sum::<f32>(), 1000.0);
    assert_eq!(w.holdout_mask.iter().sum::<f32>(), 250.0);
    // 20 s annotated: 4 s held out, less than two 6-s blocks, so one block at the end.
    assert_eq!(w.holdout.len(), 1);
    assert_eq!(w.holdout[0].span, (1000, 1250));
    // Held-out beats are the ones in 16–20 s, relative to 16 s.
    let b = &w.holdout[0].beats_s;
    assert!(b.iter().all(|b| *b >= 0.0 && *b < 4.0));
    assert_eq!(b.len(), 8);
    assert_eq!(w.holdout_beats(), 8);
}

/// With a minute annotated the held-out fifth is two 6-s blocks, one closing each half of
/// the region, so both halves are validated; nothing held out is trained on.
#[test]
fn long_regions_are_validated_in_blocks_spread_over_them() {
    assert_eq!(
        holdout_spans(0, 3750, 0.2, 375),
        vec![(1500, 1875), (3375, 3750)]
    );
    assert_eq!(holdout_spans(0, 1875, 0.2, 375), vec![(1500, 1875)]);
    assert_eq!(holdout_spans(100, 1100, 0.0, 375), vec![]);
    assert_eq!(holdout_spans(0, 100, 0.2, 375), vec![(80, 100)]);
    let (non, perc, beats) = click_song(4000, 31, 5);
    let song = AnnotatedSong::new("s", non, perc, &beats, Some(60.0)).unwrap();
    let w = window_of(&song, 10, 0.2, 6.0);
    assert_eq!(w.holdout.len(), 2);
    assert_eq!(w.holdout[0].span, (1500, 1875));
    assert_eq!(w.holdout[1].span, (3375, 3750));
    for b in &w.holdout {
        let len_s = (b.span.1 - b.span.0) as f64 / FPS;
        assert!(!b.beats_s.is_empty() && b.beats_s.iter().all(|t| (0.0..len_s).contains(t)));
    }
    assert_eq!(w.holdout_mask.iter().sum::<f32>(), 750.0);
    assert_eq!(w.train_mask.iter().sum::<f32>(), 3000.0);
    assert!(
        w.train_mask
            .iter()
            .zip(&w.holdout_mask)
            .all(|(t, h)| t * h == 0.0)
    );
}

#[test]
fn bad_annotations_are_reported() {
    let (non, perc, _) = click_song(600, 31, 5);
    let e = AnnotatedSong::new(
        "x.wav",
        non.clone(),
        perc.clone(),
        &[1.0, 0.5, 2.0, 3.0],
        None,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("x.wav") && e.contains("not increasing"), "{e}");
    let e = AnnotatedSong::new("x.wav", non.clone(), perc.clone(), &[1.0, f64::NAN], None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("not a time"), "{e}");
    let e = AnnotatedSong::new("x.wav", non, perc, &[1.0, 2.0, 3.0, 4.0], Some(2.5))
        .unwrap_err()
        .to_string();
    assert!(e.contains("at least 4"), "{e}");
}

/// A freshly initialised lite model as the base (draws from burn's RNG: hold
/// [`crate::test_rng_lock`]).
fn random_lite(device: &Device) -> LoadedModel {
    let net = ZeroNs::new(&ModelConfig::lite(), device).unwrap();
    LoadedModel::new(
        net,
        ModelConfig::lite(),
        Provenance::default(),
        None,
        device.clone(),
    )
}

/// Fine-tunes `base` on one song with no progress callback and no cancel.
fn finetune_quietly(
    base: &LoadedModel,
    song: AnnotatedSong,
    config: &FinetuneConfig,
    device: &Device,
) -> FinetuneOutcome {
    finetune(base, &[song], config, device, &CancelToken::new(), |_| {}).unwrap()
}

/// `model`'s combined output over the whole of a song's two spectrograms.
fn whole_song_output(model: &LoadedModel, non: &Spectrogram, perc: &Spectrogram) -> Vec<f32> {
    let (device, n) = (&model.device, non.n_frames);
    let net = model.network.clone().valid();
    let a = Tensor::<4>::from_data(window_tensor_data(non, 0, n), device);
    let p = Tensor::<4>::from_data(window_tensor_data(perc, 0, n), device);
    read_vec(net.forward(a, p).combined).unwrap()
}

/// Fine-tuning a random lite model on a click track teaches it the clicks: held-out
/// F-measure goes up, and the model records its parent and the scores.
#[test]
fn top_mode_learns_a_click_track_and_reports_before_after() {
    let _rng = crate::test_rng_lock();
    let device = Device::flex();
    device.seed(3);
    let mut base = random_lite(&device);
    base.manifest.id = "zn-parent".into();
    let (non, perc, beats) = click_song(1900, 29, 7);
    let song = AnnotatedSong::new("clicks", non, perc, &beats, None).unwrap();
    let config = FinetuneConfig {
        max_epochs: 60,
        patience_epochs: 60,
        ..FinetuneConfig::default()
    };
    let mut epochs_seen = 0;
    let out = finetune(&base, &[song], &config, &device, &CancelToken::new(), |p| {
        epochs_seen = p.epoch.epoch;
    })
    .unwrap();
    let before = out.before.as_ref().unwrap();
    let after = out.after.as_ref().unwrap();
    assert_eq!(epochs_seen, 60);
    assert!(after.f_measure >= 0.9, "after {after:?}, before {before:?}");
    assert!(out.improved || before.f_measure >= 0.9);
    assert_eq!(out.model.manifest.parent_id.as_deref(), Some("zn-parent"));
    assert_eq!(out.model.manifest.provenance.method, "finetuned");
    // The loss went down.
    let first = out.history.first().unwrap().train_loss;
    let last = out.history.last().unwrap().train_loss;
    assert!(last < first, "{first} → {last}");
}

/// WiSE-FT's interpolation (DEVSET rule 26): a tiny share of the trained change keeps the
/// base's weights and its held-out score (the guard judges what is kept, not what was
/// trained).
#[test]
fn interpolation_keeps_the_chosen_share_of_the_change() {
    use crate::model::soup::parameters;
    let _rng = crate::test_rng_lock();
    let device = Device::flex();
    device.seed(3);
    let base = random_lite(&device);
    let (non, perc, beats) = click_song(1900, 29, 7);
    let song = AnnotatedSong::new("clicks", non, perc, &beats, None).unwrap();
    let config = FinetuneConfig {
        max_epochs: 30,
        patience_epochs: 30,
        interpolations: vec![1e-4],
        ..FinetuneConfig::default()
    };
    let out = finetune_quietly(&base, song, &config, &device);
    let before = out.before.as_ref().unwrap();
    let after = out.after.as_ref().unwrap();
    assert!(
        (after.f_measure - before.f_measure).abs() < 1e-9,
        "after {after:?}, before {before:?}"
    );
    // Every weight within 1e-4 of the trained change from the base's.
    let (tuned, start) = (
        parameters(&out.model.network).unwrap().concat(),
        parameters(&base.network).unwrap().concat(),
    );
    let moved = tuned
        .iter()
        .zip(&start)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(moved < 1e-4, "largest change {moved}");
    assert!(config.validate().is_ok());
    for bad in [
        vec![],
        vec![0.0],
        vec![0.5, -0.5],
        vec![1.5],
        vec![f64::NAN],
    ] {
        let c = FinetuneConfig {
            interpolations: bad.clone(),
            ..FinetuneConfig::default()
        };
        assert!(c.validate().is_err(), "{bad:?}");
    }
}

/// DEVSET rule 27: of several interpolations the held-out beats choose; a step that
/// loses held-out beats is not kept (here the near-base one, on clicks the random base
/// cannot track), and the reported scores are the kept model's.
#[test]
fn the_held_out_beats_choose_the_interpolation() {
    let _rng = crate::test_rng_lock();
    let device = Device::flex();
    device.seed(3);
    let base = random_lite(&device);
    let (non, perc, beats) = click_song(1900, 29, 7);
    let song = AnnotatedSong::new("clicks", non, perc, &beats, None).unwrap();
    let config = FinetuneConfig {
        max_epochs: 60,
        patience_epochs: 60,
        interpolations: vec![1.0, 1e-4],
        ..FinetuneConfig::default()
    };
    let out = finetune_quietly(&base, song.clone(), &config, &device);
    let (before, after) = (out.before.clone().unwrap(), out.after.clone().unwrap());
    assert!(
        before.f_measure < 0.9,
        "the random base tracks the clicks: {before:?}"
    );
    assert_eq!(out.interpolation, 1.0);
    assert!(after.f_measure >= 0.9, "{after:?}");
    assert!(out.improved);
    // The kept model's own held-out scores, computed afresh, are the ones reported.
    let again = held_out_scores_of(&out.model, &[song], &config)
        .unwrap()
        .unwrap();
    assert!((again.f_measure - after.f_measure).abs() < 1e-9);
}

/// Issue 21: a user's bar numbers teach the downbeat head the bar phase, and a song
/// without numbers keeps the base's downbeat curve closer than with the term off.
#[test]
fn user_downbeats_teach_the_bar_phase_and_unnumbered_songs_keep_the_bars() {
    use crate::model::{InferConfig, infer};
    let _rng = crate::test_rng_lock();
    let device = Device::flex();
    device.seed(5);
    let config = ModelConfig::lite().with_downbeat_head().unwrap();
    let net = ZeroNs::new(&config, &device).unwrap();
    let base = LoadedModel::new(net, config, Provenance::default(), None, device.clone());
    // Clicks every 29 frames from frame 7; every 4th click from the second is louder in
    // the low bins (the bar's first beat), numbered 4, 1, 2, 3, 4, 1, … by the user.
    let (n, period, phase) = (1900, 29, 7);
    let perc = spec(n, |bin, t| {
        let k = (t + period - phase) / period;
        match (t % period == phase, k % 4 == 2 && bin < 48) {
            (true, true) => 2.0,
            (true, false) => 0.0,
            _ => -6.0,
        }
    });
    let non = spec(n, |bin, _| if bin == 40 { -1.0 } else { -6.0 });
    let beats: Vec<f64> = (0..n)
        .filter(|t| t % period == phase)
        .map(|t| t as f64 / FPS)
        .collect();
    let positions: Vec<u32> = (0..beats.len()).map(|k| ((k + 3) % 4 + 1) as u32).collect();
    let song = AnnotatedSong::new("bars", non.clone(), perc.clone(), &beats, None)
        .unwrap()
        .with_positions(&beats, &positions)
        .unwrap();
    assert!(song.downbeats_s.as_ref().is_some_and(|d| d.len() >= 10));
    let fixed = FinetuneConfig {
        holdout_fraction: 0.0,
        fixed_epochs: 60,
        ..FinetuneConfig::default()
    };
    let curve = |m: &LoadedModel| -> Vec<f32> {
        infer(m, &non, &perc, &InferConfig::default())
            .unwrap()
            .downbeat
            .expect("a downbeat curve")
            .values
    };
    let mean = |v: &[f32]| v.iter().map(|x| f64::from(*x)).sum::<f64>() / v.len().max(1) as f64;
    let contrast = |d: &[f32]| {
        let (mut on, mut off) = (Vec::new(), Vec::new());
        for (b, p) in beats.iter().zip(&positions) {
            let v = d[(b * FPS).round() as usize];
            if *p == 1 { on.push(v) } else { off.push(v) }
        }
        mean(&on) - mean(&off)
    };
    let out = finetune_quietly(&base, song, &fixed, &device);
    let after = curve(&out.model);
    let bars = crate::tracking::meter::choose_meter(
        &beats,
        &Activation::new(after.clone(), FPS),
        &crate::tracking::meter::MeterConfig::default(),
    )
    .unwrap()
    .expect("a meter");
    assert_eq!(
        bars.positions,
        positions,
        "downbeat contrast {:.3} (base {:.3})",
        contrast(&after),
        contrast(&curve(&base))
    );
    assert!(contrast(&after) > 0.05);
    // The same song with its bars unknown: the term keeps the base's curve.
    let drift = |weight: f64| {
        let song = AnnotatedSong::new("beats", non.clone(), perc.clone(), &beats, None).unwrap();
        let cfg = FinetuneConfig {
            downbeat_weight: weight,
            ..fixed.clone()
        };
        let m = finetune_quietly(&base, song, &cfg, &device).model;
        let (a, b) = (curve(&m), curve(&base));
        a.iter()
            .zip(&b)
            .map(|(x, y)| f64::from((x - y).abs()))
            .sum::<f64>()
            / a.len() as f64
    };
    let (kept, free) = (drift(1.0), drift(0.0));
    assert!(
        kept < free,
        "drift with the term {kept:.4}, without {free:.4}"
    );
    // A position list of the wrong length is refused with the song's name.
    let e = AnnotatedSong::new("x.wav", non.clone(), perc.clone(), &beats, None)
        .unwrap()
        .with_positions(&beats, &positions[1..])
        .unwrap_err();
    assert!(e.to_string().contains("x.wav"), "{e}");
}

/// Issue 21: with a bar classifier in the base, a numbered song fine-tunes it (the
/// report and the provenance say so); an unnumbered song leaves the parent's as it was.
#[test]
fn numbered_songs_fine_tune_the_bar_classifier() {
    use crate::model::bars::{BarModel, BarNetConfig};
    let _rng = crate::test_rng_lock();
    let device = Device::flex();
    device.seed(5);
    let cfg = BarNetConfig {
        context_beats: 1,
        hidden: 8,
    };
    let parent = BarModel {
        net: cfg.init(&device),
        config: cfg,
        notes: Some("parent".into()),
    };
    let base = random_lite(&device).with_bars(Some(parent));
    let (non, perc, beats) = click_song(1900, 29, 7);
    let positions: Vec<u32> = (0..beats.len()).map(|k| (k % 4 + 1) as u32).collect();
    let config = FinetuneConfig {
        max_epochs: 2,
        fixed_epochs: 2,
        ..FinetuneConfig::default()
    };
    let numbered = AnnotatedSong::new("n", non.clone(), perc.clone(), &beats, None)
        .unwrap()
        .with_positions(&beats, &positions)
        .unwrap();
    let out = finetune_quietly(&base, numbered, &config, &device);
    let report = out.bars.as_ref().expect("a bar report");
    assert_eq!(report.songs, 1);
    assert!(report.held_out_beats >= 12 && report.accuracy_before.is_some());
    assert!(
        out.model
            .manifest
            .provenance
            .extra
            .contains_key("finetune_bars")
    );
    assert!(out.model.bars.is_some());

    let plain = AnnotatedSong::new("p", non, perc, &beats, None).unwrap();
    let out = finetune_quietly(&base, plain, &config, &device);
    assert!(out.bars.is_none());
    let kept = out.model.bars.as_ref().expect("the parent's classifier");
    assert_eq!(kept.notes.as_deref(), Some("parent"));
}

/// `top` mode's default trains lite v1's layers of dilations 8, 16, 32 and every layer
/// grown above them (DEVSET rules 13–14): 3 of six, 5 of lite v4's eight; an explicit
/// count and the other modes are unchanged.
#[test]
fn top_mode_trains_the_grown_layers_too() {
    let device = Device::flex();
    let v1 = ZeroNs::new(&ModelConfig::lite(), &device).unwrap();
    let grown = ModelConfig::lite()
        .with_extra_dilations(&[64, 128])
        .unwrap();
    let v4 = ZeroNs::new(&grown, &device).unwrap();
    let top = FinetuneConfig::default();
    assert_eq!(top.top_layers_for(&v1.anchor), 3);
    assert_eq!(top.top_layers_for(&v4.anchor), 5);
    assert_eq!(top.top_layers_for(&v4.postve), 5);
    let explicit = FinetuneConfig {
        top_layers: Some(2),
        ..FinetuneConfig::default()
    };
    assert_eq!(explicit.top_layers_for(&v4.anchor), 2);
    let heads = FinetuneConfig {
        mode: FinetuneMode::Heads,
        ..FinetuneConfig::default()
    };
    assert_eq!(heads.top_layers_for(&v4.anchor), 0);
    let full = FinetuneConfig {
        mode: FinetuneMode::Full,
        ..FinetuneConfig::default()
    };
    assert_eq!(full.top_layers_for(&v4.anchor), 8);
}

/// Rule 15's budget caps epochs by epochs × annotated seconds, never below 1 nor above the
/// mode's count; one song of 30 s keeps all 200 epochs, ten such songs get 60.
#[test]
fn the_epoch_budget_caps_long_runs_only() {
    let c = FinetuneConfig::default();
    assert_eq!(c.epoch_bound(true, 30.0), 200);
    assert_eq!(c.epoch_bound(true, 90.0), 200);
    assert_eq!(c.epoch_bound(true, 300.0), 60);
    assert_eq!(c.epoch_bound(true, 295.0), 61);
    assert_eq!(c.epoch_bound(false, 30.0), 40);
    assert_eq!(c.epoch_bound(true, 1e9), 1);
    assert_eq!(c.epoch_bound(true, 0.0), 200);
    let bad = FinetuneConfig {
        epoch_budget_s: 0.0,
        ..FinetuneConfig::default()
    };
    assert!(bad.validate().is_err());
    let nan = FinetuneConfig {
        epoch_budget_s: f64::NAN,
        ..FinetuneConfig::default()
    };
    assert!(nan.validate().is_err());
}

/// A run whose budget allows three epochs runs three, whatever `max_epochs` and patience say.
#[test]
fn a_run_stops_at_its_epoch_budget() {
    let _rng = crate::test_rng_lock();
    let device = Device::flex();
    device.seed(11);
    let base = random_lite(&device);
    let (non, perc, beats) = click_song(1900, 29, 7);
    let song = AnnotatedSong::new("s", non, perc, &beats, None).unwrap();
    let annotated_s = song.region_s.1 - song.region_s.0;
    let config = FinetuneConfig {
        max_epochs: 50,
        patience_epochs: 50,
        epoch_budget_s: annotated_s * 3.5,
        ..FinetuneConfig::default()
    };
    let out = finetune_quietly(&base, song, &config, &device);
    assert_eq!(out.history.len(), 3);
}

/// Regression: `full` mode panicked in `backward` ("requires a tracked autodiff tensor")
/// because the forked network was not switched to training (no parameter required grads).
#[test]
fn full_mode_trains_every_layer() {
    let _rng = crate::test_rng_lock();
    let device = Device::flex();
    device.seed(5);
    let base = random_lite(&device);
    let (non, perc, beats) = click_song(900, 29, 7);
    let song = AnnotatedSong::new("clicks", non, perc, &beats, None).unwrap();
    let config = FinetuneConfig {
        mode: FinetuneMode::Full,
        max_epochs: 4,
        patience_epochs: 4,
        fixed_epochs: 4,
        ..FinetuneConfig::default()
    };
    let out = finetune_quietly(&base, song, &config, &device);
    assert_eq!(out.history.len(), 4);
    let first = out.history.first().unwrap().train_loss;
    let last = out.history.last().unwrap().train_loss;
    assert!(last < first, "{first} → {last}");
    assert_eq!(out.model.manifest.provenance.method, "finetuned");
}

/// Early stopping waits for `min_epochs` (full mode's default 60: its held-out score can
/// stay flat longer than the patience while the whole network moves).
#[test]
fn early_stopping_waits_for_min_epochs() {
    assert_eq!(FinetuneConfig::default().effective_min_epochs(), 0);
    let full = FinetuneConfig {
        mode: FinetuneMode::Full,
        ..FinetuneConfig::default()
    };
    assert_eq!(full.effective_min_epochs(), 60);
    let _rng = crate::test_rng_lock();
    let device = Device::flex();
    device.seed(11);
    let base = random_lite(&device);
    let (non, perc, beats) = click_song(1900, 29, 7);
    let song = AnnotatedSong::new("clicks", non, perc, &beats, None).unwrap();
    let config = FinetuneConfig {
        max_epochs: 12,
        patience_epochs: 1,
        min_epochs: Some(9),
        ..FinetuneConfig::default()
    };
    let out = finetune_quietly(&base, song, &config, &device);
    assert!(out.before.is_some(), "the run must be validated");
    // Without the floor this run stops at epoch 6.
    assert!(out.history.len() >= 9, "stopped at {}", out.history.len());
}

/// The keep-the-rest term holds the network's output on the unannotated audio near the
/// base's: trained on the first 16 s of a click track, the model moves its output over
/// the rest much less with the term than without.
#[test]
fn rest_weight_keeps_the_unannotated_output_near_the_base() {
    let _rng = crate::test_rng_lock();
    let device = Device::flex();
    let (non, perc, beats) = click_song(3000, 29, 7);
    let mut moved = Vec::new();
    for rest_weight in [0.0, 5.0] {
        device.seed(13);
        let base = random_lite(&device);
        let song =
            AnnotatedSong::new("clicks", non.clone(), perc.clone(), &beats, Some(16.0)).unwrap();
        let config = FinetuneConfig {
            max_epochs: 30,
            patience_epochs: 30,
            rest_weight,
            ..FinetuneConfig::default()
        };
        let out = finetune_quietly(&base, song, &config, &device);
        let (b, f) = (
            whole_song_output(&base, &non, &perc),
            whole_song_output(&out.model, &non, &perc),
        );
        // The rest: from the end of the annotated window (16 s + the halo) on.
        let from = 1000 + base.config().half_receptive_field_frames();
        let d = (from..3000).map(|i| (b[i] - f[i]).abs()).sum::<f32>() / (3000 - from) as f32;
        moved.push(d);
    }
    assert!(moved[1] < 0.5 * moved[0], "moved on the rest: {moved:?}");
}

#[test]
fn cancel_stops_before_training() {
    let _rng = crate::test_rng_lock();
    let device = Device::flex();
    let base = random_lite(&device);
    let (non, perc, beats) = click_song(1000, 29, 7);
    let song = AnnotatedSong::new("clicks", non, perc, &beats, None).unwrap();
    let cancel = CancelToken::new();
    cancel.cancel();
    let r = finetune(
        &base,
        &[song],
        &FinetuneConfig::default(),
        &device,
        &cancel,
        |_| {},
    );
    assert!(matches!(r, Err(Error::Cancelled)), "{r:?}");
}

/// The gated keep-the-rest term (DEVSET rule 30) applies only where the base's held-out F
/// reaches the threshold: a random base scores low on a click track, so a threshold of 0.9
/// leaves the run as without the term (the same network), and a threshold of 0 applies it.
#[test]
fn rest_min_base_f_gates_the_rest_term_on_the_base_held_out_f() {
    let _rng = crate::test_rng_lock();
    let device = Device::flex();
    let (non, perc, beats) = click_song(3000, 29, 7);
    let run = |rest_weight: f64, rest_min_base_f: Option<f64>| {
        device.seed(17);
        let base = random_lite(&device);
        let song =
            AnnotatedSong::new("clicks", non.clone(), perc.clone(), &beats, Some(24.0)).unwrap();
        let config = FinetuneConfig {
            max_epochs: 8,
            patience_epochs: 8,
            rest_weight,
            rest_min_base_f,
            ..FinetuneConfig::default()
        };
        finetune_quietly(&base, song, &config, &device)
    };
    let plain = run(0.0, None);
    let base_f = plain.before.as_ref().unwrap().f_measure;
    assert!(
        base_f < 0.9,
        "a random base scored {base_f} on the held-out clicks"
    );
    assert_eq!(plain.rest_term_songs, 0);
    let gated = run(1.0, Some(0.9));
    assert_eq!(gated.rest_term_songs, 0);
    let output = |o: &FinetuneOutcome| whole_song_output(&o.model, &non, &perc);
    assert_eq!(
        output(&gated),
        output(&plain),
        "the gated-off run trained differently"
    );
    let open = run(1.0, Some(0.0));
    assert_eq!(open.rest_term_songs, 1);
    assert_eq!(run(1.0, None).rest_term_songs, 1);
}

/// A song without held-out beats has no entry in a score's `per_song`: the per-song F of the
/// songs around it keep their own.
#[test]
fn per_song_f_aligns_scores_with_songs_without_held_out_beats() {
    let (non, perc, beats) = click_song(1900, 29, 7);
    let song = AnnotatedSong::new("clicks", non, perc, &beats, None).unwrap();
    let windows = [
        window_of(&song, 10, 0.2, 6.0),
        window_of(&song, 10, 0.0, 6.0),
        window_of(&song, 10, 0.2, 6.0),
    ];
    assert!(windows[0].holdout_beats() > 0);
    assert_eq!(windows[1].holdout_beats(), 0);
    let scores = HeldOutScores {
        per_song: vec![("a".into(), 0.3), ("c".into(), 0.95)],
        ..HeldOutScores::default()
    };
    assert_eq!(
        super::held_out::per_song_f(&scores, &windows),
        vec![Some(0.3), None, Some(0.95)]
    );
}

/// `base_agrees` (DEVSET rule 31): the base's beats match the corrections when every corrected
/// beat has a base beat within 70 ms and no base beat well inside the region lacks a corrected
/// one; base beats at the region's edges or outside it do not count against it.
#[test]
fn base_agrees_when_no_corrected_beat_differs_by_more_than_70_ms() {
    let (non, perc, beats) = click_song(2000, 31, 5);
    let song = || AnnotatedSong::new("s", non.clone(), perc.clone(), &beats, Some(20.0)).unwrap();
    assert_eq!(song().base_agrees(), None, "no base beats: unknown");
    let with = |b: &[f64]| song().with_base_beats(b).unwrap().base_agrees();
    assert_eq!(with(&beats), Some(true));
    // Every beat 50 ms late: within the window.
    let late: Vec<f64> = beats.iter().map(|b| b + 0.05).collect();
    assert_eq!(with(&late), Some(true));
    // One beat moved by 100 ms: the user corrected it.
    let mut moved = beats.clone();
    moved[10] += 0.1;
    assert_eq!(with(&moved), Some(false));
    // A base beat the user removed (between two clicks, inside the region).
    let mut extra = beats.clone();
    extra.push(beats[5] + 0.25);
    extra.sort_by(f64::total_cmp);
    assert_eq!(with(&extra), Some(false));
    // A corrected beat the base lacked.
    let mut missing = beats.clone();
    missing.remove(7);
    assert_eq!(with(&missing), Some(false));
    // Base beats after the region (20 s) or within 70 ms of its end do not count.
    let mut after = beats.clone();
    after.extend([19.95, 20.3, 25.0]);
    after.sort_by(f64::total_cmp);
    after.dedup();
    assert_eq!(with(&after), Some(true));
    // Base beats that are not increasing times are refused, naming the song.
    let e = song().with_base_beats(&[1.0, 0.5]).unwrap_err().to_string();
    assert!(e.contains("s:") && e.contains("base model"), "{e}");
    assert!(song().with_base_beats(&[1.0, f64::NAN]).is_err());
}

/// With `when_base_agrees = keep` and the base's beats matching the corrections, nothing is
/// trained: the network is the base's, bit for bit, and the outcome says so. When the user
/// did correct a beat, or with `train`, the run trains as before.
#[test]
fn keep_leaves_the_network_unchanged_when_the_base_already_agrees() {
    let _rng = crate::test_rng_lock();
    let device = Device::flex();
    device.seed(23);
    let base = random_lite(&device);
    let (non, perc, beats) = click_song(2500, 29, 7);
    let config = |when_base_agrees| FinetuneConfig {
        max_epochs: 6,
        patience_epochs: 6,
        when_base_agrees,
        ..FinetuneConfig::default()
    };
    let song = |base_beats: &[f64]| {
        AnnotatedSong::new("clicks", non.clone(), perc.clone(), &beats, Some(24.0))
            .unwrap()
            .with_base_beats(base_beats)
            .unwrap()
    };
    let output = |m: &LoadedModel| whole_song_output(m, &non, &perc);
    let kept = finetune_quietly(&base, song(&beats), &config(WhenBaseAgrees::Keep), &device);
    assert!(kept.base_kept);
    assert!(!kept.improved);
    assert_eq!(kept.best_epoch, 0);
    assert!(kept.history.is_empty());
    assert_eq!(kept.after, kept.before);
    assert_eq!(output(&kept.model), output(&base));
    assert!(
        kept.model
            .manifest
            .provenance
            .notes
            .as_deref()
            .is_some_and(|n| n.contains("already matched"))
    );
    // One corrected beat moved by 150 ms: there is something to learn.
    let mut moved = beats.clone();
    moved[20] += 0.15;
    let trained = finetune_quietly(&base, song(&moved), &config(WhenBaseAgrees::Keep), &device);
    assert!(!trained.base_kept);
    assert!(trained.best_epoch > 0);
    assert_ne!(output(&trained.model), output(&base));
    // `train` trains even when the base agrees.
    let trained = finetune_quietly(&base, song(&beats), &config(WhenBaseAgrees::Train), &device);
    assert!(!trained.base_kept);
    assert!(trained.best_epoch > 0);
}
