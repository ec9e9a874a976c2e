//! madmom / mir_eval plain-text beat files (`.beats`, `.beats.txt`, `.txt`).
//!
//! madmom writes one beat per line as `%.3f` (millisecond resolution), or `%.3f\t%d` with
//! the beat-in-bar number for downbeat output. At ZeroNS's 62.5 fps every frame time is a
//! multiple of 16 ms, so three decimals are exact for its beats.

use std::fmt::Write as _;
use std::path::Path;

use super::BeatList;
use super::text::{Row, content_lines, format_times, parse_position, parse_time, rows_to_beats};
use crate::Result;

/// Decimal places of the times written to `.beats` files (madmom's `%.3f`).
pub const BEATS_DECIMALS: usize = 3;

pub(crate) fn render(beats: &BeatList) -> Result<String> {
    let times = format_times(beats, BEATS_DECIMALS, ".beats")?;
    let mut out = String::with_capacity(8 * times.len());
    match &beats.positions {
        Some(pos) => {
            for (t, p) in times.iter().zip(pos) {
                let _ = writeln!(out, "{t}\t{p}");
            }
        }
        None => {
            for t in &times {
                out.push_str(t);
                out.push('\n');
            }
        }
    }
    Ok(out)
}

/// Reads madmom-style text: whitespace-separated columns, `#` comments, blank lines. Column
/// 0 is the time in seconds (`.` decimals); an optional second column of whole numbers >= 1
/// is the beat position (Ballroom/GTZAN `time beat` and madmom downbeat files); further
/// columns are ignored.
pub(crate) fn parse(text: &str, path: &Path) -> Result<BeatList> {
    let mut rows = Vec::new();
    for (line, content) in content_lines(text) {
        let mut fields = content.split_whitespace();
        let time_s = parse_time(fields.next().unwrap_or(""), path, line)?;
        let position = fields
            .next()
            .map(|f| parse_position(f, path, line))
            .transpose()?;
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

    #[test]
    fn madmom_and_ballroom_styles() {
        let path = Path::new("a.beats");
        let b = parse("# madmom\n0.500\t1\n1.000\t2\n\n1.520\t3\n", path).unwrap();
        assert_eq!(b.times_s, vec![0.5, 1.0, 1.52]);
        assert_eq!(b.positions, Some(vec![1, 2, 3]));
        let b = parse("0.23 1\n0.71  2 extra\n", path).unwrap();
        assert_eq!(b.positions, Some(vec![1, 2]));
        let b = parse("3.572970521541950273e+00\n4.04\n", path).unwrap();
        assert_eq!(b.times_s, vec![3.572_970_521_541_950_3, 4.04]);
        assert_eq!(b.positions, None);
    }

    #[test]
    fn faults_name_the_line() {
        let path = Path::new("a.beats");
        let e = parse("0.5\n1,0\n", path).unwrap_err();
        assert_eq!(e.to_string(), "a.beats:2: not a number: '1,0'");
        let e = parse("0.5\t1\n1.0\tx\n", path).unwrap_err();
        assert!(e.to_string().starts_with("a.beats:2: beat position 'x'"));
        let e = parse("0.5\n1.0\n0.9\n", path).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("a.beats:3: beat times must increase")
        );
    }
}
