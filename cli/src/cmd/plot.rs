//! `zerons plot AUDIO -o FIG.svg|png`: waveform, activation curve(s), tracked beats and,
//! with `--beats`, reference beats with hits and misses marked.
//! `zerons plot --training RUN_DIR -o FIG.svg|png`: loss and cosine curves of a pretraining run.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Args;
use zerons::audio::{DecodeConfig, decode_file};
use zerons::formats::read_beats;
use zerons::pipeline::{ActivationKind, AnalyzeConfig, analyze_file};
use zerons::plot::{
    PlotConfig, PlotInput, Series, TrainingPlot, plot_beats_with, plot_training, smooth,
};
use zerons::train::TrainState;

use crate::device::{DeviceArg, load_model, resolve_model};
use crate::progress::ctrl_c_token;

#[derive(Args)]
pub struct PlotArgs {
    /// An audio file, or with --training a pretraining run directory (or its metrics.json).
    input: PathBuf,
    /// Output figure: .svg or .png.
    #[arg(short, long)]
    output: PathBuf,
    /// Plot the training curves of a `zerons pretrain` run instead of an audio file.
    #[arg(long)]
    training: bool,
    /// Reference beats (any importable format) drawn as hits/misses (±70 ms).
    #[arg(long)]
    beats: Option<PathBuf>,
    /// The model to track with (default: the bundled model).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Track the spectral-flux activation instead of a network.
    #[arg(long, conflicts_with = "model")]
    flux: bool,
    /// Where the network runs.
    #[arg(long, value_enum, default_value = "auto")]
    device: DeviceArg,
    /// Start of the plotted span (s).
    #[arg(long, default_value_t = 0.0)]
    from: f64,
    /// End of the plotted span (s; default: 20 s after --from, at most the end).
    #[arg(long)]
    to: Option<f64>,
    /// Figure width in pixels.
    #[arg(long, default_value_t = PlotConfig::default().width_px)]
    width: u32,
    /// Figure height in pixels.
    #[arg(long, default_value_t = PlotConfig::default().height_px)]
    height: u32,
}

pub fn run(args: PlotArgs) -> Result<ExitCode> {
    let config = PlotConfig {
        width_px: args.width,
        height_px: args.height,
        ..PlotConfig::default()
    };
    if args.training {
        plot_run(&args.input, &args.output, &config)?;
    } else {
        plot_audio(&args, &config)?;
    }
    eprintln!("wrote {}", args.output.display());
    Ok(ExitCode::SUCCESS)
}

fn plot_audio(args: &PlotArgs, config: &PlotConfig) -> Result<()> {
    let model = if args.flux {
        None
    } else {
        Some(load_model(&resolve_model(args.model.as_deref())?, args.device)?.0)
    };
    let analyze = AnalyzeConfig {
        activation: if model.is_some() {
            ActivationKind::Max
        } else {
            ActivationKind::Flux
        },
        ..AnalyzeConfig::default()
    };
    let reference = match &args.beats {
        Some(p) => Some(
            read_beats(p)
                .with_context(|| format!("cannot read reference beats {}", p.display()))?
                .times_s,
        ),
        None => None,
    };
    let analysis = analyze_file(
        &args.input,
        &analyze,
        model.as_ref(),
        &mut |_| {},
        &ctrl_c_token(),
    )
    .with_context(|| format!("cannot analyse {}", args.input.display()))?;
    let decoded = decode_file(&args.input, &DecodeConfig::default())
        .with_context(|| format!("cannot decode {}", args.input.display()))?;
    let duration = decoded.duration_s();
    let to = args.to.unwrap_or(args.from + 20.0).min(duration);
    if !(args.from >= 0.0 && to > args.from) {
        bail!(
            "--from {} / --to {to} is not a span inside the song (0 to {duration:.1} s)",
            args.from
        );
    }
    let mut curves = Vec::new();
    if let Some((anchor, postve)) = &analysis.branches {
        curves.push(("non-percussive branch", anchor));
        curves.push(("percussive branch", postve));
    }
    let tracked_name = format!("{} (tracked)", analysis.activation_kind.name());
    curves.push((tracked_name.as_str(), &analysis.activation));
    let title = args
        .input
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let input = PlotInput {
        waveform: &decoded.signal,
        activations: &curves,
        beats_s: &analysis.beats_s,
        reference_s: reference.as_deref(),
        from_s: args.from,
        to_s: to,
        title: &title,
    };
    plot_beats_with(&input, config, &args.output)
        .with_context(|| format!("cannot write {}", args.output.display()))
}

/// Loss and validation curves of a pretraining run.
fn plot_run(run: &Path, out: &Path, config: &PlotConfig) -> Result<()> {
    let metrics = if run.is_dir() {
        run.join("metrics.json")
    } else {
        run.to_path_buf()
    };
    let bytes =
        std::fs::read(&metrics).with_context(|| format!("cannot read {}", metrics.display()))?;
    let state: TrainState = serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not a pretraining metrics file", metrics.display()))?;
    let plot = training_plot(&state);
    plot_training(&plot, config, out).with_context(|| format!("cannot write {}", out.display()))
}

fn training_plot(state: &TrainState) -> TrainingPlot {
    let n = state.step_losses.len();
    let window = (n / 50).clamp(1, 200);
    let valid = &state.valid_history;
    let pick = |f: fn(&zerons::train::ValidMetrics) -> f64| -> Vec<(f64, f64)> {
        valid
            .iter()
            .map(|p| (p.global_step as f64, f(&p.valid)))
            .collect()
    };
    let b = state.config.crops_per_clip as f64;
    let series = |name: &str, points: Vec<(f64, f64)>, secondary: bool| Series {
        name: name.into(),
        points,
        secondary,
    };
    TrainingPlot {
        title: format!(
            "sync-pred pretraining: {} steps, {:.1} h",
            state.global_step,
            state.elapsed_s / 3600.0
        ),
        x_label: "Optimiser step (one 10 s clip, 16 crops)".into(),
        panels: vec![
            (
                "NT-Xent loss".into(),
                vec![
                    series(
                        &format!("training ({window}-step mean)"),
                        smooth(&state.step_losses, window, window.max(n / 400)),
                        false,
                    ),
                    series("validation", pick(|v| v.loss), false),
                    series(
                        "chance (ln 16)",
                        vec![(0.0, b.ln()), (state.global_step as f64, b.ln())],
                        true,
                    ),
                ],
            ),
            (
                "Validation cosine".into(),
                vec![
                    series("positives (centred)", pick(|v| v.cos_pos), false),
                    series("negatives (centred)", pick(|v| v.cos_neg), false),
                    series("positives (raw)", pick(|v| v.raw_cos_pos), true),
                    series("negatives (raw)", pick(|v| v.raw_cos_neg), true),
                ],
            ),
        ],
    }
}
