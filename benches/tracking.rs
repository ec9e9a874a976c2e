//! Tracking-stage speed on a 3-minute activation at 62.5 fps (11,250 frames, the ZeroNS frame
//! rate): a noisy 123 BPM pulse train with a little tempo drift.
//!
//! Run: `cargo bench --bench tracking -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use zerons::tracking::Activation;
use zerons::tracking::dbn::{DbnBeatTracker, DbnConfig};
use zerons::tracking::ellis::{EllisConfig, beat_track};
use zerons::tracking::peaks::{PeakPickConfig, pick_peaks};
use zerons::tracking::tempo::{TempoConfig, tempo};

const FPS: f64 = 62.5;

fn activation() -> Activation {
    let n = 11_250;
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut noise = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut phase = 0.0f64;
    let values = (0..n)
        .map(|t| {
            let bpm = 123.0 + 4.0 * (t as f64 / n as f64 * 6.0).sin();
            phase += bpm / 60.0 / FPS;
            let d = (phase - phase.round()).abs() * 60.0 * FPS / bpm; // frames to nearest beat
            let pulse = (-0.5 * d * d).exp();
            (0.05 + 0.8 * pulse + 0.15 * noise()).clamp(0.0, 1.0) as f32
        })
        .collect();
    Activation::new(values, FPS)
}

fn bench(c: &mut Criterion) {
    let act = activation();
    let mut g = c.benchmark_group("tracking_3min_62.5fps");
    g.sample_size(20);
    g.bench_function("dbn_build", |b| {
        b.iter(|| DbnBeatTracker::new(black_box(&DbnConfig::default()), FPS).unwrap())
    });
    let dbn = DbnBeatTracker::new(&DbnConfig::default(), FPS).unwrap();
    g.bench_function("dbn_track", |b| {
        b.iter(|| dbn.track(black_box(&act)).unwrap())
    });
    g.bench_function("tempo", |b| {
        b.iter(|| tempo(black_box(&act.values), FPS, &TempoConfig::default()).unwrap())
    });
    g.bench_function("ellis_with_tempo", |b| {
        b.iter(|| beat_track(black_box(&act.values), FPS, &EllisConfig::default()).unwrap())
    });
    let fixed = EllisConfig {
        bpm: Some(123.0),
        ..EllisConfig::default()
    };
    g.bench_function("ellis_fixed_bpm", |b| {
        b.iter(|| beat_track(black_box(&act.values), FPS, &fixed).unwrap())
    });
    g.bench_function("peaks", |b| {
        b.iter(|| pick_peaks(black_box(&act.values), FPS, &PeakPickConfig::default()).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
