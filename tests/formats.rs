//! Beat-file import/export: JAMS schema validity (against the real jams 0.3.5 schemas in
//! `tests/fixtures/jams_schema/`, see its README), parsing of the hand-written examples in
//! `tests/fixtures/formats/` (from the shared `golden/formats/`, see its README),
//! round trips, and robustness on malformed input.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use zerons::Error;
use zerons::formats::{
    BeatFormat, BeatList, ExportMeta, format_beats, parse_beats, read_beats, read_beats_as,
    write_beats, write_beats_file,
};

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

fn load_json(rel: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture(rel)).unwrap()).unwrap()
}

/// `jams.JAMS.validate(strict=True)`, reproduced: the document against the top-level
/// schema, then each annotation's data against `jams.schema.namespace_array(namespace)`.
/// Returns every violation as text (empty = valid).
fn jams_violations(doc: &Value) -> Vec<String> {
    let top = load_json("jams_schema/jams_schema.json");
    // jams uses jsonschema's Draft4Validator without a format checker.
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft4)
        .should_validate_formats(false)
        .build(&top)
        .unwrap();
    let mut out: Vec<String> = validator
        .iter_errors(doc)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    let namespaces: Value = {
        let mut all = serde_json::Map::new();
        for f in [
            "namespaces/beat/beat.json",
            "namespaces/beat/position.json",
            "namespaces/tempo/tempo.json",
        ] {
            let v = load_json(&format!("jams_schema/{f}"));
            all.extend(v.as_object().unwrap().clone());
        }
        Value::Object(all)
    };
    for (i, ann) in doc["annotations"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let ns = ann["namespace"].as_str().unwrap_or_default();
        let Some(def) = namespaces.get(ns) else {
            out.push(format!("annotation {i}: unknown namespace {ns:?}"));
            continue;
        };
        let mut obs = top["definitions"]["SparseObservation"].clone();
        for key in ["value", "confidence"] {
            if let Some(s) = def.get(key) {
                obs["properties"][key] = s.clone();
            }
        }
        obs["title"] = json!("Observation");
        let mut array = top["definitions"]["SparseObservationList"].clone();
        array["items"] = obs;
        let v = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft4)
            .build(&array)
            .unwrap();
        out.extend(
            v.iter_errors(&ann["data"])
                .map(|e| format!("annotation {i} ({ns}) {}: {e}", e.instance_path())),
        );
    }
    out
}

fn sample_beats(with_positions: bool) -> BeatList {
    // ZeroNS-style frame times (k / 62.5 s) with a tempo wobble.
    let times: Vec<f64> = (0..40u32)
        .map(|k| f64::from(31 * k + (k % 3)) / 62.5)
        .collect();
    if with_positions {
        let pos = (0..40).map(|k| (k % 4) + 1).collect();
        BeatList::with_positions(times, pos).unwrap()
    } else {
        BeatList::new(times)
    }
}

fn full_meta() -> ExportMeta {
    ExportMeta {
        duration_s: Some(30.0),
        title: "Señor \"Quote\" \\ Test".into(),
        artist: "Someone".into(),
        release: String::new(),
        annotation_tools: "zerons 0.1.0, model test, DBN fps 62.5".into(),
        data_source: "program".into(),
        annotation_version: "0.1.0".into(),
        tempo_bpm: Some(120.5),
        ..ExportMeta::default()
    }
}

#[test]
fn the_validator_accepts_real_jams_files_and_catches_violations() {
    // Both golden examples validate with jams 0.3.5 itself.
    for f in [
        "formats/example_minimal.jams",
        "formats/example_written_by_jams.jams",
    ] {
        let v = jams_violations(&load_json(f));
        assert!(v.is_empty(), "{f}: {v:?}");
    }
    // And the reproduction of jams' checks rejects what jams rejects.
    let good = load_json("formats/example_minimal.jams");
    type Mutation = (&'static str, fn(&mut Value));
    let mutations: [Mutation; 6] = [
        ("beat value as string", |d| {
            d["annotations"][0]["data"][0]["value"] = json!("1")
        }),
        ("negative time", |d| {
            d["annotations"][0]["data"][1]["time"] = json!(-0.5)
        }),
        ("tempo confidence > 1", |d| {
            d["annotations"][1]["data"][0]["confidence"] = json!(2.0)
        }),
        ("tempo confidence null", |d| {
            d["annotations"][1]["data"][0]["confidence"] = Value::Null
        }),
        ("duration null", |d| {
            d["file_metadata"]["duration"] = Value::Null
        }),
        ("missing confidence key", |d| {
            d["annotations"][0]["data"][0]
                .as_object_mut()
                .unwrap()
                .remove("confidence");
        }),
    ];
    for (what, mutate) in mutations {
        let mut doc = good.clone();
        mutate(&mut doc);
        assert!(!jams_violations(&doc).is_empty(), "{what} was not caught");
    }
}

#[test]
fn written_jams_is_schema_valid() {
    let cases = [
        (sample_beats(true), full_meta()),
        (sample_beats(false), ExportMeta::default()),
        (BeatList::default(), ExportMeta::default()),
        (
            BeatList::new(vec![0.0]),
            ExportMeta {
                duration_s: Some(0.0),
                ..ExportMeta::default()
            },
        ),
    ];
    for (beats, meta) in cases {
        let text = format_beats(&beats, BeatFormat::Jams, &meta).unwrap();
        let doc: Value = serde_json::from_str(&text).unwrap();
        let v = jams_violations(&doc);
        assert!(v.is_empty(), "{v:?}\n{text}");
        // What jams itself needs beyond the schema (spec §4.1).
        let fm = &doc["file_metadata"];
        assert!(fm["duration"].is_number());
        assert_eq!(fm["jams_version"], "0.3.5");
        let ann = &doc["annotations"][0];
        assert_eq!(ann["namespace"], "beat");
        let data = ann["data"].as_array().unwrap();
        assert_eq!(data.len(), beats.len());
        for (k, obs) in data.iter().enumerate() {
            assert_eq!(obs["time"].as_f64().unwrap(), beats.times_s[k]);
            assert_eq!(obs["duration"], 0.0);
            assert!(obs["confidence"].is_null());
            match &beats.positions {
                Some(p) => assert_eq!(obs["value"], p[k]),
                None => assert!(obs["value"].is_null()),
            }
        }
        assert_eq!(
            doc["annotations"].as_array().unwrap().len(),
            1 + usize::from(meta.tempo_bpm.is_some())
        );
    }
    // The metadata lands where jams expects it.
    let text = format_beats(&sample_beats(true), BeatFormat::Jams, &full_meta()).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["file_metadata"]["title"], "Señor \"Quote\" \\ Test");
    assert_eq!(doc["file_metadata"]["duration"], 30.0);
    let am = &doc["annotations"][0]["annotation_metadata"];
    assert_eq!(
        am["annotation_tools"],
        "zerons 0.1.0, model test, DBN fps 62.5"
    );
    assert_eq!(am["data_source"], "program");
    assert_eq!(am["curator"], json!({"name": "", "email": ""}));
    let tempo = &doc["annotations"][1];
    assert_eq!(tempo["namespace"], "tempo");
    assert_eq!(tempo["data"][0]["value"], 120.5);
    assert_eq!(tempo["data"][0]["duration"], 30.0);
    // Without a duration, the last beat is the duration.
    let text = format_beats(
        &sample_beats(false),
        BeatFormat::Jams,
        &ExportMeta::default(),
    )
    .unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        doc["file_metadata"]["duration"].as_f64().unwrap(),
        *sample_beats(false).times_s.last().unwrap()
    );
}

#[test]
fn golden_examples_parse() {
    let b = read_beats(&fixture("formats/example.beats")).unwrap();
    assert_eq!(b.times_s, vec![0.5, 1.0, 1.52, 2.0, 2.5]);
    assert_eq!(b.positions, Some(vec![1, 2, 3, 4, 1]));

    let b = read_beats(&fixture("formats/example_sonic_visualiser_instants.csv")).unwrap();
    assert_eq!(b.times_s, vec![0.5, 1.0, 1.52, 2.0, 2.5]);
    assert_eq!(b.positions, Some(vec![1, 2, 3, 4, 1]));

    // One value is null, so the list has times only.
    let b = read_beats(&fixture("formats/example_minimal.jams")).unwrap();
    assert_eq!(b.times_s, vec![0.5, 1.0, 1.52]);
    assert_eq!(b.positions, None);

    let b = read_beats(&fixture("formats/example_written_by_jams.jams")).unwrap();
    assert_eq!(b.times_s, vec![0.5, 1.0, 1.5, 2.0]);
    assert_eq!(b.positions, Some(vec![1, 2, 3, 4]));

    // An Audacity label track (start, end, label) in a .txt file is told from .beats
    // text by its three tab-separated columns.
    let b = read_beats(&fixture("formats/example_audacity_labels.txt")).unwrap();
    assert_eq!(b.times_s, vec![0.5, 1.0, 1.52, 2.0, 2.5]);
    assert_eq!(b.positions, Some(vec![1, 2, 3, 4, 1]));
    // Read as .beats, it is a clean error at line 1: the second column (the end time
    // 0.500000) is not a beat position.
    let e = read_beats_as(
        &fixture("formats/example_audacity_labels.txt"),
        BeatFormat::Beats,
    )
    .unwrap_err();
    assert!(
        matches!(&e, Error::Parse { line: 1, detail, .. } if detail.contains("'0.500000'")),
        "{e}"
    );
}

/// The formats this file covers; the rest are in `tests/formats_exchange.rs`.
const TEXT_FORMATS: [BeatFormat; 3] = [BeatFormat::Csv, BeatFormat::Beats, BeatFormat::Jams];

fn assert_round_trip(original: &BeatList, back: &BeatList, tol: f64) {
    assert_eq!(back.len(), original.len());
    for (a, b) in original.times_s.iter().zip(&back.times_s) {
        assert!((a - b).abs() <= tol, "{a} vs {b}");
    }
    assert_eq!(back.positions, original.positions);
}

#[test]
fn every_format_round_trips_through_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let meta = full_meta();
    for with_positions in [true, false] {
        let beats = sample_beats(with_positions);
        for format in TEXT_FORMATS {
            let path = dir
                .path()
                .join(format!("beats_{with_positions}.{}", format.extension()));
            write_beats_file(&path, &beats, format, &meta).unwrap();
            let back = read_beats(&path).unwrap();
            let tol = match format {
                BeatFormat::Csv => 0.5e-6,
                BeatFormat::Beats => 0.5e-3,
                _ => 0.0,
            };
            assert_round_trip(&beats, &back, tol);
            // Frame times at 62.5 fps are exact with three decimals.
            assert_eq!(back.times_s, beats.times_s, "{format}");
        }
    }
    // Times that are not on a millisecond grid survive CSV to 1 µs and JAMS exactly.
    let odd = BeatList::new((1..50).map(|k| f64::from(k) * 0.123_456_789_1).collect());
    for (format, tol) in [(BeatFormat::Csv, 0.5e-6), (BeatFormat::Jams, 0.0)] {
        let mut buf = Vec::new();
        write_beats(&mut buf, &odd, format, &ExportMeta::default()).unwrap();
        let back =
            parse_beats(std::str::from_utf8(&buf).unwrap(), format, Path::new("mem")).unwrap();
        assert_round_trip(&odd, &back, tol);
    }
}

#[test]
fn readers_choose_the_format_and_tolerate_encodings() {
    let dir = tempfile::tempdir().unwrap();
    // Unknown extension: JSON is sniffed as JAMS, anything else goes to the CSV reader.
    let jams = format_beats(
        &sample_beats(true),
        BeatFormat::Jams,
        &ExportMeta::default(),
    )
    .unwrap();
    let p = dir.path().join("beats.json");
    std::fs::write(&p, &jams).unwrap();
    assert_eq!(read_beats(&p).unwrap(), sample_beats(true));
    let p = dir.path().join("beats.dat");
    std::fs::write(&p, "time;beat\n0,5;1\n1,25;2\n").unwrap();
    let b = read_beats(&p).unwrap();
    assert_eq!(
        (b.times_s, b.positions),
        (vec![0.5, 1.25], Some(vec![1, 2]))
    );
    // Explicit format overrides the extension.
    let p = dir.path().join("beats.csv");
    std::fs::write(&p, "0.5\t1\n1.0\t2\n").unwrap();
    assert_eq!(
        read_beats_as(&p, BeatFormat::Beats).unwrap().positions,
        Some(vec![1, 2])
    );
    // UTF-8 BOM (Excel) is ignored.
    std::fs::write(&p, "\u{feff}time_s\r\n0.5\r\n1.0\r\n").unwrap();
    assert_eq!(read_beats(&p).unwrap().times_s, vec![0.5, 1.0]);
    // UTF-16 and invalid UTF-8 are reported, with the line of the first bad byte.
    std::fs::write(&p, b"\xff\xfe0\x00.\x005\x00").unwrap();
    let e = read_beats(&p).unwrap_err();
    assert!(e.to_string().contains("UTF-16"), "{e}");
    std::fs::write(&p, b"0.5\n1.0\n1.\xe9\n").unwrap();
    let e = read_beats(&p).unwrap_err();
    assert!(matches!(e, Error::Parse { line: 3, .. }), "{e}");
    // Missing files and .jamz.
    let e = read_beats(&dir.path().join("missing.csv")).unwrap_err();
    assert_eq!(e.code(), "io");
    let e = read_beats(&dir.path().join("x.jamz")).unwrap_err();
    assert!(e.to_string().contains(".jamz"));
}

#[test]
fn errors_name_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, &str, usize, &str); 7] = [
        ("a.csv", "time_s\n0.5\n\n0.25\n", 4, "must increase"),
        ("b.csv", "time_s\n0.5\n0.5\n", 3, "duplicate"),
        ("c.beats", "# x\n-1.0\n", 2, "negative"),
        ("d.beats", "0.5\nnan\n", 2, "not a finite number"),
        ("e.txt", "0.5\n1.0 abc\n", 2, "beat position 'abc'"),
        (
            "f.jams",
            "{\"annotations\": [{\"namespace\": \"beat\",\n\"data\": [\n{\"time\": 1.0},\n{\"time\": 1.0}]}]}",
            4,
            "duplicate beat time 1 s (also on line 3)",
        ),
        (
            "g.jams",
            "{\"annotations\": [{\"namespace\": \"beat\", \"data\": [\n{\"time\": \"x\"}]}]}",
            2,
            "invalid type",
        ),
    ];
    for (name, text, line, needle) in cases {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        match read_beats(&p) {
            Err(Error::Parse {
                path,
                line: l,
                detail,
            }) => {
                assert_eq!(path, p);
                assert_eq!(l, line, "{name}: {detail}");
                assert!(detail.contains(needle), "{name}: {detail}");
            }
            other => panic!("{name}: expected a parse error, got {other:?}"),
        }
    }
}

/// Mutates valid files byte by byte (deterministically) and checks that every reader
/// returns instead of panicking, and that anything it accepts satisfies the invariants.
#[test]
fn readers_never_panic_on_mangled_input() {
    let beats = sample_beats(true);
    let meta = full_meta();
    let alphabet = b"0123456789.,;:-+eE \t\n\r#\"{}[]nul\xc3\xa9";
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut accepted = 0;
    for format in TEXT_FORMATS {
        let valid = format_beats(&beats, format, &meta).unwrap().into_bytes();
        for _ in 0..400 {
            let mut bytes = valid.clone();
            for _ in 0..1 + next() % 6 {
                let i = (next() as usize) % bytes.len();
                match next() % 3 {
                    0 => bytes[i] = alphabet[(next() as usize) % alphabet.len()],
                    1 => {
                        bytes.remove(i);
                    }
                    _ => bytes.truncate(i),
                }
                if bytes.is_empty() {
                    break;
                }
            }
            let text = String::from_utf8_lossy(&bytes);
            for parse_as in TEXT_FORMATS {
                if let Ok(b) = parse_beats(&text, parse_as, Path::new("m")) {
                    b.validate().unwrap();
                    accepted += 1;
                }
            }
        }
    }
    // Some mutations (e.g. in a comment or a digit) still parse.
    assert!(accepted > 0);
}
