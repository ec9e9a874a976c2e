//! Downbeat metrics against mir_eval 0.8.2.
//!
//! `tests/fixtures/downbeat_eval/cases.json` was made by
//! `scripts/golden/make_downbeat_eval_golden.py`: beat lists with positions from madmom's
//! downbeat tracker (`tests/fixtures/dbn_downbeat/`) and variations of them; the expected
//! downbeat F-measure is `mir_eval.beat.f_measure` on the trimmed downbeats, the expected
//! position accuracy is computed from `mir_eval.util.match_events` pairs (see the script).

use std::path::Path;

use serde_json::Value;
use zerons::eval::{EvalConfig, PositionedBeats, evaluate, evaluate_downbeats};

fn split(v: &Value) -> (Vec<f64>, Vec<u32>) {
    v.as_array()
        .unwrap()
        .iter()
        .map(|b| (b[0].as_f64().unwrap(), b[1].as_u64().unwrap() as u32))
        .unzip()
}

#[test]
fn downbeat_scores_match_mir_eval() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/downbeat_eval/cases.json");
    let all: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let cases = all["cases"].as_object().unwrap();
    assert_eq!(cases.len(), 12);
    let cfg = EvalConfig::default();
    for (name, c) in cases {
        let (rt, rp) = split(&c["reference"]);
        let (et, ep) = split(&c["estimate"]);
        let r = PositionedBeats::new(&rt, &rp).unwrap();
        let e = PositionedBeats::new(&et, &ep).unwrap();
        let s = evaluate_downbeats(r, e, &cfg).unwrap();
        let want_f = c["downbeat_f_measure"].as_f64().unwrap();
        let want_acc = c["position_accuracy"].as_f64().unwrap();
        let want_beat_f = c["beat_f_measure"].as_f64().unwrap();
        eprintln!(
            "{name}: downbeat F {:.4} (mir_eval {want_f:.4}), position accuracy {:.4} ({want_acc:.4})",
            s.downbeat_f_measure, s.position_accuracy
        );
        assert!((s.downbeat_f_measure - want_f).abs() < 1e-9, "{name}");
        assert!((s.position_accuracy - want_acc).abs() < 1e-9, "{name}");
        let beat_f = evaluate(&rt, &et, &cfg).unwrap().f_measure;
        assert!((beat_f - want_beat_f).abs() < 1e-9, "{name}");
    }
}
