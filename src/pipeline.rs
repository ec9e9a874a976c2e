//! The entry-point ladder: run the pipeline from any rung.
//!
//! ```text
//! analyze_file(path)          decode → resample → …
//!   analyze_signal(signal)    resample to 16 kHz → separate → …
//!     analyze_stems(stems)    activation → track
//!       track_activation(act) track
//! ```
//!
//! Every rung takes the same [`AnalyzeConfig`], reports [`Progress`] through a callback and
//! honours a [`CancelToken`] between stages.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};

use crate::audio::{self, ANALYSIS_RATE_HZ, AudibleConfig, DecodeConfig, Signal, audible_span_s};
use crate::features::Spectrogram;
use crate::features::onset::{FluxConfig, spectral_flux};
use crate::features::vqt::{VqtConfig, log_vqt};
use crate::formats::BeatList;
use crate::model::{InferConfig, LoadedModel, infer};
use crate::separation::{HpssConfig, Stems, hpss};
use crate::tracking::meter::{
    BarPositionMethod, MeterChoice, MeterConfig, PhaseCheckConfig, choose_meter,
    choose_meter_from_values, midpoints, pulse_ratio,
};
use crate::tracking::refine::{RefineConfig, refine_beats};
use crate::tracking::{Activation, Tracker, TrackerConfig};
use crate::{Error, Result};

/// Which curve the tracker decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ActivationKind {
    /// Spectral flux of the percussive (HPSS) stem, normalised to [0, 1]: a hand-made onset
    /// curve, the engine's default only because it needs no model. The CLI and the app track
    /// with the shipped network unless asked for this (assets/MODEL_CARD.md).
    #[default]
    Flux,
    /// The ZeroNS network: element-wise max (or the model's combination) of both branches.
    Max,
    /// The network's non-percussive ("anchor") branch alone, for inspection.
    Anchor,
    /// The network's percussive ("postve") branch alone, for inspection.
    Postve,
}

impl ActivationKind {
    pub fn name(self) -> &'static str {
        match self {
            ActivationKind::Flux => "spectral flux of the percussive stem",
            ActivationKind::Max => "ZeroNS network, combined branches",
            ActivationKind::Anchor => "ZeroNS network, non-percussive branch",
            ActivationKind::Postve => "ZeroNS network, percussive branch",
        }
    }

    /// Whether this activation needs a network.
    pub fn needs_model(self) -> bool {
        self != ActivationKind::Flux
    }
}

/// Configuration of a whole analysis: one config struct per stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct AnalyzeConfig {
    pub decode: DecodeConfig,
    pub separation: HpssConfig,
    pub flux: FluxConfig,
    pub vqt: VqtConfig,
    pub infer: InferConfig,
    pub activation: ActivationKind,
    pub tracker: TrackerConfig,
    /// Decoded beats moved to the activation's peak between frames (on by default).
    pub refine: RefineConfig,
    /// Beats only where the recording is audible ([`gate_activation`]).
    pub audible: AudibleConfig,
    /// Bar positions from the network's downbeat activation, when the model has a downbeat
    /// head ([`choose_meter`]: meter and phase by the activation at the decoded beats).
    pub meter: MeterConfig,
    /// The bar-aware check of the beat phase (network-tracked beats, models with a bar
    /// classifier).
    pub phase_check: PhaseCheckConfig,
    /// Peak level (linear, full scale 1.0) under which a file counts as silent. Default
    /// 1e-4 (−80 dBFS): below any real recording's noise floor.
    pub silence_peak: Option<f32>,
}

impl AnalyzeConfig {
    fn silence_threshold(&self) -> f32 {
        self.silence_peak.unwrap_or(1e-4)
    }
}

/// [`Error::BadAudio`] naming `path` when the decoded signal's peak lies under the
/// configured silence threshold ([`AnalyzeConfig::silence_peak`]): no beats to track or learn.
fn check_not_silent(
    path: &Path,
    decoded: &audio::DecodedAudio,
    config: &AnalyzeConfig,
) -> Result<()> {
    let peak = decoded
        .signal
        .samples
        .iter()
        .fold(0.0f32, |m, v| m.max(v.abs()));
    if peak < config.silence_threshold() {
        return Err(Error::BadAudio {
            path: path.into(),
            detail: format!(
                "audio is silent (peak {:.1} dBFS over {:.1} s); no beats to track",
                20.0 * peak.max(1e-12).log10(),
                decoded.duration_s()
            ),
        });
    }
    Ok(())
}

/// Pipeline stages, in order, for progress reporting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Decode,
    Resample,
    Separate,
    Activation,
    Track,
    Done,
}

impl Stage {
    /// Rough share of the total time spent before this stage starts (for progress bars).
    pub fn fraction_done(self) -> f32 {
        match self {
            Stage::Decode => 0.0,
            Stage::Resample => 0.25,
            Stage::Separate => 0.35,
            Stage::Activation => 0.75,
            Stage::Track => 0.9,
            Stage::Done => 1.0,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Stage::Decode => "decoding",
            Stage::Resample => "resampling",
            Stage::Separate => "separating stems",
            Stage::Activation => "computing activation",
            Stage::Track => "tracking beats",
            Stage::Done => "done",
        }
    }
}

/// A progress report: the stage that is starting.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    pub stage: Stage,
    pub fraction: f32,
}

/// Cooperative cancellation, checked between stages. Clone it to hand it to another thread.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
    fn check(&self) -> Result<()> {
        if self.is_cancelled() {
            Err(Error::Cancelled)
        } else {
            Ok(())
        }
    }
}

/// What we know about the analysed source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceInfo {
    pub path: Option<PathBuf>,
    pub sample_rate_hz: u32,
    pub channels: usize,
    pub duration_s: f64,
    pub codec: Option<String>,
}

/// The result of an analysis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    pub source: SourceInfo,
    pub activation_kind: ActivationKind,
    /// The curve the tracker decoded.
    pub activation: Activation,
    /// Both network branches (non-percussive, percussive) when a network ran.
    pub branches: Option<(Activation, Activation)>,
    /// The network's combined curve when a network ran beside a non-network activation
    /// (flux tracked, the network shown); `None` when `activation` is already it.
    #[serde(default)]
    pub network: Option<Activation>,
    /// Beat times in seconds from the first decoded sample.
    pub beats_s: Vec<f64>,
    /// Global tempo estimate ([`global_tempo_bpm`]), if there are ≥ 2 beats.
    pub tempo_bpm: Option<f64>,
    /// The network's downbeat activation, when the model has a downbeat head; else, with a
    /// bar classifier, its downbeat probability drawn at each beat (±1 frame, 0 between).
    #[serde(default)]
    pub downbeat: Option<Activation>,
    /// Meter and bar phase chosen from [`Analysis::downbeat`] at the beats (its `positions`
    /// give every beat's number in the bar); `None` without a downbeat activation or when it
    /// cannot decide ([`choose_meter`]).
    #[serde(default)]
    pub bars: Option<MeterChoice>,
    /// True when the bar-aware phase check ([`PhaseCheckConfig`]) moved the decoded beats
    /// half a beat (onto the midpoints of the beats the tracker decoded).
    #[serde(default)]
    pub phase_shifted: bool,
}

impl Analysis {
    /// Beat-in-bar positions (1 = downbeat), one per beat, when bars were found.
    pub fn positions(&self) -> Option<&[u32]> {
        self.bars.as_ref().map(|b| b.positions.as_slice())
    }

    /// How the beats were numbered in the bar, if they were: "bars of 4 beats by the bar
    /// classifier" (the CLI's report, the written file's annotation tools, the app's revision
    /// note).
    pub fn bars_description(&self) -> Option<String> {
        self.bars.as_ref().map(|b| {
            format!(
                "bars of {} beats by the {}{}",
                b.best.beats_per_bar,
                b.method.label(),
                if self.phase_shifted {
                    " (beats moved half a beat: the bars are clearer there)"
                } else {
                    ""
                }
            )
        })
    }

    /// The note of the model revision that stores this analysis's beats: "analysis", and how
    /// the bars were found when they were ("analysis · bars by the bar classifier"; the meter
    /// is stored beside it).
    pub fn revision_note(&self) -> String {
        match &self.bars {
            Some(b) if self.phase_shifted => format!(
                "analysis · bars by the {} · beats moved half a beat",
                b.method.label()
            ),
            Some(b) => format!("analysis · bars by the {}", b.method.label()),
            None => "analysis".into(),
        }
    }

    /// The beats as a [`BeatList`], numbered in the bar when bars were found.
    pub fn beat_list(&self) -> BeatList {
        match self.positions() {
            Some(p) if p.len() == self.beats_s.len() => BeatList {
                times_s: self.beats_s.clone(),
                positions: Some(p.to_vec()),
            },
            _ => BeatList::new(self.beats_s.clone()),
        }
    }

    /// Sets [`Analysis::downbeat`] and chooses the bars at the beats: from the bar
    /// classifier's per-beat probabilities when there are some, else from the downbeat
    /// activation.
    fn set_bars(
        &mut self,
        downbeat: Option<Activation>,
        bar_probs: Option<Vec<f64>>,
        config: &MeterConfig,
    ) -> Result<()> {
        self.bars = match (&bar_probs, &downbeat) {
            (Some(p), _) if self.beats_s.len() >= 2 && p.len() == self.beats_s.len() => {
                choose_meter_from_values(p, config, BarPositionMethod::BarClassifier)?
            }
            (_, Some(d)) if self.beats_s.len() >= 2 => choose_meter(&self.beats_s, d, config)?,
            _ => None,
        };
        match &self.bars {
            Some(b) => tracing::info!(
                beats_per_bar = b.best.beats_per_bar,
                first_downbeat = b.best.phase + 1,
                confidence = format!("{:.2}", b.confidence),
                method = ?b.method,
                "bars"
            ),
            None => tracing::info!(
                "no bar positions (no bar classifier or downbeat head, or no contrast)"
            ),
        }
        // Without a downbeat head, the classifier's probabilities drawn at the beats stand
        // for the downbeat curve (what the app shows and checks the bar grid against).
        self.downbeat = match (downbeat, &bar_probs) {
            (Some(d), _) => Some(d),
            (None, Some(p)) if p.len() == self.beats_s.len() => Some(beat_curve(
                &self.beats_s,
                p,
                self.activation.fps,
                self.activation.len(),
            )),
            (None, _) => None,
        };
        Ok(())
    }
}

/// Per-beat values as a curve of `n_frames` frames at `fps`: each value on its beat's frame
/// and the frames either side (a decoded beat may sit a frame off), 0 elsewhere.
fn beat_curve(beats_s: &[f64], values: &[f64], fps: f64, n_frames: usize) -> Activation {
    let mut curve = vec![0.0f32; n_frames];
    for (t, v) in beats_s.iter().zip(values) {
        let f = (t * fps).round();
        if !(f.is_finite() && f >= 0.0) {
            continue;
        }
        let f = f as usize;
        for c in curve.iter_mut().take(f + 2).skip(f.saturating_sub(1)) {
            *c = c.max(*v as f32);
        }
    }
    Activation::new(curve, fps)
}

/// The bar classifier's downbeat probability at each beat, when `model` has one and there
/// are at least two beats.
fn bar_probabilities(
    model: &LoadedModel,
    percussive: &Spectrogram,
    non_percussive: &Spectrogram,
    beats_s: &[f64],
) -> Result<Option<Vec<f64>>> {
    match &model.bars {
        Some(bars) if beats_s.len() >= 2 => Ok(Some(bars.downbeat_probabilities(
            percussive,
            non_percussive,
            beats_s,
            &model.device,
        )?)),
        _ => Ok(None),
    }
}

/// The bar classifier's probabilities at the decoded beats, after the bar-aware phase check
/// ([`PhaseCheckConfig`]): when the network tracked the beats and the model has a classifier,
/// the grid of the beats' midpoints is scored too, and it replaces the beats
/// ([`Analysis::phase_shifted`]) when the classifier hears bars on it far more clearly. A
/// model fine-tuned on a user's corrections is left alone: it learned their phase, which
/// outranks what the classifier hears.
fn phase_checked_bar_probabilities(
    model: &LoadedModel,
    percussive: &Spectrogram,
    non_percussive: &Spectrogram,
    analysis: &mut Analysis,
    config: &AnalyzeConfig,
) -> Result<Option<Vec<f64>>> {
    config.phase_check.validate()?;
    let probs = bar_probabilities(model, percussive, non_percussive, &analysis.beats_s)?;
    let Some(p) = &probs else {
        return Ok(probs);
    };
    if model.manifest.provenance.is_finetuned()
        || !(config.activation.needs_model() && config.phase_check.enabled())
    {
        return Ok(probs);
    }
    let mids = midpoints(&analysis.beats_s);
    let Some(p_mids) = bar_probabilities(model, percussive, non_percussive, &mids)? else {
        return Ok(probs);
    };
    let on_beats = choose_meter_from_values(p, &config.meter, BarPositionMethod::BarClassifier)?;
    let on_mids =
        choose_meter_from_values(&p_mids, &config.meter, BarPositionMethod::BarClassifier)?;
    let pulse = pulse_ratio(&analysis.beats_s, &mids, &analysis.activation);
    if config
        .phase_check
        .prefers_midpoints(on_beats.as_ref(), on_mids.as_ref(), pulse)
    {
        tracing::info!("phase check: the bars are clearer half a beat later; beats moved");
        analysis.beats_s = mids;
        analysis.phase_shifted = true;
        return Ok(Some(p_mids));
    }
    Ok(probs)
}

/// Rung 1: analyse an audio file.
pub fn analyze_file(
    path: &Path,
    config: &AnalyzeConfig,
    model: Option<&LoadedModel>,
    progress: &mut dyn FnMut(Progress),
    cancel: &CancelToken,
) -> Result<Analysis> {
    let _span = tracing::info_span!("analyze_file", path = %path.display()).entered();
    check_model(config, model)?;
    report(progress, Stage::Decode);
    let decoded = audio::decode_file(path, &config.decode)?;
    cancel.check()?;
    check_not_silent(path, &decoded, config)?;
    let source = SourceInfo {
        path: Some(path.into()),
        sample_rate_hz: decoded.signal.sample_rate_hz,
        channels: decoded.source_channels,
        duration_s: decoded.duration_s(),
        codec: Some(decoded.codec.clone()),
    };
    analyze_decoded(decoded.signal, source, config, model, progress, cancel).map_err(|e| match e {
        // Name the file in errors raised by later stages on in-memory data.
        Error::InvalidInput(detail) => Error::BadAudio {
            path: path.into(),
            detail,
        },
        other => other,
    })
}

/// Rung 2: analyse a mono signal at any sample rate.
pub fn analyze_signal(
    signal: &Signal,
    config: &AnalyzeConfig,
    model: Option<&LoadedModel>,
    progress: &mut dyn FnMut(Progress),
    cancel: &CancelToken,
) -> Result<Analysis> {
    let source = SourceInfo {
        path: None,
        sample_rate_hz: signal.sample_rate_hz,
        channels: 1,
        duration_s: signal.duration_s(),
        codec: None,
    };
    check_model(config, model)?;
    analyze_decoded(signal.clone(), source, config, model, progress, cancel)
}

fn analyze_decoded(
    signal: Signal,
    source: SourceInfo,
    config: &AnalyzeConfig,
    model: Option<&LoadedModel>,
    progress: &mut dyn FnMut(Progress),
    cancel: &CancelToken,
) -> Result<Analysis> {
    report(progress, Stage::Resample);
    let signal = audio::resample(&signal, ANALYSIS_RATE_HZ)?;
    cancel.check()?;
    report(progress, Stage::Separate);
    let stems = hpss(&signal, &config.separation)?;
    cancel.check()?;
    analyze_stems(&stems, source, config, model, progress, cancel)
}

/// Rung 3: analyse separated stems (HPSS output, or user-supplied stems at 16 kHz).
pub fn analyze_stems(
    stems: &Stems,
    source: SourceInfo,
    config: &AnalyzeConfig,
    model: Option<&LoadedModel>,
    progress: &mut dyn FnMut(Progress),
    cancel: &CancelToken,
) -> Result<Analysis> {
    check_model(config, model)?;
    report(progress, Stage::Activation);
    let audible_s = stems_audible_span_s(stems, &config.audible);
    let mut network = None;
    let mut downbeat = None;
    let mut spectra = None;
    let (activation, branches) = match (config.activation, model) {
        (ActivationKind::Flux, None) => (spectral_flux(&stems.percussive, &config.flux)?, None),
        // Flux decides the beats, and the network's curves come along for display.
        (ActivationKind::Flux, Some(model)) => {
            let flux = spectral_flux(&stems.percussive, &config.flux)?;
            cancel.check()?;
            let non_percussive = log_vqt(&stems.non_percussive, &config.vqt)?;
            cancel.check()?;
            let percussive = log_vqt(&stems.percussive, &config.vqt)?;
            cancel.check()?;
            let out = infer(model, &non_percussive, &percussive, &config.infer)?;
            network = Some(out.combined);
            downbeat = out.downbeat;
            spectra = Some((percussive, non_percussive));
            (flux, Some((out.anchor, out.postve)))
        }
        (kind, Some(model)) => {
            let non_percussive = log_vqt(&stems.non_percussive, &config.vqt)?;
            cancel.check()?;
            let percussive = log_vqt(&stems.percussive, &config.vqt)?;
            cancel.check()?;
            let out = infer(model, &non_percussive, &percussive, &config.infer)?;
            downbeat = out.downbeat;
            spectra = Some((percussive, non_percussive));
            let chosen = match kind {
                ActivationKind::Anchor => out.anchor.clone(),
                ActivationKind::Postve => out.postve.clone(),
                _ => out.combined,
            };
            (chosen, Some((out.anchor, out.postve)))
        }
        (kind, None) => {
            return Err(Error::Config(format!(
                "the activation '{}' needs a model",
                kind.name()
            )));
        }
    };
    cancel.check()?;
    let network_tracked = config.activation.needs_model();
    let mut activation = activation;
    gate_activation(&mut activation, audible_s, network_tracked);
    let branches = branches.map(|(mut a, mut p)| {
        gate_activation(&mut a, audible_s, true);
        gate_activation(&mut p, audible_s, true);
        (a, p)
    });
    let [network, downbeat] = [network, downbeat].map(|curve| {
        curve.map(|mut n| {
            gate_activation(&mut n, audible_s, true);
            n
        })
    });
    let mut analysis = track_activation(activation, config, progress)?;
    analysis.source = source;
    analysis.activation_kind = config.activation;
    analysis.branches = branches;
    analysis.network = network;
    let bar_probs = match (&spectra, model) {
        (Some((perc, non_perc)), Some(m)) => {
            phase_checked_bar_probabilities(m, perc, non_perc, &mut analysis, config)?
        }
        _ => None,
    };
    analysis.set_bars(downbeat, bar_probs, &config.meter)?;
    Ok(analysis)
}

/// A network activation needs a network, and the network must expect our features.
/// A song decoded, separated and turned into the network's input: what fine-tuning trains on
/// and what re-tracking with another model starts from (no second decode or separation).
#[derive(Debug, Clone)]
pub struct SongFeatures {
    /// Where it came from.
    pub source: SourceInfo,
    /// Log-VQT of the non-percussive stem.
    pub non_percussive: Spectrogram,
    /// Log-VQT of the percussive stem.
    pub percussive: Spectrogram,
    /// Where the recording is audible (`None`: everywhere, or the check is off).
    pub audible_s: Option<(f64, f64)>,
}

/// Decodes `path`, resamples, separates and computes both stems' log-VQT (stages as in
/// [`analyze_file`], same errors).
pub fn song_features(
    path: &Path,
    config: &AnalyzeConfig,
    progress: &mut dyn FnMut(Progress),
    cancel: &CancelToken,
) -> Result<SongFeatures> {
    let _span = tracing::info_span!("song_features", path = %path.display()).entered();
    report(progress, Stage::Decode);
    let decoded = audio::decode_file(path, &config.decode)?;
    cancel.check()?;
    // Regression: a silent render (MMA song 178 of the training corpus) was trained on as 84 s
    // of beats; features of silence teach nothing but firing on silence.
    check_not_silent(path, &decoded, config)?;
    let source = SourceInfo {
        path: Some(path.into()),
        sample_rate_hz: decoded.signal.sample_rate_hz,
        channels: decoded.source_channels,
        duration_s: decoded.duration_s(),
        codec: Some(decoded.codec.clone()),
    };
    let named = |e: Error| match e {
        Error::InvalidInput(detail) => Error::BadAudio {
            path: path.into(),
            detail,
        },
        other => other,
    };
    report(progress, Stage::Resample);
    let signal = audio::resample(&decoded.signal, ANALYSIS_RATE_HZ).map_err(named)?;
    drop(decoded);
    let audible_s = audible_span_s(&signal, &config.audible);
    cancel.check()?;
    report(progress, Stage::Separate);
    let stems = hpss(&signal, &config.separation).map_err(named)?;
    cancel.check()?;
    report(progress, Stage::Activation);
    let non_percussive = log_vqt(&stems.non_percussive, &config.vqt).map_err(named)?;
    cancel.check()?;
    let percussive = log_vqt(&stems.percussive, &config.vqt).map_err(named)?;
    Ok(SongFeatures {
        source,
        non_percussive,
        percussive,
        audible_s,
    })
}

/// Runs `model` on precomputed [`SongFeatures`] and tracks the chosen activation
/// (`config.activation`; flux is not available from features and falls back to the
/// combined curve).
pub fn analyze_features(
    features: &SongFeatures,
    config: &AnalyzeConfig,
    model: &LoadedModel,
    progress: &mut dyn FnMut(Progress),
) -> Result<Analysis> {
    check_model(
        &AnalyzeConfig {
            activation: ActivationKind::Max,
            ..config.clone()
        },
        Some(model),
    )?;
    report(progress, Stage::Activation);
    let out = infer(
        model,
        &features.non_percussive,
        &features.percussive,
        &config.infer,
    )?;
    let kind = match config.activation {
        ActivationKind::Flux => ActivationKind::Max,
        k => k,
    };
    let (mut anchor, mut postve, mut combined) = (out.anchor, out.postve, out.combined);
    let mut downbeat = out.downbeat;
    for a in [&mut anchor, &mut postve, &mut combined]
        .into_iter()
        .chain(downbeat.as_mut())
    {
        gate_activation(a, features.audible_s, true);
    }
    let chosen = match kind {
        ActivationKind::Anchor => anchor.clone(),
        ActivationKind::Postve => postve.clone(),
        _ => combined,
    };
    let mut analysis = track_activation(chosen, config, progress)?;
    analysis.source = features.source.clone();
    analysis.activation_kind = kind;
    analysis.branches = Some((anchor, postve));
    let bar_probs = phase_checked_bar_probabilities(
        model,
        &features.percussive,
        &features.non_percussive,
        &mut analysis,
        config,
    )?;
    analysis.set_bars(downbeat, bar_probs, &config.meter)?;
    Ok(analysis)
}

fn check_model(config: &AnalyzeConfig, model: Option<&LoadedModel>) -> Result<()> {
    match (config.activation.needs_model(), model) {
        (true, None) => Err(Error::Config(format!(
            "the activation '{}' needs a model",
            config.activation.name()
        ))),
        (_, Some(m)) => {
            let f = &m.manifest.features;
            let v = &config.vqt;
            if f.sample_rate_hz != v.sample_rate_hz
                || f.hop_length != v.hop_length
                || f.n_bins != v.n_bins
                || f.bins_per_octave != v.bins_per_octave
            {
                return Err(Error::Config(format!(
                    "model {} expects {}-bin features at {} Hz hop {}, but the feature stage \
                     is set to {}-bin at {} Hz hop {}",
                    m.manifest.id,
                    f.n_bins,
                    f.sample_rate_hz,
                    f.hop_length,
                    v.n_bins,
                    v.sample_rate_hz,
                    v.hop_length
                )));
            }
            Ok(())
        }
        (false, None) => Ok(()),
    }
}

/// The audible span of separated stems (their sum is the mix).
fn stems_audible_span_s(stems: &Stems, config: &AudibleConfig) -> Option<(f64, f64)> {
    let (p, n) = (&stems.percussive, &stems.non_percussive);
    let mix: Vec<f32> = p
        .samples
        .iter()
        .zip(&n.samples)
        .map(|(a, b)| a + b)
        .collect();
    audible_span_s(&Signal::new(mix, p.sample_rate_hz), config)
}

/// Prepares a curve for tracking and storage:
/// - frames where the recording is silent (outside `audible_s`, see [`AudibleConfig`]) are
///   set to 0, and the tracker places no beat in zeros at the edges ([`Tracker::track`]);
/// - for the network's curves, the first and last frame are lowered to their inner
///   neighbour's value: the convolutions' zero padding looks like an onset there, and the
///   network answered ≈ 1.0 on the first frame of every development song (a beat at 0.000 s
///   before music that starts half a second later).
pub fn gate_activation(activation: &mut Activation, audible_s: Option<(f64, f64)>, network: bool) {
    let v = &mut activation.values;
    if network && v.len() >= 2 {
        let n = v.len();
        v[0] = v[0].min(v[1]);
        v[n - 1] = v[n - 1].min(v[n - 2]);
    }
    if let Some(span) = audible_s {
        activation.silence_outside(span);
    }
}

/// Rung 4: decode an activation curve into beats, refined below the frame
/// ([`AnalyzeConfig::refine`]).
pub fn track_activation(
    activation: Activation,
    config: &AnalyzeConfig,
    progress: &mut dyn FnMut(Progress),
) -> Result<Analysis> {
    report(progress, Stage::Track);
    let on_frames = Tracker::new(&config.tracker, activation.fps)?.track(&activation)?;
    let beats_s = refine_beats(&on_frames, &activation, &config.refine)?;
    let tempo_bpm = global_tempo_bpm(&beats_s);
    report(progress, Stage::Done);
    Ok(Analysis {
        source: SourceInfo {
            path: None,
            sample_rate_hz: 0,
            channels: 0,
            duration_s: activation.duration_s(),
            codec: None,
        },
        activation_kind: config.activation,
        activation,
        branches: None,
        network: None,
        beats_s,
        tempo_bpm,
        downbeat: None,
        bars: None,
        phase_shifted: false,
    })
}

/// Global tempo of a beat list: the mean of the inter-beat intervals within ±8 % of their
/// median (so a few missed or extra beats do not count), in BPM.
///
/// Not the median interval itself: tracked beats sit on the activation's frame grid (16 ms at
/// 62.5 fps), so a steady 120 BPM song alternates 31- and 32-frame intervals and its median
/// interval reads 121.0 BPM — a number a DJ would see in the track list and in the Rekordbox
/// and Traktor exports. The mean of the intervals is exact to the grid's resolution over the
/// whole song.
pub fn global_tempo_bpm(beats_s: &[f64]) -> Option<f64> {
    let mut ibis: Vec<f64> = beats_s
        .windows(2)
        .map(|w| w[1] - w[0])
        .filter(|d| *d > 0.0 && d.is_finite())
        .collect();
    if ibis.is_empty() {
        return None;
    }
    ibis.sort_by(f64::total_cmp);
    let n = ibis.len();
    let median = if n % 2 == 1 {
        ibis[n / 2]
    } else {
        0.5 * (ibis[n / 2 - 1] + ibis[n / 2])
    };
    let near: Vec<f64> = ibis
        .into_iter()
        .filter(|d| (d / median - 1.0).abs() <= 0.08)
        .collect();
    let mean = near.iter().sum::<f64>() / near.len() as f64;
    Some(60.0 / mean)
}

fn report(progress: &mut dyn FnMut(Progress), stage: Stage) {
    progress(Progress {
        stage,
        fraction: stage.fraction_done(),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gate_lowers_the_network_edges_and_zeroes_silence() {
        let curve = || Activation::new(vec![0.99, 0.2, 0.5, 0.1, 0.3, 0.4, 0.9], 10.0);
        let mut net = curve();
        gate_activation(&mut net, None, true);
        assert_eq!(net.values, vec![0.2, 0.2, 0.5, 0.1, 0.3, 0.4, 0.4]);
        // Not a network curve: edges kept; outside 0.15–0.45 s zeroed.
        let mut flux = curve();
        gate_activation(&mut flux, Some((0.15, 0.45)), false);
        assert_eq!(flux.values, vec![0.0, 0.0, 0.5, 0.1, 0.3, 0.0, 0.0]);
    }

    /// Known answer: beats every 0.5 s and a downbeat curve peaking on every 3rd beat from
    /// the second give a 3/4 bar numbered 3, 1, 2, 3, 1, …; the beat list carries them.
    #[test]
    fn the_downbeat_curve_numbers_the_beats_in_the_bar() {
        let fps = 62.5;
        let n = (20.0 * fps) as usize;
        let mut beat = vec![0.01f32; n];
        let mut down = vec![0.05f32; n];
        let beats_s: Vec<f64> = (1..38).map(|k| 0.5 * k as f64).collect();
        for (k, t) in beats_s.iter().enumerate() {
            let f = (t * fps).round() as usize;
            beat[f] = 0.9;
            if k % 3 == 1 {
                down[f] = 0.8;
            }
        }
        let mut a = track_activation(
            Activation::new(beat, fps),
            &AnalyzeConfig::default(),
            &mut |_| {},
        )
        .expect("tracked");
        assert!(a.beats_s.len() > 30, "{} beats", a.beats_s.len());
        assert_eq!(a.beat_list().positions, None);
        a.set_bars(
            Some(Activation::new(down, fps)),
            None,
            &MeterConfig::default(),
        )
        .expect("bars");
        let bars = a.bars.as_ref().expect("a clear meter");
        assert_eq!(bars.best.beats_per_bar, 3);
        let list = a.beat_list();
        let positions = list.positions.expect("numbered beats");
        for (t, p) in list.times_s.iter().zip(&positions) {
            let k = (t / 0.5).round() as i64 - 1;
            assert_eq!(i64::from(*p), (k + 2) % 3 + 1, "beat at {t:.2} s");
        }
    }

    #[test]
    fn global_tempo_of_a_steady_grid() {
        let beats: Vec<f64> = (0..20).map(|k| 0.25 + k as f64 * 0.5).collect();
        assert!((global_tempo_bpm(&beats).unwrap() - 120.0).abs() < 1e-9);
        assert_eq!(global_tempo_bpm(&[1.0]), None);
    }

    /// Regression: beats on a 62.5 fps frame grid (31/32-frame intervals) read 121.0 BPM with
    /// the median interval; the song is 120 BPM. A missed beat and an extra one do not count.
    #[test]
    fn global_tempo_is_not_fooled_by_the_frame_grid() {
        let fps = 62.5;
        let mut beats: Vec<f64> = (0..200)
            .map(|k| ((0.3 + k as f64 * 0.5) * fps).round() / fps)
            .collect();
        beats.remove(100);
        beats.insert(50, beats[50] + 0.2);
        let bpm = global_tempo_bpm(&beats).unwrap();
        assert!((bpm - 120.0).abs() < 0.05, "{bpm}");
    }

    /// Issue 21: the app's revision note and the CLI's report say how the bars were found.
    #[test]
    fn notes_say_how_the_bars_were_found() {
        let beats_s: Vec<f64> = (0..32).map(|k| 1.0 + 0.5 * k as f64).collect();
        let mut a = Analysis {
            source: SourceInfo {
                path: None,
                sample_rate_hz: 16_000,
                channels: 1,
                duration_s: 20.0,
                codec: None,
            },
            activation_kind: ActivationKind::Max,
            activation: Activation::new(vec![0.0; 1250], 62.5),
            branches: None,
            network: None,
            beats_s: beats_s.clone(),
            tempo_bpm: Some(120.0),
            downbeat: None,
            bars: None,
            phase_shifted: false,
        };
        assert_eq!(a.revision_note(), "analysis");
        assert_eq!(a.bars_description(), None);
        // The classifier hears beat 1 on the second beat of every four.
        let probs: Vec<f64> = (0..beats_s.len())
            .map(|k| if k % 4 == 1 { 0.9 } else { 0.1 })
            .collect();
        a.set_bars(None, Some(probs), &MeterConfig::default())
            .unwrap();
        assert_eq!(a.positions().unwrap()[..5], [4, 1, 2, 3, 4]);
        assert_eq!(a.revision_note(), "analysis · bars by the bar classifier");
        assert_eq!(
            a.bars_description().as_deref(),
            Some("bars of 4 beats by the bar classifier")
        );
    }

    #[test]
    fn cancel_token_stops_the_pipeline() {
        let token = CancelToken::new();
        token.cancel();
        let signal = Signal::new(vec![0.1; 16_000], 16_000);
        let r = analyze_signal(
            &signal,
            &AnalyzeConfig::default(),
            None,
            &mut |_| {},
            &token,
        );
        assert!(matches!(r, Err(Error::Cancelled)));
    }
}
