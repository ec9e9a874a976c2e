//! Model time of the shipped `lite` model on a 3-minute song, on the CPU and, with the cargo
//! feature `wgpu`, on the GPU `select_device` picks, measured in the same run:
//!
//! `cargo run --release --example device_speed [--features wgpu]`
//!
//! `ZERONS_ALLOW_SOFTWARE_GPU=1` lets it take Mesa's lavapipe (a Vulkan device on the CPU)
//! where there is no GPU. Prints the best and the median of 5 runs after a warm-up run (the
//! first GPU run compiles its kernels).

use std::time::Instant;

use zerons::features::Spectrogram;
use zerons::model::{Device, InferConfig, LoadedModel, bundled_model_dir, infer, load_model_on};

fn spectrogram(n_frames: usize, seed: usize) -> Spectrogram {
    Spectrogram {
        data: (0..96 * n_frames)
            .map(|i| (((i + seed) * 7919) % 1000) as f32 / 100.0 - 8.0)
            .collect(),
        n_bins: 96,
        n_frames,
        fps: 62.5,
    }
}

fn time(model: &LoadedModel, label: &str) -> Result<(), Box<dyn std::error::Error>> {
    let (non, perc) = (spectrogram(11_251, 0), spectrogram(11_251, 1));
    infer(model, &non, &perc, &InferConfig::default())?;
    let mut secs: Vec<f64> = (0..5)
        .map(|_| {
            let t0 = Instant::now();
            infer(model, &non, &perc, &InferConfig::default()).map(|_| t0.elapsed().as_secs_f64())
        })
        .collect::<Result<_, _>>()?;
    secs.sort_by(f64::total_cmp);
    println!(
        "{label}: lite, 3-min song, both branches: best {:.3} s, median {:.3} s",
        secs[0], secs[2]
    );
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = bundled_model_dir(None).ok_or("no bundled model (assets/model)")?;
    time(&load_model_on(&dir, &Device::flex())?, "CPU (burn flex)")?;
    let gpu = zerons::model::select_device(zerons::model::DeviceChoice::Gpu);
    match gpu.fallback_reason {
        None => time(
            &load_model_on(&dir, &gpu.device)?,
            &format!("GPU ({})", gpu.name),
        )?,
        Some(reason) => println!("GPU: not measured ({reason})"),
    }
    Ok(())
}
