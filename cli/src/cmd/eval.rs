//! `zerons eval REF EST`: mir_eval beat metrics, plus downbeat F-measure and bar-position
//! accuracy when both files carry beat positions.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use zerons::eval::{EvalConfig, PositionedBeats, evaluate, evaluate_downbeats};
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
    // Downbeat scores need positions on both sides.
    let downbeat = match (&reference.positions, &estimate.positions) {
        (Some(rp), Some(ep)) => Some(
            evaluate_downbeats(
                PositionedBeats::new(&reference.times_s, rp)?,
                PositionedBeats::new(&estimate.times_s, ep)?,
                &config,
            )
            .context("cannot evaluate the downbeats")?,
        ),
        _ => None,
    };
    let missing = match (&reference.positions, &estimate.positions) {
        (None, None) => Some("neither file has"),
        (None, Some(_)) => Some("the reference has no"),
        (Some(_), None) => Some("the estimate has no"),
        _ => None,
    };
    if args.json {
        let mut v = serde_json::to_value(&scores)?;
        if let (Some(d), Some(obj)) = (&downbeat, v.as_object_mut()) {
            obj.insert("downbeat_f_measure".into(), d.downbeat_f_measure.into());
            obj.insert("position_accuracy".into(), d.position_accuracy.into());
        }
        println!("{v}");
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
        if let Some(d) = &downbeat {
            println!("{:<28}{:.4}", "Downbeat F-measure", d.downbeat_f_measure);
            println!("{:<28}{:.4}", "Bar-position accuracy", d.position_accuracy);
        }
    }
    if let Some(which) = missing {
        eprintln!("note: no downbeat scores: {which} beat positions");
    }
    for w in &scores.warnings {
        eprintln!("warning: {w}");
    }
    Ok(ExitCode::SUCCESS)
}
