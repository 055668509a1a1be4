//! The checks of every value of a playbook, section by section.
//!
//! The raw model (see [`super::raw`]) has the YAML's shape and types; here every value is checked
//! against what rdplay can do with it, every default filled in and every path made absolute. No
//! check stops at the first problem: each one is collected as a [`Diagnostic`] at the place of
//! its value (`file:line:col`, see [`super::source`]), and all are reported at once.
//!
//! | file | checks |
//! | --- | --- |
//! | `mod.rs` | the [`Checker`] and what every section shares; the order of the sections; `site`, `renewal`, `logging` |
//! | `target.rs` | `target`: the network, ranges, exclusions, port |
//! | `connection.rs` | `connection`: user, forks, timeouts, key exchange methods |
//! | `exchange.rs` | `exchange`: the admin account of first contact |
//! | `password_source.rs` | a password's source: `exchange.password`, `inventory.password` |
//! | `account.rs` | `account`: shell, home, groups, adoption, archive; the naming pattern over the fleet |
//! | `password.rs` | `password`: the policy |
//! | `inventory.rs` | `inventory`: the SQLite file, or PostgreSQL's URL, password, TLS and CA |
//! | `output.rs` | `output`: sheets, formats, QR content, language |
//! | `print.rs` | `output.print`: queues, what to print, copies, `lp` options |
//! | `labels.rs` | `output.labels`: the label sheet and where to start on it |
//! | `escrow.rs` | `escrow`: recipients and how many passwords to keep |
//!
//! The checks only read: the files named must exist, nothing else is touched, except that a
//! password's environment variable is withheld from rdplay's children once it is named.

mod account;
mod connection;
mod escrow;
mod exchange;
mod inventory;
mod labels;
mod output;
mod password;
mod password_source;
mod print;
mod target;

use super::Playbook;
use super::account::check_name;
use super::duration;
use super::error::Diagnostic;
use super::raw::{RawPlaybook, RawRenewal};
use super::sections::{Logging, Renewal};
use super::source::Source;
use super::target::Invalid;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Checks `raw`, the playbook `path` (with the sha256 `digest`) whose text `source` indexes;
/// relative paths resolve against `dir`. Returns every problem found, or the playbook.
pub(super) fn playbook(
    raw: RawPlaybook,
    source: &Source,
    dir: &Path,
    path: PathBuf,
    digest: String,
) -> Result<Playbook, Vec<Diagnostic>> {
    let mut checker = Checker {
        source,
        dir,
        problems: Vec::new(),
    };
    let playbook = checker.playbook(raw, path, digest);
    match playbook {
        Some(p) if checker.problems.is_empty() => Ok(p),
        _ => Err(checker.problems),
    }
}

/// Resolves `path` against the playbook's directory; `~/` is the user's home.
fn resolve(dir: &Path, path: &Path) -> PathBuf {
    if let Ok(rest) = path.strip_prefix("~")
        && let Some(home) = std::env::var_os("HOME")
    {
        return PathBuf::from(home).join(rest);
    }
    dir.join(path)
}

/// Checks raw values one by one, collecting every problem.
///
/// Each section's file adds its checks to this type; the ones here serve every section.
struct Checker<'a> {
    source: &'a Source,
    dir: &'a Path,
    problems: Vec<Diagnostic>,
}

impl Checker<'_> {
    fn problem(&mut self, path: &str, message: impl Into<String>, help: Option<String>) {
        let d = self.source.at_value(path, message, help);
        self.problems.push(d);
    }

    fn invalid(&mut self, path: &str, invalid: Invalid) {
        self.problem(path, format!("{path}: {}", invalid.message), invalid.help);
    }

    fn duration(&mut self, path: &str, text: &str, fallback: u64) -> Duration {
        match duration::parse_duration(text) {
            Ok(d) if !d.is_zero() => d,
            Ok(_) => {
                self.problem(
                    path,
                    format!("{path} must be longer than 0"),
                    Some(duration::DURATION_HELP.into()),
                );
                Duration::from_secs(fallback)
            }
            Err(e) => {
                self.problem(
                    path,
                    format!("{path}: {e}"),
                    Some(duration::DURATION_HELP.into()),
                );
                Duration::from_secs(fallback)
            }
        }
    }

    fn name(&mut self, path: &str, name: &str, what: &str) {
        if let Err(reason) = check_name(name) {
            self.problem(
                path,
                format!("{path}: `{name}` is not a valid {what}: {reason}"),
                None,
            );
        }
    }

    fn absolute_unix(&mut self, path: &str, value: &str) {
        if !value.starts_with('/') {
            self.problem(
                path,
                format!("{path}: `{value}` must be an absolute path on the PCs"),
                None,
            );
        }
    }

    fn existing_file(&mut self, path: &str, file: &Path, what: &str) {
        if !file.is_file() {
            self.problem(
                path,
                format!("{path}: the {what} {} does not exist", file.display()),
                Some("relative paths are resolved against the playbook's directory".into()),
            );
        }
    }

    /// An optional file, resolved against the playbook's directory, that must exist.
    fn optional_file(&mut self, path: &str, file: Option<&Path>, what: &str) -> Option<PathBuf> {
        let file = resolve(self.dir, file?);
        self.existing_file(path, &file, what);
        Some(file)
    }

    /// The items of the list at `path`, each once: every repeat is the problem `twice`, at its
    /// place in the list; a list left empty is the problem `empty`, with `help`.
    fn once<T: PartialEq + Copy>(
        &mut self,
        path: &str,
        items: &[T],
        twice: &str,
        empty: &str,
        help: &str,
    ) -> Vec<T> {
        let mut kept = Vec::new();
        for (i, item) in items.iter().enumerate() {
            if kept.contains(item) {
                self.problem(&format!("{path}[{i}]"), twice, None);
            } else {
                kept.push(*item);
            }
        }
        if kept.is_empty() {
            self.problem(path, empty, Some(help.into()));
        }
        kept
    }

    /// Checks every section in the order of the file, so problems are reported in that order.
    fn playbook(&mut self, raw: RawPlaybook, path: PathBuf, digest: String) -> Option<Playbook> {
        self.site(&raw.site);
        let target = self.target(&raw);
        let state_dir = resolve(self.dir, &raw.state_dir);
        let connection = self.connection(&raw, &state_dir);
        let exchange = self.exchange(&raw);
        let account = self.account(&raw, &state_dir);
        let example_username = match &target {
            Some(t) if self.problems.iter().all(|p| !p.message.starts_with("site")) => {
                self.pattern(&account, &raw.site, &t.addresses())
            }
            _ => String::new(),
        };
        let renewal = match &raw.renewal {
            RawRenewal::Always => Renewal::Always,
            RawRenewal::OlderThan(text) if duration::ambiguous_unit(text) => {
                self.problem(
                    "renewal.older_than",
                    format!(
                        "renewal.older_than: `{}` reads as minutes to rdplay and as months to many \
                         people",
                        text.trim()
                    ),
                    Some(format!(
                        "write `{0}min` for {0} minutes, or days for months (`90d`)",
                        text.trim().trim_end_matches('m')
                    )),
                );
                Renewal::OlderThan(Duration::from_secs(12 * 3600))
            }
            RawRenewal::OlderThan(text) => {
                Renewal::OlderThan(self.duration("renewal.older_than", text, 12 * 3600))
            }
        };
        let password = self.password(&raw);
        let inventory = self.inventory(&raw.inventory, &state_dir);
        let output = self.output(&raw, target.as_ref());
        let escrow = self.escrow(&raw);
        let logging = Logging {
            level: raw.logging.level,
            file: raw.logging.file.as_ref().map(|p| resolve(self.dir, p)),
        };
        Some(Playbook {
            path,
            digest,
            site: raw.site,
            target: target?,
            connection,
            exchange,
            account,
            renewal,
            password,
            state_dir,
            inventory,
            output,
            escrow,
            logging,
            example_username,
        })
    }

    fn site(&mut self, site: &str) {
        if !(1..=16).contains(&site.len()) || !site.bytes().all(|b| b.is_ascii_alphanumeric()) {
            self.problem(
                "site",
                format!("site: `{site}` is not a site code"),
                Some("use 1 to 16 letters or digits, e.g. `SS`".into()),
            );
        }
    }
}
