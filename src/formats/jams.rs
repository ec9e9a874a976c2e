//! JAMS (JSON Annotated Music Specification, marl/jams 0.3.5) beat annotations.
//!
//! Written files follow `specs/tracking-metrics-formats.md` §4.1: every key the jams
//! library writes, `file_metadata.duration` always present (jams cannot load a file
//! without it), one `beat` annotation whose observations have `value` = beat position or
//! null, `confidence` null and `duration` 0, sorted by time, and optionally a `tempo`
//! annotation. `tests/formats.rs` validates them against the jams 0.3.5 schemas.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

use super::text::{LineIndex, parse_err};
use super::{BeatList, ExportMeta};
use crate::{Error, Result};

/// The jams release whose schema the writer follows.
pub const JAMS_VERSION: &str = "0.3.5";

/// Serialises as `{}`.
#[derive(Serialize)]
struct Empty {}

#[derive(Serialize)]
struct FileMetadata<'a> {
    title: &'a str,
    artist: &'a str,
    release: &'a str,
    duration: f64,
    identifiers: Empty,
    jams_version: &'static str,
}

#[derive(Serialize)]
struct Curator {
    name: &'static str,
    email: &'static str,
}

#[derive(Serialize)]
struct AnnotationMetadata<'a> {
    curator: Curator,
    annotator: Empty,
    version: &'a str,
    corpus: &'a str,
    annotation_tools: &'a str,
    annotation_rules: &'a str,
    validation: &'a str,
    data_source: &'a str,
}

#[derive(Serialize)]
struct Observation {
    time: f64,
    duration: f64,
    value: Value,
    confidence: Value,
}

#[derive(Serialize)]
struct Annotation<'a> {
    annotation_metadata: AnnotationMetadata<'a>,
    namespace: &'static str,
    data: Vec<Observation>,
    sandbox: Empty,
    time: f64,
    duration: f64,
}

#[derive(Serialize)]
struct Jams<'a> {
    file_metadata: FileMetadata<'a>,
    annotations: Vec<Annotation<'a>>,
    sandbox: Empty,
}

fn metadata<'a>(meta: &'a ExportMeta, tools: &'a str, source: &'a str) -> AnnotationMetadata<'a> {
    AnnotationMetadata {
        curator: Curator {
            name: "",
            email: "",
        },
        annotator: Empty {},
        version: &meta.annotation_version,
        corpus: "",
        annotation_tools: tools,
        annotation_rules: "",
        validation: "",
        data_source: source,
    }
}

pub(crate) fn render(beats: &BeatList, meta: &ExportMeta) -> Result<String> {
    let last = beats.times_s.last().copied().unwrap_or(0.0);
    let duration = match meta.duration_s {
        Some(d) if !(d.is_finite() && d >= 0.0) => {
            return Err(Error::InvalidInput(format!(
                "JAMS export: duration {d} s must be a finite number >= 0"
            )));
        }
        Some(d) if last > d => {
            return Err(Error::InvalidInput(format!(
                "JAMS export: the last beat ({last} s) lies after the end of the audio ({d} s)"
            )));
        }
        Some(d) => d,
        None => last,
    };
    let data = beats
        .times_s
        .iter()
        .enumerate()
        .map(|(i, &t)| Observation {
            time: t + 0.0, // -0.0 -> 0.0
            duration: 0.0,
            value: beats
                .positions
                .as_ref()
                .and_then(|p| p.get(i))
                .map_or(Value::Null, |&p| Value::from(p)),
            confidence: Value::Null,
        })
        .collect();
    let mut annotations = vec![Annotation {
        annotation_metadata: metadata(meta, &meta.annotation_tools, &meta.data_source),
        namespace: "beat",
        data,
        sandbox: Empty {},
        time: 0.0,
        duration,
    }];
    if let Some(bpm) = meta.tempo_bpm {
        if !(bpm.is_finite() && bpm > 0.0) {
            return Err(Error::InvalidInput(format!(
                "JAMS export: tempo {bpm} BPM must be a finite number > 0"
            )));
        }
        annotations.push(Annotation {
            annotation_metadata: metadata(meta, &meta.annotation_tools, &meta.data_source),
            namespace: "tempo",
            // The jams tempo namespace requires a confidence in [0, 1].
            data: vec![Observation {
                time: 0.0,
                duration,
                value: Value::from(bpm),
                confidence: Value::from(1.0),
            }],
            sandbox: Empty {},
            time: 0.0,
            duration,
        });
    }
    let doc = Jams {
        file_metadata: FileMetadata {
            title: &meta.title,
            artist: &meta.artist,
            release: &meta.release,
            duration,
            identifiers: Empty {},
            jams_version: JAMS_VERSION,
        },
        annotations,
        sandbox: Empty {},
    };
    let mut text = serde_json::to_string_pretty(&doc)
        .map_err(|e| Error::InvalidInput(format!("JAMS export: {e}")))?;
    text.push('\n');
    Ok(text)
}

#[derive(Deserialize)]
struct DocIn<'a> {
    #[serde(borrow)]
    annotations: Vec<AnnotationIn<'a>>,
}

#[derive(Deserialize)]
struct AnnotationIn<'a> {
    namespace: String,
    #[serde(borrow)]
    data: &'a RawValue,
}

#[derive(Deserialize)]
struct ObservationIn {
    time: f64,
    #[serde(default)]
    value: Value,
}

#[derive(Deserialize)]
struct DenseIn {
    time: Vec<f64>,
    #[serde(default)]
    value: Vec<Value>,
}

fn json_err(path: &Path, lines: &LineIndex, part: &str, e: &serde_json::Error) -> Error {
    // serde_json counts lines within `part`; shift them to the file.
    let line = lines.line_of(part) + e.line().saturating_sub(1);
    let mut detail = e.to_string();
    if let Some(i) = detail.find(" at line ") {
        detail.truncate(i);
    }
    parse_err(path, line, format!("invalid JAMS: {detail}"))
}

/// The beat position encoded in an observation value: a whole number >= 1 (`beat`
/// namespace) or an object's `position` (`beat_position` namespace).
fn position_of(value: &Value) -> Option<u32> {
    let v = match value {
        Value::Object(o) => o.get("position")?,
        v => v,
    };
    let x = v.as_f64()?;
    (x.fract() == 0.0 && x >= 1.0 && x <= f64::from(u32::MAX)).then_some(x as u32)
}

/// Reads the first `beat` annotation (or, if there is none, the first `beat_position`
/// one). As the jams library does on load, observations are ordered by time; negative or
/// repeated times are errors that name the line. Positions are kept only if every
/// observation has a whole-number position >= 1; otherwise (null, fractional) the list
/// has times only. Only the observations' `time` and `value` are read.
pub(crate) fn parse(text: &str, path: &Path) -> Result<BeatList> {
    let lines = LineIndex::new(text);
    let doc: DocIn = serde_json::from_str(text).map_err(|e| json_err(path, &lines, text, &e))?;
    let annotation = ["beat", "beat_position"]
        .iter()
        .find_map(|ns| doc.annotations.iter().find(|a| a.namespace == *ns))
        .ok_or_else(|| {
            let found: Vec<&str> = doc
                .annotations
                .iter()
                .map(|a| a.namespace.as_str())
                .collect();
            parse_err(
                path,
                0,
                format!(
                    "no annotation with namespace 'beat' or 'beat_position' (found: {})",
                    if found.is_empty() {
                        "none".to_string()
                    } else {
                        found.join(", ")
                    }
                ),
            )
        })?;
    let raw = annotation.data.get();
    let data_line = lines.line_of(raw);
    // (line, time, value)
    let mut obs: Vec<(usize, f64, Value)> = Vec::new();
    if raw.trim_start().starts_with('{') {
        let dense: DenseIn =
            serde_json::from_str(raw).map_err(|e| json_err(path, &lines, raw, &e))?;
        let mut values = dense.value.into_iter();
        for t in dense.time {
            obs.push((data_line, t, values.next().unwrap_or(Value::Null)));
        }
    } else {
        let items: Vec<&RawValue> =
            serde_json::from_str(raw).map_err(|e| json_err(path, &lines, raw, &e))?;
        for item in items {
            let o: ObservationIn = serde_json::from_str(item.get())
                .map_err(|e| json_err(path, &lines, item.get(), &e))?;
            obs.push((lines.line_of(item.get()), o.time, o.value));
        }
    }
    if let Some((line, t, _)) = obs.iter().find(|o| o.1 < 0.0) {
        return Err(parse_err(path, *line, format!("negative beat time {t} s")));
    }
    // jams keeps observations in a list sorted by time (stable for equal times).
    obs.sort_by(|a, b| a.1.total_cmp(&b.1));
    if let Some(w) = obs.windows(2).find(|w| w[0].1 == w[1].1) {
        return Err(parse_err(
            path,
            w[1].0,
            format!("duplicate beat time {} s (also on line {})", w[1].1, w[0].0),
        ));
    }
    let positions: Option<Vec<u32>> = obs.iter().map(|o| position_of(&o.2)).collect();
    Ok(BeatList {
        times_s: obs.iter().map(|o| o.1).collect(),
        positions: positions.filter(|p| !p.is_empty()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_name_the_line() {
        let path = Path::new("x.jams");
        let text = "{\"annotations\": [{\"namespace\": \"beat\", \"data\": [\n\
                    {\"time\": 0.5, \"value\": 1},\n\
                    {\"time\": -1.0, \"value\": 2}\n]}]}";
        let e = parse(text, path).unwrap_err();
        assert_eq!(e.to_string(), "x.jams:3: negative beat time -1 s");
        let text = "{\"annotations\": [{\"namespace\": \"beat\", \"data\": [\n\
                    {\"time\": 0.5},\n\
                    {\"value\": 2}\n]}]}";
        let e = parse(text, path).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("x.jams:3: invalid JAMS: missing field `time`")
        );
        let e = parse("{\"annotations\": [\n}", path).unwrap_err();
        assert!(e.to_string().starts_with("x.jams:2: invalid JAMS"), "{e}");
        let e = parse(
            "{\"annotations\": [{\"namespace\": \"tempo\", \"data\": []}]}",
            path,
        )
        .unwrap_err();
        assert!(e.to_string().contains("found: tempo"), "{e}");
    }

    #[test]
    fn unsorted_observations_are_ordered_like_jams_does() {
        let text = r#"{"annotations": [{"namespace": "beat", "data": [
            {"time": 1.0, "duration": 0, "value": 2, "confidence": null},
            {"time": 0.5, "duration": 0, "value": 1, "confidence": null}]}]}"#;
        let b = parse(text, Path::new("x.jams")).unwrap();
        assert_eq!(b.times_s, vec![0.5, 1.0]);
        assert_eq!(b.positions, Some(vec![1, 2]));
        let dup = text.replace("0.5", "1.0");
        let e = parse(&dup, Path::new("x.jams")).unwrap_err();
        assert!(e.to_string().contains("duplicate beat time 1 s"), "{e}");
    }

    #[test]
    fn dense_and_beat_position_namespaces() {
        let text = r#"{"annotations": [{"namespace": "beat", "data":
            {"time": [0.5, 1.0], "duration": [0, 0], "value": [null, null], "confidence": [null, null]}}]}"#;
        let b = parse(text, Path::new("x.jams")).unwrap();
        assert_eq!((b.times_s, b.positions), (vec![0.5, 1.0], None));
        let text = r#"{"annotations": [{"namespace": "beat_position", "data": [
            {"time": 0.5, "duration": 0, "confidence": null,
             "value": {"position": 3, "measure": 0, "num_beats": 4, "beat_units": 4}}]}]}"#;
        let b = parse(text, Path::new("x.jams")).unwrap();
        assert_eq!(b.positions, Some(vec![3]));
    }
}
