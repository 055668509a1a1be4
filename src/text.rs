//! Making untrusted text (from PCs, from files) safe to show in a terminal or a log line.

use std::borrow::Cow;
use std::fmt::Write;

/// Shows `text` safely on a terminal: control characters (C0, DEL, C1) and the bidirectional overrides
/// that reorder what a terminal shows are written as `\xNN` or `\u{NNNN}`; a backslash as `\\`, so the
/// result is unambiguous. Text without any of them is returned as is.
pub fn for_terminal(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c == '\\' {
            out.push_str("\\\\");
        } else if needs_escape(c) {
            let code = u32::from(c);
            if code < 0x100 {
                let _ = write!(out, "\\x{code:02x}");
            } else {
                let _ = write!(out, "\\u{{{code:04x}}}");
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

fn needs_escape(c: char) -> bool {
    c == '\\'
        || c.is_control()
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}')
}

/// Returns `s` cut to `max` characters and escaped by [`for_terminal`], so a hostile hostname or error
/// message cannot move the cursor, recolour or rewrite the terminal.
pub fn inert(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", for_terminal(&s[..cut])),
        None => for_terminal(s).into_owned(),
    }
}

/// A size for people: `512 B`, `3.4 kB`, `12.0 MB`, `2.1 GB` (decimal units).
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["kB", "MB", "GB", "TB", "PB"];
    if n < 1000 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1000.0;
    let mut unit = 0;
    while value >= 999.95 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::{bytes, inert};

    #[test]
    fn sizes_for_people() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(999), "999 B");
        assert_eq!(bytes(3_400), "3.4 kB");
        assert_eq!(bytes(999_999), "1.0 MB");
        assert_eq!(bytes(2_147_483_648), "2.1 GB");
        assert_eq!(bytes(u64::MAX), "18446.7 PB");
    }

    #[test]
    fn escapes_terminal_control_and_cuts() {
        assert_eq!(inert("pc\x1b[31m1\n", 100), "pc\\x1b[31m1\\x0a");
        assert_eq!(inert("abcdef", 3), "abc…");
        assert_eq!(inert("plain-pc_1", 100), "plain-pc_1");
    }
}
