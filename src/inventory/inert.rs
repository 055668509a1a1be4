//! Making PC-supplied text inert: for terminals (control characters shown as escapes) and for
//! spreadsheets (cells that would start a formula prefixed with `'`).

pub use crate::text::for_terminal;

/// One CSV cell: terminal-safe (see [`for_terminal`]), `'`-prefixed when it starts with `=`, `+`, `-`,
/// `@`, tab or CR (which spreadsheets would run as a formula), and quoted when it holds `,`, `"` or a
/// line break.
pub fn csv_cell(text: &str) -> String {
    // Tab and CR are escaped by `for_terminal` too; test the raw first character for the formula rule.
    let formula = text.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let shown = for_terminal(text);
    let mut cell = String::with_capacity(shown.len() + 3);
    if formula {
        cell.push('\'');
    }
    cell.push_str(&shown);
    if cell.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", cell.replace('"', "\"\""))
    } else {
        cell
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    #[test]
    fn terminal_escapes_controls_only() {
        assert_eq!(for_terminal("pc-01.lan"), "pc-01.lan");
        assert!(matches!(for_terminal("pc-01"), Cow::Borrowed(_)));
        assert_eq!(for_terminal("\u{1b}[31mred\u{0}"), "\\x1b[31mred\\x00");
        assert_eq!(
            for_terminal("a\tb\r\nc\u{7f}\u{9b}"),
            "a\\x09b\\x0d\\x0ac\\x7f\\x9b"
        );
        assert_eq!(for_terminal("abc\u{202e}fed"), "abc\\u{202e}fed");
        assert_eq!(for_terminal("back\\slash"), "back\\\\slash");
        assert_eq!(for_terminal("École"), "École");
    }

    proptest::proptest! {
        #[test]
        fn no_text_reaches_a_terminal_or_spreadsheet_live(text in "\\PC*|[=+@\t\r\x1b\x00-][ -~\x00-\x1f]*") {
            let shown = for_terminal(&text);
            proptest::prop_assert!(!shown.chars().any(char::is_control));
            let cell = csv_cell(&text);
            // What a spreadsheet reads from the cell.
            let value = match cell.strip_prefix('"').and_then(|c| c.strip_suffix('"')) {
                Some(quoted) => quoted.replace("\"\"", "\""),
                None => cell.clone(),
            };
            proptest::prop_assert!(!value.starts_with(['=', '+', '-', '@']), "{value:?}");
            proptest::prop_assert!(!cell.chars().any(char::is_control));
        }
    }

    #[test]
    fn csv_cells_cannot_start_formulas() {
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_cell("+1"), "'+1");
        assert_eq!(csv_cell("-2"), "'-2");
        assert_eq!(csv_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_cell("\t=1"), "'\\x09=1");
        assert_eq!(csv_cell("\r=1"), "'\\x0d=1");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("pc01"), "pc01");
        assert_eq!(csv_cell(""), "");
        assert_eq!(csv_cell("a=b"), "a=b");
    }
}
