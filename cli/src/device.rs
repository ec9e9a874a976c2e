//! Model and device arguments shared by the subcommands that run the network.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::ValueEnum;
use zerons::model::{Device, DeviceChoice, LoadedModel, load_model_on, select_device};

/// `--device`.
#[derive(Clone, Copy, ValueEnum, PartialEq, Eq, Debug)]
pub enum DeviceArg {
    /// The CPU backend.
    Cpu,
    /// A GPU through wgpu (needs a build with the `wgpu` feature); falls back to the CPU.
    Gpu,
    /// A GPU when one is usable, else the CPU.
    Auto,
}

impl From<DeviceArg> for DeviceChoice {
    fn from(d: DeviceArg) -> Self {
        match d {
            DeviceArg::Cpu => DeviceChoice::Cpu,
            DeviceArg::Gpu => DeviceChoice::Gpu,
            DeviceArg::Auto => DeviceChoice::Auto,
        }
    }
}

/// Picks the device, warning when a GPU was asked for and none is usable.
pub fn pick_device(device: DeviceArg) -> Device {
    let selected = select_device(device.into());
    if let (DeviceArg::Gpu, Some(reason)) = (device, &selected.fallback_reason) {
        eprintln!("warning: no usable GPU ({reason}); running on the CPU");
    }
    tracing::info!(device = %selected.name, "compute device");
    selected.device
}

/// Loads a model onto the chosen device.
pub fn load_model(path: &Path, device: DeviceArg) -> Result<(LoadedModel, Device)> {
    let device = pick_device(device);
    let model = load_model_on(path, &device)
        .with_context(|| format!("cannot load the model {}", path.display()))?;
    tracing::info!(id = %model.manifest.id, "model loaded");
    Ok((model, device))
}

/// What a user is told when no model is found.
pub const NO_MODEL: &str = "no bundled model found: looked at $ZERONS_MODEL, share/zerons/model \
     beside this program (an installed copy) and assets/model of a source checkout; reinstall \
     ZeroNS Studio, set ZERONS_MODEL to a model directory, or pass --activation flux to track \
     without the network";

/// The bundled model's directory: `$ZERONS_MODEL`, else `share/zerons/model` beside the
/// executable's prefix (installed), else `assets/model` of a source checkout
/// ([`zerons::model::bundled_model_dir`]).
pub fn bundled_model() -> Option<PathBuf> {
    zerons::model::bundled_model_dir(std::env::current_exe().ok().as_deref())
}

/// `explicit`, or the bundled model.
pub fn resolve_model(explicit: Option<&Path>) -> Result<PathBuf> {
    match explicit {
        Some(p) => Ok(p.to_path_buf()),
        None => match bundled_model() {
            Some(p) => Ok(p),
            None => bail!("{NO_MODEL}; or pass a model with --base/--model"),
        },
    }
}
