//! The validated playbook and its loader.
//!
//! Loading is: read at most [`MAX_PLAYBOOK_BYTES`], parse with serde_yaml_ng into the
//! [`raw`](super::raw) model (syntax, unknown and duplicate keys, types; alias expansion is
//! bounded by serde_yaml_ng's repetition limit), then check every value and collect every
//! problem with its place in the file (see [`super::source`]), section by section
//! ([`super::check`]).

use super::account::Account;
use super::check;
use super::error::{Diagnostic, Location, PlaybookError};
use super::password::PasswordPolicy;
use super::raw::RawPlaybook;
use super::sections::{Connection, Exchange, InventoryConfig, Logging, Output, Renewal};
use super::source::Source;
use super::suggest;
use super::target::Target;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The largest playbook accepted, in bytes.
pub const MAX_PLAYBOOK_BYTES: u64 = 1 << 20;

/// A validated playbook: every default filled in, every path absolute (relative ones resolve
/// against the playbook's directory).
#[derive(Debug, Clone, PartialEq)]
pub struct Playbook {
    /// Absolute path of the playbook file.
    pub path: PathBuf,
    /// sha256 of the file's bytes, in hex.
    pub digest: String,
    /// Site code, e.g. `SS`.
    pub site: String,
    /// Which addresses to scan.
    pub target: Target,
    /// SSH connection settings.
    pub connection: Connection,
    /// First contact.
    pub exchange: Exchange,
    /// The account to create.
    pub account: Account,
    /// When to renew.
    pub renewal: Renewal,
    /// How passwords are generated.
    pub password: PasswordPolicy,
    /// rdplay's state directory (default `<playbook dir>/.rdplay`).
    pub state_dir: PathBuf,
    /// The inventory.
    pub inventory: InventoryConfig,
    /// The sheets.
    pub output: Output,
    /// Password escrow, when configured.
    pub escrow: Option<super::sections::Escrow>,
    /// Logging.
    pub logging: Logging,
    /// A name the pattern renders for the first address (sample MAC and host name, random
    /// parts drawn), shown by `rdplay validate`.
    pub example_username: String,
}

impl Playbook {
    /// Reads, parses and validates the playbook at `path`.
    ///
    /// Every problem is reported at once in [`PlaybookError::Invalid`], each with
    /// `file:line:col`, the line and a caret.
    pub fn load(path: &Path) -> Result<Playbook, PlaybookError> {
        let bytes = read_capped(path)?;
        let digest = sha256_hex(&bytes);
        let display = path.display().to_string();
        let absolute = std::path::absolute(path).map_err(|source| PlaybookError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let dir = absolute
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("/"));
        Self::from_text(&bytes, &display, absolute, dir, digest)
    }

    /// Validates playbook text as if it were the file `absolute` in `dir` (named `display` in
    /// messages). [`Playbook::load`] is this plus reading the file.
    pub fn from_text(
        bytes: &[u8],
        display: &str,
        absolute: PathBuf,
        dir: PathBuf,
        digest: String,
    ) -> Result<Playbook, PlaybookError> {
        let text = match std::str::from_utf8(bytes) {
            Ok(text) => text,
            Err(e) => {
                let before = &bytes[..e.valid_up_to()];
                let line = before.iter().filter(|b| **b == b'\n').count() + 1;
                let source = Source::new(display, "");
                let d = source.diagnostic(
                    format!(
                        "the playbook is not UTF-8 text (byte {} of line {line})",
                        e.valid_up_to() + 1
                    ),
                    None,
                    Some("save it as UTF-8".into()),
                );
                return Err(PlaybookError::Invalid(vec![d]));
            }
        };
        if let Some((line, column)) = too_deep(text) {
            let source = Source::new(display, text);
            let d = source.diagnostic(
                format!("the playbook nests `[` and `{{` more than {MAX_FLOW_DEPTH} deep"),
                Some(source.at(line, column)),
                Some("a playbook needs a few levels; write lists and mappings out".into()),
            );
            return Err(PlaybookError::Invalid(vec![d]));
        }
        let raw: RawPlaybook = match serde_yaml_ng::from_str(text) {
            Ok(raw) => raw,
            Err(e) => {
                let d = serde_diagnostic(&e, display, text);
                return Err(PlaybookError::Invalid(vec![d]));
            }
        };
        // Only now, the text being sound YAML, walk it for the place of every value.
        let source = Source::indexed(display, text);
        check::playbook(raw, &source, &dir, absolute, digest).map_err(PlaybookError::Invalid)
    }
}

/// The deepest `[`/`{` nesting accepted. libyaml's scanner takes time quadratic in this depth
/// (100,000 levels: about a minute), so deeper text is refused before it is parsed.
const MAX_FLOW_DEPTH: usize = 64;

/// Where flow nesting first exceeds [`MAX_FLOW_DEPTH`] (1-based line and column), skipping
/// quoted text and comments. An approximation of YAML's rules is enough: it only has to
/// refuse absurd nesting, and no real playbook comes near the limit.
fn too_deep(text: &str) -> Option<(usize, usize)> {
    let (mut depth, mut line, mut column) = (0usize, 1usize, 0usize);
    let mut quote: Option<char> = None;
    let mut comment = false;
    let mut previous = '\n';
    for c in text.chars() {
        column += 1;
        if c == '\n' {
            (line, column, comment) = (line + 1, 0, false);
            if quote == Some('\'') && depth == 0 {
                quote = None;
            }
        } else if comment {
        } else if let Some(q) = quote {
            if c == q {
                quote = None;
            }
        } else {
            match c {
                '#' if previous.is_whitespace() => comment = true,
                '"' | '\'' if depth > 0 || previous.is_whitespace() || previous == ':' => {
                    quote = Some(c)
                }
                '[' | '{' => {
                    depth += 1;
                    if depth > MAX_FLOW_DEPTH {
                        return Some((line, column));
                    }
                }
                ']' | '}' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        previous = c;
    }
    None
}

fn read_capped(path: &Path) -> Result<Vec<u8>, PlaybookError> {
    let err = |source| PlaybookError::Read {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(err)?;
    let size = file.metadata().map_err(err)?.len();
    if size > MAX_PLAYBOOK_BYTES {
        return Err(PlaybookError::TooLarge {
            path: path.to_path_buf(),
            size,
            limit: MAX_PLAYBOOK_BYTES,
        });
    }
    let mut bytes = Vec::new();
    // A file that grows while being read (or a device) is capped all the same.
    file.take(MAX_PLAYBOOK_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(err)?;
    if bytes.len() as u64 > MAX_PLAYBOOK_BYTES {
        return Err(PlaybookError::TooLarge {
            path: path.to_path_buf(),
            size: bytes.len() as u64,
            limit: MAX_PLAYBOOK_BYTES,
        });
    }
    Ok(bytes)
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Turns a serde_yaml_ng error into a diagnostic: its message without the trailing position,
/// the place, and a hint. `display` names the playbook.
fn serde_diagnostic(e: &serde_yaml_ng::Error, display: &str, text: &str) -> Diagnostic {
    let full = e.to_string();
    let strip = regex::Regex::new(r" at (line \d+ column \d+|position \d+)").ok();
    let mut message = match &strip {
        Some(re) => re.replace_all(&full, "").into_owned(),
        None => full.clone(),
    };
    if message.contains("duplicate field") || message.contains("duplicate entry") {
        return duplicate_diagnostic(e, display, text, message);
    }
    let source = Source::new(display, text);
    let location = e.location().map(|l| source.at(l.line(), l.column()));
    let line = location.and_then(|l| text.lines().nth(l.line.wrapping_sub(1)));
    if let Some(d) = password_diagnostic(&message, line, &source, location) {
        return d;
    }
    if line
        .is_some_and(|l| l.starts_with(|c: char| c.is_whitespace()) && l.trim_end().contains('\t'))
    {
        let mut d = source.diagnostic(
            "YAML does not allow tabs for indentation",
            location,
            Some("indent with spaces (two per level), as the rest of the playbook does".into()),
        );
        // The caret goes under the tab itself.
        if let (Some(l), Some(text)) = (d.location.as_mut(), line) {
            l.column = text.chars().position(|c| c == '\t').map_or(1, |p| p + 1);
            l.len = 1;
        }
        return d;
    }
    for (rust, human) in [
        ("expected usize", "expected a whole number"),
        ("expected u32", "expected a whole number"),
        ("expected u16", "expected a whole number from 0 to 65535"),
    ] {
        message = message.replace(rust, human);
    }
    let mut help = None;
    if text
        .lines()
        .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
    {
        message = "the playbook is empty".into();
        help = Some("run `rdplay init DIR` for a commented starter playbook".into());
    } else if let Some((word, choices)) = suggest::parse_unknown(&message) {
        help = Some(match suggest::retired(&word, &choices) {
            Some(why) => why.to_string(),
            None => match suggest::closest(&word, choices.iter().map(String::as_str)) {
                Some(best) => format!("did you mean `{best}`?"),
                None if choices.is_empty() => "this section takes no keys".to_string(),
                None => format!("expected one of: {}", choices.join(", ")),
            },
        });
    } else if let Some(rest) = message.split("missing field `").nth(1) {
        let field = rest.split('`').next().unwrap_or_default();
        help = Some(format!(
            "add `{field}:` here; see docs/PLAYBOOK.md for its forms"
        ));
    } else if message.contains("repetition limit exceeded") {
        message = "the playbook's aliases expand to too much data (an alias bomb?)".into();
        help = Some("write the values out instead of repeating aliases".into());
    } else if message.contains("recursion limit exceeded") {
        message = "the playbook is nested too deeply".into();
    } else if message.contains("did not match any variant of untagged enum RawShell") {
        // (serde names the section, `account`; the location points at `shell:`.)
        message = "account.shell: expected a login shell's path or a list of them".into();
        help = Some(
            "write one path (`shell: /bin/bash`) or several, the preferred first (`shell: [/bin/bash, /bin/sh]`)".into(),
        );
    } else if message.contains("did not match any variant of untagged enum") {
        // serde's words for a value that fits neither of the accepted shapes.
        let at = message.find("data did not match").unwrap_or(message.len());
        message = format!(
            "{}expected a host number, a range or an address",
            &message[..at]
        );
        help = Some(
            "write a host number (`7`), a range (`2-254`), an address, or a list of them".into(),
        );
    } else if message.contains("EOF while parsing a value")
        || text
            .lines()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
    {
        message = "the playbook is empty".into();
        help = Some("run `rdplay init DIR` for a commented starter playbook".into());
    } else if message.contains("expected struct Playbook") {
        help = Some("a playbook is a mapping of keys such as `site:` and `target:`".into());
    }
    source.diagnostic(message, location, help)
}

/// The error about a password source (`exchange.password`, `inventory.password`), or any error on a
/// `password:` line, without the value nor its line: what was written there may be the password
/// itself. `None` for every other error.
fn password_diagnostic(
    message: &str,
    line: Option<&str>,
    source: &Source,
    location: Option<Location>,
) -> Option<Diagnostic> {
    let path = message
        .split_once(": ")
        .map(|(p, _)| p)
        .filter(|p| !p.contains(' '));
    let source_path = path.filter(|p| p.ends_with(".password"));
    let on_password_line = line.is_some_and(|l| l.trim_start().starts_with("password:"));
    if source_path.is_none() && !on_password_line {
        return None;
    }
    // The policy (`password: { length: 16 }`) keeps its useful messages (a misspelt key), but
    // not a value written in its place.
    let policy = path == Some("password");
    if policy && !message.contains("invalid type") {
        return None;
    }
    let (message, help) = match source_path {
        Some(at) => (
            format!(
                "{at}: the password itself cannot live in the playbook (the value written there is not shown)"
            ),
            "write where it comes from: `prompt` (asked once at the start), `{ env: NAME }` (an \
             environment variable) or `{ file: PATH }` (a file of mode 0600)",
        ),
        None if policy => (
            "password: this is the policy the new accounts' passwords are drawn by (e.g. \
             `{ length: 16 }`), not a password (the value written there is not shown)"
                .to_string(),
            "rdplay draws each new password itself; the first-contact admin password is given by \
             `exchange.password`: `prompt`, `{ env: NAME }` or `{ file: PATH }`",
        ),
        None => (
            "a line with a password key cannot be read (it is not shown: it may hold a password)"
                .to_string(),
            "a password source is `prompt`, `{ env: NAME }` or `{ file: PATH }`; a password itself \
             never goes in the playbook",
        ),
    };
    let mut d = source.diagnostic(message, location, Some(help.into()));
    d.line_text = None;
    Some(d)
}

/// A repeated key, shown where it is repeated, with where it was first written: serde_yaml_ng
/// places the error at the start of the mapping, so the text is walked for the key itself.
fn duplicate_diagnostic(
    e: &serde_yaml_ng::Error,
    display: &str,
    text: &str,
    message: String,
) -> Diagnostic {
    let source = Source::indexed(display, text);
    let name = message
        .split("duplicate field `")
        .nth(1)
        .and_then(|rest| rest.split('`').next());
    let mapping = e.location().map(|l| (l.line(), l.column()));
    let found = source.duplicate(name, mapping.map_or(1, |(line, _)| line));
    let location = match (found, mapping) {
        (Some(d), _) => Some(d.again),
        (None, Some((line, column))) => Some(source.at(line, column)),
        (None, None) => None,
    };
    let mut d = source.diagnostic(
        message,
        location,
        Some("each key may appear once: remove one of the two".into()),
    );
    d.note = found.map(|d| format!("first defined at line {}", d.first.line));
    d
}
