//! What a snapshot must not hold: what changes from run to run and from lab to lab, redacted in one
//! way for every test.
//!
//! ```ignore
//! insta::assert_snapshot!("list", Redact::new().apply(&list.stdout)); // fixed data, a real clock
//! insta::assert_snapshot!("table", Redact::lab(&lab).apply(&run.stdout)); // a run on lab PCs
//! insta::assert_snapshot!("error", Redact::new().path(dir.path(), "[DIR]").apply(&err));
//! ```
//!
//! | what | becomes |
//! | --- | --- |
//! | a time, `YYYY-MM-DDTHH:MM:SS[.fff]Z` (or with a space for the `T`) | `[TIME]` |
//! | a time to the minute, `YYYY-MM-DD HH:MM UTC` | `[WHEN]` |
//! | a request number's date, `REQ-YYYYMMDD-` | `REQ-[DATE]-` |
//! | a run's directory, `runs/YYYYMMDD-HHMMSS` | `runs/[STAMP]` |
//! | a path given to [`Redact::path`] | the name given with it |
//!
//! and, with [`Redact::lab`], first:
//!
//! | what | becomes |
//! | --- | --- |
//! | host `i`'s MAC (with or without its colons) and IP address | `[MACi]`, `[IPi]` |
//! | the lab's directory ([`Lab::dir`]) | `[LAB]` |
//! | a whole request number (PCs finish in any order) | `[REQ]` |
//! | an account name drawn by the fleet's pattern, `USER` site, number, 4 random digits | `[USER]` |
//! | a measured time, `12.3s` or `in 12.3 s` | `[T]`, `in [T]` |

use super::Lab;
use regex::Regex;
use std::path::Path;

/// What varies between two runs on the same data: the clock.
const CLOCK: &[(&str, &str)] = &[
    (
        r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z",
        "[TIME]",
    ),
    (
        r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2} UTC",
        "[WHEN]",
    ),
    (r"REQ-[0-9]{8}-", "REQ-[DATE]-"),
    (r"runs/[0-9]{8}-[0-9]{6}", "runs/[STAMP]"),
];

/// What a run on lab PCs adds: names drawn at random, request numbers given in the order the PCs
/// get there, measured times. Before [`CLOCK`]: a whole request number goes before its date.
const LAB: &[(&str, &str)] = &[
    (r"USER[A-Z]{2}[0-9]{3}-[0-9]{4}", "[USER]"),
    (r"REQ-[0-9]{8}-[0-9]{6}", "[REQ]"),
    (r"[0-9]+\.[0-9]s", "[T]"),
    (r"in [0-9]+\.[0-9] s", "in [T]"),
];

/// The filters a snapshot's text goes through, in order: what the test knows (paths, the lab's
/// addresses), then the patterns.
pub struct Redact {
    known: Vec<(Regex, String)>,
    patterns: Vec<(Regex, String)>,
}

fn compiled(patterns: &[(&str, &str)]) -> Vec<(Regex, String)> {
    patterns
        .iter()
        .map(|(pattern, with)| (Regex::new(pattern).unwrap(), with.to_string()))
        .collect()
}

impl Default for Redact {
    fn default() -> Redact {
        Redact {
            known: Vec::new(),
            patterns: compiled(CLOCK),
        }
    }
}

impl Redact {
    /// The clock's filters.
    pub fn new() -> Redact {
        Redact::default()
    }

    /// The filters of a run on `lab`'s PCs, and the clock's.
    pub fn lab(lab: &Lab) -> Redact {
        let mut redact = Redact::new().path(lab.dir(), "[LAB]");
        for host in lab.hosts() {
            let i = host.index;
            for mac in [host.mac.replace(':', ""), host.mac.clone()] {
                redact.known.push((literal(&mac), format!("[MAC{i}]")));
            }
            let ip = Regex::new(&format!(r"\b{}\b", regex::escape(&host.ip))).unwrap();
            redact.known.push((ip, format!("[IP{i}]")));
        }
        redact.patterns.splice(0..0, compiled(LAB));
        redact
    }

    /// Also shows `path` as `name`.
    pub fn path(mut self, path: impl AsRef<Path>, name: &str) -> Redact {
        let path = path.as_ref().to_str().expect("a UTF-8 path");
        self.known.push((literal(path), name.to_string()));
        self
    }

    /// `text` through every filter.
    pub fn apply(&self, text: &str) -> String {
        self.known
            .iter()
            .chain(&self.patterns)
            .fold(text.to_string(), |text, (pattern, with)| {
                pattern
                    .replace_all(&text, regex::NoExpand(with))
                    .into_owned()
            })
    }
}

fn literal(text: &str) -> Regex {
    Regex::new(&regex::escape(text)).unwrap()
}
