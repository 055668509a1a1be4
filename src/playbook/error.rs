//! What can go wrong with a playbook, and how it is shown to a person.
//!
//! Structural and semantic problems become [`Diagnostic`]s: a message, the place in the file
//! (`file:line:col`), the source line with a caret under the offending text and, when there are
//! any, a related fact (`first defined at line 1`) and a hint (`did you mean `ranges`?`). They are
//! rendered once, by `Display`.

use std::fmt;
use std::path::PathBuf;

/// A place in the playbook's text: 1-based line, 1-based column (in characters), and the
/// length in characters of the text to underline (at least one caret is drawn).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, counted in characters.
    pub column: usize,
    /// Characters to underline; 0 or 1 draws one caret.
    pub len: usize,
}

/// One problem found in a playbook, with where it is and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The playbook as the user named it.
    pub file: String,
    /// What is wrong and what was expected.
    pub message: String,
    /// Where, when known.
    pub location: Option<Location>,
    /// The text of the line at `location`.
    pub line_text: Option<String>,
    /// A related fact (where a repeated key was first written).
    pub note: Option<String>,
    /// What to do about it (a suggestion, the accepted forms).
    pub help: Option<String>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "error: {}", self.message)?;
        let gutter = match (self.location, &self.line_text) {
            (Some(loc), Some(text)) => {
                let number = loc.line.to_string();
                let gutter = " ".repeat(number.len());
                writeln!(f, "{gutter}--> {}:{}:{}", self.file, loc.line, loc.column)?;
                writeln!(f, "{gutter} |")?;
                writeln!(f, "{number} | {text}")?;
                // Keep tabs so the caret lines up under tab-indented text.
                let pad: String = text
                    .chars()
                    .take(loc.column.saturating_sub(1))
                    .map(|c| if c == '\t' { '\t' } else { ' ' })
                    .collect();
                writeln!(f, "{gutter} | {pad}{}", "^".repeat(loc.len.max(1)))?;
                gutter
            }
            (Some(loc), None) => {
                writeln!(f, " --> {}:{}:{}", self.file, loc.line, loc.column)?;
                " ".to_string()
            }
            (None, _) => {
                writeln!(f, " --> {}", self.file)?;
                " ".to_string()
            }
        };
        for (label, text) in [("note", &self.note), ("help", &self.help)] {
            if let Some(text) = text {
                writeln!(f, "{gutter} = {label}: {text}")?;
            }
        }
        Ok(())
    }
}

/// Everything that stops a playbook from loading, or its admin password from being read.
///
/// No variant ever holds a password.
#[derive(Debug, thiserror::Error)]
pub enum PlaybookError {
    /// The playbook file could not be read.
    #[error("cannot read the playbook {path}: {source}")]
    Read {
        /// The playbook.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The playbook is larger than [`super::MAX_PLAYBOOK_BYTES`].
    #[error(
        "the playbook {path} is {size} bytes, over the limit of {limit} bytes: \
         a playbook is a short YAML file; check that this is the right file"
    )]
    TooLarge {
        /// The playbook.
        path: PathBuf,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The playbook has one or more problems, each with its place in the file.
    #[error("{}", render_all(.0))]
    Invalid(Vec<Diagnostic>),
    /// The admin password file could not be read.
    #[error("cannot read the admin password file {path}: {source}")]
    PasswordFile {
        /// The password file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The admin password file can be read or written by other users.
    #[error(
        "the admin password file {path} has mode {mode:04o}, so other users can read or change it; \
         run `chmod 600 {path}` and try again"
    )]
    PasswordFileMode {
        /// The password file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The environment variable named by `exchange.password.env` is not set or not UTF-8.
    #[error(
        "the environment variable {name} (named by exchange.password.env) is not set or is not UTF-8; \
         export it before running rdplay"
    )]
    PasswordEnv {
        /// The variable's name.
        name: String,
    },
    /// `exchange.password: prompt` but there is no terminal to ask on.
    #[error(
        "exchange.password is `prompt` but there is no terminal to type it on ({reason}); \
         use `password: {{ file: ... }}` or `password: {{ env: NAME }}` for unattended runs"
    )]
    NoTerminal {
        /// What the terminal read reported.
        reason: String,
    },
    /// The admin password source gave an empty password.
    #[error("the admin password from {source_name} is empty")]
    EmptyPassword {
        /// Where it came from, e.g. `file /etc/rdplay/admin.secret`.
        source_name: String,
    },
}

impl PlaybookError {
    /// The diagnostics of an [`PlaybookError::Invalid`] playbook (empty for other errors).
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            PlaybookError::Invalid(d) => d,
            _ => &[],
        }
    }
}

fn render_all(diagnostics: &[Diagnostic]) -> String {
    let mut out = String::new();
    for (i, d) in diagnostics.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&d.to_string());
    }
    let n = diagnostics.len();
    if n > 1 {
        out.push_str(&format!("\n{n} problems found\n"));
    }
    // `Display` of an error conventionally has no trailing newline.
    while out.ends_with('\n') {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caret_sits_under_the_column_and_spans_len() {
        let d = Diagnostic {
            file: "pb.yml".into(),
            message: "bad".into(),
            location: Some(Location {
                line: 12,
                column: 3,
                len: 5,
            }),
            line_text: Some("  rangs: [1]".into()),
            note: None,
            help: Some("did you mean `ranges`?".into()),
        };
        let text = d.to_string();
        assert_eq!(
            text,
            "error: bad\n  --> pb.yml:12:3\n   |\n12 |   rangs: [1]\n   |   ^^^^^\n   = help: did you mean `ranges`?\n"
        );
    }
}
