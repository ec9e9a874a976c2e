//! Scores on the held-out beats: early stopping, the adoption guard and the interpolation back
//! toward the base (WiSE-FT) are all decided on them.

use burn::module::Module;
use burn::tensor::Device;

use crate::eval::{EvalConfig, evaluate};
use crate::model::soup::interpolate;
use crate::model::{Combine, LoadedModel, ZeroNs};
use crate::tracking::Activation;
use crate::tracking::dbn::DbnBeatTracker;
use crate::{Error, Result};

use super::super::base::{masked_bce, scalar};
use super::window::{
    HeldOutBlock, SongInput, SongWindow, Trainable, held_out_windows, raw_inputs, read_vec,
};
use super::{AnnotatedSong, FPS, FinetuneConfig, HeldOutScores};

/// Scores of `model` on the held-out spans.
pub(super) fn held_out_scores(
    model: &Trainable,
    songs: &[AnnotatedSong],
    windows: &[SongWindow],
    inputs: &[SongInput],
    combine: Combine,
    tracker: &DbnBeatTracker,
    device: &Device,
) -> Result<HeldOutScores> {
    let eval_cfg = EvalConfig {
        trim: false,
        ..EvalConfig::default()
    };
    let mut s = HeldOutScores::default();
    let mut n_scored = 0usize;
    let mut loss_sum = 0.0;
    for ((song, w), input) in songs.iter().zip(windows).zip(inputs) {
        let blocks: Vec<&HeldOutBlock> = w.scored_blocks().collect();
        if blocks.is_empty() {
            continue;
        }
        let out = model.forward(input, combine, device);
        loss_sum += scalar(masked_bce(
            out.clone(),
            &w.target,
            &w.holdout_mask,
            [1, w.len],
            device,
        )) as f64;
        let values = read_vec(out)?;
        // A song's scores: its blocks', each decoded alone, weighted by their beats.
        let (mut f, mut cmlt, mut amlt, mut beats) = (0.0, 0.0, 0.0, 0usize);
        for b in blocks {
            let span = values[b.span.0..b.span.1].to_vec();
            let est = tracker.track(&Activation::new(span, FPS))?;
            let sc = evaluate(&b.beats_s, &est, &eval_cfg)?;
            let n = b.beats_s.len();
            f += sc.f_measure * n as f64;
            cmlt += sc.cmlt * n as f64;
            amlt += sc.amlt * n as f64;
            beats += n;
        }
        let k = beats as f64;
        s.f_measure += f / k;
        s.cmlt += cmlt / k;
        s.amlt += amlt / k;
        s.beats += beats;
        s.per_song.push((song.name.clone(), f / k));
        n_scored += 1;
    }
    let k = n_scored.max(1) as f64;
    s.f_measure /= k;
    s.cmlt /= k;
    s.amlt /= k;
    s.loss = loss_sum / k;
    Ok(s)
}

/// Per song of `windows`, its F-measure in `scores` (from [`held_out_scores`] over the same
/// windows), `None` for a song without held-out beats: `per_song` lists only the songs that
/// have some, in order.
pub(super) fn per_song_f(scores: &HeldOutScores, windows: &[SongWindow]) -> Vec<Option<f64>> {
    let mut scored = scores.per_song.iter().map(|(_, f)| *f);
    windows
        .iter()
        .map(|w| {
            if w.scored_blocks().next().is_some() {
                scored.next()
            } else {
                None
            }
        })
        .collect()
}

/// `a` is better than `b`: higher F-measure, or equal F-measure and lower loss.
pub(super) fn better(a: &HeldOutScores, b: &HeldOutScores) -> bool {
    a.f_measure > b.f_measure + 1e-9
        || ((a.f_measure - b.f_measure).abs() <= 1e-9 && a.loss < b.loss)
}

/// The fine-tuned `network` moved back toward `base` by each of `config.interpolations`, the
/// one kept and its held-out scores (config docs; `after` is `None` without held-out beats).
#[allow(clippy::too_many_arguments)]
pub(super) fn interpolate_on_held_out(
    base: &ZeroNs,
    network: ZeroNs,
    songs: &[AnnotatedSong],
    windows: &[SongWindow],
    validated: bool,
    config: &FinetuneConfig,
    tracker: &DbnBeatTracker,
    device: &Device,
) -> Result<(ZeroNs, Option<HeldOutScores>, f64)> {
    let mut lambdas = config.interpolations.clone();
    lambdas.sort_by(f64::total_cmp);
    lambdas.dedup();
    let blend = |lambda: f64| -> Result<ZeroNs> {
        if lambda == 1.0 {
            Ok(network.clone())
        } else {
            interpolate(base, &network, lambda)
        }
    };
    if !validated {
        let lambda = lambdas.last().copied().unwrap_or(1.0);
        return Ok((blend(lambda)?, None, lambda));
    }
    let inputs = raw_inputs(songs, windows);
    let mut scored = Vec::with_capacity(lambdas.len());
    for lambda in lambdas {
        let net = blend(lambda)?;
        let scores = network_held_out_scores(&net, songs, windows, &inputs, tracker, device)?;
        scored.push((lambda, net, scores));
    }
    let best = scored
        .iter()
        .map(|(_, _, s)| s.f_measure)
        .fold(f64::NEG_INFINITY, f64::max);
    // Ascending λ: the first at the best F is the smallest step that loses nothing held out.
    let Some(pos) = scored.iter().position(|(_, _, s)| s.f_measure >= best) else {
        return Err(Error::Model("fine-tuning: no interpolation scored".into()));
    };
    let (lambda, net, scores) = scored.swap_remove(pos);
    Ok((net, Some(scores), lambda))
}

/// A whole network's scores on the held-out spans of `windows` (`inputs` from
/// [`raw_inputs`]: the log-VQT windows run through every layer).
pub(super) fn network_held_out_scores(
    network: &ZeroNs,
    songs: &[AnnotatedSong],
    windows: &[SongWindow],
    inputs: &[SongInput],
    tracker: &DbnBeatTracker,
    device: &Device,
) -> Result<HeldOutScores> {
    held_out_scores(
        &Trainable::Full(network.clone()),
        songs,
        windows,
        inputs,
        network.combine,
        tracker,
        device,
    )
}

/// `model`'s scores on the held-out beats of `songs` as fine-tuning holds them out with
/// `config` (the same spans, decoder and metrics as its early stopping and adoption guard);
/// `None` when too few beats would be held out. For studies of what fine-tuning keeps
/// (`examples/finetune_blend_study.rs`).
pub fn held_out_scores_of(
    model: &LoadedModel,
    songs: &[AnnotatedSong],
    config: &FinetuneConfig,
) -> Result<Option<HeldOutScores>> {
    let plain = model.device.clone().without_autodiff();
    let network = model.network.clone().to_device(&plain).valid();
    let halo = model.config().half_receptive_field_frames();
    let tracker = DbnBeatTracker::new(&config.tracker, FPS)?;
    let Some(windows) = held_out_windows(songs, halo, config) else {
        return Ok(None);
    };
    let inputs = raw_inputs(songs, &windows);
    network_held_out_scores(&network, songs, &windows, &inputs, &tracker, &plain).map(Some)
}
