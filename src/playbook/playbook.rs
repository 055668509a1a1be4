//! The validated playbook and its loader.
//!
//! Loading is: read at most [`MAX_PLAYBOOK_BYTES`], parse with serde_yaml_ng into the
//! [`raw`](super::raw) model (syntax, unknown and duplicate keys, types; alias expansion is
//! bounded by serde_yaml_ng's repetition limit), then check every value and collect every
//! problem with its place in the file (see [`super::source`]).

use super::account::{Account, Archive, FleetCheck, PatternError, check_fleet, check_name};
use super::error::{Diagnostic, PlaybookError};
use super::password::PasswordPolicy;
use super::password_source::{PasswordSource, is_env_name};
use super::raw::{Printable, RawPasswordSource, RawPlaybook, RawRenewal, TlsMode};
use super::sections::{
    Connection, Exchange, InventoryConfig, Labels, Logging, MAX_COPIES, Output, Postgres, Print,
    Renewal, Slips, is_job_option, is_queue_name,
};
use super::source::Source;
use super::target::{HostRange, Invalid, Target, parse_hosts, parse_network};
use super::{duration, suggest};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

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
        let mut checker = Checker {
            source: &source,
            dir: &dir,
            problems: Vec::new(),
        };
        let playbook = checker.playbook(raw, absolute, digest);
        match playbook {
            Some(p) if checker.problems.is_empty() => Ok(p),
            _ => Err(PlaybookError::Invalid(checker.problems)),
        }
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
            RawRenewal::OlderThan(text) => {
                Renewal::OlderThan(self.duration("renewal.older_than", text, 30 * 86_400))
            }
        };
        let password = self.password(&raw);
        let inventory = InventoryConfig {
            path: raw
                .inventory
                .path
                .as_ref()
                .map_or_else(|| state_dir.join("inventory.db"), |p| resolve(self.dir, p)),
            history: raw.inventory.history.max(1),
            fail_on: raw.inventory.fail_on,
            postgres: self.postgres(&raw.inventory),
        };
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

    fn connection(&mut self, raw: &RawPlaybook, state_dir: &Path) -> Connection {
        let c = &raw.connection;
        self.name("connection.user", &c.user, "user name");
        if !(1..=1024).contains(&c.forks) {
            self.problem(
                "connection.forks",
                format!("connection.forks: {} is out of range", c.forks),
                Some("use 1 to 1024 (default 50)".into()),
            );
        }
        let kex = c.kex_algorithms.clone().unwrap_or_default();
        if c.kex_algorithms.as_ref().is_some_and(Vec::is_empty) {
            self.problem(
                "connection.kex_algorithms",
                "connection.kex_algorithms: the list is empty",
                Some("leave it out for OpenSSH's default, or name at least one method (`ssh -Q kex` lists them)".into()),
            );
        }
        for (i, name) in kex.iter().enumerate() {
            if !valid_kex_name(name) {
                self.problem(
                    &format!("connection.kex_algorithms[{i}]"),
                    format!("connection.kex_algorithms: `{name}` is not a key exchange method's name"),
                    Some("`ssh -Q kex` lists the methods this OpenSSH knows, e.g. `curve25519-sha256`".into()),
                );
            }
        }
        Connection {
            user: c.user.clone(),
            identity: c
                .identity
                .as_ref()
                .map_or_else(|| state_dir.join("id_ed25519"), |p| resolve(self.dir, p)),
            known_hosts: c
                .known_hosts
                .as_ref()
                .map_or_else(|| state_dir.join("known_hosts"), |p| resolve(self.dir, p)),
            connect_timeout: self.duration("connection.connect_timeout", &c.connect_timeout, 5),
            step_timeout: self.duration("connection.step_timeout", &c.step_timeout, 120),
            forks: c.forks,
            control_persist: self.duration("connection.control_persist", &c.control_persist, 60),
            ssh_config: c.ssh_config,
            kex_algorithms: kex,
        }
    }

    fn exchange(&mut self, raw: &RawPlaybook) -> Exchange {
        let e = &raw.exchange;
        self.name("exchange.admin_user", &e.admin_user, "user name");
        let password_source = self.password_source(
            "exchange.password",
            &e.password,
            "admin password file",
            "RDPLAY_ADMIN_PASSWORD",
        );
        Exchange {
            admin_user: e.admin_user.clone(),
            password: password_source,
            become_method: e.become_method,
        }
    }

    /// A password source: a file that exists, or the *name* of an environment variable (withheld
    /// from every child rdplay starts, [`crate::child::withhold`]).
    fn password_source(
        &mut self,
        at: &str,
        raw: &RawPasswordSource,
        what: &str,
        example_env: &str,
    ) -> PasswordSource {
        match raw {
            RawPasswordSource::File(p) => {
                let file = resolve(self.dir, p);
                self.existing_file(&format!("{at}.file"), &file, what);
                PasswordSource::File(file)
            }
            RawPasswordSource::Env(name) => {
                if !is_env_name(name) {
                    // Never echo the value, nor its line: it may be the password itself.
                    let mut d = self.source.at_value(
                        &format!("{at}.env"),
                        format!(
                            "{at}.env must be the *name* of an environment variable \
                             (letters, digits and `_`)"
                        ),
                        Some(format!("e.g. `env: {example_env}`; never put the password itself in the playbook")),
                    );
                    d.line_text = None;
                    self.problems.push(d);
                } else {
                    // From now on no program rdplay starts inherits it (ssh, its askpass and
                    // ProxyCommand, ssh-keygen, lp).
                    crate::child::withhold(name);
                }
                PasswordSource::Env(name.clone())
            }
            RawPasswordSource::Prompt => PasswordSource::Prompt,
        }
    }

    /// `inventory.url` and what goes with it: a PostgreSQL URL without a password, its password's
    /// source (file or environment, never the terminal: a run may have none), TLS and its CA.
    fn postgres(&mut self, raw: &super::raw::RawInventory) -> Option<Postgres> {
        let Some(url) = &raw.url else {
            for (set, key) in [
                (raw.password.is_some(), "password"),
                (raw.tls.is_some(), "tls"),
                (raw.ca.is_some(), "ca"),
            ] {
                if set {
                    self.problem(
                        &format!("inventory.{key}"),
                        format!("inventory.{key} is for a PostgreSQL inventory, and no `inventory.url` names one"),
                        Some("add `url: postgres://USER@HOST/DATABASE`, or remove this key".into()),
                    );
                }
            }
            return None;
        };
        if raw.path.is_some() {
            self.problem(
                "inventory.path",
                "inventory.path and inventory.url both name an inventory",
                Some(
                    "keep `url` for the shared PostgreSQL inventory, `path` for a SQLite file"
                        .into(),
                ),
            );
        }
        let parsed = match crate::playbook::sections::parse_postgres_url(url) {
            Ok(parsed) => Some(parsed),
            Err(message) => {
                // The line is not shown: a mistyped URL may hold a password.
                let mut d = self.source.at_value(
                    "inventory.url",
                    format!("inventory.url: {message}"),
                    Some("e.g. `url: postgres://rdplay@db.example/rdplay`; the password goes in `inventory.password`".into()),
                );
                d.line_text = None;
                self.problems.push(d);
                None
            }
        };
        let password = raw.password.as_ref().map(|p| {
            if matches!(p, RawPasswordSource::Prompt) {
                self.problem(
                    "inventory.password",
                    "inventory.password cannot be `prompt`",
                    Some("use `{ env: NAME }` or `{ file: PATH }`".into()),
                );
            }
            self.password_source(
                "inventory.password",
                p,
                "database password file",
                "RDPLAY_DB_PASSWORD",
            )
        });
        let ca = raw.ca.as_ref().map(|p| {
            let file = resolve(self.dir, p);
            self.existing_file("inventory.ca", &file, "CA certificate");
            file
        });
        let on_socket = parsed.as_ref().is_some_and(|p| p.on_socket);
        if on_socket && raw.tls.is_some_and(|t| t != TlsMode::Disable) {
            self.problem(
                "inventory.tls",
                "inventory.tls: a Unix socket carries no TLS",
                Some("remove `tls` (or set `disable`) for a socket URL".into()),
            );
        }
        let tls = match raw.tls {
            Some(tls) => tls,
            None if on_socket => TlsMode::Disable,
            None => TlsMode::Require,
        };
        Some(Postgres {
            url: url.clone(),
            password,
            tls,
            ca,
        })
    }

    fn account(&mut self, raw: &RawPlaybook, state_dir: &Path) -> Account {
        let a = &raw.account;
        self.absolute_unix("account.shell", &a.shell);
        self.absolute_unix("account.home_base", &a.home_base);
        for (i, group) in a.groups.iter().enumerate() {
            self.name(&format!("account.groups[{i}]"), group, "group name");
        }
        if let Some(adopt) = &a.adopt
            && let Err(e) = regex::Regex::new(&format!("^(?:{adopt})$"))
        {
            let first = e.to_string().lines().last().unwrap_or_default().to_string();
            self.problem(
                "account.adopt",
                format!("account.adopt is not a valid regular expression: {first}"),
                None,
            );
        }
        let archive = a.archive.as_ref().map(|r| {
            let max_size = match super::size::parse_size(&r.max_size) {
                Ok(n) if n > 0 => n,
                Ok(_) => {
                    self.problem(
                        "account.archive.max_size",
                        "account.archive.max_size must be more than 0",
                        Some(super::size::SIZE_HELP.into()),
                    );
                    1
                }
                Err(e) => {
                    self.problem(
                        "account.archive.max_size",
                        format!("account.archive.max_size: {e}"),
                        Some(super::size::SIZE_HELP.into()),
                    );
                    1
                }
            };
            if r.keep == 0 {
                self.problem(
                    "account.archive.keep",
                    "account.archive.keep must be at least 1",
                    Some("how many archives to keep per PC, e.g. `3`".into()),
                );
            }
            Archive {
                dir: r
                    .dir
                    .as_ref()
                    .map_or_else(|| state_dir.join("archives"), |p| resolve(self.dir, p)),
                max_size,
                keep: r.keep.max(1),
                on_failure: r.on_failure,
            }
        });
        Account {
            pattern: a.pattern.clone(),
            shell: a.shell.clone(),
            groups: a.groups.clone(),
            home_base: PathBuf::from(&a.home_base),
            adopt: a.adopt.clone(),
            verify_login: a.verify_login,
            archive,
        }
    }

    fn escrow(&mut self, raw: &RawPlaybook) -> Option<super::sections::Escrow> {
        let e = raw.escrow.as_ref()?;
        if e.recipients.is_empty() {
            self.problem(
                "escrow.recipients",
                "escrow.recipients is empty: no one could read a password back",
                Some("add an admin's `age1…` key or SSH public key".into()),
            );
        }
        for (i, r) in e.recipients.iter().enumerate() {
            if let Err(err) = crate::escrow::Recipient::parse(r) {
                self.problem(&format!("escrow.recipients[{i}]"), err.to_string(), None);
            }
        }
        if e.keep == 0 {
            self.problem(
                "escrow.keep",
                "escrow.keep: 0 would keep no password",
                Some("use 1 or more (default 3)".into()),
            );
        }
        Some(super::sections::Escrow {
            recipients: e.recipients.iter().map(|r| r.trim().to_string()).collect(),
            keep: e.keep.max(1),
        })
    }

    fn password(&mut self, raw: &RawPlaybook) -> PasswordPolicy {
        let p = &raw.password;
        let password = PasswordPolicy {
            length: p.length,
            min_upper: p.min_upper,
            min_lower: p.min_lower,
            min_digit: p.min_digit,
            min_symbol: p.min_symbol,
            symbols: p.symbols.clone(),
            exclude_ambiguous: p.exclude_ambiguous,
        };
        for problem in password.problems() {
            let at = format!("password.{}", problem.field.key());
            self.problem(
                &at,
                format!("password.{}: {}", problem.field.key(), problem.message),
                Some(problem.help),
            );
        }
        password
    }

    fn output(&mut self, raw: &RawPlaybook, target: Option<&Target>) -> Output {
        let o = &raw.output;
        let user_sheet = o.user_sheet.as_ref().map(|p| resolve(self.dir, p));
        let pc_sheet = o.pc_sheet.as_ref().map(|p| resolve(self.dir, p));
        if let Some(file) = &user_sheet {
            self.existing_file("output.user_sheet", file, "user sheet template");
        }
        if let Some(file) = &pc_sheet {
            self.existing_file("output.pc_sheet", file, "PC sheet template");
        }
        let mut formats = Vec::new();
        for (i, f) in o.formats.iter().enumerate() {
            if formats.contains(f) {
                self.problem(
                    &format!("output.formats[{i}]"),
                    "output.formats: this format is listed twice",
                    None,
                );
            } else {
                formats.push(*f);
            }
        }
        if formats.is_empty() {
            self.problem(
                "output.formats",
                "output.formats is empty: no sheet would be written",
                Some("use `[pdf]`, `[png]` or `[pdf, png]`".into()),
            );
        }
        if let Some(first) = target.and_then(|t| t.addresses().first().copied()) {
            let vars = super::account::NameVars::sample(&raw.site, 1, first);
            let username = [("username", minijinja::Value::from("USERSS001-1234"))];
            if let Err(e) = super::account::render_template(&o.qr, &vars, &username) {
                self.pattern_problem("output.qr", "output.qr", &e, &["username"]);
            }
        }
        let print = o.print.as_ref().map(|p| self.print(p, &formats));
        let prints_sheets = print.as_ref().is_some_and(|p| {
            p.what
                .iter()
                .any(|w| matches!(w, Printable::UserSheets | Printable::PcSheets))
        });
        if prints_sheets && !o.batch {
            self.problem(
                "output.batch",
                "output.print prints the batch files, and output.batch is false",
                Some("remove `batch: false`, or print only `user_slips` and `pc_labels`".into()),
            );
        }
        if let Some(p) = &print {
            for (i, what) in p.what.iter().enumerate() {
                let missing = match what {
                    Printable::UserSlips => o.slips.is_none().then_some("slips: {}"),
                    Printable::PcLabels => o
                        .labels
                        .is_none()
                        .then_some("labels: { sheet: avery-l7160 }"),
                    _ => None,
                };
                if let Some(add) = missing {
                    self.problem(
                        &format!("output.print.what[{i}]"),
                        format!("output.print.what: {} are not written", what.as_str()),
                        Some(format!("add `{add}` under `output`")),
                    );
                }
            }
        }
        let labels = o.labels.as_ref().map(|l| self.labels(l));
        let slips = o.slips.as_ref().map(|s| {
            let template = s.template.as_ref().map(|p| resolve(self.dir, p));
            if let Some(file) = &template {
                self.existing_file("output.slips.template", file, "slips template");
            }
            Slips { template }
        });
        if !crate::render::is_lang_code(&o.lang) {
            self.problem(
                "output.lang",
                format!("output.lang: {:?} is not a language code", o.lang),
                Some(
                    "2 or 3 small letters: `en`, `fr`, or a code with its templates/lang/CODE.json"
                        .into(),
                ),
            );
        }
        Output {
            lang: o.lang.clone(),
            dir: resolve(self.dir, &o.dir),
            user_sheet,
            pc_sheet,
            formats,
            batch: o.batch,
            qr: o.qr.clone(),
            print,
            labels,
            slips,
        }
    }

    fn labels(&mut self, l: &super::raw::RawLabels) -> Labels {
        use crate::render::layout;
        let names = || {
            let names: Vec<&str> = layout::presets().iter().map(|(n, _, _)| *n).collect();
            Some(format!(
                "the built-in sheets: {}; or give your own `grid`",
                names.join(", ")
            ))
        };
        let fallback = || layout::preset("avery-l7160");
        let grid = match (&l.sheet, &l.grid) {
            (Some(_), Some(_)) => {
                self.problem(
                    "output.labels.grid",
                    "output.labels: give `sheet` or `grid`, not both",
                    None,
                );
                None
            }
            (Some(name), None) => {
                let grid = layout::preset(name);
                if grid.is_none() {
                    self.problem(
                        "output.labels.sheet",
                        format!("output.labels.sheet: no built-in label sheet {name:?}"),
                        names(),
                    );
                }
                grid
            }
            (None, Some(g)) => {
                let grid = layout::Grid {
                    paper: g.paper.clone(),
                    columns: g.columns,
                    rows: g.rows,
                    width: g.width,
                    height: g.height,
                    top: g.top,
                    left: g.left,
                    gap_x: g.gap_x,
                    gap_y: g.gap_y,
                };
                match grid.problem() {
                    Some(problem) => {
                        self.problem(
                            "output.labels.grid",
                            format!("output.labels.grid: {problem}"),
                            Some(
                                "measure the sheet in millimetres; docs/PLAYBOOK.md shows one"
                                    .into(),
                            ),
                        );
                        None
                    }
                    None => Some(grid),
                }
            }
            (None, None) => fallback(),
        };
        let grid = grid.or_else(fallback).unwrap_or_else(|| layout::Grid {
            paper: "a4".into(),
            columns: 1,
            rows: 1,
            width: 1.0,
            height: 1.0,
            top: 0.0,
            left: 0.0,
            gap_x: 0.0,
            gap_y: 0.0,
        });
        if l.start == 0 || l.start > grid.per_page() {
            self.problem(
                "output.labels.start",
                format!(
                    "output.labels.start: label {} of a sheet of {}",
                    l.start,
                    grid.per_page()
                ),
                Some(format!("from 1 (top left) to {}", grid.per_page())),
            );
        }
        let template = l.template.as_ref().map(|p| resolve(self.dir, p));
        if let Some(file) = &template {
            self.existing_file("output.labels.template", file, "label sheet template");
        }
        Labels {
            grid,
            start: l.start,
            template,
        }
    }

    fn print(&mut self, p: &super::raw::RawPrint, formats: &[super::Format]) -> Print {
        let queue_help = || {
            Some(
                "a CUPS queue name, as `lpstat -p` lists it: no spaces, `/`, `#`, `?` or quotes, no leading `-`"
                    .into(),
            )
        };
        if !is_queue_name(&p.printer) {
            self.problem(
                "output.print.printer",
                "output.print.printer: not a CUPS queue name",
                queue_help(),
            );
        }
        for (i, queue) in p.printers.iter().enumerate() {
            if !is_queue_name(queue) {
                self.problem(
                    &format!("output.print.printers[{i}]"),
                    "output.print.printers: not a CUPS queue name",
                    queue_help(),
                );
            }
        }
        let mut what = Vec::new();
        for (i, w) in p.what.iter().enumerate() {
            if what.contains(w) {
                self.problem(
                    &format!("output.print.what[{i}]"),
                    "output.print.what: this is listed twice",
                    None,
                );
            } else {
                what.push(*w);
            }
        }
        if what.is_empty() {
            self.problem(
                "output.print.what",
                "output.print.what is empty: nothing would be printed",
                Some(
                    "list what to print, e.g. `[user_sheets, pc_sheets]`, or remove `print`".into(),
                ),
            );
        }
        if !(1..=MAX_COPIES).contains(&p.copies) {
            self.problem(
                "output.print.copies",
                format!("output.print.copies: {} copies", p.copies),
                Some(format!("from 1 to {MAX_COPIES}")),
            );
        }
        for (name, value) in &p.options {
            if !is_job_option(name, value) {
                self.problem(
                    &format!("output.print.options.{name}"),
                    format!("output.print.options: `{name}` is not an `lp -o NAME=VALUE` option"),
                    Some(
                        "names are letters, digits, `-`, `_`, `.`; values have no spaces or quotes"
                            .into(),
                    ),
                );
            }
        }
        if !formats.contains(&super::Format::Pdf) {
            self.problem(
                "output.formats",
                "output.print needs PDF sheets: `pdf` is not in output.formats",
                Some("use `formats: [pdf]` or `[pdf, png]`".into()),
            );
        }
        Print {
            printer: p.printer.clone(),
            printers: p.printers.clone(),
            what,
            copies: p.copies,
            options: p.options.clone().into_iter().collect(),
        }
    }

    fn target(&mut self, raw: &RawPlaybook) -> Option<Target> {
        let t = &raw.target;
        let network = match parse_network(&t.network) {
            Ok(n) => n,
            Err(e) => {
                self.invalid("target.network", e);
                return None;
            }
        };
        let mut ranges: Vec<HostRange> = Vec::new();
        let items = t.ranges.to_vec();
        let single = matches!(t.ranges, super::raw::OneOrMany::One(_));
        for (i, item) in items.iter().enumerate() {
            let path = if single {
                "target.ranges".to_string()
            } else {
                format!("target.ranges[{i}]")
            };
            match parse_hosts(item, &network) {
                Ok(r) => ranges.push(r),
                Err(e) => self.invalid(&path, e),
            }
        }
        if items.is_empty() {
            match network.default_range() {
                Some(r) => ranges.push(r),
                None => self.problem(
                    "target.network",
                    format!("target.network: {network} has no default range of hosts"),
                    Some("list the hosts under `ranges:`".into()),
                ),
            }
        }
        let mut exclude = Vec::new();
        for (i, item) in t.exclude.iter().enumerate() {
            match parse_hosts(item, &network) {
                Ok(r) => exclude
                    .extend((u32::from(r.first)..=u32::from(r.last)).map(std::net::Ipv4Addr::from)),
                Err(e) => self.invalid(&format!("target.exclude[{i}]"), e),
            }
        }
        if t.port == 0 {
            self.problem(
                "target.port",
                "target.port: 0 is not a port",
                Some("SSH's port is 22".into()),
            );
        }
        let target = Target {
            network,
            ranges,
            exclude,
            port: t.port,
        };
        if target.ranges.is_empty() {
            return None;
        }
        if target.addresses().is_empty() {
            self.problem(
                "target.exclude",
                "target: every address of the ranges is excluded: nothing to scan",
                Some("remove exclusions or widen `ranges`".into()),
            );
            return None;
        }
        Some(target)
    }

    /// Checks the naming pattern over the fleet; returns an example name.
    fn pattern(
        &mut self,
        account: &Account,
        site: &str,
        addresses: &[std::net::Ipv4Addr],
    ) -> String {
        match check_fleet(account, site, addresses) {
            FleetCheck::Unique { example } => example,
            FleetCheck::Invalid(e) => {
                self.pattern_problem("account.pattern", "account.pattern", &e, &[]);
                String::new()
            }
            FleetCheck::NotUnique { message, help } => {
                self.problem(
                    "account.pattern",
                    format!("account.pattern: {message}"),
                    Some(help),
                );
                String::new()
            }
        }
    }

    fn pattern_problem(&mut self, path: &str, what: &str, e: &PatternError, extra: &[&str]) {
        let help = match e {
            PatternError::UnknownVariable { suggestion: Some(s), .. } => Some(format!("did you mean `{s}`?")),
            PatternError::UnknownVariable { .. } => {
                let mut vars: Vec<&str> = super::account::PATTERN_VARIABLES.to_vec();
                vars.extend(extra);
                Some(format!("the variables are: {}", vars.join(", ")))
            }
            PatternError::InvalidName { .. } => Some(
                "user names are 1 to 32 letters, digits, `_`, `.` or `-`, beginning with a letter or `_`".into(),
            ),
            PatternError::Render(_) => Some("see docs/PLAYBOOK.md, \"Naming pattern\"".into()),
        };
        self.problem(path, format!("{what}: {e}"), help);
    }
}

/// A name OpenSSH could know as a key exchange method: lowercase letters, digits, `-`, `.`, `@`
/// (checked against the local `ssh -Q kex` when a run starts).
fn valid_kex_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-.@".contains(&b))
}
