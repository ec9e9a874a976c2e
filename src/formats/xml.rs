//! Shared XML helpers (quick-xml) for the Sonic Visualiser, Rekordbox and Traktor formats:
//! a flat element list with line numbers for the readers, attribute escaping for the
//! writers.

use std::borrow::Cow;
use std::path::Path;

use quick_xml::XmlVersion;
use quick_xml::events::{BytesStart, Event};

use super::text::{LineIndex, parse_err};
use crate::{Error, Result};

/// One start or empty element of a document.
#[derive(Debug)]
pub(crate) struct Element {
    /// Element name (with any namespace prefix).
    pub name: String,
    /// Attributes in document order, unescaped.
    pub attrs: Vec<(String, String)>,
    /// 1-based line where the element starts.
    pub line: usize,
    /// Index of the enclosing element in the list, `None` at the root.
    pub parent: Option<usize>,
}

impl Element {
    /// The value of attribute `key` (exact, case-sensitive name).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// A required attribute.
    pub fn require(&self, key: &str, path: &Path) -> Result<&str> {
        self.get(key).ok_or_else(|| {
            parse_err(
                path,
                self.line,
                format!("<{}> has no {key} attribute", self.name),
            )
        })
    }

    /// A finite number in attribute `key` ('.' decimals, surrounding spaces allowed).
    pub fn number(&self, key: &str, path: &Path) -> Result<f64> {
        let text = self.require(key, path)?;
        match text.trim().parse::<f64>() {
            Ok(x) if x.is_finite() => Ok(x),
            _ => Err(parse_err(
                path,
                self.line,
                format!("<{}> {key}=\"{text}\" is not a finite number", self.name),
            )),
        }
    }

    /// An optional finite number: `None` when the attribute is absent.
    pub fn opt_number(&self, key: &str, path: &Path) -> Result<Option<f64>> {
        match self.get(key) {
            None => Ok(None),
            Some(_) => self.number(key, path).map(Some),
        }
    }
}

/// Parses `text` into a flat list of its elements (document order). Malformed XML
/// (mismatched tags, bad attributes, unknown entities, a truncated document) is an
/// [`Error::Parse`] at the line where quick-xml noticed it.
pub(crate) fn elements(text: &str, path: &Path) -> Result<Vec<Element>> {
    let lines = LineIndex::new(text);
    let mut reader = quick_xml::Reader::from_str(text);
    let mut out: Vec<Element> = Vec::new();
    let mut stack: Vec<usize> = Vec::new();
    let err_at = |pos: u64, detail: String| -> Error {
        let pos = usize::try_from(pos).unwrap_or(usize::MAX);
        parse_err(path, lines.line_at(pos), format!("invalid XML: {detail}"))
    };
    loop {
        let start = reader.buffer_position();
        let event = reader
            .read_event()
            .map_err(|e| err_at(reader.error_position(), e.to_string()))?;
        match event {
            Event::Start(e) => {
                let el = element(&e, start, &lines, stack.last().copied())
                    .map_err(|d| err_at(start, d))?;
                stack.push(out.len());
                out.push(el);
            }
            Event::Empty(e) => {
                let el = element(&e, start, &lines, stack.last().copied())
                    .map_err(|d| err_at(start, d))?;
                out.push(el);
            }
            Event::End(_) => {
                stack.pop();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if let Some(&open) = stack.last() {
        let name = out.get(open).map_or("", |e| e.name.as_str());
        return Err(parse_err(
            path,
            lines.line_at(text.len()),
            format!("invalid XML: the document ends inside <{name}> (truncated file?)"),
        ));
    }
    if out.is_empty() {
        return Err(parse_err(path, 1, "not an XML document (no element found)"));
    }
    Ok(out)
}

fn element(
    e: &BytesStart<'_>,
    start: u64,
    lines: &LineIndex<'_>,
    parent: Option<usize>,
) -> std::result::Result<Element, String> {
    let name = e.name().into_inner().to_string();
    let mut attrs = Vec::new();
    for a in e.attributes() {
        let a = a.map_err(|e| e.to_string())?;
        let key = a.key.into_inner().to_string();
        let value = a
            .normalized_value(XmlVersion::Implicit1_0)
            .map_err(|e| format!("attribute {key}: {e}"))?
            .into_owned();
        attrs.push((key, value));
    }
    // Text between tags is an event of its own, so `start` is the offset of the `<`.
    let line = lines.line_at(usize::try_from(start).unwrap_or(usize::MAX));
    Ok(Element {
        name,
        attrs,
        line,
        parent,
    })
}

/// Escapes text for a double-quoted XML attribute value: markup characters as entities,
/// tab/newline/carriage return as character references (so attribute-value normalisation
/// keeps them), and the control characters XML 1.0 forbids removed.
pub(crate) fn attr(value: &str) -> Cow<'_, str> {
    let clean = |c: char| matches!(c, '\t' | '\n' | '\r') || !c.is_control() || c as u32 >= 0x7f;
    if value
        .chars()
        .all(|c| clean(c) && !matches!(c, '<' | '>' | '&' | '"' | '\'' | '\t' | '\n' | '\r'))
    {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len() + 16);
    for c in value.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c if !clean(c) => {}
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elements_lines_and_parents() {
        let text = "<?xml version=\"1.0\"?>\n<a x=\"1 &amp; 2\">\n  <b y=\"&#10;\"/>\n  <c>\n<d/></c>\n</a>\n";
        let els = elements(text, Path::new("t.xml")).unwrap();
        let names: Vec<_> = els
            .iter()
            .map(|e| (e.name.as_str(), e.line, e.parent))
            .collect();
        assert_eq!(
            names,
            vec![
                ("a", 2, None),
                ("b", 3, Some(0)),
                ("c", 4, Some(0)),
                ("d", 5, Some(2))
            ]
        );
        assert_eq!(els[0].get("x"), Some("1 & 2"));
        assert_eq!(els[1].get("y"), Some("\n"));
    }

    #[test]
    fn malformed_xml_names_the_line() {
        let p = Path::new("t.xml");
        for (text, line) in [
            ("<a>\n<b>\n</a>", 3),
            ("<a>\n<b x=\"1\" x=\"2\"/></a>", 2),
            ("<a>\n<b x=\"&bogus;\"/></a>", 2),
            ("<a>\n<b/>\n", 3),
            ("plain text", 1),
        ] {
            let e = elements(text, p).unwrap_err();
            assert!(
                matches!(e, Error::Parse { line: l, .. } if l == line),
                "{text:?}: {e}"
            );
        }
    }

    #[test]
    fn attribute_escaping_round_trips() {
        let raw = "Señor \"Q\" <&> 'x'\tA\nB\u{1}";
        let text = format!("<a v=\"{}\"/>", attr(raw));
        let els = elements(&text, Path::new("t")).unwrap();
        assert_eq!(els[0].get("v"), Some("Señor \"Q\" <&> 'x'\tA\nB"));
        assert!(matches!(attr("plain"), Cow::Borrowed(_)));
    }
}
