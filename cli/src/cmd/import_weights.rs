//! `zerons import-weights FILE.pth[.gz] -o MODEL`: the authors' PyTorch checkpoint → our format.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use zerons::model::{import_pytorch, save_model};

#[derive(Args)]
pub struct ImportWeightsArgs {
    /// A ZeroNS `state_dict` as the authors publish it (`shift_pret_cnn_16.pth.gz`), gzip'd
    /// or plain. Architecture and channel widths are read from the tensor shapes.
    checkpoint: PathBuf,
    /// Output: a directory (created) or a `NAME.json` path; weights go beside it as `.bpk`.
    #[arg(short, long)]
    output: PathBuf,
}

pub fn run(args: ImportWeightsArgs) -> Result<ExitCode> {
    let model = import_pytorch(&args.checkpoint)
        .with_context(|| format!("cannot import {}", args.checkpoint.display()))?;
    let manifest = save_model(&model, &args.output)
        .with_context(|| format!("cannot write the model to {}", args.output.display()))?;
    println!(
        "imported {} → {} (id {}, {} architecture, {} MMAC/frame, sha256 {})",
        args.checkpoint.display(),
        args.output.display(),
        manifest.id,
        match manifest.model.architecture {
            zerons::model::Architecture::Paper(_) => "paper",
            zerons::model::Architecture::Lite(_) => "lite",
        },
        manifest.model.macs_per_frame() as f64 / 1e6,
        manifest.weights_sha256
    );
    Ok(ExitCode::SUCCESS)
}
