//! `zerons`: the command-line face of ZeroNS Studio. Thin: parse, call the engine, print.

mod cmd;
mod device;
mod progress;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "zerons",
    version,
    about = "Beat tracking that learns from its user (Zero-Note Samba)"
)]
struct Cli {
    /// More logging on stderr (-v: info, -vv: debug, -vvv: trace).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Track the beats of one or more audio files.
    Analyze(cmd::analyze::AnalyzeArgs),
    /// Score estimated beats against reference beats (mir_eval metrics).
    Eval(cmd::eval::EvalArgs),
    /// Convert a beat file to another format, or write a project track's beats to one.
    Export(cmd::convert::ExportArgs),
    /// Read a beat file (any format): check it and print its beats, or store them in a project.
    Import(cmd::convert::ImportArgs),
    /// Convert the authors' PyTorch checkpoint (.pth / .pth.gz) to a ZeroNS Studio model.
    ImportWeights(cmd::import_weights::ImportWeightsArgs),
    /// Manage a project file: tracks, analyses, beat revisions (new|add|list|beats|import|export|undo|redo).
    Project(cmd::project::ProjectArgs),
    /// Fine-tune a model on corrected beats of 1–10 songs; prints the held-out before/after.
    Finetune(cmd::finetune::FinetuneArgs),
    /// Self-supervised pretraining (sync-pred) on a directory of music.
    Pretrain(cmd::pretrain::PretrainArgs),
    /// Train a base model on renders with exact beats (every layer; resumable).
    Train(cmd::train::TrainArgs),
    /// Train the bar classifier (which beats are downbeats) on renders with exact bar lines.
    TrainBars(cmd::train_bars::TrainBarsArgs),
    /// Draw waveform, activation and beats of a song (or a run's training curves) to SVG/PNG.
    Plot(cmd::plot::PlotArgs),
    /// Time the model on the CPU and the GPU in one run: inference, parity, fine-tuning steps/s.
    Bench(cmd::bench::BenchArgs),
}

/// Mesa's Vulkan drivers print "XDG_RUNTIME_DIR is invalid or not set" on stderr for every
/// GPU probe when the variable is missing (a root shell, ssh, CI). Without it, point it to a
/// private folder of our own (removed at exit) so that stderr holds our messages only.
fn ensure_runtime_dir() -> Option<std::path::PathBuf> {
    let valid =
        std::env::var_os("XDG_RUNTIME_DIR").is_some_and(|d| std::path::Path::new(&d).is_dir());
    if valid {
        return None;
    }
    let dir = std::env::temp_dir().join(format!("zerons-runtime-{}", std::process::id()));
    #[cfg(unix)]
    let created = {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new().mode(0o700).create(&dir).is_ok()
    };
    #[cfg(not(unix))]
    let created = std::fs::create_dir(&dir).is_ok();
    if !created {
        return None;
    }
    // SAFETY: called first thing in `main`, before any other thread exists.
    unsafe { std::env::set_var("XDG_RUNTIME_DIR", &dir) };
    Some(dir)
}

fn main() -> ExitCode {
    let runtime_dir = ensure_runtime_dir();
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let result = match cli.command {
        Command::Analyze(args) => cmd::analyze::run(args),
        Command::Bench(args) => cmd::bench::run(args).map(|()| ExitCode::SUCCESS),
        Command::Eval(args) => cmd::eval::run(args),
        Command::Export(args) => cmd::convert::export(args),
        Command::Import(args) => cmd::convert::import(args),
        Command::ImportWeights(args) => cmd::import_weights::run(args),
        Command::Project(args) => cmd::project::run(args),
        Command::Finetune(args) => cmd::finetune::run(args),
        Command::Pretrain(args) => cmd::pretrain::run(args),
        Command::Plot(args) => cmd::plot::run(args),
        Command::Train(args) => cmd::train::run(args),
        Command::TrainBars(args) => cmd::train_bars::run(args),
    };
    if let Some(dir) = runtime_dir {
        let _ = std::fs::remove_dir_all(dir);
    }
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn init_logging(verbose: u8) {
    let level = match verbose {
        // Other crates (decoders, GPU drivers …) only speak up from -v on: without it stderr
        // holds our own messages only (symphonia logs an ERROR for every file it cannot
        // probe, before our one-line error that names the file).
        0 => "off,zerons=warn",
        1 => "warn,zerons=info",
        2 => "info,zerons=debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("ZERONS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}
