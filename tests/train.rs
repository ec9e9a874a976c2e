//! `train` stage: corpus ingestion and curation on synthetic tracks, and the sync-pred loop
//! (loss moves, resume is exact).

use std::path::Path;
use std::sync::Mutex;

use zerons::model::{Architecture, LiteConfig, ModelConfig, ZeroNs, load_model};
use zerons::pipeline::CancelToken;
use zerons::train::{
    Corpus, CorpusConfig, CorpusManifest, CosineKind, RejectReason, TrainConfig, ingest_corpus,
    nt_xent, pretrain, validate,
};

/// Training seeds burn's global RNG: run training tests one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

const SR: u32 = 16_000;

fn write_wav(path: &Path, samples: &[f32]) {
    let mut b = Vec::new();
    let data_len = (samples.len() * 2) as u32;
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&(36 + data_len).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&16u32.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&SR.to_le_bytes());
    b.extend_from_slice(&(SR * 2).to_le_bytes());
    b.extend_from_slice(&2u16.to_le_bytes());
    b.extend_from_slice(&16u16.to_le_bytes());
    b.extend_from_slice(b"data");
    b.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        b.extend_from_slice(&((s.clamp(-1.0, 1.0) * 32767.0) as i16).to_le_bytes());
    }
    std::fs::write(path, b).unwrap();
}

/// Decaying clicks every `period_s` (a deterministic noise burst of 20 ms).
fn clicks(seconds: f64, period_s: f64, amp: f32) -> Vec<f32> {
    let n = (seconds * SR as f64) as usize;
    let period = (period_s * SR as f64) as usize;
    let mut state = 12345u32;
    (0..n)
        .map(|i| {
            let k = i % period;
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let noise = (state >> 8) as f32 / (1 << 24) as f32 * 2.0 - 1.0;
            amp * noise * (-(k as f32) / (0.004 * SR as f32)).exp()
        })
        .collect()
}

fn tone(seconds: f64, amp: f32) -> Vec<f32> {
    let n = (seconds * SR as f64) as usize;
    (0..n)
        .map(|i| {
            let t = i as f32 / SR as f32;
            amp * ((2.0 * std::f32::consts::PI * 220.0 * t).sin()
                + 0.5 * (2.0 * std::f32::consts::PI * 330.0 * t).sin())
        })
        .collect()
}

fn mix(a: &[f32], b: &[f32]) -> Vec<f32> {
    a.iter().zip(b).map(|(x, y)| x + y).collect()
}

/// Corpus: two balanced mixes (HPSS), one pre-separated stem pair, a drums-only and a
/// no-drums track, and a too-short one.
fn make_corpus(dir: &Path) {
    let sub = dir.join("album");
    std::fs::create_dir_all(&sub).unwrap();
    let secs = 21.0; // two 10 s clips
    write_wav(
        &dir.join("a.wav"),
        &mix(&clicks(secs, 0.125, 0.5), &tone(secs, 0.1)),
    );
    write_wav(
        &sub.join("b.wav"),
        &mix(&clicks(secs, 0.1, 0.5), &tone(secs, 0.12)),
    );
    write_wav(&sub.join("c.perc.wav"), &clicks(secs, 0.15, 0.5));
    write_wav(&sub.join("c.nonperc.wav"), &tone(secs, 0.1));
    write_wav(&dir.join("drums_only.wav"), &clicks(secs, 0.125, 0.5));
    write_wav(&dir.join("no_drums.wav"), &tone(secs, 0.2));
    write_wav(&dir.join("short.wav"), &tone(3.0, 0.2));
    std::fs::write(dir.join("notes.txt"), "not audio").unwrap();
}

fn corpus_config() -> CorpusConfig {
    CorpusConfig {
        valid_fraction: 0.34, // one of three kept tracks
        ..Default::default()
    }
}

fn manifest(cache: &Path) -> CorpusManifest {
    serde_json::from_slice(&std::fs::read(cache.join("corpus.json")).unwrap()).unwrap()
}

#[test]
fn ingestion_curates_caches_and_splits_by_track() {
    let audio = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    make_corpus(audio.path());
    let cfg = corpus_config();
    let mut seen = Vec::new();
    let corpus = ingest_corpus(audio.path(), cache.path(), &cfg, &CancelToken::new(), |p| {
        seen.push(p.path.to_owned())
    })
    .unwrap();
    let m = manifest(cache.path());
    let r = &corpus.report;
    for (path, t) in &m.tracks {
        eprintln!(
            "{path}: p={:.3} {:?} clips {} / rejected {}",
            t.pass_fraction,
            t.rejected,
            t.clips_kept(),
            t.clips_rejected
        );
    }
    assert_eq!(r.tracks, 6, "{seen:?}");
    assert_eq!(r.processed, 6);
    let reason = |p: &str| m.tracks[p].rejected;
    assert_eq!(reason("drums_only.wav"), Some(RejectReason::Unbalanced));
    assert_eq!(reason("no_drums.wav"), Some(RejectReason::Unbalanced));
    assert_eq!(reason("short.wav"), Some(RejectReason::TooShort));
    assert_eq!(reason("a.wav"), None);
    assert_eq!(reason("album/b.wav"), None);
    let pair = &m.tracks["album/c.perc.wav"];
    assert_eq!(pair.rejected, None);
    assert_eq!(pair.nonperc_path.as_deref(), Some("album/c.nonperc.wav"));
    assert_eq!(pair.clip_offsets_s, vec![0.0, 10.016]);
    assert_eq!(r.tracks_kept, 3);
    assert_eq!(r.rejected.get("unbalanced"), Some(&2));
    assert_eq!(r.clips_kept, 6);
    assert_eq!((r.train_tracks, r.valid_tracks), (2, 1));
    assert_eq!((corpus.train.len(), corpus.valid.len()), (4, 2));
    // Clip contents: the stem pair's percussive channel is the clicks, far louder in the
    // high bins than the tones' channel.
    let clip = corpus.read(&corpus.train[0]).unwrap();
    assert_eq!(clip.percussive.len(), 96 * 626);
    assert!(clip.percussive.iter().all(|v| v.is_finite()));
    assert_ne!(clip.percussive, clip.non_percussive);

    // Second run: everything comes from the cache; same split.
    let again = ingest_corpus(
        audio.path(),
        cache.path(),
        &cfg,
        &CancelToken::new(),
        |_| {},
    )
    .unwrap();
    assert_eq!(again.report.processed, 0);
    assert_eq!(again.train, corpus.train);
    assert_eq!(again.valid, corpus.valid);
    // A cancelled run stops before the first track.
    let cancel = CancelToken::new();
    cancel.cancel();
    let err = ingest_corpus(audio.path(), cache.path(), &cfg, &cancel, |_| {}).unwrap_err();
    assert_eq!(err.code(), "cancelled");
}

/// A tiny corpus of two stem pairs (no HPSS: fast), 2 clips each.
fn tiny_corpus(audio: &Path, cache: &Path) -> Corpus {
    tiny_corpus_split(audio, cache, 0.0)
}

fn tiny_corpus_split(audio: &Path, cache: &Path, valid_fraction: f64) -> Corpus {
    let secs = 21.0;
    for (name, period) in [("x", 0.125), ("y", 0.2)] {
        write_wav(
            &audio.join(format!("{name}.perc.wav")),
            &clicks(secs, period, 0.5),
        );
        let mut t = tone(secs, 0.05);
        // Make the non-percussive stem pulse with the clicks (accents), as music does.
        let p = (period * SR as f64) as usize;
        for (i, v) in t.iter_mut().enumerate() {
            *v *= 1.0 + 2.0 * (-((i % p) as f32) / (0.05 * SR as f32)).exp();
        }
        write_wav(&audio.join(format!("{name}.nonperc.wav")), &t);
    }
    let cfg = CorpusConfig {
        valid_fraction,
        ..Default::default()
    };
    ingest_corpus(audio, cache, &cfg, &CancelToken::new(), |_| {}).unwrap()
}

fn tiny_train_config() -> TrainConfig {
    TrainConfig {
        model: ModelConfig {
            architecture: Architecture::Lite(LiteConfig {
                stem_channels: 2,
                channels: 8,
                dilations: vec![1, 2, 4],
                ..Default::default()
            }),
            ..Default::default()
        },
        learning_rate: 3e-3,
        epochs: 100,
        seed: 7,
        checkpoint_every_steps: 3,
        // The loop mechanics (loss moves, exact resume, cancel) on the loss that never
        // starts stuck; the raw loss and the warm-up switch have their own test.
        cosine: CosineKind::Centred,
        ..Default::default()
    }
}

#[test]
fn training_moves_the_loss_and_resume_is_exact() {
    let _guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let audio = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let corpus = tiny_corpus(audio.path(), cache.path());
    assert_eq!(corpus.train.len(), 4);
    let cfg = tiny_train_config();
    let cpu = zerons::model::Device::flex();
    let fixed = &corpus.train[..1];

    // Loss on a fixed clip at fixed offsets, before and after 12 steps.
    cpu.seed(cfg.seed);
    let init = ZeroNs::new(&cfg.model, &cpu).unwrap();
    let before = validate(&init, &corpus, fixed, &cfg, &cpu)
        .unwrap()
        .unwrap();
    assert!((before.loss - 16f64.ln()).abs() < 0.3, "{before:?}");

    let run_a = tempfile::tempdir().unwrap();
    let full = TrainConfig {
        max_steps: Some(12),
        ..cfg.clone()
    };
    let a = pretrain(
        &corpus,
        run_a.path(),
        &full,
        false,
        &cpu,
        &CancelToken::new(),
        |_| {},
    )
    .unwrap();
    assert_eq!(a.state.global_step, 12);
    assert_eq!(a.state.epoch, 3);
    assert_eq!(a.state.history.len(), 3);
    let trained = load_model(run_a.path().join("last")).unwrap();
    let after = validate(&trained.network, &corpus, fixed, &cfg, &cpu)
        .unwrap()
        .unwrap();
    eprintln!(
        "before {before:?}\nafter {after:?}\nlosses {:?}",
        a.state.step_losses
    );
    assert!(
        after.loss < before.loss - 0.2,
        "{} → {}",
        before.loss,
        after.loss
    );
    assert!(after.cos_pos > after.cos_neg + 0.1, "{after:?}");

    // Same run in two sessions: 5 steps (mid-epoch), then resume to 12.
    let run_b = tempfile::tempdir().unwrap();
    let part = TrainConfig {
        max_steps: Some(5),
        ..cfg.clone()
    };
    let b1 = pretrain(
        &corpus,
        run_b.path(),
        &part,
        false,
        &cpu,
        &CancelToken::new(),
        |_| {},
    )
    .unwrap();
    assert_eq!(b1.state.global_step, 5);
    // Without --resume an existing run is refused.
    assert!(
        pretrain(
            &corpus,
            run_b.path(),
            &part,
            false,
            &cpu,
            &CancelToken::new(),
            |_| {}
        )
        .is_err()
    );
    let b2 = pretrain(
        &corpus,
        run_b.path(),
        &full,
        true,
        &cpu,
        &CancelToken::new(),
        |_| {},
    )
    .unwrap();
    assert_eq!(b2.state.step_losses, a.state.step_losses);
    let wa = std::fs::read(run_a.path().join("last/model.bpk")).unwrap();
    let wb = std::fs::read(run_b.path().join("last/model.bpk")).unwrap();
    assert!(
        wa == wb,
        "resumed weights differ from the uninterrupted run"
    );

    // Cancel: checkpoint after the current step, flagged as cancelled.
    let run_c = tempfile::tempdir().unwrap();
    let cancel = CancelToken::new();
    let c = pretrain(&corpus, run_c.path(), &full, false, &cpu, &cancel, |p| {
        if p.global_step == 2 {
            cancel.cancel();
        }
    });
    let c = c.unwrap();
    assert!(c.cancelled);
    assert_eq!(c.state.global_step, 3);
    assert!(run_c.path().join("last/optim.bpk").is_file());
}

#[test]
fn raw_cosine_ignores_no_sign_and_centred_is_sign_blind() {
    use burn::tensor::{Tensor, TensorData};
    let cpu = zerons::model::Device::flex();
    // Two sparse peak trains: anchor i and positive i peak together, the others elsewhere.
    let (b, t) = (4usize, 40usize);
    let peaks = |shift: usize| -> Vec<f32> {
        (0..b * t)
            .map(|k| {
                let (i, x) = (k / t, k % t);
                if (x + shift) % 10 == i { 0.9 } else { 0.01 }
            })
            .collect()
    };
    let a = Tensor::<2>::from_data(TensorData::new(peaks(0), [b, t]), &cpu);
    let p = Tensor::<2>::from_data(TensorData::new(peaks(0), [b, t]), &cpu);
    let value = |x: Tensor<1>| x.into_data().to_vec::<f32>().unwrap()[0];
    let raw = value(nt_xent(a.clone(), p.clone(), 0.25, CosineKind::Raw));
    let centred = value(nt_xent(a.clone(), p.clone(), 0.25, CosineKind::Centred));
    assert!(raw < 0.2 && centred < 0.2, "aligned peaks: {raw} {centred}");
    // Dips instead of peaks (1 − x): the centred loss cannot tell, the raw one can.
    let flip = |x: Tensor<2>| x.neg() + 1.0;
    let raw_flip = value(nt_xent(
        flip(a.clone()),
        flip(p.clone()),
        0.25,
        CosineKind::Raw,
    ));
    let centred_flip = value(nt_xent(flip(a), flip(p), 0.25, CosineKind::Centred));
    assert!(
        (centred_flip - centred).abs() < 1e-4,
        "{centred} vs {centred_flip}"
    );
    assert!(
        raw_flip > raw + 1.0,
        "raw loss of dips {raw_flip} vs peaks {raw}"
    );
}

#[test]
fn warmup_switches_to_the_raw_cosine_and_validates_between_epochs() {
    let _guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let audio = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let corpus = tiny_corpus_split(audio.path(), cache.path(), 0.5);
    assert_eq!((corpus.train.len(), corpus.valid.len()), (2, 2));
    let cfg = TrainConfig {
        cosine: CosineKind::Raw,
        centred_warmup_steps: 6,
        valid_every_steps: Some(4),
        valid_max_clips: 1,
        max_steps: Some(12),
        ..tiny_train_config()
    };
    let cpu = zerons::model::Device::flex();
    let run = tempfile::tempdir().unwrap();
    let out = pretrain(
        &corpus,
        run.path(),
        &cfg,
        false,
        &cpu,
        &CancelToken::new(),
        |_| {},
    )
    .unwrap();
    // Validation every 4 steps and at each epoch end (2 clips per epoch), once per step.
    let steps: Vec<u64> = out
        .state
        .valid_history
        .iter()
        .map(|p| p.global_step)
        .collect();
    assert_eq!(steps, vec![2, 4, 6, 8, 10, 12]);
    let last = &out.state.valid_history.last().unwrap().valid;
    assert!(
        last.loss.is_finite() && last.raw_cos_pos.is_finite(),
        "{last:?}"
    );
    // After the switch the best model is judged on the raw loss only.
    let best_step = out
        .state
        .valid_history
        .iter()
        .filter(|p| p.global_step >= 6)
        .min_by(|a, b| a.valid.loss.total_cmp(&b.valid.loss))
        .unwrap()
        .global_step;
    let best = load_model(run.path().join("best")).unwrap();
    assert_eq!(best.manifest.provenance.steps, Some(best_step));
    // The heads were calibrated at the switch: outputs start sparse (median ≈ sigmoid(−4)).
    let pair = corpus.read(&corpus.valid[0]).unwrap();
    let x = |v: &[f32]| {
        burn::tensor::Tensor::<4>::from_data(
            burn::tensor::TensorData::new(v.to_vec(), [1, 1, 96, 626]),
            &cpu,
        )
    };
    let y = best
        .network
        .forward(x(&pair.non_percussive), x(&pair.percussive));
    let mut v = y.combined.into_data().to_vec::<f32>().unwrap();
    v.sort_by(f32::total_cmp);
    assert!(v[v.len() / 2] < 0.2, "median output {}", v[v.len() / 2]);
    // Metrics written for the training-curve figure.
    let metrics: zerons::train::TrainState =
        serde_json::from_slice(&std::fs::read(run.path().join("metrics.json")).unwrap()).unwrap();
    assert_eq!(metrics.valid_history.len(), 6);
}
