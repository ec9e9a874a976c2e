//! Shared helpers for the line-based readers and writers (CSV, `.beats`).

use std::path::Path;

use super::BeatList;
use crate::{Error, Result};

/// A parse error at a 1-based line.
pub(crate) fn parse_err(path: &Path, line: usize, detail: impl Into<String>) -> Error {
    Error::Parse {
        path: path.to_path_buf(),
        line,
        detail: detail.into(),
    }
}

/// Maps byte offsets of a file's text to 1-based line numbers.
pub(crate) struct LineIndex<'t> {
    text: &'t str,
    newlines: Vec<usize>,
}

impl<'t> LineIndex<'t> {
    pub(crate) fn new(text: &'t str) -> Self {
        let newlines = text
            .bytes()
            .enumerate()
            .filter_map(|(i, b)| (b == b'\n').then_some(i))
            .collect();
        Self { text, newlines }
    }

    /// 1-based line of the byte at `offset` (offsets past the end count as the last line).
    pub(crate) fn line_at(&self, offset: usize) -> usize {
        self.newlines.partition_point(|&nl| nl < offset) + 1
    }

    /// 1-based line where `part`, a sub-slice of the text, starts.
    pub(crate) fn line_of(&self, part: &str) -> usize {
        self.line_at((part.as_ptr() as usize).saturating_sub(self.text.as_ptr() as usize))
    }
}

/// Content lines of a text file: 1-based line number and the text with any `#` comment
/// (to the end of the line, as numpy's `loadtxt` does), surrounding whitespace and `\r`
/// removed. Blank and comment-only lines are skipped.
pub(crate) fn content_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines().enumerate().filter_map(|(i, line)| {
        let line = line.split('#').next().unwrap_or("").trim();
        (!line.is_empty()).then_some((i + 1, line))
    })
}

/// Parses a time in seconds. Accepts what Rust's `f64` parser accepts (`1`, `.5`, `1e3`,
/// `+2.0`) and rejects NaN and infinities.
pub(crate) fn parse_time(field: &str, path: &Path, line: usize) -> Result<f64> {
    let t: f64 = field
        .parse()
        .map_err(|_| parse_err(path, line, format!("not a number: '{field}'")))?;
    if !t.is_finite() {
        return Err(parse_err(
            path,
            line,
            format!("beat time '{field}' is not a finite number"),
        ));
    }
    Ok(t)
}

/// Parses a beat position (beat-in-bar, 1 = downbeat): a whole number >= 1, written as an
/// integer or as an integral decimal (`2.0`).
pub(crate) fn parse_position(field: &str, path: &Path, line: usize) -> Result<u32> {
    if let Ok(p) = field.parse::<u32>() {
        if p >= 1 {
            return Ok(p);
        }
    } else if let Ok(x) = field.parse::<f64>()
        && x.fract() == 0.0
        && x >= 1.0
        && x <= f64::from(u32::MAX)
    {
        return Ok(x as u32);
    }
    Err(parse_err(
        path,
        line,
        format!("beat position '{field}' is not a whole number >= 1 (1 = downbeat)"),
    ))
}

/// One parsed row: line number, time and optional position.
pub(crate) struct Row {
    pub line: usize,
    pub time_s: f64,
    pub position: Option<u32>,
}

/// Builds a [`BeatList`] from parsed rows, reporting (with the line) negative times,
/// times that go backwards or repeat, and a position column present on some rows only.
pub(crate) fn rows_to_beats(rows: Vec<Row>, path: &Path) -> Result<BeatList> {
    let with_pos = rows.iter().filter(|r| r.position.is_some()).count();
    if with_pos != 0 && with_pos != rows.len() {
        let with = rows.iter().find(|r| r.position.is_some());
        let without = rows.iter().find(|r| r.position.is_none());
        if let (Some(a), Some(b)) = (with, without) {
            return Err(parse_err(
                path,
                b.line,
                format!(
                    "no beat position on this line, but line {} has one; \
                     either every beat or none must have a position",
                    a.line
                ),
            ));
        }
    }
    let mut prev: Option<&Row> = None;
    for row in &rows {
        if row.time_s < 0.0 {
            return Err(parse_err(
                path,
                row.line,
                format!("negative beat time {} s", row.time_s),
            ));
        }
        if let Some(p) = prev {
            if row.time_s == p.time_s {
                return Err(parse_err(
                    path,
                    row.line,
                    format!(
                        "duplicate beat time {} s (also on line {})",
                        row.time_s, p.line
                    ),
                ));
            }
            if row.time_s < p.time_s {
                return Err(parse_err(
                    path,
                    row.line,
                    format!(
                        "beat times must increase: {} s comes after {} s on line {}",
                        row.time_s, p.time_s, p.line
                    ),
                ));
            }
        }
        prev = Some(row);
    }
    let times_s = rows.iter().map(|r| r.time_s).collect();
    let positions = (with_pos > 0).then(|| rows.iter().filter_map(|r| r.position).collect());
    Ok(BeatList { times_s, positions })
}

/// Formats every time with `decimals` places (`-0` normalised to `0`) and checks that the
/// rounded values still increase strictly, so the file reads back without duplicates.
/// (Correctly rounded formatting is monotone, so increasing times can only collide, never
/// swap: comparing neighbouring strings for equality is enough.)
pub(crate) fn format_times(beats: &BeatList, decimals: usize, what: &str) -> Result<Vec<String>> {
    let texts: Vec<String> = beats
        .times_s
        .iter()
        .map(|&t| format!("{:.*}", decimals, t + 0.0))
        .collect();
    if let Some(i) = texts.windows(2).position(|w| w[0] == w[1]) {
        return Err(Error::InvalidInput(format!(
            "beats {i} ({} s) and {} ({} s) both round to {} s at the {decimals}-decimal \
             resolution of {what}; they would be written as duplicates",
            beats.times_s[i],
            i + 1,
            beats.times_s[i + 1],
            texts[i]
        )));
    }
    Ok(texts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_and_blank_lines_are_skipped() {
        let lines: Vec<_> = content_lines("# head\n\n 1.0 # tail\r\n\t\n2.0\n").collect();
        assert_eq!(lines, vec![(3, "1.0"), (5, "2.0")]);
    }

    #[test]
    fn times_and_positions() {
        let p = Path::new("x");
        assert_eq!(parse_time(" 1.5".trim(), p, 1).unwrap(), 1.5);
        assert!(parse_time("nan", p, 1).is_err());
        assert!(parse_time("inf", p, 1).is_err());
        assert!(parse_time("1,5", p, 1).is_err());
        assert_eq!(parse_position("3", p, 1).unwrap(), 3);
        assert_eq!(parse_position("2.0", p, 1).unwrap(), 2);
        for bad in ["0", "-1", "1.5", "x", "nan", "1e12"] {
            let e = parse_position(bad, p, 7).unwrap_err();
            assert!(e.to_string().starts_with("x:7: "), "{e}");
        }
    }
}
