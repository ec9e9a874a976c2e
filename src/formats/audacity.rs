//! Audacity label tracks (spec §4.6): `start<TAB>end<TAB>label` per line, times in
//! seconds with six decimals (what Audacity writes), a point label having start == end.
//! Beats are point labels whose text is the beat position, or empty when unknown.

use std::fmt::Write as _;
use std::path::Path;

use super::BeatList;
use super::text::{Row, format_times, parse_err, parse_position, parse_time, rows_to_beats};
use crate::Result;

/// Decimal places of the times in written label files (Audacity's own).
pub const AUDACITY_DECIMALS: usize = 6;

pub(crate) fn render(beats: &BeatList) -> Result<String> {
    let times = format_times(beats, AUDACITY_DECIMALS, "Audacity labels")?;
    let mut out = String::with_capacity(24 * times.len());
    for (k, t) in times.iter().enumerate() {
        match beats.positions.as_ref().and_then(|p| p.get(k)) {
            Some(p) => {
                let _ = writeln!(out, "{t}\t{t}\t{p}");
            }
            None => {
                let _ = writeln!(out, "{t}\t{t}\t");
            }
        }
    }
    Ok(out)
}

/// True when `.txt` text is an Audacity label track rather than `.beats`: some line has
/// three or more tab-separated fields, a non-numeric label after a tab (legacy
/// `start\tlabel`), or starts with `\` (the extended format's frequency lines).
pub(crate) fn looks_like(text: &str) -> bool {
    text.lines().take(64).any(|l| {
        let fields: Vec<&str> = l.trim_end_matches('\r').split('\t').collect();
        l.starts_with('\\')
            || fields.len() >= 3
            || (fields.len() == 2
                && !l.trim_start().starts_with('#')
                && !fields[1].split('#').next().unwrap_or("").trim().is_empty()
                && fields[1]
                    .split('#')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .parse::<f64>()
                    .is_err())
    })
}

/// A time field: `.` decimals, or a decimal comma (old Audacity versions wrote the
/// locale's separator; a comma cannot be a delimiter here).
fn time_field(field: &str, path: &Path, line: usize) -> Result<f64> {
    let field = field.trim();
    if field.contains(',') && !field.contains('.') {
        parse_time(&field.replacen(',', ".", 1), path, line)
    } else {
        parse_time(field, path, line)
    }
}

/// Reads a label track: `start\tend\tlabel` (label may be empty or missing), legacy
/// (Audacity 1.2) `start\tlabel`, or a bare time per line. Lines starting with `\`
/// (spectral-selection lines of the extended format) and blank lines are skipped. A
/// region label's beat is its start; an end before the start is an error. Labels become
/// beat positions only if every label is a whole number >= 1; any other text (empty,
/// `Beat`, `1.2`) leaves the list without positions.
pub(crate) fn parse(text: &str, path: &Path) -> Result<BeatList> {
    let mut rows = Vec::new();
    let mut labels: Vec<(usize, &str)> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let content = raw.trim_end_matches('\r');
        if content.starts_with('\\') || content.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = content.split('\t').collect();
        let start = time_field(fields[0], path, line)?;
        let label = match fields.len() {
            1 => "",
            2 => fields[1],
            _ => {
                let end = time_field(fields[1], path, line)?;
                if end < start {
                    return Err(parse_err(
                        path,
                        line,
                        format!("label ends ({end} s) before it starts ({start} s)"),
                    ));
                }
                fields[2]
            }
        };
        labels.push((line, label.trim()));
        rows.push(Row {
            line,
            time_s: start,
            position: None,
        });
    }
    let numeric = !labels.is_empty()
        && labels
            .iter()
            .all(|(_, l)| l.parse::<u32>().is_ok_and(|p| p >= 1));
    if numeric {
        for (row, (line, label)) in rows.iter_mut().zip(&labels) {
            row.position = Some(parse_position(label, path, *line)?);
        }
    }
    rows_to_beats(rows, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Result<BeatList> {
        parse(text, Path::new("l.txt"))
    }

    #[test]
    fn label_styles() {
        let b = p("0.500000\t0.500000\t1\n1.000000\t1.000000\t2\n").unwrap();
        assert_eq!((b.times_s, b.positions), (vec![0.5, 1.0], Some(vec![1, 2])));
        // Extended format, CRLF, region labels, text labels.
        let b = p("0.5\t0.6\tBeat one\r\n\\\t100.0\t2000.0\r\n1.0\t1.0\t\r\n").unwrap();
        assert_eq!((b.times_s, b.positions), (vec![0.5, 1.0], None));
        // Legacy two columns, bare times, decimal commas.
        let b = p("0.5\t3\n1.0\t4\n").unwrap();
        assert_eq!(b.positions, Some(vec![3, 4]));
        let b = p("0,5\n1,25\n").unwrap();
        assert_eq!((b.times_s, b.positions), (vec![0.5, 1.25], None));
        assert!(looks_like("0.5\t0.5\t1\n"));
        assert!(looks_like("0.5\tkick\n"));
        assert!(!looks_like("0.5\t1\n"));
        assert!(!looks_like("# a\tb\n0.5\n"));
    }

    #[test]
    fn faults_name_the_line() {
        let e = p("0.5\t0.5\t1\n1.0\t0.9\t2\n").unwrap_err();
        assert!(e.to_string().starts_with("l.txt:2: label ends"), "{e}");
        let e = p("0.5\t0.5\n0.4\t0.4\n").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("l.txt:2: beat times must increase"),
            "{e}"
        );
        let e = p("x\t0.5\t1\n").unwrap_err();
        assert!(e.to_string().starts_with("l.txt:1: not a number"), "{e}");
        let e = p("-1\t-1\t1\n").unwrap_err();
        assert!(e.to_string().starts_with("l.txt:1: negative"), "{e}");
    }

    #[test]
    fn writes_point_labels() {
        let b = BeatList::with_positions(vec![0.5, 1.52], vec![1, 2]).unwrap();
        assert_eq!(
            render(&b).unwrap(),
            "0.500000\t0.500000\t1\n1.520000\t1.520000\t2\n"
        );
        let b = BeatList::new(vec![0.5]);
        assert_eq!(render(&b).unwrap(), "0.500000\t0.500000\t\n");
    }
}
