//! DSP stage timings on a 3-minute 16 kHz signal (white noise plus a click every 0.5 s):
//! `log_vqt` (ZeroNS settings), `hpss` (librosa defaults) and `spectral_flux`.
//!
//! `cargo bench --bench dsp -- --warm-up-time 1 --measurement-time 3`

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

use zerons::audio::Signal;
use zerons::features::{FluxConfig, VqtConfig, log_vqt, spectral_flux};
use zerons::separation::{HpssConfig, hpss};

fn three_minutes() -> Signal {
    let sr = 16_000u32;
    let n = 180 * sr as usize;
    let mut state = 0x2545_f491u32;
    let mut samples: Vec<f32> = (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            0.05 * ((state >> 8) as f32 / (1u32 << 24) as f32 - 0.5)
        })
        .collect();
    for start in (0..n).step_by(sr as usize / 2) {
        for (j, s) in samples[start..(start + 64).min(n)].iter_mut().enumerate() {
            *s += 0.8 * (-(j as f32) / 12.0).exp();
        }
    }
    Signal::new(samples, sr)
}

fn bench(c: &mut Criterion) {
    let signal = three_minutes();
    let mut group = c.benchmark_group("dsp_3min_16k");
    group.sample_size(10);
    let vqt = VqtConfig::default();
    group.bench_function("log_vqt", |b| b.iter(|| log_vqt(black_box(&signal), &vqt)));
    let flux = FluxConfig::default();
    group.bench_function("spectral_flux", |b| {
        b.iter(|| spectral_flux(black_box(&signal), &flux))
    });
    let sep = HpssConfig::default();
    group.bench_function("hpss", |b| b.iter(|| hpss(black_box(&signal), &sep)));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
