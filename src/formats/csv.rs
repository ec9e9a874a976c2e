//! CSV beat lists.
//!
//! Written as a `time_s` column (plus `beat_position` when positions are known) with six
//! decimals: microsecond resolution is far below any audible or measurable beat error
//! (one sample at 44.1 kHz is 22.7 µs) and keeps the file readable in a spreadsheet,
//! whereas the shortest round-trip representation would print computed times such as
//! `0.30000000000000004`. This is also what Audacity and Sonic Visualiser write.
//!
//! The reader accepts what spreadsheets and other tools commonly produce; see
//! [`parse`].

use std::fmt::Write as _;
use std::path::Path;

use super::BeatList;
use super::text::{Row, content_lines, parse_err, parse_position, parse_time, rows_to_beats};
use crate::Result;

/// Decimal places of the times written to CSV files.
pub const CSV_DECIMALS: usize = 6;

pub(crate) fn render(beats: &BeatList) -> Result<String> {
    let times = super::text::format_times(beats, CSV_DECIMALS, "CSV")?;
    let mut out = String::with_capacity(16 * (times.len() + 1));
    match &beats.positions {
        Some(pos) => {
            out.push_str("time_s,beat_position\n");
            for (t, p) in times.iter().zip(pos) {
                let _ = writeln!(out, "{t},{p}");
            }
        }
        None => {
            out.push_str("time_s\n");
            for t in &times {
                out.push_str(t);
                out.push('\n');
            }
        }
    }
    Ok(out)
}

#[derive(Clone, Copy, PartialEq)]
enum Delimiter {
    Semicolon,
    Tab,
    Comma,
    Whitespace,
}

impl Delimiter {
    fn split(self, line: &str) -> Vec<&str> {
        let fields: Vec<&str> = match self {
            Delimiter::Semicolon => line.split(';').collect(),
            Delimiter::Tab => line.split('\t').collect(),
            Delimiter::Comma => line.split(',').collect(),
            Delimiter::Whitespace => line.split_whitespace().collect(),
        };
        fields
            .into_iter()
            .map(|f| {
                let f = f.trim();
                f.strip_prefix('"')
                    .and_then(|g| g.strip_suffix('"'))
                    .unwrap_or(f)
                    .trim()
            })
            .collect()
    }

    /// A comma inside a field is a decimal comma only when it cannot be the delimiter.
    fn comma_decimals(self) -> bool {
        matches!(self, Delimiter::Semicolon | Delimiter::Tab)
    }
}

fn number_text(field: &str, comma_decimals: bool) -> std::borrow::Cow<'_, str> {
    if comma_decimals && field.contains(',') && !field.contains('.') {
        field.replacen(',', ".", 1).into()
    } else {
        field.into()
    }
}

/// Column roles found in a header.
fn header_columns(names: &[&str]) -> (usize, Option<usize>) {
    let lower: Vec<String> = names.iter().map(|n| n.to_ascii_lowercase()).collect();
    let is_time = |n: &str| n.contains("time") || n.contains("sec") || n == "t" || n == "onset";
    let is_pos = |n: &str| {
        n.contains("position")
            || n.contains("pos")
            || n.contains("beat_number")
            || n.contains("in_bar")
            || ["beat", "label", "count", "number", "num"].contains(&n)
    };
    let time = lower.iter().position(|n| is_time(n)).unwrap_or(0);
    let pos = lower
        .iter()
        .enumerate()
        .position(|(i, n)| i != time && is_pos(n));
    (time, pos)
}

/// Reads a CSV-like beat list. Tolerated:
/// * a UTF-8 byte-order mark (removed by the caller), blank lines, `#` comments (whole
///   lines or trailing);
/// * an optional header line (recognised because its first field is not a number). With a
///   header, the time column is the one whose name contains `time`/`sec` (else the first)
///   and the position column one named like `beat_position`, `position`, `beat`, `label`,
///   `count`; other columns are ignored;
/// * `,`, `;`, tab or plain whitespace as the delimiter (the first of `;`, tab, `,` that
///   occurs anywhere in the data wins, else whitespace), fields in double quotes;
/// * decimal commas (`0,5`) where they are unambiguous, i.e. with `;` or tab delimiters;
/// * without a header, a second column of whole numbers >= 1 is read as beat positions;
///   further columns are ignored.
pub(crate) fn parse(text: &str, path: &Path) -> Result<BeatList> {
    let lines: Vec<(usize, &str)> = content_lines(text).collect();
    let delimiter = if lines.iter().any(|(_, l)| l.contains(';')) {
        Delimiter::Semicolon
    } else if lines.iter().any(|(_, l)| l.contains('\t')) {
        Delimiter::Tab
    } else if lines.iter().any(|(_, l)| l.contains(',')) {
        Delimiter::Comma
    } else {
        Delimiter::Whitespace
    };
    let comma_decimals = delimiter.comma_decimals();

    let mut data = &lines[..];
    let mut time_col = 0;
    let mut pos_col = Some(1);
    let mut named_pos = false;
    if let Some(((_, first), rest)) = lines.split_first() {
        let fields = delimiter.split(first);
        let first_field = fields.first().copied().unwrap_or("");
        if number_text(first_field, comma_decimals)
            .parse::<f64>()
            .is_err()
        {
            (time_col, pos_col) = header_columns(&fields);
            named_pos = pos_col.is_some();
            data = rest;
        }
    }

    let mut rows = Vec::with_capacity(data.len());
    for &(line, text) in data {
        let fields = delimiter.split(text);
        let time_field = fields.get(time_col).copied().unwrap_or("");
        if time_field.is_empty() {
            return Err(parse_err(path, line, "missing beat time"));
        }
        let time_s = parse_time(&number_text(time_field, comma_decimals), path, line)?;
        let position = match pos_col.and_then(|c| fields.get(c)) {
            Some(f) if !f.is_empty() => Some(parse_position(f, path, line)?),
            Some(_) if named_pos => {
                return Err(parse_err(path, line, "empty beat position"));
            }
            _ => None,
        };
        rows.push(Row {
            line,
            time_s,
            position,
        });
    }
    rows_to_beats(rows, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Result<BeatList> {
        parse(text, Path::new("t.csv"))
    }

    #[test]
    fn plain_and_header() {
        assert_eq!(p("0.5\n1.0\n").unwrap().times_s, vec![0.5, 1.0]);
        let b = p("time_s,beat_position\n0.5,1\n1,2\n").unwrap();
        assert_eq!(b.times_s, vec![0.5, 1.0]);
        assert_eq!(b.positions, Some(vec![1, 2]));
        // Header names pick the columns, in any order.
        let b = p("beat;time\n1;0,5\n2;1,25\n").unwrap();
        assert_eq!(b.times_s, vec![0.5, 1.25]);
        assert_eq!(b.positions, Some(vec![1, 2]));
        // An unknown extra column is ignored when there is a header.
        let b = p("time,confidence\n0.5,0.9\n1.0,0.3\n").unwrap();
        assert_eq!(b.positions, None);
    }

    #[test]
    fn delimiters_and_decimal_commas() {
        for text in [
            "0,5;1\n1,0;2\n",
            "0,5\t1\n1,0\t2\n",
            "0.5 1\n1.0   2\n",
            "\"0.5\",\"1\"\n\"1.0\",\"2\"\n",
            "0.5, 1\n1.0, 2\n",
        ] {
            let b = p(text).unwrap();
            assert_eq!(b.times_s, vec![0.5, 1.0], "{text:?}");
            assert_eq!(b.positions, Some(vec![1, 2]), "{text:?}");
        }
        // With comma delimiters "0,5" is two columns: time 0, position 5.
        let b = p("0,5\n1,1\n").unwrap();
        assert_eq!((b.times_s, b.positions), (vec![0.0, 1.0], Some(vec![5, 1])));
    }

    #[test]
    fn faults_name_the_line() {
        let e = p("time_s\n0.5\n# c\nabc\n").unwrap_err();
        assert_eq!(e.to_string(), "t.csv:4: not a number: 'abc'");
        let e = p("0.5,1\n1.0\n").unwrap_err();
        assert!(
            e.to_string().starts_with("t.csv:2: no beat position"),
            "{e}"
        );
        let e = p("0.5\n0.4\n").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("t.csv:2: beat times must increase")
        );
        let e = p("0.5\n0.5\n").unwrap_err();
        assert!(e.to_string().starts_with("t.csv:2: duplicate"));
        let e = p("-0.5\n").unwrap_err();
        assert!(e.to_string().starts_with("t.csv:1: negative"));
        let e = p("NaN\n").unwrap_err();
        assert!(e.to_string().starts_with("t.csv:1: beat time 'NaN'"));
        let e = p("0.5,0.5,1\n").unwrap_err();
        assert!(e.to_string().contains("position '0.5'"), "{e}");
        let e = p("time,position\n0.5,\n").unwrap_err();
        assert!(
            e.to_string().starts_with("t.csv:2: empty beat position"),
            "{e}"
        );
    }

    #[test]
    fn empty_input_is_an_empty_list() {
        let b = p("").unwrap();
        assert!(b.times_s.is_empty() && b.positions.is_none());
        assert!(p("time_s\n").unwrap().times_s.is_empty());
    }
}
