//! `zerons export` and `zerons import`: beat files in every format, outside a project or in
//! one.
//!
//! - `zerons export BEATS -o OUT [--format F] [--audio AUDIO] [--meter 3/4]` converts a beat
//!   file (any importable format) to another; `zerons export --project P --track N -o OUT`
//!   writes a project track's current beats (as `zerons project export`), and without
//!   `--track` every song of the project into ONE Rekordbox or Traktor collection.
//!   `--grid`/`--grid-tolerance-ms` set how the DJ grids are built.
//! - `zerons import BEATS [--format F]` reads a beat file, reports what it holds (or exactly
//!   what is wrong with it, with the line or element) and prints its beats as CSV;
//!   `zerons import BEATS --project P --track N` makes them the track's new revision.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Args;
use zerons::audio::{DecodeConfig, decode_file};
use zerons::formats::{BeatFormat, ExportMeta, Meter, read_beats, read_beats_as, write_beats_file};
use zerons::pipeline::global_tempo_bpm;
use zerons::store::{Project, export_meta, export_project_collection};

use super::analyze::{FormatArg, GridArgs};
use super::project::import_revision;

#[derive(Args)]
pub struct ExportArgs {
    /// The beat file to convert (any importable format). Not with --project.
    #[arg(required_unless_present = "project")]
    input: Option<PathBuf>,
    /// Output file; its extension gives the format unless --format is given.
    #[arg(short, long)]
    output: PathBuf,
    /// Output format.
    #[arg(long, value_enum)]
    format: Option<FormatArg>,
    /// Format of the input, when its extension is ambiguous (e.g. a Sonic Visualiser .csv).
    #[arg(long, value_enum)]
    from: Option<FormatArg>,
    /// The song the beats belong to: its path, length and sample rate go into the Rekordbox,
    /// Traktor, JAMS and Sonic Visualiser files (Rekordbox and Traktor need it).
    #[arg(long)]
    audio: Option<PathBuf>,
    /// Meter written where the format has one (e.g. 3/4); default: the file's positions, else 4/4.
    #[arg(long)]
    meter: Option<Meter>,
    /// Export from a project instead of a file: the project file. With --track, that song;
    /// without, every song with beats in ONE Rekordbox or Traktor collection.
    #[arg(long, conflicts_with_all = ["input", "audio"])]
    project: Option<PathBuf>,
    /// The project track (see `zerons project list`).
    #[arg(long, requires = "project")]
    track: Option<i64>,
    /// Move the beats onto a straight grid before writing them (every format): constant
    /// tempo per section, a new section only where the beats drift more than
    /// --grid-tolerance-ms from the grid; positions in the bar are kept.
    #[arg(long)]
    straighten: bool,
    #[command(flatten)]
    grid: GridArgs,
}

#[derive(Args)]
pub struct ImportArgs {
    /// The beat file to read.
    input: PathBuf,
    /// Its format, when the extension is ambiguous or missing.
    #[arg(long, value_enum)]
    format: Option<FormatArg>,
    /// Store the beats as the new revision of a project track: the project file.
    #[arg(long, requires = "track")]
    project: Option<PathBuf>,
    /// The project track (see `zerons project list`).
    #[arg(long, requires = "project")]
    track: Option<i64>,
}

pub fn export(args: ExportArgs) -> Result<ExitCode> {
    let format: BeatFormat = match args.format {
        Some(f) => f.into(),
        None => BeatFormat::from_path(&args.output).with_context(|| {
            format!(
                "{}: cannot tell the format from the extension; pass --format",
                args.output.display()
            )
        })?,
    };
    let grid = args.grid.config()?;
    if let (Some(project), None) = (&args.project, args.track) {
        return export_project(project, format, &args.output, &grid);
    }
    let (beats, mut meta, log) = match (&args.input, &args.project, args.track) {
        (_, Some(project), Some(track)) => {
            let p = Project::open(project)?;
            let t = p.track(track)?;
            let Some(rev) = p.head(track)? else {
                bail!("track {track} has no beats yet");
            };
            let meta = export_meta(&p, &t, &rev)?;
            (rev.beats, meta, Some((p, track, rev.id)))
        }
        (Some(input), None, _) => {
            let beats = match args.from {
                Some(f) => read_beats_as(input, f.into()),
                None => read_beats(input),
            }
            .with_context(|| format!("reading {}", input.display()))?;
            let mut meta = ExportMeta {
                title: stem(input),
                annotation_tools: format!("converted by zerons {}", env!("CARGO_PKG_VERSION")),
                data_source: format!("{}", input.display()),
                ..ExportMeta::default()
            };
            if let Some(audio) = &args.audio {
                let decoded = decode_file(audio, &DecodeConfig::default())
                    .with_context(|| format!("reading the audio {}", audio.display()))?;
                meta.duration_s = Some(decoded.duration_s());
                meta.sample_rate_hz = Some(decoded.signal.sample_rate_hz);
                meta.audio_path = Some(audio.clone());
                meta.title = stem(audio);
            }
            (beats, meta, None)
        }
        _ => bail!("give a beat file to convert, or --project and --track"),
    };
    let mut beats = beats;
    if args.straighten && beats.times_s.len() >= 2 {
        beats.times_s = zerons::formats::straighten_beats(&beats.times_s, grid.max_error_s)
            .context("straightening the beats")?
            .times_s;
    }
    if args.meter.is_some() {
        meta.meter = args.meter;
    }
    meta.tempo_bpm = global_tempo_bpm(&beats.times_s);
    meta.grid = grid;
    if matches!(format, BeatFormat::Rekordbox | BeatFormat::Traktor) && meta.audio_path.is_none() {
        bail!(
            "{} files point at the song: pass --audio SONG (the audio file these beats belong to)",
            format.name()
        );
    }
    write_beats_file(&args.output, &beats, format, &meta)
        .with_context(|| format!("writing {}", args.output.display()))?;
    if let Some((p, track, rev)) = log {
        p.log_export(track, rev, format.name(), &args.output)?;
    }
    println!(
        "wrote {} ({} beats, {})",
        args.output.display(),
        beats.len(),
        format.name()
    );
    if let Some(limit) = format.limitations() {
        println!("note: {}: {limit}", format.name());
    }
    if beats.positions.is_none() && args.meter.is_none() && format.carries_positions() {
        println!("note: the input has no bar positions: the first beat counts as a downbeat");
    }
    Ok(ExitCode::SUCCESS)
}

pub fn import(args: ImportArgs) -> Result<ExitCode> {
    let beats = match args.format {
        Some(f) => read_beats_as(&args.input, f.into()),
        None => read_beats(&args.input),
    }
    .with_context(|| format!("reading {}", args.input.display()))?;
    let tempo = global_tempo_bpm(&beats.times_s)
        .map(|t| format!(", {t:.2} BPM"))
        .unwrap_or_default();
    eprintln!(
        "{}: {} beats{}{}",
        args.input.display(),
        beats.len(),
        tempo,
        if beats.positions.is_some() {
            ", with bar positions"
        } else {
            ""
        }
    );
    if let (Some(project), Some(track)) = (&args.project, args.track) {
        import_revision(project, track, &beats, &args.input)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = String::with_capacity(16 * beats.len());
    for (k, t) in beats.times_s.iter().enumerate() {
        match beats.positions.as_ref().and_then(|p| p.get(k)) {
            Some(pos) => out.push_str(&format!("{t:.6},{pos}\n")),
            None => out.push_str(&format!("{t:.6}\n")),
        }
    }
    print!("{out}");
    Ok(ExitCode::SUCCESS)
}

/// Every song of `project` with beats into one Rekordbox or Traktor collection at `output`.
pub(crate) fn export_project(
    project: &std::path::Path,
    format: BeatFormat,
    output: &std::path::Path,
    grid: &zerons::formats::GridConfig,
) -> Result<ExitCode> {
    if !format.is_collection() {
        bail!(
            "a whole project exports to one rekordbox or traktor collection (got {}); \
             pass a track for other formats",
            format.name()
        );
    }
    let p = Project::open(project)?;
    let done = export_project_collection(&p, format, output, grid)
        .with_context(|| format!("writing {}", output.display()))?;
    p.close()?;
    println!(
        "wrote {} ({} songs, {})",
        output.display(),
        done.tracks.len(),
        format.name()
    );
    if !done.without_beats.is_empty() {
        println!(
            "note: {} song(s) without beats left out (tracks {:?})",
            done.without_beats.len(),
            done.without_beats
        );
    }
    if let Some(limit) = format.limitations() {
        println!("note: {}: {limit}", format.name());
    }
    Ok(ExitCode::SUCCESS)
}

fn stem(p: &std::path::Path) -> String {
    p.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}
