//! The GPU path (cargo feature `wgpu`), run on whatever Vulkan adapter the machine has. On CI
//! and on the development machine that is Mesa's lavapipe (apt `mesa-vulkan-drivers`), a
//! software Vulkan device: `ZERONS_ALLOW_SOFTWARE_GPU=1` lets `select_device` take it.
//!
//! - inference on the GPU equals inference on the CPU (the golden ÷16 paper model and the
//!   shipped lite model, 1e-4), whole songs chunked with halos included;
//! - fine-tuning in `top` mode runs on the GPU and learns a click track.
//!
//! `cargo test --features wgpu --test model_wgpu`. Without any Vulkan driver the tests fail
//! with the reason, unless `ZERONS_WGPU_TEST_OPTIONAL=1` (then they print it and pass).
#![cfg(feature = "wgpu")]

use std::path::Path;

use burn::tensor::Device;
use zerons::model::{
    ALLOW_SOFTWARE_GPU_ENV, ComputeDevice, DeviceChoice, InferConfig, LoadedModel, import_pytorch,
    infer, load_model_on, select_device,
};
use zerons::pipeline::CancelToken;
use zerons::train::{AnnotatedSong, FinetuneConfig, FinetuneMode, finetune};

mod common;
use common::model::{max_abs_diff, spectrogram};

/// The GPU device, or `None` (with the reason printed) when the test may be skipped.
fn gpu() -> Option<Device> {
    // SAFETY: set before any thread of this test binary reads the environment; every test
    // sets the same value.
    unsafe { std::env::set_var(ALLOW_SOFTWARE_GPU_ENV, "1") };
    let selected = select_device(DeviceChoice::Gpu);
    if selected.kind != ComputeDevice::Gpu {
        let reason = selected.fallback_reason.unwrap_or_default();
        if std::env::var("ZERONS_WGPU_TEST_OPTIONAL").is_ok_and(|v| v == "1") {
            eprintln!("no wgpu adapter ({reason}): GPU tests skipped");
            return None;
        }
        panic!("no wgpu adapter: {reason} (install mesa-vulkan-drivers for lavapipe)");
    }
    eprintln!("wgpu adapter: {}", selected.name);
    Some(selected.device)
}

fn fixture(rel: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn compare(cpu: &LoadedModel, gpu: &LoadedModel, n_frames: usize, config: &InferConfig) {
    let non = spectrogram(n_frames, 1);
    let perc = spectrogram(n_frames, 2);
    let a = infer(cpu, &non, &perc, config).unwrap();
    let b = infer(gpu, &non, &perc, config).unwrap();
    for (name, x, y) in [
        ("anchor", &a.anchor, &b.anchor),
        ("postve", &a.postve, &b.postve),
        ("combined", &a.combined, &b.combined),
    ] {
        let d = max_abs_diff(&x.values, &y.values);
        assert!(d < 1e-4, "{name}: GPU differs from CPU by {d}");
    }
}

/// The ÷16 paper model from the PyTorch golden checkpoint (tests/model_torch_parity.rs).
#[test]
fn gpu_inference_equals_cpu_paper() {
    let Some(device) = gpu() else { return };
    let path = fixture("tests/fixtures/zerons_torch/tiny_pretext.pth.gz");
    let cpu = import_pytorch(&path).unwrap();
    let on_gpu = import_pytorch(&path).unwrap().to_device(&device);
    compare(&cpu, &on_gpu, 700, &InferConfig::default());
}

/// The shipped lite model, with chunks and halos (a 2-minute song in 20 s chunks).
#[test]
fn gpu_inference_equals_cpu_lite_chunked() {
    let Some(device) = gpu() else { return };
    let cpu = load_model_on(fixture("assets/model"), &Device::flex()).unwrap();
    let on_gpu = load_model_on(fixture("assets/model"), &device).unwrap();
    let config = InferConfig {
        chunk_frames: 1250,
        ..InferConfig::default()
    };
    compare(&cpu, &on_gpu, 7500, &config);
}

/// `top`-mode fine-tuning on the GPU learns a click track from the shipped model.
#[test]
fn gpu_finetuning_learns_a_click_track() {
    let Some(device) = gpu() else { return };
    let base = load_model_on(fixture("assets/model"), &device).unwrap();
    let n_frames = 1900;
    let (period, phase) = (29, 7);
    let mut non = spectrogram(n_frames, 3);
    non.data.iter_mut().for_each(|v| *v = -6.0);
    let mut perc = non.clone();
    for bin in 0..96 {
        for t in (phase..n_frames).step_by(period) {
            perc.data[bin * n_frames + t] = 0.0;
        }
    }
    let beats: Vec<f64> = (phase..n_frames)
        .step_by(period)
        .map(|t| t as f64 / 62.5)
        .collect();
    let song = AnnotatedSong::new("clicks", non, perc, &beats, None).unwrap();
    let config = FinetuneConfig {
        mode: FinetuneMode::Top,
        max_epochs: 30,
        patience_epochs: 30,
        ..FinetuneConfig::default()
    };
    let out = finetune(
        &base,
        &[song],
        &config,
        &device,
        &CancelToken::new(),
        |_| {},
    )
    .unwrap();
    let first = out.history.first().unwrap().train_loss;
    let last = out.history.last().unwrap().train_loss;
    assert!(last.is_finite() && last < first, "loss {first} → {last}");
    let after = out.after.as_ref().unwrap();
    assert!(after.f_measure >= 0.9, "held-out F after {after:?}");
}
