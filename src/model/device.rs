//! Where the network runs: CPU (burn's pure-Rust `flex` backend) or a GPU through wgpu
//! (cargo feature `wgpu`).

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

/// Environment variable that lets [`select_device`] use a software wgpu adapter (tests).
pub const ALLOW_SOFTWARE_GPU_ENV: &str = "ZERONS_ALLOW_SOFTWARE_GPU";

/// The user's choice of compute device.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum DeviceChoice {
    /// Always the CPU.
    Cpu,
    /// A GPU; falls back to the CPU (with a warning) when none is usable.
    Gpu,
    /// A real GPU when this build has wgpu and one is present, otherwise the CPU.
    #[default]
    Auto,
}

/// What a [`SelectedDevice`] is.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ComputeDevice {
    /// burn's `flex` backend on the CPU.
    Cpu,
    /// burn's wgpu backend on a hardware adapter.
    Gpu,
}

/// The outcome of [`select_device`].
#[derive(Debug, Clone)]
pub struct SelectedDevice {
    /// The burn device to put models and tensors on.
    pub device: Device,
    /// CPU or GPU.
    pub kind: ComputeDevice,
    /// Human-readable name (the adapter's name for a GPU).
    pub name: String,
    /// Why a GPU was not used, when one was asked for (`Gpu`) or could have been (`Auto`).
    pub fallback_reason: Option<String>,
}

impl SelectedDevice {
    fn cpu(fallback_reason: Option<String>) -> Self {
        Self {
            device: Device::flex(),
            kind: ComputeDevice::Cpu,
            name: "CPU (burn flex)".into(),
            fallback_reason,
        }
    }
}

/// Picks the compute device. Never fails: without a usable GPU it returns the CPU and says
/// why in [`SelectedDevice::fallback_reason`] (and a `tracing` warning when a GPU was
/// requested, or when this build has wgpu and `Auto` found none).
///
/// A software adapter (Mesa lavapipe / llvmpipe: no physical card behind it) counts as no
/// GPU: it is far slower than the CPU backend. Setting [`ALLOW_SOFTWARE_GPU_ENV`] to `1`
/// accepts it anyway: that is how the wgpu path is tested on machines without a GPU.
pub fn select_device(choice: DeviceChoice) -> SelectedDevice {
    let _span = tracing::info_span!("select_device", ?choice).entered();
    if choice == DeviceChoice::Cpu {
        return SelectedDevice::cpu(None);
    }
    match probe_gpu() {
        Ok((device, name)) => {
            tracing::info!(adapter = %name, "using the GPU");
            SelectedDevice {
                device,
                kind: ComputeDevice::Gpu,
                name,
                fallback_reason: None,
            }
        }
        Err(reason) => {
            // Only a GPU the user asked for is worth a warning: `Auto` on a machine without
            // one is the normal case, said at info level (`-v`).
            if choice == DeviceChoice::Gpu {
                tracing::warn!(%reason, "no usable GPU, running on the CPU");
            } else {
                tracing::info!(%reason, "no usable GPU, running on the CPU");
            }
            SelectedDevice::cpu(Some(reason))
        }
    }
}

#[cfg(not(feature = "wgpu"))]
fn probe_gpu() -> Result<(Device, String), String> {
    Err("this build has no GPU support (cargo feature `wgpu`)".into())
}

/// Opens wgpu's default adapter once per process (the runtime cannot be initialised twice)
/// and keeps the answer.
#[cfg(feature = "wgpu")]
fn probe_gpu() -> Result<(Device, String), String> {
    use std::sync::OnceLock;
    static GPU: OnceLock<Result<(Device, String), String>> = OnceLock::new();
    GPU.get_or_init(|| {
        // Adapter discovery goes through system drivers; a broken driver must not take the
        // application down.
        let probed = std::panic::catch_unwind(|| {
            let device = Device::wgpu_options()
                .init()
                .map_err(|e| format!("no wgpu adapter: {e}"))?;
            match device.identity() {
                Some(id) if id.physical.is_some() => Ok((device, id.name)),
                Some(id) if std::env::var(ALLOW_SOFTWARE_GPU_ENV).is_ok_and(|v| v == "1") => {
                    Ok((device, format!("{} (software)", id.name)))
                }
                Some(id) => Err(format!(
                    "wgpu adapter '{}' is a software renderer, slower than the CPU backend",
                    id.name
                )),
                None => Err("the wgpu adapter does not identify itself".into()),
            }
        });
        probed.unwrap_or_else(|_| Err("the wgpu driver panicked while probing".into()))
    })
    .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_is_always_available_and_choice_parses() {
        let d = select_device(DeviceChoice::Cpu);
        assert_eq!(d.kind, ComputeDevice::Cpu);
        assert!(d.fallback_reason.is_none());
        let c: DeviceChoice = serde_json::from_str("\"auto\"").unwrap();
        assert_eq!(c, DeviceChoice::Auto);
        assert!(serde_json::from_str::<DeviceChoice>("\"tpu\"").is_err());
    }

    #[cfg(not(feature = "wgpu"))]
    #[test]
    fn gpu_request_without_wgpu_falls_back_with_a_reason() {
        let d = select_device(DeviceChoice::Gpu);
        assert_eq!(d.kind, ComputeDevice::Cpu);
        assert!(d.fallback_reason.unwrap().contains("wgpu"));
    }
}
