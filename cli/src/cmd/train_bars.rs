//! `zerons train-bars --manifest M.csv -o MODEL_DIR`: trains the bar classifier (which beats
//! are downbeats; `zerons::train::bars`) on renders with exact bar lines and saves it with a
//! copy of the beat network (`--model`, default the shipped one). Ctrl-C keeps the best epoch
//! so far.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Args;
use zerons::model::save_model;
use zerons::train::{BarExamples, BarsTrainConfig, bar_examples, train_bars};

use super::train::{hash, load_songs, read_manifest};
use crate::device::{DeviceArg, load_model, resolve_model};
use crate::progress::ctrl_c_token;

#[derive(Args)]
pub struct TrainBarsArgs {
    /// Render manifest(s) written by scripts/render_corpus.py (beat files that number the
    /// beats in the bar).
    #[arg(long, required = true)]
    manifest: Vec<PathBuf>,
    /// Leave out the rows of these sources.
    #[arg(long)]
    exclude_source: Vec<String>,
    /// The beat network to save the classifier with (default: the shipped model).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Threads computing the features that are not cached yet (default: every core).
    #[arg(long)]
    jobs: Option<usize>,
    /// Model directory to write (the network and its bar classifier).
    #[arg(short, long)]
    output: PathBuf,
    /// Where both stems' log-VQT of every song are cached (default: OUTPUT/../features).
    #[arg(long)]
    cache: Option<PathBuf>,
    /// At most this many songs (spread over the manifest; 0 = all).
    #[arg(long, default_value_t = 0)]
    max_songs: usize,
    /// Passes over the training beats.
    #[arg(long, default_value_t = BarsTrainConfig::default().epochs)]
    epochs: usize,
    /// Adam learning rate.
    #[arg(long, default_value_t = BarsTrainConfig::default().learning_rate)]
    lr: f64,
    /// Hidden units.
    #[arg(long, default_value_t = BarsTrainConfig::default().net.hidden)]
    hidden: usize,
    /// Beats of context either side.
    #[arg(long, default_value_t = BarsTrainConfig::default().net.context_beats)]
    context: usize,
    /// Largest beat shift of the jittered copies, ms.
    #[arg(long, default_value_t = BarsTrainConfig::default().jitter_s * 1000.0)]
    jitter_ms: f64,
    /// Percent of the pieces (all renders of a piece together) held out to pick the epoch.
    #[arg(long, default_value_t = 10)]
    valid_percent: u64,
    /// Seed of the shuffles, jitter and initial weights.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Compute device.
    #[arg(long, value_enum, default_value_t = DeviceArg::Auto)]
    device: DeviceArg,
}

pub fn run(args: TrainBarsArgs) -> Result<ExitCode> {
    let cancel = ctrl_c_token();
    let mut items = Vec::new();
    for m in &args.manifest {
        items.extend(read_manifest(m, &args.exclude_source)?);
    }
    if args.max_songs > 0 && items.len() > args.max_songs {
        let n = items.len();
        items = (0..args.max_songs)
            .map(|i| items[i * n / args.max_songs].clone())
            .collect();
    }
    if items.is_empty() {
        bail!("the manifests list no songs");
    }
    let model_path = resolve_model(args.model.as_deref())?;
    let (model, device) = load_model(&model_path, args.device)?;
    let cache = args.cache.clone().unwrap_or_else(|| {
        args.output
            .parent()
            .unwrap_or(Path::new("."))
            .join("features")
    });
    let cfg = BarsTrainConfig {
        net: zerons::model::bars::BarNetConfig {
            context_beats: args.context,
            hidden: args.hidden,
        },
        epochs: args.epochs,
        learning_rate: args.lr,
        jitter_s: args.jitter_ms / 1000.0,
        seed: args.seed,
        ..BarsTrainConfig::default()
    };
    cfg.validate().context("bar training settings")?;
    let (mut train, mut valid) = (BarExamples::default(), BarExamples::default());
    let (mut n_train, mut n_valid) = (0, 0);
    let skipped = load_songs(&items, &cache, args.jobs, &cancel, |item, song| {
        let ex = bar_examples(&song, &cfg)?;
        if ex.is_empty() {
            return Ok(false);
        }
        if hash(&item.group) % 100 < args.valid_percent {
            valid.extend(ex);
            n_valid += 1;
        } else {
            train.extend(ex);
            n_train += 1;
        }
        Ok(true)
    })?;
    eprintln!(
        "songs: {n_train} for training ({} beats), {n_valid} held out ({} beats), {skipped} skipped (no bar lines or unreadable)",
        train.len(),
        valid.len()
    );
    let outcome = train_bars(
        &train,
        &valid,
        &cfg,
        &device,
        &mut |e| {
            eprintln!(
                "epoch {}: train loss {:.4}; held out: loss {:.4}, accuracy {:.3}",
                e.epoch, e.train_loss, e.valid_loss, e.valid_accuracy
            )
        },
        &cancel,
    )
    .context("training the bar classifier")?;
    let best = &outcome.history[outcome.best_epoch - 1];
    let mut bars = outcome.model;
    bars.notes = Some(format!(
        "zerons train-bars: {n_train} songs ({} beats, exact and ±{} ms jittered), epoch {} of {} \
         (held out: {n_valid} songs, loss {:.4}, accuracy {:.3}); hidden {}, context ±{} beats, lr {}, seed {}",
        train.len(),
        args.jitter_ms,
        outcome.best_epoch,
        outcome.history.len(),
        best.valid_loss,
        best.valid_accuracy,
        cfg.net.hidden,
        cfg.net.context_beats,
        cfg.learning_rate,
        cfg.seed
    ));
    let plain = device.clone();
    let model = model.with_bars(Some(bars.to_device(&plain)));
    save_model(&model, &args.output)
        .with_context(|| format!("cannot save the model to {}", args.output.display()))?;
    let history = serde_json::to_vec_pretty(&outcome.history).context("history")?;
    let hist_path = args.output.join("bars-training.json");
    std::fs::write(&hist_path, history)
        .with_context(|| format!("cannot write {}", hist_path.display()))?;
    eprintln!(
        "{} {} (epoch {}, held-out accuracy {:.3}); history in {}",
        if outcome.cancelled {
            "stopped; saved"
        } else {
            "saved"
        },
        args.output.display(),
        outcome.best_epoch,
        best.valid_accuracy,
        hist_path.display()
    );
    Ok(if outcome.cancelled {
        ExitCode::from(130)
    } else {
        ExitCode::SUCCESS
    })
}
