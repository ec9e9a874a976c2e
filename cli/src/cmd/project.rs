//! `zerons project …`: script a project file without the app.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use zerons::formats::{BeatFormat, BeatList, ExportMeta, read_beats, write_beats_file};
use zerons::pipeline::{ActivationKind, AnalyzeConfig, analyze_file};
use zerons::store::{
    Author, NewAnalysis, NewRevision, Project, ProjectSettings, Track, TrackMeta, TrackStatus,
    analysis_model_dir, check_relink, curves_of, export_meta,
};
use zerons::tracking::TrackerConfig;

use super::analyze::{FormatArg, GridArgs};
use super::convert::export_project;
use crate::device::{DeviceArg, load_model};
use crate::progress::ctrl_c_token;

#[derive(Args)]
pub struct ProjectArgs {
    #[command(subcommand)]
    command: ProjectCommand,
}

#[derive(Subcommand)]
enum ProjectCommand {
    /// Create a new project file.
    New {
        /// Project file to create (e.g. `mysongs.zerons`).
        project: PathBuf,
        /// Display name (default: the file stem).
        #[arg(long)]
        name: Option<String>,
        /// Slowest tempo the tracker considers (BPM).
        #[arg(long, default_value_t = ProjectSettings::default().min_bpm)]
        min_bpm: f64,
        /// Fastest tempo the tracker considers (BPM).
        #[arg(long, default_value_t = ProjectSettings::default().max_bpm)]
        max_bpm: f64,
        /// Beats per bar.
        #[arg(long, default_value_t = ProjectSettings::default().beats_per_bar)]
        beats_per_bar: u32,
    },
    /// Add audio files and analyse them (each analysis becomes a model revision).
    Add {
        project: PathBuf,
        #[arg(required = true)]
        audio: Vec<PathBuf>,
    },
    /// List the tracks, their file status and current revision.
    List { project: PathBuf },
    /// Print the current beats of a track (time and, if known, position in bar).
    Beats {
        project: PathBuf,
        /// Track id (see `list`).
        track: i64,
    },
    /// Import a beat file (CSV, .beats, JAMS) as a new revision of a track.
    Import {
        project: PathBuf,
        track: i64,
        beats_file: PathBuf,
    },
    /// Write the current beats of a track to a file (format from the extension: .csv, .beats,
    /// .jams, .svl, .txt = madmom text, .xml = Rekordbox, .nml = Traktor, .mid = MIDI); or,
    /// without a track, every song with beats to ONE Rekordbox or Traktor collection
    /// (`zerons project export P --format rekordbox -o set.xml`).
    Export {
        project: PathBuf,
        /// Track id (see `list`); omit it for the whole project as one collection.
        track: Option<i64>,
        /// Output file (or -o).
        output: Option<PathBuf>,
        /// Output file (instead of the positional OUTPUT).
        #[arg(short = 'o', long = "output", conflicts_with = "output")]
        out: Option<PathBuf>,
        /// Output format (default: from the extension).
        #[arg(long, value_enum)]
        format: Option<FormatArg>,
        #[command(flatten)]
        grid: GridArgs,
    },
    /// Point a track whose file moved (or changed on purpose) at AUDIO; analyses and beat
    /// revisions are kept, nothing is re-analysed. AUDIO must decode and last as long as
    /// the song (within 1 s or 2 %) unless --force.
    Relink {
        project: PathBuf,
        track: i64,
        audio: PathBuf,
        /// Relink even when AUDIO's duration differs (an edited version: beats may not fit).
        #[arg(long)]
        force: bool,
    },
    /// Remove a song from the project with its analyses and beat history (the audio file
    /// is not touched).
    Remove { project: PathBuf, track: i64 },
    /// Step back one revision.
    Undo { project: PathBuf, track: i64 },
    /// Step forward to the revision last undone.
    Redo { project: PathBuf, track: i64 },
}

pub fn run(args: ProjectArgs) -> Result<ExitCode> {
    match args.command {
        ProjectCommand::New {
            project,
            name,
            min_bpm,
            max_bpm,
            beats_per_bar,
        } => {
            let name = name.unwrap_or_else(|| {
                project
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "project".into())
            });
            let settings = ProjectSettings {
                min_bpm,
                max_bpm,
                beats_per_bar,
                ..ProjectSettings::default()
            };
            Project::create(&project, &name, &settings)?;
            println!("created {}", project.display());
        }
        ProjectCommand::Add { project, audio } => add(&Project::open(&project)?, &audio)?,
        ProjectCommand::List { project } => {
            let p = Project::open(&project)?;
            let mut out = std::io::stdout().lock();
            for t in p.tracks()? {
                let status = match p.check_track(t.id)? {
                    TrackStatus::Ok => "ok",
                    TrackStatus::Missing => "MISSING (relink)",
                    TrackStatus::Changed { .. } => "CHANGED (relink)",
                };
                let head = match t.head {
                    Some(h) => {
                        let r = p.revision(h)?;
                        format!("rev {h} ({}, {} beats)", author(r.author), r.beats.len())
                    }
                    None => "no beats".into(),
                };
                writeln!(
                    out,
                    "{}\t{}\t{:.1} s\t{status}\t{head}",
                    t.id,
                    t.path.display(),
                    t.meta.duration_s
                )?;
            }
        }
        ProjectCommand::Beats { project, track } => {
            let p = Project::open(&project)?;
            let Some(rev) = p.head(track)? else {
                bail!("track {track} has no beats yet");
            };
            let mut out = std::io::stdout().lock();
            for (i, t) in rev.beats.times_s.iter().enumerate() {
                match rev.beats.positions.as_ref().and_then(|p| p.get(i)) {
                    Some(pos) => writeln!(out, "{t:.6}\t{pos}")?,
                    None => writeln!(out, "{t:.6}")?,
                }
            }
        }
        ProjectCommand::Import {
            project,
            track,
            beats_file,
        } => {
            let beats = read_beats(&beats_file)?;
            import_revision(&project, track, &beats, &beats_file)?;
        }
        ProjectCommand::Export {
            project,
            track,
            output,
            out,
            format,
            grid,
        } => {
            let Some(output) = output.or(out) else {
                bail!("give the output file (OUTPUT or -o)");
            };
            let format: BeatFormat = match format {
                Some(f) => f.into(),
                None => BeatFormat::from_path(&output).unwrap_or(BeatFormat::Csv),
            };
            let grid = grid.config()?;
            let Some(track) = track else {
                return export_project(&project, format, &output, &grid);
            };
            let p = Project::open(&project)?;
            let t = p.track(track)?;
            let Some(rev) = p.head(track)? else {
                bail!("track {track} has no beats yet");
            };
            let meta = ExportMeta {
                grid,
                ..export_meta(&p, &t, &rev)?
            };
            write_beats_file(&output, &rev.beats, format, &meta)?;
            p.log_export(track, rev.id, format.name(), &output)?;
            println!("wrote {} ({} beats)", output.display(), rev.beats.len());
        }
        ProjectCommand::Relink {
            project,
            track,
            audio,
            force,
        } => {
            let p = Project::open(&project)?;
            let check = check_relink(&p.track(track)?, &audio).with_context(|| {
                format!("{} cannot be the audio of track {track}", audio.display())
            })?;
            if let Some(why) = check.mismatch().filter(|_| !force) {
                anyhow::bail!(
                    "{} {why}: not the same recording as track {track}? Pass --force to relink anyway",
                    audio.display()
                );
            }
            p.relink_track(track, &audio)
                .with_context(|| format!("relinking track {track} to {}", audio.display()))?;
            println!("track {track}: now {}", audio.display());
        }
        ProjectCommand::Remove { project, track } => {
            let p = Project::open(&project)?;
            let name = p.track(track)?.path.display().to_string();
            p.remove_track(track)
                .with_context(|| format!("removing track {track}"))?;
            println!("track {track} ({name}) removed from the project");
        }
        ProjectCommand::Undo { project, track } => match Project::open(&project)?.undo(track)? {
            Some(r) => println!("track {track}: now at revision {r}"),
            None => println!("track {track}: nothing to undo"),
        },
        ProjectCommand::Redo { project, track } => match Project::open(&project)?.redo(track)? {
            Some(r) => println!("track {track}: now at revision {r}"),
            None => println!("track {track}: nothing to redo"),
        },
    }
    Ok(ExitCode::SUCCESS)
}

/// Stores `beats` (read from `source`) as the new revision of `track`, and says so.
pub(crate) fn import_revision(
    project: &Path,
    track: i64,
    beats: &BeatList,
    source: &Path,
) -> Result<()> {
    let p = Project::open(project)?;
    let note = format!("imported {}", source.display());
    let id = p.commit_beats(
        track,
        &NewRevision {
            beats,
            author: Author::Import,
            note: &note,
            beats_per_bar: None,
            fresh: None,
        },
    )?;
    println!("track {track}: revision {id} ({} beats)", beats.len());
    Ok(())
}

fn author(a: Author) -> &'static str {
    match a {
        Author::User => "user",
        Author::Model => "model",
        Author::Import => "import",
    }
}

fn add(p: &Project, audio: &[PathBuf]) -> Result<()> {
    let settings = p.settings()?;
    // The same model as the app: $ZERONS_MODEL, the project's active model, else the shipped
    // one; without any, an error (never a quiet switch to the flux).
    let exe = std::env::current_exe().ok();
    let model = match analysis_model_dir(p, exe.as_deref())? {
        Some(dir) => Some(load_model(&dir.path, DeviceArg::Auto)?.0),
        None => bail!("{}", crate::device::NO_MODEL),
    };
    let mut config = AnalyzeConfig::default();
    if model.is_some() {
        config.activation = ActivationKind::Max;
    }
    if let TrackerConfig::Dbn(dbn) = &mut config.tracker {
        dbn.min_bpm = settings.min_bpm;
        dbn.max_bpm = settings.max_bpm;
    }
    let config_json = serde_json::to_string(&config)?;
    let cancel = ctrl_c_token();
    let known: Vec<Track> = p.tracks()?;
    for path in audio {
        if known.iter().any(|t| &t.path == path) {
            eprintln!("{}: already in the project, skipped", path.display());
            continue;
        }
        let analysis = analyze_file(path, &config, model.as_ref(), &mut |_| {}, &cancel)
            .with_context(|| format!("analysing {}", path.display()))?;
        let meta = TrackMeta {
            duration_s: analysis.source.duration_s,
            sample_rate_hz: analysis.source.sample_rate_hz,
            channels: u32::try_from(analysis.source.channels).unwrap_or(u32::MAX),
        };
        let track = p.add_track(path, &meta)?;
        let a = p.add_analysis(
            track,
            &NewAnalysis {
                model_id: None,
                config_json: &config_json,
                curves: &curves_of(&analysis),
            },
        )?;
        let beats = analysis.beat_list();
        let meter = analysis.bars.as_ref().map(|b| b.best.beats_per_bar);
        let (rev, _) = p.add_model_revision(track, a, &beats, meter, &analysis.revision_note())?;
        println!(
            "{}\ttrack {track}\trevision {rev}\t{} beats",
            path.display(),
            beats.len()
        );
    }
    Ok(())
}
