//! Sonic Visualiser time-instant layers (spec §4.5): the CSV that its "Export Annotation
//! Layer" writes (`time,label`, no header) and the `.svl` layer file (XML, times as
//! integer sample frames at the model's `sampleRate`). Labels carry the beat positions.

use std::fmt::Write as _;
use std::path::Path;

use super::text::{Row, format_times, parse_err, parse_position, parse_time, rows_to_beats};
use super::xml::{self, Element};
use super::{BeatList, ExportMeta};
use crate::{Error, Result};

/// Decimal places of the times in written Sonic Visualiser CSV (nanoseconds, as SV
/// writes them).
pub const SV_CSV_DECIMALS: usize = 9;

/// Sample rate of `.svl` frames when [`ExportMeta::sample_rate_hz`] is not set.
pub const SVL_DEFAULT_SAMPLE_RATE_HZ: u32 = 44_100;

/// Layer and model name in written `.svl` files.
const LAYER_NAME: &str = "Beats";

pub(crate) fn render_csv(beats: &BeatList) -> Result<String> {
    let times = format_times(beats, SV_CSV_DECIMALS, "Sonic Visualiser CSV")?;
    let mut out = String::with_capacity(16 * times.len());
    for (k, t) in times.iter().enumerate() {
        match beats.positions.as_ref().and_then(|p| p.get(k)) {
            Some(p) => {
                let _ = writeln!(out, "{t},{p}");
            }
            None => {
                out.push_str(t);
                out.push('\n');
            }
        }
    }
    Ok(out)
}

/// Splits one CSV line into time and label: the first field ends at the first `,`, tab
/// or run of spaces; the label is the rest, unquoted (`"a ""b"""` → `a "b"`).
fn split_instant(line: &str) -> (&str, String) {
    let line = line.trim();
    let cut = line
        .find(',')
        .or_else(|| line.find('\t'))
        .or_else(|| line.find(' '));
    let Some(cut) = cut else {
        return (line, String::new());
    };
    let time = line[..cut].trim();
    let rest = line[cut + 1..].trim();
    let label = match rest.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        Some(inner) => inner.replace("\"\"", "\""),
        None => rest.to_string(),
    };
    (time, label)
}

/// Reads a time-instants CSV: `time[,label]` per line, comma, tab or space separated,
/// blank lines skipped; a header line (first field not a number) is skipped. Labels
/// become positions only if every one is a whole number >= 1.
pub(crate) fn parse_csv(text: &str, path: &Path) -> Result<BeatList> {
    let mut rows = Vec::new();
    let mut labels = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        if raw.trim().is_empty() {
            continue;
        }
        let (time, label) = split_instant(raw);
        if rows.is_empty() && labels.is_empty() && time.parse::<f64>().is_err() {
            // A header line; at most one.
            labels.push((0, String::new()));
            continue;
        }
        rows.push(Row {
            line,
            time_s: parse_time(time, path, line)?,
            position: None,
        });
        labels.push((line, label));
    }
    if labels.first().is_some_and(|(l, _)| *l == 0) {
        labels.remove(0);
    }
    apply_labels(&mut rows, &labels, path)?;
    rows_to_beats(rows, path)
}

/// Sets positions from labels when every label is a whole number >= 1.
fn apply_labels(rows: &mut [Row], labels: &[(usize, String)], path: &Path) -> Result<()> {
    let numeric = !labels.is_empty()
        && labels
            .iter()
            .all(|(_, l)| l.trim().parse::<u32>().is_ok_and(|p| p >= 1));
    if numeric {
        for (row, (line, label)) in rows.iter_mut().zip(labels) {
            row.position = Some(parse_position(label.trim(), path, *line)?);
        }
    }
    Ok(())
}

pub(crate) fn render_svl(beats: &BeatList, meta: &ExportMeta) -> Result<String> {
    let sr = meta.sample_rate_hz.unwrap_or(SVL_DEFAULT_SAMPLE_RATE_HZ);
    if sr == 0 {
        return Err(Error::InvalidInput(
            "Sonic Visualiser export: sample rate 0 Hz".into(),
        ));
    }
    let sr_f = f64::from(sr);
    let mut frames = Vec::with_capacity(beats.len());
    for (k, &t) in beats.times_s.iter().enumerate() {
        let f = (t * sr_f).round();
        if f > 9.0e15 {
            return Err(Error::InvalidInput(format!(
                "beat {k} at {t} s is too late for sample frames"
            )));
        }
        let f = f as u64;
        if let Some(&prev) = frames.last()
            && f == prev
        {
            return Err(Error::InvalidInput(format!(
                "beats {} and {k} fall on the same sample frame {f} at {sr} Hz",
                k - 1
            )));
        }
        frames.push(f);
    }
    let start = frames.first().copied().unwrap_or(0);
    let end = frames.last().map_or(0, |f| f + 1);
    let mut out = String::with_capacity(600 + 40 * frames.len());
    out.push_str(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE sonic-visualiser>\n<sv>\n  <data>\n",
    );
    let _ = writeln!(
        out,
        "    <model id=\"1\" name=\"{LAYER_NAME}\" sampleRate=\"{sr}\" start=\"{start}\" end=\"{end}\" \
         type=\"sparse\" dimensions=\"1\" resolution=\"1\" notifyOnAdd=\"true\" dataset=\"0\" />"
    );
    out.push_str("    <dataset id=\"0\" dimensions=\"1\">\n");
    for (k, f) in frames.iter().enumerate() {
        let label = beats
            .positions
            .as_ref()
            .and_then(|p| p.get(k))
            .map_or(String::new(), u32::to_string);
        let _ = writeln!(out, "      <point frame=\"{f}\" label=\"{label}\" />");
    }
    out.push_str("    </dataset>\n  </data>\n  <display>\n");
    let _ = writeln!(
        out,
        "    <layer id=\"2\" type=\"timeinstants\" name=\"{LAYER_NAME}\" model=\"1\" plotStyle=\"0\" \
         colourName=\"Black\" colour=\"#000000\" darkBackground=\"false\" />"
    );
    out.push_str("  </display>\n</sv>\n");
    Ok(out)
}

/// The time-instant model to read: the one a `timeinstants` layer shows, else the first
/// sparse one-dimensional model.
fn pick_model<'e>(els: &'e [Element], path: &Path) -> Result<&'e Element> {
    let is_instants = |e: &&Element| {
        e.name == "model" && e.get("type") == Some("sparse") && e.get("dimensions") == Some("1")
    };
    let shown = els
        .iter()
        .filter(|e| e.name == "layer" && e.get("type") == Some("timeinstants"))
        .filter_map(|l| l.get("model"))
        .find_map(|id| {
            els.iter()
                .filter(is_instants)
                .find(|m| m.get("id") == Some(id))
        });
    if let Some(m) = shown.or_else(|| els.iter().find(is_instants)) {
        return Ok(m);
    }
    let models: Vec<String> = els
        .iter()
        .filter(|e| e.name == "model")
        .map(|m| {
            format!(
                "{} (type {}, dimensions {})",
                m.get("name").unwrap_or("?"),
                m.get("type").unwrap_or("?"),
                m.get("dimensions").unwrap_or("?")
            )
        })
        .collect();
    Err(parse_err(
        path,
        0,
        format!(
            "no time-instants layer (a sparse model with dimensions=\"1\"); models found: {}",
            if models.is_empty() {
                "none".into()
            } else {
                models.join(", ")
            }
        ),
    ))
}

/// Reads a `.svl` layer (or an uncompressed `.sv` session): the points of the
/// time-instants model, at its `sampleRate`. Frames must be whole numbers >= 0 in
/// increasing order; labels become positions only if every one is a whole number >= 1.
pub(crate) fn parse_svl(text: &str, path: &Path) -> Result<BeatList> {
    let els = xml::elements(text, path)?;
    if els.first().is_some_and(|e| e.name != "sv") {
        return Err(parse_err(
            path,
            els[0].line,
            format!(
                "not a Sonic Visualiser file: the root element is <{}>",
                els[0].name
            ),
        ));
    }
    let model = pick_model(&els, path)?;
    let sr = model.number("sampleRate", path)?;
    if sr <= 0.0 {
        return Err(parse_err(
            path,
            model.line,
            format!("<model> sampleRate=\"{sr}\" must be > 0"),
        ));
    }
    let dataset_id = model.require("dataset", path)?;
    let dataset = els
        .iter()
        .position(|e| e.name == "dataset" && e.get("id") == Some(dataset_id))
        .ok_or_else(|| {
            parse_err(
                path,
                model.line,
                format!("<model> refers to dataset {dataset_id}, which the file does not have"),
            )
        })?;
    let mut rows = Vec::new();
    let mut labels = Vec::new();
    for point in els
        .iter()
        .filter(|e| e.parent == Some(dataset) && e.name == "point")
    {
        let frame = point.number("frame", path)?;
        if frame < 0.0 || frame.fract() != 0.0 {
            return Err(parse_err(
                path,
                point.line,
                format!("<point> frame=\"{frame}\" is not a whole number >= 0"),
            ));
        }
        rows.push(Row {
            line: point.line,
            time_s: frame / sr,
            position: None,
        });
        labels.push((point.line, point.get("label").unwrap_or("").to_string()));
    }
    apply_labels(&mut rows, &labels, path)?;
    rows_to_beats(rows, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_labels_and_quotes() {
        let path = Path::new("sv.csv");
        let b = parse_csv("0.500000000,1\n1.000000000,2\n", path).unwrap();
        assert_eq!((b.times_s, b.positions), (vec![0.5, 1.0], Some(vec![1, 2])));
        let b = parse_csv("0.5,\"New, Point\"\n1.0,\"x \"\"y\"\"\"\n", path).unwrap();
        assert_eq!((b.times_s, b.positions), (vec![0.5, 1.0], None));
        let b = parse_csv("time,label\n0.5\n1.0\n", path).unwrap();
        assert_eq!(b.times_s, vec![0.5, 1.0]);
        let e = parse_csv("0.5,1\nabc,2\n", path).unwrap_err();
        assert!(e.to_string().starts_with("sv.csv:2: not a number"), "{e}");
        let e = parse_csv("0.5\n0.5\n", path).unwrap_err();
        assert!(e.to_string().starts_with("sv.csv:2: duplicate"), "{e}");
    }

    #[test]
    fn svl_faults_name_the_element() {
        let path = Path::new("l.svl");
        let head = "<sv>\n<data>\n<model id=\"1\" sampleRate=\"100\" type=\"sparse\" dimensions=\"1\" dataset=\"0\"/>\n<dataset id=\"0\">\n";
        let ok = format!(
            "{head}<point frame=\"50\" label=\"1\"/>\n<point frame=\"100\" label=\"2\"/>\n</dataset></data></sv>"
        );
        let b = parse_svl(&ok, path).unwrap();
        assert_eq!((b.times_s, b.positions), (vec![0.5, 1.0], Some(vec![1, 2])));
        for (body, line, needle) in [
            (
                "<point frame=\"50\"/>\n<point frame=\"40\"/>\n",
                6,
                "must increase",
            ),
            ("<point frame=\"-5\"/>\n", 5, "whole number >= 0"),
            ("<point frame=\"1.5\"/>\n", 5, "whole number >= 0"),
            ("<point frame=\"x\"/>\n", 5, "not a finite number"),
            ("<point label=\"1\"/>\n", 5, "no frame attribute"),
        ] {
            let text = format!("{head}{body}</dataset></data></sv>");
            let e = parse_svl(&text, path).unwrap_err();
            assert!(
                matches!(&e, Error::Parse { line: l, detail, .. } if *l == line && detail.contains(needle)),
                "{body}: {e}"
            );
        }
        let e = parse_svl(
            "<sv><data><model id=\"1\" type=\"dense\"/></data></sv>",
            path,
        )
        .unwrap_err();
        assert!(e.to_string().contains("no time-instants layer"), "{e}");
        let e = parse_svl("<x/>", path).unwrap_err();
        assert!(e.to_string().contains("root element is <x>"), "{e}");
    }
}
