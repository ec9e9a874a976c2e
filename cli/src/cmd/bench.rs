//! `zerons bench`: the shipped model on the CPU and on the GPU, measured in one run.
//!
//! - **inference**: model time of a whole song (the input song tiled to `--infer-s`
//!   seconds), best and median of `--repeats` runs after a warm-up run (a GPU's first run on a
//!   new shape compiles its kernels); **parity**: the largest difference between the GPU's
//!   and the CPU's activation curves, and the F-measure of the GPU's beats against the CPU's;
//! - **fine-tuning**: the engine's `finetune` in its default mode (what `zerons finetune` and
//!   the app run) for a fixed number of epochs on 1 and on 10 songs (copies of the input
//!   song, annotated with the CPU's beats; the cost of a step does not depend on what the
//!   song contains), epochs per second and steps per second after a warm-up run;
//! - the device the app would pick (`select_device(Auto)`, as `finetune.rs` in the app does)
//!   is named in the report.
//!
//! Prints a table and, with `--json`, writes every figure to a file.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Args;
use serde_json::json;
use zerons::eval::{EvalConfig, evaluate};
use zerons::features::Spectrogram;
use zerons::model::{
    ComputeDevice, Device, DeviceChoice, InferConfig, LoadedModel, infer, load_model_on,
    select_device,
};
use zerons::pipeline::{AnalyzeConfig, CancelToken, song_features};
use zerons::tracking::{Activation, Tracker, TrackerConfig};
use zerons::train::{AnnotatedSong, FinetuneConfig, finetune};

use crate::device::resolve_model;

#[derive(Args)]
pub struct BenchArgs {
    /// The song to measure with (default: the bundled demo song).
    #[arg(long)]
    audio: Option<PathBuf>,
    /// The model (default: the bundled model).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Length of the song the inference is timed on, in seconds (the input tiled).
    #[arg(long, default_value_t = 180.0)]
    infer_s: f64,
    /// Timed inference runs per device (after one warm-up run).
    #[arg(long, default_value_t = 5)]
    repeats: usize,
    /// Epochs of each timed fine-tuning run (after a 2-epoch warm-up run).
    #[arg(long, default_value_t = 10)]
    epochs: usize,
    /// Song counts of the fine-tuning runs.
    #[arg(long, value_delimiter = ',', default_value = "1,10")]
    songs: Vec<usize>,
    /// Measure only on the CPU (no GPU figures).
    #[arg(long)]
    cpu_only: bool,
    /// Write every figure as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

/// The bundled demo song: `share/zerons/demo` of an installed copy, else the source tree's.
fn demo_song() -> Option<PathBuf> {
    const NAME: &str = "time_to_strike_excerpt.mp3";
    let exe = std::env::current_exe().ok()?;
    let installed = exe.parent()?.parent()?.join("share/zerons/demo").join(NAME);
    let source =
        crate::device::bundled_model().and_then(|m| m.parent().map(|a| a.join("demo").join(NAME)));
    [Some(installed), source]
        .into_iter()
        .flatten()
        .find(|p| p.is_file())
}

/// `s` repeated along time until it has `n_frames` frames.
fn tile(s: &Spectrogram, n_frames: usize) -> Spectrogram {
    let mut data = Vec::with_capacity(s.n_bins * n_frames);
    for bin in 0..s.n_bins {
        let row = &s.data[bin * s.n_frames..(bin + 1) * s.n_frames];
        data.extend(row.iter().cycle().take(n_frames));
    }
    Spectrogram {
        data,
        n_bins: s.n_bins,
        n_frames,
        fps: s.fps,
    }
}

struct InferTiming {
    best_s: f64,
    median_s: f64,
    curve: Activation,
}

fn time_inference(
    model: &LoadedModel,
    non: &Spectrogram,
    perc: &Spectrogram,
    repeats: usize,
) -> Result<InferTiming> {
    let config = InferConfig::default();
    let mut curve = infer(model, non, perc, &config)?.combined;
    let mut secs = Vec::with_capacity(repeats);
    for _ in 0..repeats.max(1) {
        let t0 = Instant::now();
        curve = infer(model, non, perc, &config)?.combined;
        secs.push(t0.elapsed().as_secs_f64());
    }
    secs.sort_by(f64::total_cmp);
    Ok(InferTiming {
        best_s: secs[0],
        median_s: secs[secs.len() / 2],
        curve,
    })
}

/// Seconds of a fine-tuning run of exactly `epochs` epochs.
fn time_finetune(
    base: &LoadedModel,
    songs: &[AnnotatedSong],
    epochs: usize,
    device: &Device,
) -> Result<f64> {
    let config = FinetuneConfig {
        max_epochs: epochs,
        // exactly `epochs`, whatever the songs' length
        epoch_budget_s: f64::MAX,
        patience_epochs: epochs,
        min_epochs: Some(epochs),
        fixed_epochs: epochs,
        ..FinetuneConfig::default()
    };
    let t0 = Instant::now();
    finetune(base, songs, &config, device, &CancelToken::new(), |_| {})?;
    Ok(t0.elapsed().as_secs_f64())
}

pub fn run(args: BenchArgs) -> Result<()> {
    let audio = match args.audio.clone().or_else(demo_song) {
        Some(p) => p,
        None => bail!("no demo song found; pass a song with --audio"),
    };
    let model_path = resolve_model(args.model.as_deref())?;
    eprintln!("decoding and separating {} …", audio.display());
    let features = song_features(
        &audio,
        &AnalyzeConfig::default(),
        &mut |_| {},
        &CancelToken::new(),
    )
    .with_context(|| format!("cannot read {}", audio.display()))?;
    let song_s = features.non_percussive.n_frames as f64 / features.non_percussive.fps;
    let n_frames = (args.infer_s * features.non_percussive.fps)
        .round()
        .max(1.0) as usize;
    let non = tile(&features.non_percussive, n_frames);
    let perc = tile(&features.percussive, n_frames);

    let cpu = select_device(DeviceChoice::Cpu);
    let mut devices = vec![cpu];
    let app_choice = select_device(DeviceChoice::Auto);
    if !args.cpu_only {
        let gpu = select_device(DeviceChoice::Gpu);
        match (&gpu.kind, &gpu.fallback_reason) {
            (ComputeDevice::Gpu, _) => devices.push(gpu),
            (_, reason) => eprintln!(
                "no GPU measured: {}",
                reason.as_deref().unwrap_or("no usable adapter")
            ),
        }
    }
    println!(
        "song: {} ({song_s:.1} s; inference on {:.0} s tiled)",
        audio.display(),
        args.infer_s
    );
    println!(
        "the app would run on: {} ({})",
        app_choice.name,
        match app_choice.kind {
            ComputeDevice::Gpu => "GPU",
            ComputeDevice::Cpu => "CPU",
        }
    );

    let tracker_config = TrackerConfig::default();
    let mut report = Vec::new();
    let mut cpu_curve: Option<Activation> = None;
    let mut cpu_beats: Vec<f64> = Vec::new();
    for selected in &devices {
        let model = load_model_on(&model_path, &selected.device)
            .with_context(|| format!("cannot load the model {}", model_path.display()))?;
        let t = time_inference(&model, &non, &perc, args.repeats)?;
        let beats = Tracker::new(&tracker_config, t.curve.fps)?.track(&t.curve)?;
        let mut entry = json!({
            "device": selected.name,
            "kind": if selected.kind == ComputeDevice::Gpu { "gpu" } else { "cpu" },
            "model": model.manifest.id,
            "infer_song_s": args.infer_s,
            "infer_best_s": t.best_s,
            "infer_median_s": t.median_s,
            "beats": beats.len(),
        });
        println!(
            "{:<40} inference of {:.0} s: best {:.3} s, median {:.3} s ({:.0}× real time)",
            selected.name,
            args.infer_s,
            t.best_s,
            t.median_s,
            args.infer_s / t.best_s
        );
        match &cpu_curve {
            None => {
                cpu_beats = beats;
                cpu_curve = Some(t.curve);
            }
            Some(reference) => {
                let max_diff = reference
                    .values
                    .iter()
                    .zip(&t.curve.values)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0f32, f32::max);
                let f = evaluate(&cpu_beats, &beats, &EvalConfig::default())?.f_measure;
                println!(
                    "{:<40} parity with the CPU: max |Δ activation| {max_diff:.2e}, beats F {f:.4} ({} vs {})",
                    "",
                    beats.len(),
                    cpu_beats.len()
                );
                entry["parity_max_abs_diff"] = json!(max_diff);
                entry["parity_beats_f"] = json!(f);
            }
        }

        // Fine-tuning: each song is the input, annotated with the CPU's beats.
        let beats_in_song: Vec<f64> = cpu_beats.iter().copied().filter(|b| *b < song_s).collect();
        let song = AnnotatedSong::new(
            "bench",
            features.non_percussive.clone(),
            features.percussive.clone(),
            &beats_in_song,
            None,
        )?;
        time_finetune(&model, std::slice::from_ref(&song), 2, &selected.device)?;
        let mut runs = Vec::new();
        for &n in &args.songs {
            let songs = vec![song.clone(); n.max(1)];
            let secs = time_finetune(&model, &songs, args.epochs, &selected.device)?;
            let epochs_per_s = args.epochs as f64 / secs;
            println!(
                "{:<40} fine-tuning, {n} song(s) × {song_s:.0} s, {} epochs: {secs:.2} s ({epochs_per_s:.2} epochs/s, {:.2} steps/s)",
                "",
                args.epochs,
                epochs_per_s * n as f64
            );
            runs.push(json!({
                "songs": n, "song_s": song_s, "epochs": args.epochs, "seconds": secs,
                "epochs_per_s": epochs_per_s, "steps_per_s": epochs_per_s * n as f64,
            }));
        }
        entry["finetune"] = json!(runs);
        report.push(entry);
    }
    if let Some(path) = &args.json {
        let doc = json!({
            "song": audio.display().to_string(),
            "app_device": app_choice.name,
            "devices": report,
        });
        std::fs::write(path, serde_json::to_string_pretty(&doc)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}
