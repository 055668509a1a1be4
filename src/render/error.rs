//! What can go wrong while making sheets, and how typst's diagnostics are shown to a person.

use std::fmt::Write as _;
use std::io;
use std::path::PathBuf;

use typst::World;
use typst::diag::{Severity, SourceDiagnostic};
use typst::syntax::Span;

use super::world::{DATA_FILE, Template};

/// An error of the render layer. Messages say where, what and what to do next; none holds a password.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// A template file could not be read.
    #[error("cannot read the template {}: {source}", path.display())]
    ReadTemplate {
        /// The template's path.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// typst reported errors in a template (syntax, a missing field, a missing image...).
    #[error("{0}")]
    Template(TemplateError),
    /// A data file for `rdplay preview` could not be read.
    #[error("cannot read the data file {}: {source}", path.display())]
    ReadData {
        /// The data file's path.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A data file for `rdplay preview` is not a JSON object.
    #[error(
        "the data file {} is not valid sheet data: {reason}\n  = hint: compare it with templates/sample/user-sheet.json or pc-sheet.json",
        path.display()
    )]
    BadData {
        /// The data file's path.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The QR code's content does not fit in a QR code.
    #[error("cannot make a QR code of {content:?}: {reason}; shorten the playbook's QR content")]
    Qr {
        /// What the QR code should have held.
        content: String,
        /// Why it could not.
        reason: String,
    },
    /// A sheet file or directory could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A username or MAC cannot be used as a file name.
    #[error("the {what} {value:?} cannot name a sheet file: {reason}")]
    BadName {
        /// `username` or `MAC address`.
        what: &'static str,
        /// The offending value.
        value: String,
        /// Why.
        reason: &'static str,
    },
    /// The playbook's language has no words for a template.
    #[error(
        "{}: no words in the language {lang:?}: rdplay looked in {}\n  = hint: copy templates/lang/en.json to the template's lang/{lang}.json and translate it",
        template.display(),
        searched.join(" and ")
    )]
    Language {
        /// The template.
        template: PathBuf,
        /// The language asked for.
        lang: String,
        /// Where rdplay looked.
        searched: Vec<String>,
    },
    /// A template names a font family that is neither built in nor in its `fonts/` directory.
    #[error(
        "{where_}: unknown font family {family:?}: rdplay looked in {}\n  = hint: put the font's files (.ttf, .otf) in the template's fonts/ directory, or use one of: {}",
        searched.join(" and "),
        available.join(", ")
    )]
    UnknownFont {
        /// The template and where in it, as typst's warning shows it.
        where_: String,
        /// The family asked for.
        family: String,
        /// The places searched.
        searched: Vec<String>,
        /// The families there are.
        available: Vec<String>,
    },
    /// typst panicked: a bug in typst or rdplay, caught so one sheet cannot take the run down.
    #[error(
        "typst crashed while rendering {}: {message}\n  = hint: this is a bug; please report it with the template",
        template.display()
    )]
    Crashed {
        /// The template being rendered.
        template: PathBuf,
        /// The panic's message.
        message: String,
    },
}

/// typst's errors for one template, formatted like a compiler's: `file:line:col`, the source line
/// with a caret, the message and typst's hints.
#[derive(Debug)]
pub struct TemplateError {
    text: String,
}

impl std::fmt::Display for TemplateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl TemplateError {
    /// Formats `diagnostics` against the template's sources. Every occurrence of `redact` (the
    /// sheet's password) is masked, since typst may quote values in its messages.
    pub fn new(
        template: &Template,
        world: &dyn World,
        diagnostics: &[SourceDiagnostic],
        redact: Option<&str>,
    ) -> TemplateError {
        let mut text = String::new();
        for diagnostic in diagnostics.iter().filter(|d| d.severity == Severity::Error) {
            if !text.is_empty() {
                text.push('\n');
            }
            format_one(&mut text, template, world, diagnostic);
        }
        if text.is_empty() {
            text = format!(
                "{}: typst reported an error without a message",
                template.display.display()
            );
        }
        if let Some(secret) = redact.filter(|s| !s.is_empty()) {
            text = text.replace(secret, "********");
        }
        TemplateError { text }
    }
}

/// Formats warnings the same way, for logs and `rdplay preview`.
pub fn format_warnings(
    template: &Template,
    world: &dyn World,
    warnings: &[SourceDiagnostic],
    redact: Option<&str>,
) -> Vec<String> {
    warnings
        .iter()
        .map(|w| {
            let mut text = String::new();
            format_one(&mut text, template, world, w);
            match redact.filter(|s| !s.is_empty()) {
                Some(secret) => text.replace(secret, "********"),
                None => text,
            }
        })
        .collect()
}

fn format_one(
    out: &mut String,
    template: &Template,
    world: &dyn World,
    diagnostic: &SourceDiagnostic,
) {
    let label = match diagnostic.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let _ = writeln!(out, "{label}: {}", diagnostic.message);
    write_location(out, template, world, diagnostic.span);
    if diagnostic
        .message
        .starts_with("dictionary does not contain key")
    {
        let _ = writeln!(
            out,
            "  = hint: a field of the sheet's data is misspelt or does not exist; README.md beside the default templates lists them"
        );
    }
    for hint in &diagnostic.hints {
        let _ = writeln!(out, "  = hint: {hint}");
    }
    for point in &diagnostic.trace {
        let _ = writeln!(out, "  = note: {}", point.v);
        write_location(out, template, world, point.span);
    }
}

/// `  --> file:line:col`, then the line with a caret under the span.
fn write_location(out: &mut String, template: &Template, world: &dyn World, span: Span) {
    let Some(id) = span.id() else {
        let _ = writeln!(out, "  --> {}", template.display.display());
        return;
    };
    let path = template.display_path(id);
    // The data file holds the sheet's values (a password): never quote it.
    let in_data =
        id.package().is_none() && id.vpath().as_rootless_path() == std::path::Path::new(DATA_FILE);
    let located = world.source(id).ok().and_then(|source| {
        let range = span.range().or_else(|| source.range(span))?;
        let lines = source.lines();
        let (line, col) = lines.byte_to_line_column(range.start)?;
        let line_range = lines.line_to_range(line)?;
        let line_text = source
            .text()
            .get(line_range.clone())?
            .trim_end_matches(['\n', '\r'])
            .to_string();
        let end = range
            .end
            .min(line_range.start + line_text.len())
            .max(range.start);
        let width = source
            .text()
            .get(range.start..end)
            .map_or(1, |s| s.chars().count())
            .max(1);
        Some((line + 1, col + 1, line_text, width))
    });
    match located {
        Some((line, col, line_text, width)) => {
            let _ = writeln!(out, "  --> {}:{line}:{col}", path.display());
            if !in_data {
                let gutter = " ".repeat(line.to_string().len());
                let indent: String = line_text
                    .chars()
                    .take(col - 1)
                    .map(|c| if c == '\t' { '\t' } else { ' ' })
                    .collect();
                let _ = writeln!(out, "{gutter} |");
                let _ = writeln!(out, "{line} | {line_text}");
                let _ = writeln!(out, "{gutter} | {indent}{}", "^".repeat(width));
            }
        }
        None => {
            let _ = writeln!(out, "  --> {}", path.display());
        }
    }
}
