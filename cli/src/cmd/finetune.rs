//! `zerons finetune --song AUDIO=BEATS … -o OUT_MODEL`: fine-tune a model on corrected beats,
//! print the held-out before/after and what changed on re-tracking.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use zerons::eval::{EvalConfig, PositionedBeats, estimates_cut_s, evaluate, evaluate_downbeats};
use zerons::formats::read_beats;
use zerons::model::save_model;
use zerons::pipeline::{AnalyzeConfig, SongFeatures, analyze_features, song_features};
use zerons::tracking::guide::{BeatGuide, GuideConfig, complete_beats};
use zerons::train::{
    AnnotatedSong, FinetuneConfig, FinetuneMode, WhenBaseAgrees, changed_beats, finetune,
};

use crate::device::{DeviceArg, load_model, resolve_model};
use crate::progress::ctrl_c_token;

#[derive(Clone, Copy, ValueEnum)]
enum ModeArg {
    /// Only the 1×1 output heads.
    Heads,
    /// The upper layers on cached lower-layer features (fast on a CPU).
    Top,
    /// Every layer.
    Full,
}

#[derive(Clone, Copy, ValueEnum)]
enum WhenBaseAgreesArg {
    /// Train anyway (the confirmed beats reinforce what the model does).
    Train,
    /// Keep the base network unchanged: nothing was corrected.
    Keep,
}

#[derive(Args)]
pub struct FinetuneArgs {
    /// A song and its corrected beats, as AUDIO=BEATS (any importable beat format). One to ten.
    #[arg(
        long = "song",
        value_name = "AUDIO=BEATS",
        required_unless_present = "song_list"
    )]
    songs: Vec<String>,
    /// A text file with one AUDIO=BEATS per line (blank lines and `#` comments skipped;
    /// relative paths are relative to the file), added to the --song arguments. For
    /// training sets larger than a user's handful of songs.
    #[arg(long, value_name = "FILE")]
    song_list: Option<PathBuf>,
    /// The model to start from (default: the bundled model).
    #[arg(long)]
    base: Option<PathBuf>,
    /// Only beats before this time (s) count as annotated; later beats in the files are
    /// used only to report how the rest of the song changed.
    #[arg(long, value_name = "SECONDS")]
    annotated_until: Option<f64>,
    /// What is trained.
    #[arg(long, value_enum, default_value = "top")]
    mode: ModeArg,
    /// Where the network trains.
    #[arg(long, value_enum, default_value = "auto")]
    device: DeviceArg,
    /// Upper bound on epochs.
    #[arg(long, default_value_t = FinetuneConfig::default().max_epochs)]
    max_epochs: usize,
    /// Upper bound on epochs × annotated seconds of all songs together (the run stops after
    /// at most this / annotated seconds epochs): keeps ten songs × 30 s under 2 minutes.
    #[arg(long, value_name = "SECONDS", default_value_t = FinetuneConfig::default().epoch_budget_s)]
    epoch_budget: f64,
    /// Stop after this many epochs without a better held-out score.
    #[arg(long, value_name = "EPOCHS", default_value_t = FinetuneConfig::default().patience_epochs)]
    patience: usize,
    /// Early stopping never ends a run before this epoch (default: 60 in full mode, else none).
    #[arg(long, value_name = "EPOCH")]
    min_epochs: Option<usize>,
    /// Weight of the keep-the-rest term (0 = off; 1 = the app's "only where the music
    /// resembles my corrections"): the base model's own output on each song's unannotated
    /// audio is a soft target, so the corrections change the network only where the music
    /// resembles them. For songs whose sections differ; not with --mode full.
    #[arg(long, value_name = "W", default_value_t = FinetuneConfig::default().rest_weight)]
    rest_weight: f64,
    /// With --rest-weight: apply the keep-the-rest term only to the songs whose base model
    /// scores at least this F-measure on their held-out beats (where the base already tracks
    /// what was corrected); the others train as without it.
    #[arg(long, value_name = "F")]
    rest_min_base_f: Option<f64>,
    /// How much of the trained change to keep, in (0, 1]: the trained layers end at
    /// base + λ × (trained − base) (WiSE-FT), so that a few corrected seconds cost less on the
    /// rest of the song. Several (comma-separated): each is scored on the held-out beats and
    /// the smallest at the best held-out F is kept.
    #[arg(long, value_name = "LAMBDA,…", value_delimiter = ',',
          default_values_t = FinetuneConfig::default().interpolations)]
    interpolate: Vec<f64>,
    /// When the base model's own beats already match every corrected beat of every song
    /// (none farther than 70 ms, none added or removed inside the annotated region).
    #[arg(long, value_enum, default_value = when_base_agrees_default())]
    when_base_agrees: WhenBaseAgreesArg,
    /// Adam learning rate (default depends on the mode).
    #[arg(long)]
    lr: Option<f64>,
    /// Trunk layers trained in `top` mode (default: for lite the layers of dilations 8, 16, 32
    /// and every layer above them, so 5 for the bundled lite v5 (and v4); 2 for paper).
    #[arg(long, value_name = "N")]
    top_layers: Option<usize>,
    /// Seed of song order and dropout.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Where to write the new model (a directory; must not exist yet).
    #[arg(short, long)]
    output: PathBuf,
}

fn when_base_agrees_default() -> &'static str {
    FinetuneConfig::default().when_base_agrees.name()
}

struct SongArg {
    audio: PathBuf,
    beats: PathBuf,
}

fn parse_song(s: &str) -> Result<SongArg> {
    let Some((audio, beats)) = s.split_once('=') else {
        bail!("--song '{s}': expected AUDIO=BEATS, e.g. --song song.mp3=song.beats.csv");
    };
    if audio.is_empty() || beats.is_empty() {
        bail!("--song '{s}': expected AUDIO=BEATS with both paths");
    }
    Ok(SongArg {
        audio: audio.into(),
        beats: beats.into(),
    })
}

fn name_of(p: &Path) -> String {
    p.file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| p.display().to_string())
}

/// The songs of a `--song-list` file: one AUDIO=BEATS per line, relative to the file.
fn read_song_list(path: &Path) -> Result<Vec<SongArg>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the song list {}", path.display()))?;
    let dir = path.parent().unwrap_or(Path::new(""));
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let song =
            parse_song(line).with_context(|| format!("{} line {}", path.display(), i + 1))?;
        out.push(SongArg {
            audio: dir.join(song.audio),
            beats: dir.join(song.beats),
        });
    }
    if out.is_empty() {
        bail!("the song list {} names no song", path.display());
    }
    Ok(out)
}

pub fn run(args: FinetuneArgs) -> Result<ExitCode> {
    let mut songs: Vec<SongArg> = args
        .songs
        .iter()
        .map(|s| parse_song(s))
        .collect::<Result<_>>()?;
    if let Some(list) = &args.song_list {
        songs.extend(read_song_list(list)?);
    }
    if songs.len() > 10 {
        eprintln!(
            "note: {} songs given; fine-tuning is designed for 1–10",
            songs.len()
        );
    }
    let base_path = resolve_model(args.base.as_deref())?;
    if args.output.exists() {
        bail!(
            "{} already exists; choose a new directory for the fine-tuned model (nothing is \
             overwritten)",
            args.output.display()
        );
    }
    let (base, device) = load_model(&base_path, args.device)?;
    let cancel = ctrl_c_token();
    let config = FinetuneConfig {
        mode: match args.mode {
            ModeArg::Heads => FinetuneMode::Heads,
            ModeArg::Top => FinetuneMode::Top,
            ModeArg::Full => FinetuneMode::Full,
        },
        learning_rate: args.lr,
        top_layers: args.top_layers,
        max_epochs: args.max_epochs,
        epoch_budget_s: args.epoch_budget,
        patience_epochs: args.patience,
        min_epochs: args.min_epochs,
        rest_weight: args.rest_weight,
        rest_min_base_f: args.rest_min_base_f,
        interpolations: args.interpolate.clone(),
        when_base_agrees: match args.when_base_agrees {
            WhenBaseAgreesArg::Train => WhenBaseAgrees::Train,
            WhenBaseAgreesArg::Keep => WhenBaseAgrees::Keep,
        },
        seed: args.seed,
        ..FinetuneConfig::default()
    };
    config.validate()?;
    let analyze = AnalyzeConfig::default();

    // Features and annotations.
    let bar = ProgressBar::new(songs.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    let mut features: Vec<SongFeatures> = Vec::new();
    let mut references: Vec<Vec<f64>> = Vec::new();
    let mut ref_positions: Vec<Option<Vec<u32>>> = Vec::new();
    let mut annotated = Vec::new();
    // The base model's analysis of each song: what the user corrected, and the "before" of
    // the re-tracking report.
    let mut olds = Vec::new();
    for (i, song) in songs.iter().enumerate() {
        let name = name_of(&song.audio);
        bar.set_message(format!("{name}: reading"));
        let beats =
            read_beats(&song.beats).with_context(|| format!("reading the beats of {name}"))?;
        let f = song_features(
            &song.audio,
            &analyze,
            &mut |p| bar.set_message(format!("{name}: {}", p.stage.label())),
            &cancel,
        )
        .with_context(|| format!("preparing {}", song.audio.display()))?;
        bar.set_message(format!("{name}: tracking with the base model"));
        let old = analyze_features(&f, &analyze, &base, &mut |_| {})
            .with_context(|| format!("tracking {} with the base model", song.audio.display()))?;
        let a = AnnotatedSong::new(
            name.clone(),
            f.non_percussive.clone(),
            f.percussive.clone(),
            &beats.times_s,
            args.annotated_until,
        )
        .and_then(|a| a.with_base_beats(&old.beats_s))
        .with_context(|| format!("annotation {}", song.beats.display()))?;
        // Numbered beats (a position column) teach a model with a downbeat head the bars.
        let a = match &beats.positions {
            Some(p) => a
                .with_positions(&beats.times_s, p)
                .with_context(|| format!("bar positions of {}", song.beats.display()))?,
            None => a,
        };
        annotated.push(a);
        ref_positions.push(beats.positions.clone());
        references.push(beats.times_s);
        features.push(f);
        olds.push(old);
        bar.set_position(i as u64 + 1);
    }
    bar.finish_and_clear();

    // Training.
    let bar = ProgressBar::new(config.max_epochs as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} epoch {pos}/{len} {msg} (ETA {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    let outcome = finetune(&base, &annotated, &config, &device, &cancel, |p| {
        bar.set_length(p.max_epochs as u64);
        bar.set_position(p.epoch.epoch as u64);
        let f = p
            .epoch
            .held_out
            .as_ref()
            .map(|h| format!(", held-out F {:.3}", h.f_measure))
            .unwrap_or_default();
        let best = p
            .best_f_measure
            .map(|b| format!(" (best {b:.3})"))
            .unwrap_or_default();
        bar.set_message(format!("loss {:.4}{f}{best}", p.epoch.train_loss));
    })
    .context("fine-tuning")?;
    bar.finish_and_clear();
    if outcome.cancelled {
        eprintln!(
            "cancelled: no model written; {} is unchanged",
            base_path.display()
        );
        return Ok(ExitCode::from(130));
    }

    println!(
        "fine-tuned {} song(s), mode {}, lr {}, best epoch {} of {}, {:.1} s",
        annotated.len(),
        config.mode.name(),
        outcome.learning_rate,
        outcome.best_epoch,
        outcome.history.len(),
        outcome.elapsed_s
    );
    if config.rest_weight > 0.0 {
        println!(
            "keep-the-rest term (weight {}) on {} of {} song(s)",
            config.rest_weight,
            outcome.rest_term_songs,
            annotated.len()
        );
    }
    if outcome.base_kept {
        println!(
            "nothing to learn: the base model's beats already match every corrected beat; its \
             beat network is kept unchanged"
        );
    } else if config.interpolates() {
        println!(
            "kept {:.2} of the trained change (of {:?}, on the held-out beats)",
            outcome.interpolation, config.interpolations
        );
    }
    match (&outcome.before, &outcome.after) {
        (Some(b), Some(a)) => {
            println!(
                "held-out beats ({}; {:.0}% of each annotated region, in blocks of ≥ {} s ending it and spread over it):",
                a.beats,
                config.holdout_fraction * 100.0,
                config.holdout_block_s
            );
            println!(
                "  {:<10} {:>9} {:>7} {:>7}",
                "model", "F-measure", "CMLt", "AMLt"
            );
            println!(
                "  {:<10} {:>9.3} {:>7.3} {:>7.3}",
                "base", b.f_measure, b.cmlt, b.amlt
            );
            println!(
                "  {:<10} {:>9.3} {:>7.3} {:>7.3}",
                "fine-tuned", a.f_measure, a.cmlt, a.amlt
            );
        }
        _ => println!(
            "too few annotated beats to hold any out: trained for a fixed {} epochs, not validated",
            config.fixed_epochs
        ),
    }

    match &outcome.bars {
        Some(r) => match (r.accuracy_before, r.accuracy_after) {
            (Some(b), Some(a)) => println!(
                "bar classifier: learned the bars of {} numbered song(s) ({} beats); held-out beats \
                 classed right {b:.3} → {a:.3} ({} beats){}",
                r.songs,
                r.train_beats,
                r.held_out_beats,
                if r.best_epoch == 0 {
                    ", the parent's kept"
                } else {
                    ""
                }
            ),
            _ => println!(
                "bar classifier: learned the bars of {} numbered song(s) ({} beats; too few to hold out)",
                r.songs, r.train_beats
            ),
        },
        None if outcome.model.bars.is_some() => {
            println!(
                "bar classifier: kept the parent's (no beat file numbers the beats in the bar)"
            )
        }
        None => {}
    }

    // Re-track every song with both models; score the unannotated rest when the beat files
    // cover it.
    let new_model = outcome.model;
    let eval_cfg = EvalConfig {
        trim: false,
        ..EvalConfig::default()
    };
    println!("re-tracked:");
    for ((((song, f), reference), ref_pos), old) in annotated
        .iter()
        .zip(&features)
        .zip(&references)
        .zip(&ref_positions)
        .zip(&olds)
    {
        let new = analyze_features(f, &analyze, &new_model, &mut |_| {})?;
        let moved = changed_beats(&old.beats_s, &new.beats_s, 0.07);
        let end = song.region_s.1;
        let rest_ref: Vec<f64> = reference.iter().copied().filter(|b| *b >= end).collect();
        // Each estimate near `end` goes with its nearest reference beat (`estimates_cut_s`).
        let cut_s = estimates_cut_s(reference, end, eval_cfg.f_measure_window_s);
        let rest =
            |beats: &[f64]| -> Vec<f64> { beats.iter().copied().filter(|b| *b >= cut_s).collect() };
        let mut line = format!(
            "  {}: {} beats, {} changed (>70 ms or added/removed)",
            song.name,
            new.beats_s.len(),
            moved
        );
        if rest_ref.len() >= 4 {
            let sb = evaluate(&rest_ref, &rest(&old.beats_s), &eval_cfg)?;
            let sa = evaluate(&rest_ref, &rest(&new.beats_s), &eval_cfg)?;
            line += &format!(
                "; after {:.1} s (not annotated): F {:.3} → {:.3}, CMLt {:.3} → {:.3}, AMLt {:.3} → {:.3}",
                end, sb.f_measure, sa.f_measure, sb.cmlt, sa.cmlt, sb.amlt, sa.amlt
            );
            // The same, with the decoder continuing the annotated beats (their tempo and
            // phase), as the app re-tracks a song whose start the user corrected.
            let checked: Vec<f64> = reference.iter().copied().filter(|b| *b <= end).collect();
            let guide = BeatGuide {
                beats_s: &checked,
                until_s: end,
            };
            let guided = |a: &zerons::pipeline::Analysis| {
                complete_beats(
                    &a.activation,
                    &analyze.tracker,
                    &guide,
                    &GuideConfig::default(),
                )
            };
            let gb = evaluate(&rest_ref, &rest(&guided(old)?), &eval_cfg)?;
            let ga = evaluate(&rest_ref, &rest(&guided(&new)?), &eval_cfg)?;
            line += &format!(
                "; continuing the annotated beats: F {:.3} → {:.3}, CMLt {:.3} → {:.3}",
                gb.f_measure, ga.f_measure, gb.cmlt, ga.cmlt
            );
            // Bars: downbeat F on the rest (the metric's own trim at the annotated end), when
            // the beat file numbers the beats.
            let old_bars = old.beat_list();
            let new_bars = new.beat_list();
            if let (Some(rp), Some(op), Some(np)) =
                (ref_pos, &old_bars.positions, &new_bars.positions)
            {
                let rest_cfg = EvalConfig {
                    trim: true,
                    min_beat_time_s: end,
                    ..eval_cfg.clone()
                };
                let reference = PositionedBeats::new(reference, rp)?;
                let score = |times: &[f64], positions: &[u32]| -> Result<f64> {
                    Ok(evaluate_downbeats(
                        reference,
                        PositionedBeats::new(times, positions)?,
                        &rest_cfg,
                    )?
                    .downbeat_f_measure)
                };
                line += &format!(
                    "; downbeat F {:.3} → {:.3}",
                    score(&old_bars.times_s, op)?,
                    score(&new_bars.times_s, np)?
                );
            }
        }
        println!("{line}");
    }

    std::fs::create_dir_all(&args.output)
        .with_context(|| format!("creating {}", args.output.display()))?;
    let manifest = save_model(&new_model, &args.output)
        .with_context(|| format!("writing the model to {}", args.output.display()))?;
    println!(
        "wrote {} ({}), parent {}",
        args.output.display(),
        manifest.id,
        manifest.parent_id.as_deref().unwrap_or("none")
    );
    if outcome.base_kept {
        println!(
            "its beat network is {}'s{}",
            base_path.display(),
            if outcome.bars.is_some() {
                "; only its bar classifier learned (use it for the bars of songs like these)"
            } else {
                ": nothing changed, keep using it"
            }
        );
    } else if outcome.improved {
        println!(
            "use it with: zerons analyze --model {} AUDIO (with --continue-from BEATS to keep \
             a song's corrected beats and continue them)",
            args.output.display()
        );
    } else {
        println!(
            "the fine-tuned model is NOT better on the held-out beats: keep using {} (the new \
             model is kept for comparison only)",
            base_path.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn song_args_parse() {
        let s = parse_song("a.mp3=a.csv").unwrap();
        assert_eq!(s.audio, PathBuf::from("a.mp3"));
        assert_eq!(s.beats, PathBuf::from("a.csv"));
        assert!(parse_song("a.mp3").is_err());
        assert!(parse_song("=a.csv").is_err());
    }

    #[test]
    fn song_list_resolves_relative_paths_and_names_bad_lines() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let list = dir.join("songs.txt");
        std::fs::write(
            &list,
            "# training songs\n\na.flac=a.beats\n/abs/b.flac=b.csv\n",
        )
        .unwrap();
        let songs = read_song_list(&list).unwrap();
        assert_eq!(songs.len(), 2);
        assert_eq!(songs[0].audio, dir.join("a.flac"));
        assert_eq!(songs[0].beats, dir.join("a.beats"));
        assert_eq!(songs[1].audio, PathBuf::from("/abs/b.flac"));
        std::fs::write(&list, "a.flac=a.beats\nno-equals-sign\n").unwrap();
        let err = format!("{:#}", read_song_list(&list).err().unwrap());
        assert!(err.contains("line 2"), "{err}");
        std::fs::write(&list, "# nothing\n").unwrap();
        assert!(read_song_list(&list).is_err());
    }
}
