//! Making untrusted text (from PCs, from files) safe to show in a terminal or a log line.

/// Returns `s` with control characters escaped (`\x1b`, `\n`...) and cut to `max` characters,
/// so a hostile hostname or error message cannot move the cursor, recolour or rewrite the terminal.
pub fn inert(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max));
    for (n, c) in s.chars().enumerate() {
        if n >= max {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::inert;

    #[test]
    fn escapes_terminal_control_and_cuts() {
        assert_eq!(inert("pc\x1b[31m1\n", 100), "pc\\u{1b}[31m1\\n");
        assert_eq!(inert("abcdef", 3), "abc…");
        assert_eq!(inert("plain-pc_1", 100), "plain-pc_1");
    }
}
