//! `zerons pretrain CORPUS_DIR -o RUN_DIR`: self-supervised sync-pred pretraining.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use zerons::model::{DeviceChoice, select_device};
use zerons::train::{CorpusConfig, CosineKind, TrainConfig, ingest_corpus, pretrain};

use crate::progress::ctrl_c_token;

#[derive(Clone, Copy, ValueEnum)]
enum DeviceArg {
    Cpu,
    Gpu,
    Auto,
}

#[derive(Clone, Copy, ValueEnum)]
enum CosineArg {
    Raw,
    Centred,
}

#[derive(Args)]
pub struct PretrainArgs {
    /// Directory of audio files (searched recursively). Stem pairs: NAME.perc.EXT + NAME.nonperc.EXT.
    corpus: PathBuf,
    /// Run directory: clip cache (`cache/`), checkpoints (`last/`, `best/`), `metrics.json`.
    #[arg(short, long)]
    output: PathBuf,
    /// Continue the run in the output directory from its last checkpoint.
    #[arg(long)]
    resume: bool,
    /// Passes over the training clips.
    #[arg(long, default_value_t = TrainConfig::default().epochs)]
    epochs: usize,
    /// Adam learning rate (new runs only).
    #[arg(long, default_value_t = TrainConfig::default().learning_rate)]
    lr: f64,
    /// Seed of initialisation, clip order, crop offsets, dropout and the split (new runs only).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Stop after this many optimiser steps in all.
    #[arg(long)]
    max_steps: Option<u64>,
    /// Checkpoint every N steps (also at each epoch end and on Ctrl-C).
    #[arg(long, default_value_t = TrainConfig::default().checkpoint_every_steps)]
    checkpoint_every: u64,
    /// Also validate (and keep the best model) every N steps, not only at each epoch end.
    #[arg(long)]
    valid_every: Option<u64>,
    /// Validate on at most this many held-out clips (spread over the validation tracks; 0 = all).
    #[arg(long, default_value_t = 0)]
    valid_clips: usize,
    /// Cosine inside the NT-Xent (new runs only): raw = the paper's; centred = Pearson.
    #[arg(long, value_enum, default_value_t = CosineArg::Raw)]
    cosine: CosineArg,
    /// Initial pre-sigmoid bias of the output heads (new runs only; "none" = layer default).
    #[arg(long, default_value = "-4")]
    head_bias: String,
    /// Largest shift between the crops of a clip, in frames (new runs only; default: any).
    #[arg(long)]
    max_shift: Option<usize>,
    /// Steps with the centred cosine before the raw one (new runs only; 0 = raw from the start).
    #[arg(long, default_value_t = TrainConfig::default().centred_warmup_steps)]
    warmup_steps: u64,
    /// Start from this model's weights (new runs only); heads are re-calibrated (flipped if
    /// they learned dips, baseline moved to --head-bias).
    #[arg(long)]
    init_from: Option<PathBuf>,
    /// Compute device.
    #[arg(long, value_enum, default_value_t = DeviceArg::Auto)]
    device: DeviceArg,
}

pub fn run(args: PretrainArgs) -> Result<ExitCode> {
    let cancel = ctrl_c_token();
    let corpus_cfg = CorpusConfig {
        split_seed: args.seed,
        ..Default::default()
    };
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    let corpus = ingest_corpus(
        &args.corpus,
        &args.output.join("cache"),
        &corpus_cfg,
        &cancel,
        |p| {
            bar.set_length(p.total as u64);
            bar.set_position(p.done as u64);
            bar.set_message(format!("ingesting {}", p.path));
        },
    )
    .context("building the clip cache")?;
    let r = &corpus.report;
    bar.suspend(|| {
        eprintln!(
            "corpus: {} tracks ({:.0} min), {} kept, rejected {:?}; clips kept {}, rejected {}; train {} clips / {} tracks, validation {} clips / {} tracks",
            r.tracks, r.minutes, r.tracks_kept, r.rejected, r.clips_kept, r.clips_rejected,
            r.train_clips, r.train_tracks, r.valid_clips, r.valid_tracks
        )
    });
    let device = select_device(match args.device {
        DeviceArg::Cpu => DeviceChoice::Cpu,
        DeviceArg::Gpu => DeviceChoice::Gpu,
        DeviceArg::Auto => DeviceChoice::Auto,
    });
    let config = TrainConfig {
        learning_rate: args.lr,
        epochs: args.epochs,
        seed: args.seed,
        max_steps: args.max_steps,
        checkpoint_every_steps: args.checkpoint_every,
        valid_every_steps: args.valid_every,
        valid_max_clips: args.valid_clips,
        cosine: match args.cosine {
            CosineArg::Raw => CosineKind::Raw,
            CosineArg::Centred => CosineKind::Centred,
        },
        head_bias_init: match args.head_bias.as_str() {
            "none" => None,
            v => Some(
                v.parse::<f32>()
                    .ok()
                    .filter(|b| b.is_finite())
                    .with_context(|| format!("--head-bias {v}: expected a number or none"))?,
            ),
        },
        init_from: args.init_from.clone(),
        centred_warmup_steps: args.warmup_steps,
        max_shift_frames: args.max_shift,
        ..Default::default()
    };
    bar.set_position(0);
    bar.set_message(format!("training on {}", device.name));
    let summary = pretrain(
        &corpus,
        &args.output,
        &config,
        args.resume,
        &device.device,
        &cancel,
        |p| {
            bar.set_length(p.total_steps);
            bar.set_position(p.global_step);
            let status = format!(
                "epoch {}/{} loss {:.4} {:.2} steps/s ETA {}",
                p.epoch + 1,
                p.epochs,
                p.loss,
                p.steps_per_s,
                indicatif::HumanDuration(Duration::from_secs_f64(p.eta_s.min(1e9)))
            );
            // Without a terminal (a run in the background, output to a file) the bar draws
            // nothing: log a plain line every 100 steps instead.
            if bar.is_hidden() && p.global_step.is_multiple_of(100) {
                eprintln!("step {}/{}: {status}", p.global_step, p.total_steps);
            }
            bar.set_message(status);
            if let Some(m) = &p.epoch_metrics {
                let v = m
                    .valid
                    .as_ref()
                    .map_or("no validation clips".to_owned(), |v| {
                        format!(
                            "valid loss {:.4}, cos pos {:.3} / neg {:.3} (raw {:.3} / {:.3})",
                            v.loss, v.cos_pos, v.cos_neg, v.raw_cos_pos, v.raw_cos_neg
                        )
                    });
                bar.suspend(|| {
                    eprintln!("epoch {}: train loss {:.4}, {v}", m.epoch + 1, m.train_loss)
                });
            }
        },
    )
    .context("training")?;
    bar.finish_and_clear();
    let s = &summary.state;
    eprintln!(
        "{} at step {} (epoch {}), {:.0} s of training; checkpoint {}{}",
        if summary.cancelled { "stopped" } else { "done" },
        s.global_step,
        s.epoch,
        s.elapsed_s,
        summary.last_dir.display(),
        summary
            .best_dir
            .map(|b| format!(", best model {}", b.display()))
            .unwrap_or_default()
    );
    Ok(if summary.cancelled {
        ExitCode::from(130)
    } else {
        ExitCode::SUCCESS
    })
}
