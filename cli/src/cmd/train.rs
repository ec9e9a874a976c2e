//! `zerons train --manifest M.csv -o RUN_DIR`: base-model training on renders with exact beats
//! (every layer; `zerons::train::base`). Resumable with `--resume`; Ctrl-C checkpoints first.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use zerons::pipeline::AnalyzeConfig;
use zerons::pipeline::CancelToken;
use zerons::train::{BaseTrainConfig, LabelledItem, LabelledSong, load_labelled_each, train_base};

use crate::device::{DeviceArg, pick_device};
use crate::progress::ctrl_c_token;

#[derive(Args)]
pub struct TrainArgs {
    /// Render manifest(s) written by scripts/render_corpus.py (CSV with the columns name, source,
    /// song, audio, beats; paths relative to the manifest's folder).
    #[arg(long, required = true)]
    manifest: Vec<PathBuf>,
    /// Leave out the rows of these sources (e.g. --exclude-source tracker).
    #[arg(long)]
    exclude_source: Vec<String>,
    /// Run directory: checkpoints (`last/`, `best/`) and `metrics.json`.
    #[arg(short, long)]
    output: PathBuf,
    /// Where both stems' log-VQT of every song are cached (default: OUTPUT/../features).
    #[arg(long)]
    cache: Option<PathBuf>,
    /// Threads computing the features that are not cached yet (default: every core).
    #[arg(long)]
    jobs: Option<usize>,
    /// Continue the run in the output directory from its last checkpoint.
    #[arg(long)]
    resume: bool,
    /// Start from this model (new runs; e.g. assets/model-v1); default: a cold start.
    #[arg(long)]
    init_from: Option<PathBuf>,
    /// Optimiser steps in all.
    #[arg(long, default_value_t = BaseTrainConfig::default().max_steps)]
    steps: u64,
    /// Adam learning rate (new runs).
    #[arg(long, default_value_t = BaseTrainConfig::default().learning_rate)]
    lr: f64,
    /// Crops per step (new runs).
    #[arg(long, default_value_t = BaseTrainConfig::default().batch_size)]
    batch: usize,
    /// Seconds per crop (new runs).
    #[arg(long, default_value_t = 24.0)]
    crop_s: f64,
    /// Largest pitch shift in semitones (new runs; 0 = off).
    #[arg(long, default_value_t = BaseTrainConfig::default().max_pitch_shift_bins)]
    pitch_shift: usize,
    /// Largest gain change per stem in dB (new runs; 0 = off).
    #[arg(long, default_value_t = BaseTrainConfig::default().max_gain_db)]
    gain_db: f64,
    /// Probability of silencing one stem over 0.5–2 s in a crop (new runs; 0 = off).
    #[arg(long, default_value_t = BaseTrainConfig::default().mask_probability)]
    mask: f64,
    /// Loss weight of the frames halfway between two beats, where a tracker at double tempo
    /// puts its extra beats (new runs; 1 = plain BCE).
    #[arg(long, default_value_t = BaseTrainConfig::default().offbeat_weight)]
    offbeat_weight: f32,
    /// Weight of a multi-task tempo head's loss (new runs; 0 = none): a classifier of each
    /// crop's tempo on the network's features, trained beside the beats and not saved with
    /// the model (Böck, Davies & Knees, ISMIR 2019).
    #[arg(long, default_value_t = BaseTrainConfig::default().tempo_weight)]
    tempo_weight: f64,
    /// Weight of the downbeat loss (new runs; 0 = beats only). Above 0 the model gets a
    /// downbeat head if it has none, trained on the bars of beat files that number the beats.
    #[arg(long, default_value_t = BaseTrainConfig::default().downbeat_weight)]
    downbeat_weight: f64,
    /// Train only the downbeat heads of the --init-from model on its frozen features: its beats
    /// stay exactly as they are (new runs; needs --downbeat-weight above 0).
    #[arg(long)]
    downbeat_head_only: bool,
    /// Append residual TCN layers with these dilations above the starting model's last layer,
    /// for a longer receptive field (new runs; e.g. --add-dilations 64,128 takes lite's ±2 s
    /// to ±8.2 s). They start near the identity, so training begins from the given model.
    #[arg(long, value_delimiter = ',')]
    add_dilations: Vec<usize>,
    /// Validate every N steps.
    #[arg(long, default_value_t = BaseTrainConfig::default().valid_every_steps)]
    valid_every: u64,
    /// Percent of the pieces (all renders of a piece together) held out for validation.
    #[arg(long, default_value_t = 5)]
    valid_percent: u64,
    /// At most this many validation songs (spread over the held-out ones).
    #[arg(long, default_value_t = 40)]
    valid_songs: usize,
    /// Checkpoint every N steps (also at the end and on Ctrl-C).
    #[arg(long, default_value_t = BaseTrainConfig::default().checkpoint_every_steps)]
    checkpoint_every: u64,
    /// Seed of every draw (new runs).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Compute device.
    #[arg(long, value_enum, default_value_t = DeviceArg::Auto)]
    device: DeviceArg,
}

/// Splits CSV text (RFC 4180, as Python's `csv` writes it: fields with commas or quotes are
/// quoted, quotes doubled) into rows of fields. Not the `csv` crate: adding it changed serde's
/// feature set in the lock file and recompiled the whole dependency tree in every build.
fn csv_rows(text: &str) -> Result<Vec<Vec<String>>> {
    let mut rows = Vec::new();
    let (mut row, mut field) = (Vec::new(), String::new());
    let (mut quoted, mut line) = (false, 1);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => {
                line += usize::from(c == '\n');
                field.push(c);
            }
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                line += 1;
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    if quoted {
        bail!("line {line}: a quoted field is not closed");
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    Ok(rows)
}

/// The rows of a render manifest.
pub(crate) fn read_manifest(path: &Path, exclude: &[String]) -> Result<Vec<LabelledItem>> {
    let base = path.parent().unwrap_or(Path::new("."));
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the manifest {}", path.display()))?;
    let rows = csv_rows(&text).with_context(|| format!("{}", path.display()))?;
    let Some((headers, rows)) = rows.split_first() else {
        bail!("{}: empty manifest", path.display());
    };
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .with_context(|| format!("{}: no column '{name}'", path.display()))
    };
    let (name, source, song, audio, beats) = (
        column("name")?,
        column("source")?,
        column("song")?,
        column("audio")?,
        column("beats")?,
    );
    let mut items = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        if row.len() != headers.len() {
            bail!(
                "{}: row {} has {} fields, the header {}",
                path.display(),
                i + 2,
                row.len(),
                headers.len()
            );
        }
        if exclude.iter().any(|s| *s == row[source]) {
            continue;
        }
        items.push(LabelledItem {
            name: row[name].clone(),
            group: format!("{}/{}", row[source], row[song]),
            audio: base.join(&row[audio]),
            beats: base.join(&row[beats]),
        });
    }
    Ok(items)
}

/// Loads the features of every item (cached in `cache`) on `jobs` threads (every core by
/// default) with a progress bar (a line every 50 songs when stderr is not a terminal), and hands
/// each song to `keep` in item order. A song that cannot be loaded, or for which `keep` fails,
/// is reported and skipped; `keep` returns `Ok(false)` to skip one silently. Returns how many
/// were skipped.
pub(crate) fn load_songs(
    items: &[LabelledItem],
    cache: &Path,
    jobs: Option<usize>,
    cancel: &CancelToken,
    mut keep: impl FnMut(&LabelledItem, LabelledSong) -> zerons::Result<bool>,
) -> Result<usize> {
    let bar = ProgressBar::new(items.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    bar.set_message(format!("features (cached in {})", cache.display()));
    let threads = jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let mut skipped = 0;
    load_labelled_each(
        items,
        cache,
        &AnalyzeConfig::default(),
        cancel,
        threads,
        |i, loaded| {
            match loaded.and_then(|song| keep(&items[i], song)) {
                Ok(true) => {}
                Ok(false) => skipped += 1,
                Err(e) => {
                    skipped += 1;
                    bar.suspend(|| eprintln!("skipped {}: {e}", items[i].name));
                }
            }
            bar.inc(1);
            if bar.is_hidden() && bar.position().is_multiple_of(50) {
                eprintln!("features: {}/{}", bar.position(), items.len());
            }
            Ok(())
        },
    )
    .context("loading the songs")?;
    bar.finish_and_clear();
    Ok(skipped)
}

/// FNV-1a, for a split that does not depend on the order of the manifest.
pub(crate) fn hash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

pub fn run(args: TrainArgs) -> Result<ExitCode> {
    let cancel = ctrl_c_token();
    let mut items = Vec::new();
    for m in &args.manifest {
        items.extend(read_manifest(m, &args.exclude_source)?);
    }
    if items.is_empty() {
        bail!("the manifests list no songs");
    }
    let cache = args.cache.clone().unwrap_or_else(|| {
        args.output
            .parent()
            .unwrap_or(Path::new("."))
            .join("features")
    });
    let (mut train, mut valid): (Vec<LabelledSong>, Vec<LabelledSong>) = (Vec::new(), Vec::new());
    let skipped = load_songs(&items, &cache, args.jobs, &cancel, |_, song| {
        if hash(&song.group) % 100 < args.valid_percent {
            valid.push(song);
        } else {
            train.push(song);
        }
        Ok(true)
    })?;
    if valid.len() > args.valid_songs {
        let n = valid.len();
        valid = (0..args.valid_songs)
            .map(|i| valid[i * n / args.valid_songs].clone())
            .collect();
    }
    let hours = |v: &[LabelledSong]| {
        v.iter().map(|s| s.span.1 - s.span.0).sum::<usize>() as f64 / 62.5 / 3600.0
    };
    let pieces = |v: &[LabelledSong]| {
        v.iter()
            .map(|s| s.group.as_str())
            .collect::<BTreeSet<_>>()
            .len()
    };
    eprintln!(
        "songs: {} for training ({} pieces, {:.1} h), {} for validation ({} pieces, {:.1} h), {skipped} skipped",
        train.len(),
        pieces(&train),
        hours(&train),
        valid.len(),
        pieces(&valid),
        hours(&valid)
    );
    let device = pick_device(args.device);
    let cfg = BaseTrainConfig {
        init_from: args.init_from.clone(),
        learning_rate: args.lr,
        batch_size: args.batch,
        crop_frames: (args.crop_s * 62.5).round().max(0.0) as usize,
        max_steps: args.steps,
        max_pitch_shift_bins: args.pitch_shift,
        max_gain_db: args.gain_db,
        mask_probability: args.mask,
        offbeat_weight: args.offbeat_weight,
        tempo_weight: args.tempo_weight,
        downbeat_weight: args.downbeat_weight,
        downbeat_head_only: args.downbeat_head_only,
        add_dilations: args.add_dilations.clone(),
        valid_every_steps: args.valid_every,
        checkpoint_every_steps: args.checkpoint_every,
        seed: args.seed,
        ..BaseTrainConfig::default()
    };
    let bar = ProgressBar::new(args.steps);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    bar.set_message("training");
    let summary = train_base(
        &train,
        &valid,
        &args.output,
        &cfg,
        args.resume,
        &device,
        &cancel,
        |p| {
            bar.set_length(p.total_steps);
            bar.set_position(p.global_step);
            let left = (p.total_steps - p.global_step) as f64 / p.steps_per_s.max(1e-9);
            let status = format!(
                "loss {:.4} {:.2} steps/s ETA {}",
                p.loss,
                p.steps_per_s,
                indicatif::HumanDuration(Duration::from_secs_f64(left.min(1e9)))
            );
            // Without a terminal (a background run logging to a file) the bar draws nothing.
            if bar.is_hidden() && p.global_step.is_multiple_of(20) {
                eprintln!("step {}/{}: {status}", p.global_step, p.total_steps);
            }
            bar.set_message(status);
            if let Some(v) = &p.valid {
                let downbeat = v
                    .downbeat_f
                    .map_or(String::new(), |f| format!(" downbeat F {f:.3}"));
                let tempo = v
                    .tempo_loss
                    .map_or(String::new(), |t| format!(" tempo loss {t:.3}"));
                bar.suspend(|| {
                    eprintln!(
                        "step {}: train loss {:.4}; validation F {:.3} CMLt {:.3} AMLt {:.3} loss {:.4}{downbeat}{tempo}",
                        v.global_step, v.train_loss, v.f_measure, v.cmlt, v.amlt, v.loss
                    )
                });
            }
        },
    )
    .context("training")?;
    bar.finish_and_clear();
    let s = &summary.state;
    let best = s.best.as_ref();
    eprintln!(
        "{} at step {}, {:.0} s of training; best model {} (step {}, validation F {:.3}, CMLt {:.3})",
        if summary.cancelled { "stopped" } else { "done" },
        s.global_step,
        s.elapsed_s,
        summary.best_dir.display(),
        best.map_or(0, |b| b.global_step),
        best.map_or(0.0, |b| b.f_measure),
        best.map_or(0.0, |b| b.cmlt),
    );
    Ok(if summary.cancelled {
        ExitCode::from(130)
    } else {
        ExitCode::SUCCESS
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_rows_become_items_with_paths_beside_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        let m = dir.path().join("manifest.csv");
        std::fs::write(
            &m,
            "name,source,song,variant,audio,beats,effects\n\
             a-v0,mma,a,0,audio/a.flac,audio/a.beats,\"eq:x,comp\"\n\
             t-v0,tracker,t,0,audio/t.flac,audio/t.beats,\n",
        )
        .expect("write");
        let items = read_manifest(&m, &["tracker".to_owned()]).expect("read");
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].group, "mma/a");
        assert_eq!(items[0].audio, dir.path().join("audio/a.flac"));
        let rows = csv_rows("a,\"b \"\"q\"\", c\",d\r\n1,2,3\n").expect("rows");
        assert_eq!(rows[0], ["a", "b \"q\", c", "d"]);
        assert_eq!(rows[1], ["1", "2", "3"]);
        assert!(csv_rows("a,\"open\n").is_err());
        std::fs::write(&m, "name,audio\nx,y\n").expect("write");
        let err = read_manifest(&m, &[]).expect_err("columns missing");
        assert!(format!("{err:#}").contains("no column 'source'"), "{err:#}");
    }
}
