//! Fine-tuning on the user's corrected beats (spec §4, the authors' downstream recipe, and §7,
//! the cached-trunk shortcut), with an honest before/after on held-out beats.
//!
//! **Targets and loss (authors):** for each annotated beat b, frame k = round(62.5·b) gets 1
//! and k ± 1 get 0.5 (a 1 is never lowered by a neighbour's 0.5); binary cross-entropy between
//! the max-combined output and that target, averaged over the *annotated* frames only
//! (a user often corrects only the first 30–60 s: the rest of the song is not "no beat").
//! One optimiser step per song per epoch (batch size 1, as the authors), song order shuffled
//! from the seed each epoch, dropout active.
//!
//! **Annotated region** of a song: from half a beat before its first annotated beat (or 0)
//! to `annotated_until_s` if given, else half a beat after its last annotated beat.
//!
//! **Modes** ([`FinetuneMode`]): `heads` trains only the two 1×1 heads; `top` trains the
//! upper layers ([`FinetuneConfig::top_layers`]) and the heads on features of the frozen lower
//! part computed once per song and cached (what makes CPU fine-tuning take seconds); `full`
//! trains everything from the log-VQT. Default `top` for both architectures: for `lite` the
//! last 3 of the 6 TCN layers (dilations 8, 16, 32: they set the tempo-scale context, while
//! the stem and lower layers keep the pretrained onset features) and every layer grown above
//! them (lite v4: dilations 64 and 128, so its last 5 of 8; [`LITE_V1_TOP_LAYERS`]), for `paper` cv7 + cv8
//! (spec §7: 1.16 M parameters, ≈ 180× cheaper than full). Measured on the 15 development
//! songs where the shipped `lite` is weakest, first 30 s annotated, mean F on the rest:
//! `heads` 0.634, `top` with 1 layer 0.707, `top` (3) 0.908, `full` 0.933 at 2–3× the time.
//! On all 38 songs `full` is below `top` (0.952 against 0.958): it over-fitted one song the
//! base already tracked (held-out F 1.0 before and after, rest 0.997 → 0.402)
//! (`assets/MODEL_CARD.md`).
//!
//! **Validation without a labelled set:** [`FinetuneConfig::holdout_fraction`] of each song's
//! annotated region is held out: its end, and when the share reaches two
//! [`FinetuneConfig::holdout_block_s`] blocks, blocks spread evenly over the region. A user who
//! corrected a minute of a song whose sections differ (the base right in one, on the off-beat
//! in another) is then validated on both: measured on `war_of_freedom` with 60 s annotated, a
//! single block at 48–60 s lay where the base was already right, so early stopping kept the
//! base's epoch-1 weights that were wrong over the first 40 s. Each epoch the model is run on the held-out spans,
//! each span is decoded alone with the DBN, and the mean F-measure (mir_eval, no 5 s trim)
//! over songs drives early stopping (patience from the paper: 20 epochs); ties go to the lower
//! held-out loss. The base model is scored the same way before training, so the before/after
//! compares the same beats. With fewer than [`FinetuneConfig::min_holdout_beats`] held-out beats
//! in all, nothing is held out and a fixed budget of [`FinetuneConfig::fixed_epochs`] is run;
//! the outcome then says it is unvalidated.
//!
//! **Keeping the rest** ([`FinetuneConfig::rest_weight`], off by default; the app's *only
//! where the music resembles my corrections*): a learning-without-forgetting term. Each epoch,
//! a chunk of each song's unannotated audio (as long as its annotated window, drawn from the
//! seed) goes through the trained layers, and its BCE against the base model's own output there
//! (computed once, from the cached lower layers of the whole song) is added with this weight.
//! The corrections then change the network where the music resembles them and leave it where
//! it differs. Measured with weight 1, first 30 s annotated, mean F on the rest: the six
//! Frets on Fire songs, whose sections differ, 0.803 → **0.942** (war_of_freedom 0.49 → 0.98,
//! feelings 0.72 → 0.99, mutilated_mime 0.93 → 0.99); but songs where the base is wrong
//! everywhere stay wrong (metal-rit 0.05, blupi-008 0.00), so on all 38 songs 0.896 against
//! 0.958 without it. Hence an option, for the songs the suggestions show flipping by section.
//!
//! **Bars** (issue 21), when the base model has a downbeat head: its head is trained with the
//! beat head (it is part of every mode's trained top), on the downbeats of the songs whose beats
//! the user numbered in the bar ([`AnnotatedSong::with_positions`]: "this is beat 1" teaches
//! the bar phase) and, on the other songs, towards the base model's own downbeat curve over the
//! window, so that training the beats does not drift the bars
//! ([`FinetuneConfig::downbeat_weight`]). When the base model has a bar classifier
//! ([`crate::model::bars`]), the numbered songs also fine-tune it from the parent's weights,
//! the tail of each song's beats held out and the parent kept unless an epoch beats it there
//! ([`FinetuneConfig::bars`], [`FinetuneOutcome::bars`]).
//!
//! **Nothing to learn** ([`FinetuneConfig::when_base_agrees`], DEVSET rule 31): when the
//! caller gives each song's base beats ([`AnnotatedSong::with_base_beats`]: the analysis the
//! user corrected) and they already match every corrected beat of every song (±70 ms, none
//! added or removed inside the region), the beat network is kept as it is: confirmed beats
//! that the base already places teach it nothing, and training on them moved the rest of such
//! songs (on dev a Groove MIDI song, rest F 0.585 → 0.537). The bar classifier still learns
//! numbered bars.
//!
//! **Guard against getting worse** (the paper's SMC→GTZAN drop): the result carries
//! [`FinetuneOutcome::improved`], true only if the held-out F-measure went up (or stayed equal
//! with a lower held-out loss); callers keep the base model active otherwise.

use std::time::Instant;

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::model::{FINETUNED_METHOD, LoadedModel, Provenance};
use crate::pipeline::CancelToken;
use crate::tracking::dbn::DbnBeatTracker;
use crate::{Error, Result};

use super::bars::{BarSong, BarsFinetuneReport, finetune_bars};
use super::base::{masked_bce, scalar};
use super::corpus::mix;

/// Frames per second of the network's input and output (spec §1).
const FPS: f64 = 62.5;

/// Trunk layers `top` mode trains by default in lite v1's six-layer trunk (dilations 8, 16 and
/// 32; measured on v2 and kept for v3, module docs). Layers grown above those six
/// (`zerons train --add-dilations`) are trained too: for lite v4, dilations 8 to 128. On the
/// development benchmark's dev split (DEVSET rules 13–14, 70 songs, first 30 s corrected, rest
/// of each song scored with the decoder continuing the corrections) v4 with only its last three
/// layers (32, 64, 128) reached F 0.932, with five 0.972 (four: 0.958).
pub const LITE_V1_TOP_LAYERS: usize = 3;
/// TCN layers of lite v1's trunk.
const LITE_V1_TCN_LAYERS: usize = 6;

mod config;
mod held_out;
mod song;
#[cfg(test)]
mod tests;
mod window;

pub use config::{FinetuneConfig, FinetuneMode, WhenBaseAgrees};
pub use held_out::held_out_scores_of;
use held_out::{better, held_out_scores, interpolate_on_held_out, per_song_f};
pub use song::{AGREE_TOL_S, AnnotatedSong, changed_beats, corrected_until_s};
use window::{
    RestInput, SongInput, TopPair, Trainable, held_out_windows, read_vec, window_of,
    window_tensor_data,
};

/// Held-out scores of one model (means over the songs that have held-out beats).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct HeldOutScores {
    /// mir_eval F-measure (±70 ms), no 5 s trim.
    pub f_measure: f64,
    /// Correct metrical level, total.
    pub cmlt: f64,
    /// Any metrical level, total.
    pub amlt: f64,
    /// Masked BCE on the held-out frames.
    pub loss: f64,
    /// Held-out beats scored, in all.
    pub beats: usize,
    /// Per song `(name, F-measure)`.
    pub per_song: Vec<(String, f64)>,
}

/// Metrics of one epoch.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FinetuneEpoch {
    /// 1-based epoch.
    pub epoch: usize,
    /// Mean training loss over the epoch's steps.
    pub train_loss: f64,
    /// Held-out scores after the epoch (none when unvalidated).
    pub held_out: Option<HeldOutScores>,
}

/// Progress report after each epoch.
#[derive(Debug, Clone)]
pub struct FinetuneProgress {
    /// The epoch just finished.
    pub epoch: FinetuneEpoch,
    /// Epoch bound in effect (`max_epochs` or `fixed_epochs`).
    pub max_epochs: usize,
    /// Best held-out F-measure so far (the base model's before any epoch beat it).
    pub best_f_measure: Option<f64>,
    /// Estimated seconds left (to the epoch bound).
    pub eta_s: f64,
}

/// The result of [`finetune`].
#[derive(Debug)]
pub struct FinetuneOutcome {
    /// The fine-tuned model (best epoch), with its parent and provenance set; not saved.
    pub model: LoadedModel,
    /// The base model's held-out scores (`None` when unvalidated).
    pub before: Option<HeldOutScores>,
    /// The fine-tuned model's held-out scores at its best epoch.
    pub after: Option<HeldOutScores>,
    /// Whether the fine-tuned model did better on the held-out beats (see the module docs).
    /// Always false when unvalidated: nothing shows it is better.
    pub improved: bool,
    /// The epoch kept (1-based).
    pub best_epoch: usize,
    /// The share of the trained change kept (`FinetuneConfig::interpolations`; 1 = as
    /// trained).
    pub interpolation: f64,
    /// Every epoch's metrics.
    pub history: Vec<FinetuneEpoch>,
    /// Seconds spent, preparation of cached features included.
    pub elapsed_s: f64,
    /// The settings used.
    pub config: FinetuneConfig,
    /// The learning rate used.
    pub learning_rate: f64,
    /// Whether `cancel` stopped it (the outcome then holds the best model so far).
    pub cancelled: bool,
    /// Songs the keep-the-rest term applied to ([`FinetuneConfig::rest_weight`],
    /// [`FinetuneConfig::rest_min_base_f`]).
    pub rest_term_songs: usize,
    /// The beat network is the base's, unchanged: every song's base beats already matched its
    /// corrections and [`FinetuneConfig::when_base_agrees`] is `keep` (nothing was trained;
    /// `after` equals `before`, `improved` is false).
    pub base_kept: bool,
    /// What the bar classifier learned from the user's numbered beats (`None`: the model
    /// has no classifier, no song was numbered, or the run was cancelled: the parent's is
    /// kept).
    pub bars: Option<BarsFinetuneReport>,
}

/// Fine-tunes `base` on `songs` (module docs). `base` is left untouched; the returned model
/// records it as parent. `on_progress` is called after every epoch; `cancel` is checked after
/// every step and returns the best model so far with `cancelled = true`.
pub fn finetune(
    base: &LoadedModel,
    songs: &[AnnotatedSong],
    config: &FinetuneConfig,
    device: &Device,
    cancel: &CancelToken,
    mut on_progress: impl FnMut(&FinetuneProgress),
) -> Result<FinetuneOutcome> {
    let _span =
        tracing::info_span!("finetune", songs = songs.len(), mode = config.mode.name()).entered();
    let started = Instant::now();
    config.validate()?;
    if songs.is_empty() {
        return Err(Error::InvalidInput(
            "fine-tuning needs at least one annotated song".into(),
        ));
    }
    let lr = config.effective_learning_rate();
    let plain = device.clone().without_autodiff();
    let ad = device.clone().autodiff();
    let base_net = base.network.clone().to_device(&plain).valid();
    let combine = base_net.combine;
    let top_layers = config.top_layers_for(&base_net.anchor);
    let halo = base.config().half_receptive_field_frames();
    let tracker = DbnBeatTracker::new(&config.tracker, FPS)?;

    // Held-out spans, unless there is too little annotation.
    let (windows, validated) = match held_out_windows(songs, halo, config) {
        Some(w) => (w, true),
        None => (
            songs
                .iter()
                .map(|s| window_of(s, halo, 0.0, config.holdout_block_s))
                .collect(),
            false,
        ),
    };

    // Inputs: cached lower-part features (heads/top) or log-VQT windows (full).
    let mut inputs = Vec::with_capacity(songs.len());
    for (song, w) in songs.iter().zip(&windows) {
        let xa = window_tensor_data(&song.non_percussive, w.start, w.len);
        let xp = window_tensor_data(&song.percussive, w.start, w.len);
        inputs.push(match config.mode {
            FinetuneMode::Full => SongInput::Raw {
                anchor: xa,
                postve: xp,
            },
            _ => {
                let fa = base_net
                    .anchor
                    .forward_bottom(Tensor::<4>::from_data(xa, &plain), top_layers)?;
                let fp = base_net
                    .postve
                    .forward_bottom(Tensor::<4>::from_data(xp, &plain), top_layers)?;
                SongInput::Cached {
                    anchor: fa.into_data(),
                    postve: fp.into_data(),
                }
            }
        });
        if cancel.is_cancelled() {
            return Err(Error::Cancelled);
        }
    }

    // The base's trained part in the cached modes: the start of training, and the keep-the-rest
    // term's reference.
    let base_top = match config.mode {
        FinetuneMode::Full => None,
        _ => Some(TopPair {
            anchor: base_net.anchor.top(top_layers)?,
            postve: base_net.postve.top(top_layers)?,
        }),
    };

    let initial = match &base_top {
        None => Trainable::Full(base.network.clone().fork(&ad).train()),
        Some(t) => Trainable::Top(t.clone().fork(&ad).train()),
    };
    // Downbeat targets: the user's bars, else the base's own downbeat curve (config docs).
    let mut downbeat_targets: Vec<Option<Vec<f32>>> = Vec::with_capacity(songs.len());
    let train_downbeats = config.downbeat_weight > 0.0 && base_net.has_downbeat_head();
    for (w, input) in windows.iter().zip(&inputs) {
        downbeat_targets.push(match (&w.downbeat_target, train_downbeats) {
            (_, false) => None,
            (Some(t), true) => Some(t.clone()),
            (None, true) => initial
                .valid()
                .forward_with_downbeat(input, combine, &plain)
                .1
                .map(read_vec)
                .transpose()?,
        });
    }
    // A model's scores on the held-out spans (`None` when nothing is held out).
    let score_held_out = |m: &Trainable| -> Result<Option<HeldOutScores>> {
        validated
            .then(|| held_out_scores(m, songs, &windows, &inputs, combine, &tracker, &plain))
            .transpose()
    };
    let before = score_held_out(&initial.valid())?;
    // Nothing to learn (config docs): the base already places every corrected beat.
    let base_kept = config.when_base_agrees == WhenBaseAgrees::Keep
        && songs.iter().all(|s| s.base_agrees() == Some(true));

    // The keep-the-rest term's inputs (cached modes only).
    let mut rests: Vec<Option<RestInput>> = Vec::with_capacity(songs.len());
    if let Some(base_top) = base_top
        .as_ref()
        .filter(|_| config.rest_weight > 0.0 && !base_kept)
    {
        // Which songs it applies to (config docs: all, or where the base's held-out F is high).
        let keeps: Vec<bool> = match (config.rest_min_base_f, &before) {
            (None, _) => vec![true; songs.len()],
            (Some(min_f), Some(b)) => per_song_f(b, &windows)
                .into_iter()
                .map(|f| f.is_some_and(|f| f >= min_f))
                .collect(),
            (Some(_), None) => vec![false; songs.len()],
        };
        for ((song, w), keep) in songs.iter().zip(&windows).zip(keeps) {
            let n = song.n_frames();
            let mut spans = Vec::new();
            let min_len = halo.max(1);
            if w.start >= min_len {
                spans.push((0, w.start));
            }
            if n >= w.start + w.len + min_len {
                spans.push((w.start + w.len, n));
            }
            if spans.is_empty() || !keep {
                rests.push(None);
                continue;
            }
            let fa = base_net.anchor.forward_bottom(
                Tensor::<4>::from_data(window_tensor_data(&song.non_percussive, 0, n), &plain),
                top_layers,
            )?;
            let fp = base_net.postve.forward_bottom(
                Tensor::<4>::from_data(window_tensor_data(&song.percussive, 0, n), &plain),
                top_layers,
            )?;
            let channels = fa.dims()[1];
            let base_out = read_vec(combine.apply(
                base_top.anchor.forward(fa.clone()),
                base_top.postve.forward(fp.clone()),
            ))?;
            let as_vec = |t: Tensor<3>| {
                t.into_data()
                    .try_into_vec::<f32>()
                    .map_err(|e| Error::Model(format!("cannot read cached features: {e:?}")))
            };
            let (anchor, postve) = (as_vec(fa)?, as_vec(fp)?);
            if base_out.len() != n || anchor.len() != channels * n || postve.len() != anchor.len() {
                return Err(Error::Model(format!(
                    "{}: the network's output over the whole song has {} frames for {n} input frames",
                    song.name,
                    base_out.len()
                )));
            }
            rests.push(Some(RestInput {
                anchor,
                postve,
                channels,
                base_out,
                spans,
                chunk: w.len,
            }));
            if cancel.is_cancelled() {
                return Err(Error::Cancelled);
            }
        }
    }

    let rest_term_songs = rests.iter().filter(|r| r.is_some()).count();

    let annotated_s: f64 = songs
        .iter()
        .map(|s| (s.region_s.1 - s.region_s.0).max(0.0))
        .sum();
    let max_epochs = if base_kept {
        0
    } else {
        config.epoch_bound(validated, annotated_s)
    };
    let min_epochs = config.effective_min_epochs();
    let mut optim = AdamConfig::new().init();
    let mut model = initial;
    let mut best: Option<(Trainable, HeldOutScores, usize)> = None;
    let mut history = Vec::new();
    let mut since_best = 0;
    let mut cancelled = false;
    let loop_start = Instant::now();
    ad.seed(config.seed);
    for epoch in 1..=max_epochs {
        let mut order: Vec<usize> = (0..songs.len()).collect();
        let mut z = mix(config.seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        for i in (1..order.len()).rev() {
            z = mix(z);
            order.swap(i, (z % (i as u64 + 1)) as usize);
        }
        let mut loss_sum = 0.0;
        for &i in &order {
            let w = &windows[i];
            let (out, downbeat) = model.forward_with_downbeat(&inputs[i], combine, &ad);
            let mut loss = masked_bce(out, &w.target, &w.train_mask, [1, w.len], &ad);
            if let (Some(d), Some(target)) = (downbeat, &downbeat_targets[i]) {
                loss = loss
                    + masked_bce(d, target, &w.train_mask, [1, w.len], &ad)
                        .mul_scalar(config.downbeat_weight);
            }
            if let Some(Some(rest)) = rests.get(i)
                && let Some((input, target, mask)) = rest.draw(
                    mix(z ^ (i as u64).wrapping_mul(0xA24B_AED4_963E_E407)),
                    halo,
                )
            {
                let out = model.forward(&input, combine, &ad);
                loss = loss
                    + masked_bce(out, &target, &mask, [1, target.len()], &ad)
                        .mul_scalar(config.rest_weight);
            }
            let value = scalar(loss.clone());
            if !value.is_finite() {
                return Err(Error::InvalidInput(format!(
                    "fine-tuning: loss became {value} at epoch {epoch} (lower the learning rate)"
                )));
            }
            loss_sum += value as f64;
            let grads = loss.backward();
            model = match model {
                Trainable::Top(t) => {
                    let g = GradientsParams::from_grads(grads, &t);
                    Trainable::Top(optim.step(lr, t, g))
                }
                Trainable::Full(n) => {
                    let g = GradientsParams::from_grads(grads, &n);
                    Trainable::Full(optim.step(lr, n, g))
                }
            };
            if cancel.is_cancelled() {
                cancelled = true;
                break;
            }
        }
        if cancelled {
            break;
        }
        let held_out = score_held_out(&model.valid())?;
        let record = FinetuneEpoch {
            epoch,
            train_loss: loss_sum / songs.len() as f64,
            held_out: held_out.clone(),
        };
        tracing::debug!(?record, "fine-tuning epoch");
        match held_out {
            Some(h) if best.as_ref().is_none_or(|(_, b, _)| better(&h, b)) => {
                best = Some((model.valid(), h, epoch));
                since_best = 0;
            }
            Some(_) => since_best += 1,
            None => best = Some((model.valid(), HeldOutScores::default(), epoch)),
        }
        let per_epoch = loop_start.elapsed().as_secs_f64() / epoch as f64;
        history.push(record.clone());
        on_progress(&FinetuneProgress {
            epoch: record,
            max_epochs,
            best_f_measure: match (&best, &before) {
                (Some((_, b, _)), Some(bf)) if validated => Some(b.f_measure.max(bf.f_measure)),
                _ => None,
            },
            eta_s: per_epoch * (max_epochs - epoch) as f64,
        });
        if validated && since_best >= config.patience_epochs && epoch >= min_epochs {
            break;
        }
    }

    let (trained, after, best_epoch) = match best {
        Some((m, h, e)) => (m, validated.then_some(h), e),
        None => (model.valid(), None, 0),
    };
    let network = match trained {
        Trainable::Top(t) => {
            let t = t.to_device(&plain);
            let mut net = base_net.clone();
            net.anchor = net.anchor.with_top(t.anchor)?;
            net.postve = net.postve.with_top(t.postve)?;
            net
        }
        Trainable::Full(n) => n.to_device(&plain),
    };
    // WiSE-FT (config docs): part of the way back to the base, chosen on the held-out beats.
    let (network, after, interpolation) = if base_kept {
        (base_net.clone(), before.clone(), 0.0)
    } else if !config.interpolates() {
        (network, after, 1.0)
    } else {
        interpolate_on_held_out(
            &base_net, network, songs, &windows, validated, config, &tracker, &plain,
        )?
    };
    let improved = match (&before, &after) {
        (Some(b), Some(a)) if !base_kept => better(a, b),
        _ => false,
    };
    let provenance = Provenance {
        method: FINETUNED_METHOD.into(),
        data: Some(format!(
            "{} song(s): {}",
            songs.len(),
            songs
                .iter()
                .map(|s| format!(
                    "{} ({} beats, {:.1}–{:.1} s)",
                    s.name,
                    s.beats_s.len(),
                    s.region_s.0,
                    s.region_s.1
                ))
                .collect::<Vec<_>>()
                .join("; ")
        )),
        steps: Some((best_epoch * songs.len()) as u64),
        epochs: Some(best_epoch as u64),
        created_unix_s: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .ok()
            .map(|d| d.as_secs()),
        notes: Some(format!(
            "mode {}, top_layers {top_layers}, Adam lr {lr}, seed {}, {}",
            config.mode.name(),
            config.seed,
            match (&before, &after) {
                _ if base_kept => {
                    "the base's beats already matched every corrected beat: network kept".into()
                }
                (Some(b), Some(a)) => format!(
                    "held-out F {:.3} → {:.3} ({} beats){}",
                    b.f_measure,
                    a.f_measure,
                    a.beats,
                    if improved {
                        ""
                    } else {
                        ", not better than the parent"
                    }
                ),
                _ => "unvalidated (too little annotation to hold out)".into(),
            }
        )),
        ..Default::default()
    };
    let mut extra = provenance.extra.clone();
    extra.insert(
        "finetune".into(),
        serde_json::json!({
            "config": config,
            "learning_rate": lr,
            "top_layers": top_layers,
            "best_epoch": best_epoch,
            "interpolation": interpolation,
            "rest_term_songs": rest_term_songs,
            "base_kept": base_kept,
            "before": before,
            "after": after,
            "improved": improved,
        }),
    );
    let parent = (!base.manifest.id.is_empty()).then(|| base.manifest.id.clone());
    // The bar classifier learns the bars the user numbered (module docs); songs without
    // numbers leave it as the parent's.
    let (bars, bars_report) = match &base.bars {
        Some(parent) if !cancelled => {
            let parent = parent.clone().to_device(&plain);
            let bar_songs: Vec<BarSong> = songs
                .iter()
                .filter_map(|s| {
                    Some(BarSong {
                        name: &s.name,
                        percussive: &s.percussive,
                        non_percussive: &s.non_percussive,
                        beats_s: &s.beats_s,
                        downbeats_s: s.downbeats_s.as_deref()?,
                    })
                })
                .collect();
            match finetune_bars(&parent, &bar_songs, &config.bars, device, cancel)? {
                Some((m, r)) => (Some(m.to_device(&plain)), Some(r)),
                None => (Some(parent), None),
            }
        }
        other => (other.clone().map(|b| b.to_device(&plain)), None),
    };
    if let Some(r) = &bars_report {
        extra.insert("finetune_bars".into(), serde_json::json!(r));
    }
    let provenance = Provenance {
        extra,
        ..provenance
    };
    let model =
        LoadedModel::new(network, base.config().clone(), provenance, parent, plain).with_bars(bars);
    Ok(FinetuneOutcome {
        model,
        before,
        after,
        improved,
        best_epoch,
        interpolation,
        history,
        elapsed_s: started.elapsed().as_secs_f64(),
        config: config.clone(),
        learning_rate: lr,
        cancelled,
        rest_term_songs,
        base_kept,
        bars: bars_report,
    })
}
