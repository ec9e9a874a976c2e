//! `zerons eval REF EST`: mir_eval beat metrics.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use zerons::eval::{EvalConfig, evaluate};
use zerons::formats::read_beats;

#[derive(Args)]
pub struct EvalArgs {
    /// Reference beats (CSV, .beats/.txt, JAMS …).
    reference: PathBuf,
    /// Estimated beats, same formats.
    estimate: PathBuf,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
    /// Keep beats before 5 s (mir_eval trims them by default).
    #[arg(long)]
    no_trim: bool,
}

pub fn run(args: EvalArgs) -> Result<ExitCode> {
    let reference = read_beats(&args.reference)
        .with_context(|| "cannot read the reference beats".to_string())?;
    let estimate = read_beats(&args.estimate)
        .with_context(|| "cannot read the estimated beats".to_string())?;
    let config = EvalConfig {
        trim: !args.no_trim,
        ..EvalConfig::default()
    };
    let scores = evaluate(&reference.times_s, &estimate.times_s, &config)
        .context("cannot evaluate these beat lists")?;
    if args.json {
        println!("{}", serde_json::to_string(&scores)?);
    } else {
        let rows = [
            ("F-measure", scores.f_measure),
            ("Cemgil", scores.cemgil),
            ("Cemgil (best metric level)", scores.cemgil_best),
            ("Goto", scores.goto),
            ("P-score", scores.p_score),
            ("CMLc", scores.cmlc),
            ("CMLt", scores.cmlt),
            ("AMLc", scores.amlc),
            ("AMLt", scores.amlt),
            ("Information gain", scores.information_gain),
        ];
        for (name, v) in rows {
            println!("{name:<28}{v:.4}");
        }
    }
    for w in &scores.warnings {
        eprintln!("warning: {w}");
    }
    Ok(ExitCode::SUCCESS)
}
