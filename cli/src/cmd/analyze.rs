//! `zerons analyze AUDIO...`: beats of one or more files.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use zerons::formats::{
    BeatFormat, ExportMeta, GridConfig, GridStyle, read_beats, write_beats_file,
};
use zerons::pipeline::{ActivationKind, Analysis, AnalyzeConfig, analyze_file, global_tempo_bpm};
use zerons::tracking::TrackerConfig;
use zerons::tracking::guide::{BeatGuide, GuideConfig, complete_beats};

use crate::device::{DeviceArg, bundled_model, load_model};
use crate::progress::{FilesBar, ctrl_c_token};

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum FormatArg {
    Csv,
    Beats,
    Jams,
    /// Sonic Visualiser time instants (CSV).
    SvCsv,
    /// Sonic Visualiser layer (.svl).
    Svl,
    /// Audacity labels (.txt).
    Audacity,
    /// Rekordbox collection XML (.xml) with the beat grid.
    Rekordbox,
    /// Traktor collection (.nml) with the grid marker.
    Traktor,
    /// Standard MIDI File tempo map (.mid).
    Midi,
}

impl From<FormatArg> for BeatFormat {
    fn from(f: FormatArg) -> Self {
        match f {
            FormatArg::Csv => BeatFormat::Csv,
            FormatArg::Beats => BeatFormat::Beats,
            FormatArg::Jams => BeatFormat::Jams,
            FormatArg::SvCsv => BeatFormat::SvCsv,
            FormatArg::Svl => BeatFormat::Svl,
            FormatArg::Audacity => BeatFormat::Audacity,
            FormatArg::Rekordbox => BeatFormat::Rekordbox,
            FormatArg::Traktor => BeatFormat::Traktor,
            FormatArg::Midi => BeatFormat::Midi,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum GridStyleArg {
    /// Constant tempo per section (least squares), a new marker only where the tempo changes.
    Straight,
    /// Markers on beats, as few as keep every beat within the tolerance.
    Variable,
    /// A marker on every beat (a free grid).
    PerBeat,
}

/// How Rekordbox and Traktor grids are built (`--grid`, `--grid-tolerance-ms`).
#[derive(Args, Clone)]
pub(crate) struct GridArgs {
    /// Rekordbox/Traktor grid: straight (default: constant tempo per section, a new tempo
    /// marker only where the tempo really changes), variable or per-beat.
    #[arg(long, value_enum)]
    grid: Option<GridStyleArg>,
    /// Rekordbox/Traktor grid: how far (ms) the beats may drift from the grid before a new
    /// tempo section starts (straight: the mean over 6 beats, a single beat up to twice
    /// this; variable: every beat; default 25, at most 50).
    #[arg(long, value_name = "MS")]
    grid_tolerance_ms: Option<f64>,
}

impl GridArgs {
    /// The grid settings asked for, checked.
    pub(crate) fn config(&self) -> Result<GridConfig> {
        let mut grid = GridConfig::default();
        if let Some(style) = self.grid {
            grid.style = match style {
                GridStyleArg::Straight => GridStyle::Straight,
                GridStyleArg::Variable => GridStyle::Variable,
                GridStyleArg::PerBeat => GridStyle::PerBeat,
            };
        }
        if let Some(ms) = self.grid_tolerance_ms {
            grid.max_error_s = ms / 1e3;
        }
        grid.validate().context("invalid --grid-tolerance-ms")?;
        Ok(grid)
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum ActivationArg {
    /// Spectral flux of the percussive stem (no network).
    Flux,
    /// The network: both branches combined (needs --model).
    Max,
    /// The network's non-percussive branch alone (needs --model).
    Anchor,
    /// The network's percussive branch alone (needs --model).
    Postve,
}

#[derive(Clone, Copy, ValueEnum, PartialEq)]
enum TrackerArg {
    /// madmom's dynamic Bayesian network (the ZeroNS setting).
    Dbn,
    /// Ellis dynamic programming (librosa beat_track).
    Ellis,
    /// Plain peak picking, no tempo model.
    Peaks,
}

#[derive(Args)]
pub struct AnalyzeArgs {
    /// Audio files (WAV, FLAC, MP3, OGG, M4A/AAC, ALAC …).
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Output file (one input) or directory (several inputs; created if missing).
    /// Without it, beat times are printed to stdout, one per line.
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Output format (default: from the output file's extension — .csv, .beats, .jams, .svl,
    /// .xml = Rekordbox, .nml = Traktor, .mid = MIDI — else csv).
    #[arg(long, value_enum)]
    format: Option<FormatArg>,
    /// A ZeroNS model (directory, MODEL.json or .bpk from `zerons import-weights`,
    /// `zerons pretrain` or `zerons finetune`). Default: the bundled `lite` model
    /// (assets/model; $ZERONS_MODEL overrides it).
    #[arg(long)]
    model: Option<PathBuf>,
    /// The activation curve to track (default: max, the network's combined branches; flux:
    /// the spectral flux of the percussive stem, no network).
    #[arg(long, value_enum)]
    activation: Option<ActivationArg>,
    /// Where the network runs.
    #[arg(long, value_enum, default_value = "auto")]
    device: DeviceArg,
    /// Beat decoder.
    #[arg(long, value_enum, default_value = "dbn")]
    tracker: TrackerArg,
    /// Slowest tempo the tracker may choose (BPM).
    #[arg(long)]
    min_bpm: Option<f64>,
    /// Fastest tempo the tracker may choose (BPM).
    #[arg(long)]
    max_bpm: Option<f64>,
    /// DBN tempo-change penalty λ (higher = steadier tempo; madmom default 100).
    #[arg(long)]
    transition_lambda: Option<f64>,
    /// Meters the bar positions may take, in beats per bar (default 3,4).
    #[arg(long, value_delimiter = ',', value_name = "N,N")]
    beats_per_bar: Vec<u32>,
    /// Per-beat probability that the bar restarts or the meter changes when the bar
    /// classifier numbers the beats (default 0: one meter and phase for the whole song).
    #[arg(long, value_name = "P")]
    bar_change_probability: Option<f64>,
    /// Bar-aware phase check: the beats move half a beat when the bar classifier hears the
    /// bars this many times more clearly there (default 1.5; 0 turns it off).
    #[arg(long, value_name = "RATIO")]
    phase_check: Option<f64>,
    /// Longest accepted input in seconds (default 4 h).
    #[arg(long)]
    max_duration: Option<f64>,
    /// Analyse the decodable part of truncated files instead of refusing them.
    #[arg(long)]
    allow_truncated: bool,
    /// Beats you have already checked for the start of the song (any importable format): they
    /// are kept as they are, and the tracker continues their tempo and phase through the rest
    /// (the tempo range becomes theirs ±30 %). One input only.
    #[arg(long, value_name = "BEATS")]
    continue_from: Option<PathBuf>,
    /// End of the checked part of `--continue-from` (s); default: its last beat.
    #[arg(long, value_name = "SECONDS", requires = "continue_from")]
    until: Option<f64>,
    /// Keep beats on the activation's frames (16 ms apart) instead of refining them to the
    /// activation's peak between frames.
    #[arg(long)]
    no_refine: bool,
    /// Move the beats onto a straight grid before writing them (every format): constant
    /// tempo per section, a new section only where the beats drift more than
    /// --grid-tolerance-ms from the grid (a DJ grid without the tracker's jitter).
    #[arg(long)]
    straighten: bool,
    #[command(flatten)]
    grid: GridArgs,
}

/// The analysis with its beats on a straight grid (`--straighten`).
fn straighten(mut a: Analysis, max_error_s: f64) -> zerons::Result<Analysis> {
    if a.beats_s.len() >= 2 {
        a.beats_s = zerons::formats::straighten_beats(&a.beats_s, max_error_s)?.times_s;
    }
    Ok(a)
}

pub fn run(args: AnalyzeArgs) -> Result<ExitCode> {
    // The network: --model, else the bundled model (assets/MODEL_CARD.md), unless the
    // spectral-flux activation is asked for. A missing model is an error, never a quiet
    // switch to the flux.
    let model_path = match (&args.model, args.activation) {
        (Some(p), _) => Some(p.clone()),
        (None, Some(ActivationArg::Flux)) => None,
        (None, _) => match bundled_model() {
            Some(p) => Some(p),
            None => bail!("{}", crate::device::NO_MODEL),
        },
    };
    let config = build_config(&args, model_path.is_some())?;
    let grid = args.grid.config()?;
    let outputs = plan_outputs(&args)?;
    let model = match &model_path {
        Some(path) => Some(load_model(path, args.device)?.0),
        None => None,
    };
    let checked = match &args.continue_from {
        Some(path) => {
            if args.inputs.len() != 1 {
                bail!("--continue-from takes one audio file (its beats belong to one song)");
            }
            let beats = read_beats(path)
                .with_context(|| format!("reading the checked beats {}", path.display()))?;
            let until = match args.until {
                Some(u) if u.is_finite() && u >= 0.0 => u,
                Some(u) => bail!("--until must be a time ≥ 0 s (got {u})"),
                None => beats.times_s.last().copied().unwrap_or(0.0),
            };
            Some((beats.times_s, until))
        }
        None => None,
    };
    let cancel = ctrl_c_token();
    let bar = FilesBar::new(args.inputs.len());
    let mut failures = 0usize;
    let mut stdout = std::io::stdout().lock();

    for (index, input) in args.inputs.iter().enumerate() {
        let name = display_name(input);
        let result = analyze_file(
            input,
            &config,
            model.as_ref(),
            &mut |p| bar.update(index, &name, p),
            &cancel,
        );
        let analysis = match result
            .and_then(|a| match &checked {
                Some((beats_s, until_s)) => continue_beats(a, &config, beats_s, *until_s),
                None => Ok(a),
            })
            .and_then(|a| match args.straighten {
                true => straighten(a, grid.max_error_s),
                false => Ok(a),
            }) {
            Ok(a) => a,
            Err(zerons::Error::Cancelled) => {
                bar.finish();
                eprintln!("cancelled");
                return Ok(ExitCode::from(130));
            }
            Err(e) => {
                bar.println(format!("error: {e}"));
                failures += 1;
                continue;
            }
        };
        if analysis.beats_s.is_empty() {
            bar.println(format!("warning: {}: no beats found", input.display()));
        }
        match &outputs {
            Some(paths) => {
                let (path, format) = &paths[index];
                if let Err(e) = write_output(&analysis, path, *format, &grid) {
                    bar.println(format!("error: {e:#}"));
                    failures += 1;
                    continue;
                }
                bar.println(format!(
                    "{}: {} beats{}{} → {}",
                    input.display(),
                    analysis.beats_s.len(),
                    analysis
                        .tempo_bpm
                        .map(|t| format!(", ~{t:.1} BPM"))
                        .unwrap_or_default(),
                    analysis
                        .bars_description()
                        .map(|w| format!(", {w}"))
                        .unwrap_or_default(),
                    path.display()
                ));
            }
            None => {
                bar.suspend_stdout(|| -> std::io::Result<()> {
                    if args.inputs.len() > 1 {
                        writeln!(stdout, "# {}", input.display())?;
                    }
                    for t in &analysis.beats_s {
                        writeln!(stdout, "{t:.3}")?;
                    }
                    stdout.flush()
                })
                .context("cannot write to stdout")?;
            }
        }
    }
    bar.finish();
    if failures > 0 {
        eprintln!("{failures} of {} file(s) failed", args.inputs.len());
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// The analysis with its beats replaced by `beats_s` up to `until_s` and the guided
/// continuation after it ([`complete_beats`]).
fn continue_beats(
    mut analysis: Analysis,
    config: &AnalyzeConfig,
    beats_s: &[f64],
    until_s: f64,
) -> zerons::Result<Analysis> {
    let guide = BeatGuide { beats_s, until_s };
    analysis.beats_s = complete_beats(
        &analysis.activation,
        &config.tracker,
        &guide,
        &GuideConfig::default(),
    )?;
    analysis.tempo_bpm = global_tempo_bpm(&analysis.beats_s);
    Ok(analysis)
}

fn build_config(args: &AnalyzeArgs, has_model: bool) -> Result<AnalyzeConfig> {
    let mut config = AnalyzeConfig {
        activation: match (args.activation, has_model) {
            (None, false) | (Some(ActivationArg::Flux), _) => ActivationKind::Flux,
            (None, true) | (Some(ActivationArg::Max), _) => ActivationKind::Max,
            (Some(ActivationArg::Anchor), _) => ActivationKind::Anchor,
            (Some(ActivationArg::Postve), _) => ActivationKind::Postve,
        },
        ..AnalyzeConfig::default()
    };
    if config.activation.needs_model() && !has_model {
        bail!(
            "--activation {} needs a model: pass --model ({})",
            config.activation.name(),
            crate::device::NO_MODEL
        );
    }
    if let Some(d) = args.max_duration {
        config.decode.max_duration_s = d;
    }
    config.decode.allow_truncated = args.allow_truncated;
    config.refine.enabled = !args.no_refine;
    if !args.beats_per_bar.is_empty() {
        config.meter.beats_per_bar = args.beats_per_bar.clone();
    }
    if let Some(p) = args.bar_change_probability {
        config.meter.bar_change_probability = p;
    }
    config
        .meter
        .validate()
        .context("--beats-per-bar / --bar-change-probability")?;
    if let Some(r) = args.phase_check {
        config.phase_check.ratio = r;
    }
    config.phase_check.validate().context("--phase-check")?;
    config.tracker = match args.tracker {
        TrackerArg::Dbn => {
            let mut dbn = zerons::tracking::dbn::DbnConfig::default();
            if let Some(v) = args.min_bpm {
                dbn.min_bpm = v;
            }
            if let Some(v) = args.max_bpm {
                dbn.max_bpm = v;
            }
            if let Some(v) = args.transition_lambda {
                dbn.transition_lambda = Some(v);
            }
            TrackerConfig::Dbn(dbn)
        }
        TrackerArg::Ellis => {
            if args.min_bpm.is_some() || args.max_bpm.is_some() || args.transition_lambda.is_some()
            {
                bail!("--min-bpm/--max-bpm/--transition-lambda apply to the dbn tracker only");
            }
            TrackerConfig::Ellis(Default::default())
        }
        TrackerArg::Peaks => {
            if args.min_bpm.is_some() || args.transition_lambda.is_some() {
                bail!("--min-bpm/--transition-lambda apply to the dbn tracker only");
            }
            let mut peaks = zerons::tracking::peaks::PeakPickConfig::default();
            if let Some(v) = args.max_bpm {
                peaks.max_bpm = v;
            }
            TrackerConfig::Peaks(peaks)
        }
    };
    config
        .tracker
        .validate()
        .context("invalid tracker settings")?;
    Ok(config)
}

/// Where each input's beats go, decided (and checked) before any work starts.
fn plan_outputs(args: &AnalyzeArgs) -> Result<Option<Vec<(PathBuf, BeatFormat)>>> {
    let Some(out) = &args.output else {
        if args.format.is_some() {
            bail!("--format needs -o/--output (stdout always gets one time per line)");
        }
        return Ok(None);
    };
    let format_for = |path: &Path| -> Result<BeatFormat> {
        Ok(match args.format {
            Some(f) => f.into(),
            None => BeatFormat::from_path(path).unwrap_or(BeatFormat::Csv),
        })
    };
    if args.inputs.len() == 1 && !out.is_dir() {
        return Ok(Some(vec![(out.clone(), format_for(out)?)]));
    }
    std::fs::create_dir_all(out)
        .with_context(|| format!("cannot create output directory {}", out.display()))?;
    let format: BeatFormat = args.format.map(Into::into).unwrap_or(BeatFormat::Csv);
    let mut used = HashSet::new();
    let mut plan = Vec::new();
    for input in &args.inputs {
        let stem = input
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "beats".into());
        let mut name = format!("{stem}.{}", format.extension());
        let mut k = 2;
        while !used.insert(name.clone()) {
            name = format!("{stem}-{k}.{}", format.extension());
            k += 1;
        }
        plan.push((out.join(name), format));
    }
    Ok(Some(plan))
}

fn write_output(
    analysis: &Analysis,
    path: &Path,
    format: BeatFormat,
    grid: &GridConfig,
) -> Result<()> {
    let beats = analysis.beat_list();
    let title = analysis
        .source
        .path
        .as_deref()
        .and_then(|p| p.file_stem())
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let meta = ExportMeta {
        duration_s: Some(analysis.source.duration_s),
        tempo_bpm: analysis.tempo_bpm,
        title,
        annotation_tools: format!(
            "zerons {} ({}{})",
            env!("CARGO_PKG_VERSION"),
            analysis.activation_kind.name(),
            analysis
                .bars_description()
                .map(|w| format!("; {w}"))
                .unwrap_or_default()
        ),
        data_source: "program".into(),
        // Rekordbox/Traktor entries point at the audio; .svl counts frames at its rate.
        audio_path: analysis.source.path.clone(),
        sample_rate_hz: Some(analysis.source.sample_rate_hz),
        grid: grid.clone(),
        ..ExportMeta::default()
    };
    write_beats_file(path, &beats, format, &meta)
        .with_context(|| format!("cannot write {}", path.display()))
}

fn display_name(p: &Path) -> String {
    p.file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| p.display().to_string())
}
