//! The playbook's text and where each value sits in it.
//!
//! serde_yaml_ng reports a location only for the errors it raises itself (syntax, unknown or
//! duplicate keys, wrong types). Checks made after deserializing (a range outside the network,
//! a password policy below 80 bits...) need the place of a *value*, so [`Source`] walks the
//! document once with `saphyr-parser`'s event parser, which gives every event a span, and
//! records the span of every key and value under its path (`target.ranges[1]`).
//!
//! The same walk records keys repeated within one mapping: serde_yaml_ng reports a duplicate at
//! the start of its mapping, the walk finds the repeated key itself (and the first one).
//!
//! This walk only runs on text that serde_yaml_ng has parsed (accepted, or refused only for a
//! duplicate key), stops at the first syntax error, and never expands aliases (an event parser
//! does not), so it cannot be made to do more work than the text's size.

use super::error::{Diagnostic, Location};
use saphyr_parser::{Event, Parser, Span};
use std::collections::HashMap;

/// The spans of one node: its key (for mapping values) and its value.
#[derive(Debug, Clone, Copy)]
struct Node {
    key: Option<Location>,
    value: Location,
}

/// An open mapping or sequence during the walk.
struct Frame {
    path: String,
    kind: Kind,
    /// The container is itself a mapping key (`? [a, b]`).
    is_key: bool,
}

enum Kind {
    /// A mapping; `key` is the key waiting for its value, `seen` where each of its plain keys was.
    Map {
        key: Option<(String, Location)>,
        seen: HashMap<String, Location>,
    },
    /// A sequence; `next` is the index of its next item.
    Seq { next: usize },
}

/// A key that appears twice in one mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Duplicate {
    /// The key as written (without quotes).
    pub name: String,
    /// Its first occurrence.
    pub first: Location,
    /// The repeated one.
    pub again: Location,
}

/// The playbook's text, the name to show for it, and the location of each path.
#[derive(Debug)]
pub(crate) struct Source {
    file: String,
    lines: Vec<String>,
    nodes: HashMap<String, Node>,
    /// Repeated keys, in the order of their repetition.
    duplicates: Vec<Duplicate>,
}

fn location(span: &Span) -> Location {
    let (start, end) = (span.start, span.end);
    let len = if start.line() == end.line() {
        end.col().saturating_sub(start.col())
    } else {
        1
    };
    Location {
        line: start.line(),
        column: start.col() + 1,
        len,
    }
}

fn child(path: &str, segment: &str) -> String {
    if path.is_empty() {
        segment.to_string()
    } else {
        format!("{path}.{segment}")
    }
}

impl Source {
    /// The text's lines, without the index of values (enough to show serde's errors);
    /// `file` is how the playbook is named in messages.
    pub(crate) fn new(file: &str, text: &str) -> Source {
        Source {
            file: file.to_string(),
            lines: text.lines().map(str::to_string).collect(),
            nodes: HashMap::new(),
            duplicates: Vec::new(),
        }
    }

    /// The text's lines and the place of every value, to run once serde has accepted the text.
    pub(crate) fn indexed(file: &str, text: &str) -> Source {
        let mut source = Source::new(file, text);
        source.index(text);
        source
    }

    fn index(&mut self, text: &str) {
        let mut stack: Vec<Frame> = Vec::new();
        let mut documents = 0;
        for item in Parser::new_from_str(text) {
            // A syntax error the serde pass did not see: keep what was indexed so far.
            let Ok((event, span)) = item else { return };
            let loc = location(&span);
            match event {
                Event::DocumentStart(_) => {
                    documents += 1;
                    if documents > 1 {
                        return;
                    }
                }
                Event::Scalar(value, ..) => {
                    if let Some(Frame {
                        kind:
                            Kind::Map {
                                key: key @ None,
                                seen,
                            },
                        ..
                    }) = stack.last_mut()
                    {
                        let name = value.into_owned();
                        match seen.get(&name) {
                            Some(first) => self.duplicates.push(Duplicate {
                                name: name.clone(),
                                first: *first,
                                again: loc,
                            }),
                            None => {
                                seen.insert(name.clone(), loc);
                            }
                        }
                        *key = Some((name, loc));
                    } else {
                        self.record(&mut stack, loc);
                    }
                }
                Event::Alias(_) => {
                    if let Some(Frame {
                        kind:
                            Kind::Map {
                                key: key @ None, ..
                            },
                        ..
                    }) = stack.last_mut()
                    {
                        *key = Some(("*".to_string(), loc));
                    } else {
                        self.record(&mut stack, loc);
                    }
                }
                Event::MappingStart(..) | Event::SequenceStart(..) => {
                    let (path, is_key) = match stack.last_mut() {
                        // A complex key (a mapping used as a key): index it under `?`.
                        Some(Frame {
                            path,
                            kind: Kind::Map { key: None, .. },
                            ..
                        }) => (child(path, "?"), true),
                        _ => (self.record(&mut stack, loc), false),
                    };
                    let kind = if matches!(event, Event::MappingStart(..)) {
                        Kind::Map {
                            key: None,
                            seen: HashMap::new(),
                        }
                    } else {
                        Kind::Seq { next: 0 }
                    };
                    stack.push(Frame { path, kind, is_key });
                }
                Event::MappingEnd | Event::SequenceEnd => {
                    // A finished complex key leaves its mapping waiting for the value.
                    if stack.pop().is_some_and(|f| f.is_key)
                        && let Some(Frame {
                            kind: Kind::Map { key, .. },
                            ..
                        }) = stack.last_mut()
                    {
                        *key = Some(("?".to_string(), loc));
                    }
                }
                _ => {}
            }
        }
    }

    /// Records a value node at the current position and returns its path.
    fn record(&mut self, stack: &mut [Frame], value: Location) -> String {
        let (path, key) = match stack.last_mut() {
            None => (String::new(), None),
            Some(Frame {
                path,
                kind: Kind::Map { key, .. },
                ..
            }) => match key.take() {
                Some((name, at)) => (child(path, &name), Some(at)),
                None => (child(path, "?"), None),
            },
            Some(Frame {
                path,
                kind: Kind::Seq { next },
                ..
            }) => {
                let p = format!("{path}[{next}]");
                *next += 1;
                (p, None)
            }
        };
        self.nodes
            .entry(path.clone())
            .or_insert(Node { key, value });
        path
    }

    /// The location of the value at `path`. A value left to its default has no place of its
    /// own: then the key of its nearest ancestor present in the file (its section) is shown.
    pub(crate) fn value(&self, path: &str) -> Option<Location> {
        if let Some(node) = self.nodes.get(path) {
            return Some(node.value);
        }
        let mut p = parent(path)?;
        loop {
            if let Some(node) = self.nodes.get(p) {
                return Some(node.key.unwrap_or(node.value));
            }
            p = parent(p)?;
        }
    }

    /// The first repetition of the key `name` at or after `line` (where serde_yaml_ng saw its
    /// mapping start), or of any key when `name` is `None`.
    pub(crate) fn duplicate(&self, name: Option<&str>, line: usize) -> Option<&Duplicate> {
        self.duplicates
            .iter()
            .find(|d| d.again.line >= line && name.is_none_or(|n| n == d.name))
    }

    /// A diagnostic at `location`, with the source line filled in.
    pub(crate) fn diagnostic(
        &self,
        message: impl Into<String>,
        location: Option<Location>,
        help: Option<String>,
    ) -> Diagnostic {
        let location = location.filter(|l| l.line >= 1).map(|l| Location {
            len: l.len.min(80),
            ..l
        });
        Diagnostic {
            file: self.file.clone(),
            message: message.into(),
            line_text: location.and_then(|l| {
                // A very long line is cut a little after the column shown.
                let text = self.lines.get(l.line - 1)?;
                let keep = (l.column + 40).max(200);
                Some(if text.chars().count() > keep {
                    text.chars().take(keep).collect::<String>() + " …"
                } else {
                    text.clone()
                })
            }),
            location,
            note: None,
            help,
        }
    }

    /// A diagnostic about the value at `path`.
    pub(crate) fn at_value(
        &self,
        path: &str,
        message: impl Into<String>,
        help: Option<String>,
    ) -> Diagnostic {
        self.diagnostic(message, self.value(path), help)
    }

    /// Location for a serde_yaml_ng error position (1-based line and column), underlining
    /// the plain or quoted scalar that starts there.
    pub(crate) fn at(&self, line: usize, column: usize) -> Location {
        let rest: Vec<char> = self
            .lines
            .get(line.wrapping_sub(1))
            .map(|l| l.chars().skip(column.saturating_sub(1)).collect())
            .unwrap_or_default();
        let len = match rest.first() {
            Some(q @ ('"' | '\'')) => rest[1..].iter().position(|c| c == q).map_or(1, |p| p + 2),
            Some(_) => {
                let end = rest
                    .iter()
                    .enumerate()
                    .position(|(i, c)| {
                        matches!(c, ',' | ']' | '}' | '#')
                            || (*c == ':' && rest.get(i + 1).is_none_or(|n| *n == ' '))
                    })
                    .unwrap_or(rest.len());
                rest[..end]
                    .iter()
                    .collect::<String>()
                    .trim_end()
                    .chars()
                    .count()
                    .max(1)
            }
            None => 1,
        };
        Location { line, column, len }
    }
}

fn parent(path: &str) -> Option<&str> {
    if path.is_empty() {
        return None;
    }
    match path.rfind(['.', '[']) {
        Some(i) => Some(&path[..i]),
        None => Some(""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "\
site: SS
target:
  network: 10.0.0.0/24
  ranges:
    - 2-10
    - \"20,30\"
  exclude: [5, 10.0.0.7]
";

    fn loc(line: usize, column: usize, len: usize) -> Option<Location> {
        Some(Location { line, column, len })
    }

    #[test]
    fn values_are_indexed_by_path() {
        let s = Source::indexed("pb.yml", DOC);
        assert_eq!(s.value("site"), loc(1, 7, 2));
        assert_eq!(s.value("target.network"), loc(3, 12, 11));
        assert_eq!(s.value("target.ranges[1]"), loc(6, 7, 7));
        assert_eq!(s.value("target.exclude[1]"), loc(7, 16, 8));
    }

    #[test]
    fn defaulted_values_point_at_their_section_key() {
        let s = Source::indexed("pb.yml", DOC);
        assert_eq!(s.value("target.port"), loc(2, 1, 6));
        assert_eq!(s.value("target.ranges[7]"), loc(4, 3, 6));
        assert_eq!(s.value("nowhere.at.all"), s.value(""));
    }

    #[test]
    fn serde_positions_underline_the_scalar_there() {
        let s = Source::new(
            "pb.yml",
            "a:\n  rangs: [1]\n  b: \"x y\" # c\n  c: [pfd, png]\n",
        );
        assert_eq!(
            s.at(2, 3),
            Location {
                line: 2,
                column: 3,
                len: 5
            }
        );
        assert_eq!(
            s.at(3, 6),
            Location {
                line: 3,
                column: 6,
                len: 5
            }
        );
        assert_eq!(
            s.at(4, 7),
            Location {
                line: 4,
                column: 7,
                len: 3
            }
        );
        assert_eq!(s.at(9, 1).len, 1);
    }

    #[test]
    fn repeated_keys_are_found_in_the_order_of_their_repetition() {
        let s = Source::indexed(
            "pb.yml",
            "a:\n  b: 1\n  c: 2\n  b: 3\nd: {e: 1, e: 2}\na: 4\nf:\n  - b: 1\n  - b: 2\n",
        );
        let found = |name, line| s.duplicate(name, line).map(|d| (d.first, d.again));
        assert_eq!(
            found(Some("b"), 1),
            Some((loc(2, 3, 1).unwrap(), loc(4, 3, 1).unwrap()))
        );
        assert_eq!(found(None, 5).map(|(_, again)| again), loc(5, 11, 1));
        assert_eq!(
            found(Some("a"), 1),
            Some((loc(1, 1, 1).unwrap(), loc(6, 1, 1).unwrap()))
        );
        // Keys of different mappings (items of a list) are not repetitions.
        assert_eq!(found(Some("b"), 5), None);
    }

    #[test]
    fn complex_keys_and_aliases_do_not_confuse_the_walk() {
        let s = Source::indexed("pb.yml", "a: &x 1\n? [k]\n: v\nb: *x\nc: 3\n");
        assert_eq!(s.value("c").map(|l| l.line), Some(5));
        assert_eq!(s.value("b").map(|l| l.line), Some(4));
    }
}
