//! Speed of the project store.
//!
//! - `open_10_songs`: open a project holding 10 analysed songs (4-minute songs, two
//!   62.5 fps activation curves each) and 300 beat revisions (≈ 480 beats each), then list
//!   its tracks and load every track's head beats — what the app does on "Open project".
//!   Target ≤ 1 s.
//! - `commit_edit`: one user edit (a new revision of 480 beats, fsync'ed).
//!
//! Run: `cargo bench --bench store -- --warm-up-time 1 --measurement-time 3`

use criterion::{Criterion, criterion_group, criterion_main};
use zerons::formats::BeatList;
use zerons::store::{Author, Curve, NewAnalysis, NewRevision, Project, ProjectSettings, TrackMeta};

fn beats(shift: f64) -> BeatList {
    BeatList::new((0..480).map(|k| 0.25 + k as f64 * 0.5 + shift).collect())
}

fn build(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("bench.zerons");
    let p = Project::create(&path, "bench", &ProjectSettings::default()).unwrap();
    let n_frames = (240.0 * 62.5) as usize;
    for s in 0..10 {
        let audio = dir.join(format!("song{s}.wav"));
        std::fs::write(&audio, vec![s as u8; 1 << 20]).unwrap();
        let t = p
            .add_track(
                &audio,
                &TrackMeta {
                    duration_s: 240.0,
                    sample_rate_hz: 44_100,
                    channels: 2,
                },
            )
            .unwrap();
        let curves: Vec<Curve> = ["beat", "percussive"]
            .iter()
            .map(|k| Curve {
                kind: (*k).into(),
                fps: 62.5,
                values: (0..n_frames).map(|i| (i % 31) as f32 / 31.0).collect(),
            })
            .collect();
        let a = p
            .add_analysis(
                t,
                &NewAnalysis {
                    model_id: None,
                    config_json: "{}",
                    curves: &curves,
                },
            )
            .unwrap();
        p.add_model_revision(t, a, &beats(0.0), Some(4), "analysis")
            .unwrap();
        for e in 0..29 {
            let b = beats(e as f64 * 1e-3);
            p.commit_beats(
                t,
                &NewRevision {
                    beats: &b,
                    author: Author::User,
                    note: "edit",
                    beats_per_bar: Some(4),
                    fresh: None,
                },
            )
            .unwrap();
        }
    }
    path
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let path = build(dir.path());
    c.bench_function("open_10_songs", |b| {
        b.iter(|| {
            let p = Project::open(&path).unwrap();
            let tracks = p.tracks().unwrap();
            let n: usize = tracks
                .iter()
                .map(|t| p.head(t.id).unwrap().map_or(0, |r| r.beats.len()))
                .sum();
            assert_eq!(n, 4800);
        })
    });
    let p = Project::open(&path).unwrap();
    let t = p.tracks().unwrap()[0].id;
    let b = beats(0.1);
    c.bench_function("commit_edit", |bch| {
        bch.iter(|| {
            p.commit_beats(
                t,
                &NewRevision {
                    beats: &b,
                    author: Author::User,
                    note: "bench",
                    beats_per_bar: None,
                    fresh: None,
                },
            )
            .unwrap()
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = bench
}
criterion_main!(benches);
