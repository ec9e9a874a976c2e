//! Playback mixer cost: rendering 10 s of stereo 48 kHz (music + a click every 0.5 s) at
//! speed 1 (plain copy) and 0.5 (WSOLA time stretch). Real time needs 10 s of audio in well
//! under 10 s; the audio callback renders ~10 ms at a time.
//!
//! `cargo bench --bench playback -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::sync::Arc;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use zerons::playback::{Mixer, PlaybackConfig};

const RATE: u32 = 48_000;

fn mixer(speed: f64) -> Mixer {
    let n = 60 * RATE as usize;
    let music: Vec<f32> = (0..n)
        .map(|i| 0.3 * (2.0 * std::f32::consts::PI * 220.0 * i as f32 / RATE as f32).sin())
        .collect();
    let mut m = Mixer::new(RATE, 2, &PlaybackConfig::default()).expect("mixer");
    m.load(Arc::from(music));
    let beats: Vec<f64> = (0..120).map(|k| 0.25 + 0.5 * k as f64).collect();
    m.set_beats(&beats, &[]).expect("beats");
    m.set_speed(speed).expect("speed");
    m
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("playback_10s_stereo_48k");
    group.sample_size(10);
    for (name, speed) in [("speed_1", 1.0), ("speed_0.5_wsola", 0.5)] {
        group.bench_function(name, |b| {
            let mut buf = vec![0.0f32; 2 * 480];
            b.iter_batched(
                || {
                    let mut m = mixer(speed);
                    m.play();
                    m
                },
                |mut m| {
                    for _ in 0..1000 {
                        m.render(black_box(&mut buf));
                    }
                    m
                },
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
