//! Speed of the mir_eval beat metrics and the beat-file writers/readers on a 10-minute
//! track (1200 beats at 120 BPM, estimate jittered ±30 ms with 5 % misses), and of the
//! DJ grid writers on a steady two-hour set.
//!
//! `cargo bench --bench eval -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use zerons::eval::{EvalConfig, evaluate};
use zerons::formats::{BeatFormat, BeatList, ExportMeta, decode_beats, encode_beats};

fn beats() -> (Vec<f64>, Vec<f64>) {
    let reference: Vec<f64> = (0..1200).map(|k| 0.25 + 0.5 * f64::from(k)).collect();
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut estimated = Vec::with_capacity(reference.len());
    for &t in &reference {
        if next() > 0.05 {
            estimated.push(t + (next() - 0.5) * 0.06);
        }
    }
    (reference, estimated)
}

fn bench(c: &mut Criterion) {
    let (reference, estimated) = beats();
    let config = EvalConfig::default();
    c.bench_function("evaluate 1200 beats", |b| {
        b.iter(|| evaluate(black_box(&reference), black_box(&estimated), &config).unwrap())
    });
    let list = BeatList::with_positions(reference.clone(), (0..1200).map(|k| k % 4 + 1).collect())
        .unwrap();
    let meta = ExportMeta {
        audio_path: Some("/music/bench.wav".into()),
        ..ExportMeta::default()
    };
    for format in BeatFormat::ALL {
        let bytes = encode_beats(&list, format, &meta).unwrap();
        c.bench_function(&format!("write {format} 1200 beats"), |b| {
            b.iter(|| encode_beats(black_box(&list), format, &meta).unwrap())
        });
        c.bench_function(&format!("read {format} 1200 beats"), |b| {
            b.iter(|| decode_beats(black_box(&bytes), format, Path::new("bench")).unwrap())
        });
    }
    // The grid writers' worst case: one constant-tempo stretch over two hours.
    let steady = BeatList::new((0..14_400).map(|k| 0.25 + 0.5 * f64::from(k)).collect());
    for format in [BeatFormat::Rekordbox, BeatFormat::Traktor] {
        c.bench_function(&format!("write {format} 14400 steady beats"), |b| {
            b.iter(|| encode_beats(black_box(&steady), format, &meta).unwrap())
        });
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench
}
criterion_main!(benches);
