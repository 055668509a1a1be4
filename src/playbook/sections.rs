//! The smaller validated sections of a playbook: connection, exchange, renewal, inventory,
//! output and logging. Every path in them is absolute.

use super::account::{NameVars, PatternError, render_template};
use super::password_source::PasswordSource;
use super::raw::{Become, Format, LogLevel, Printable, TlsMode};
use std::path::PathBuf;
use std::time::Duration;

/// How rdplay's SSH connections behave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    /// The user rdplay logs in as once its key is installed (default `root`).
    pub user: String,
    /// rdplay's private key (default `<state_dir>/id_ed25519`).
    pub identity: PathBuf,
    /// rdplay's own known_hosts (default `<state_dir>/known_hosts`).
    pub known_hosts: PathBuf,
    /// How long to wait for a PC to accept a connection (default 5 s).
    pub connect_timeout: Duration,
    /// How long one step on a PC may take (default 120 s).
    pub step_timeout: Duration,
    /// How many PCs are worked on at once (default 50).
    pub forks: usize,
    /// How long an idle master connection stays open (default 60 s).
    pub control_persist: Duration,
    /// Whether to read `~/.ssh/config` (default true).
    pub ssh_config: bool,
    /// The key exchange methods offered, in order; empty: OpenSSH's own default list.
    pub kex_algorithms: Vec<String>,
}

/// First contact through an admin account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    /// The admin account present on every PC.
    pub admin_user: String,
    /// Where its password comes from.
    pub password: PasswordSource,
    /// How it becomes root.
    pub become_method: Become,
}

/// When an existing rdplay account is renewed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Renewal {
    /// On every run.
    Always,
    /// Only accounts created longer ago than this.
    OlderThan(Duration),
}

/// Where the inventory is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventoryConfig {
    /// The SQLite file (default `<state_dir>/inventory.db`).
    pub path: PathBuf,
    /// Sets of facts kept per PC (default 10, at least 1).
    pub history: u32,
    /// Changes of this severity or worse fail the run (exit 3).
    pub fail_on: Option<crate::changes::Severity>,
    /// The shared PostgreSQL inventory, when the playbook names one (then `path` is unused).
    pub postgres: Option<Postgres>,
}

/// A shared PostgreSQL inventory: where it is and how to log in. Holds no password, only where it
/// comes from, so it can be printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Postgres {
    /// The URL as the playbook gives it (it holds no password).
    pub url: String,
    /// Where the password comes from; `None`: the server asks for none.
    pub password: Option<PasswordSource>,
    /// TLS to the server (a Unix socket: always `disable`).
    pub tls: TlsMode,
    /// The CA certificate the server's must chain to (absolute); `None`: the system's.
    pub ca: Option<PathBuf>,
}

/// Password escrow: recipients' public keys (validated) and how many passwords to keep per PC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Escrow {
    pub recipients: Vec<String>,
    pub keep: u32,
}

/// The sheets handed to users and stuck on PCs.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    /// Where sheets are written (default `<playbook dir>/output`).
    pub dir: PathBuf,
    /// The user sheet's template; `None`: the built-in one.
    pub user_sheet: Option<PathBuf>,
    /// The PC sheet's template; `None`: the built-in one.
    pub pc_sheet: Option<PathBuf>,
    /// Formats to write, each once (default `[pdf]`).
    pub formats: Vec<Format>,
    /// Whether to write one file with every sheet of the run.
    pub batch: bool,
    /// The QR code's content: a minijinja template over the naming variables and `username`.
    pub qr: String,
    /// Printing at the end of a run; `None`: nothing is printed.
    pub print: Option<Print>,
    /// Sheets of PC labels (`labels.pdf`); `None`: none.
    pub labels: Option<Labels>,
    /// Account slips (`slips.pdf`); `None`: none.
    pub slips: Option<Slips>,
    /// The language of the templates' fixed words and dates (`en`, `fr`...).
    pub lang: String,
}

/// PC labels on sheets of sticky labels.
#[derive(Debug, Clone, PartialEq)]
pub struct Labels {
    /// The label sheet.
    pub grid: crate::render::layout::Grid,
    /// The first label to use on the first sheet (1-based).
    pub start: u32,
    /// The template; `None`: the built-in one.
    pub template: Option<PathBuf>,
}

/// Account slips.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slips {
    /// The template; `None`: the built-in one.
    pub template: Option<PathBuf>,
}

/// Printing through CUPS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Print {
    /// The CUPS queue a run prints to.
    pub printer: String,
    /// The other queues `rdplay print --printer` may use.
    pub printers: Vec<String>,
    /// What a run prints, one job each, in order, each once.
    pub what: Vec<Printable>,
    /// Copies of each job.
    pub copies: u32,
    /// `lp -o NAME=VALUE` options, sorted by name.
    pub options: Vec<(String, String)>,
}

impl Print {
    /// Whether the playbook names `queue`: its printer or one of its other printers.
    pub fn names(&self, queue: &str) -> bool {
        self.printer == queue || self.printers.iter().any(|p| p == queue)
    }
}

/// The most copies of one print job.
pub const MAX_COPIES: u32 = 100;

/// Whether `name` can be a CUPS queue name: 1 to 127 printable ASCII characters, none of
/// space, `/`, `\`, `#`, `?`, quotes, and not beginning with `-` (CUPS's own rules, plus the dash
/// so that it never reads as an option).
pub fn is_queue_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 127
        && !name.starts_with('-')
        && name
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"/\\#?'\"".contains(&b))
}

/// Whether `name=value` can be an `lp -o` option: a name of letters, digits, `-`, `_` and `.`;
/// a value of printable ASCII without quotes, backslashes or spaces (`lp` would split it).
pub fn is_job_option(name: &str, value: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        && !value.is_empty()
        && value.len() <= 256
        && value
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"'\"\\".contains(&b))
}

impl Output {
    /// Renders the QR content for one PC's new account.
    pub fn qr_content(&self, vars: &NameVars, username: &str) -> Result<String, PatternError> {
        render_template(&self.qr, vars, &[("username", username.into())])
    }
}

/// What rdplay logs, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logging {
    /// The least severe level logged (default `info`).
    pub level: LogLevel,
    /// A log file besides standard error.
    pub file: Option<PathBuf>,
}

impl From<super::Format> for crate::render::Format {
    fn from(f: super::Format) -> Self {
        match f {
            super::Format::Pdf => crate::render::Format::Pdf,
            super::Format::Png => crate::render::Format::Png,
        }
    }
}

/// What rdplay needs to know of a PostgreSQL URL before connecting: whether it names a Unix
/// socket, and how to name the server in messages (`USER@HOST:PORT/DATABASE`, never a password).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresUrl {
    /// The host is a Unix socket directory.
    pub on_socket: bool,
    /// The server, for messages.
    pub server: String,
}

/// Checks a PostgreSQL URL: `postgres://` or `postgresql://`, a user and a host, and no password
/// (passwords come from a password source, never from the URL). The error never repeats the URL.
pub fn parse_postgres_url(url: &str) -> Result<PostgresUrl, String> {
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err("a PostgreSQL URL starts with `postgres://`".into());
    }
    let config: postgres::Config = url
        .parse()
        .map_err(|e: postgres::Error| format!("not a PostgreSQL URL ({e})"))?;
    if config.get_password().is_some() {
        return Err("the URL holds a password".into());
    }
    let user = config
        .get_user()
        .ok_or("the URL names no user (`postgres://USER@HOST/DATABASE`)")?;
    let host = match config.get_hosts() {
        [] => return Err("the URL names no host".into()),
        [one] => one,
        _ => return Err("the URL names several hosts; name one".into()),
    };
    let (on_socket, host) = match host {
        postgres::config::Host::Tcp(name) => (false, name.clone()),
        postgres::config::Host::Unix(dir) => (true, dir.display().to_string()),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let database = config.get_dbname().unwrap_or(user);
    Ok(PostgresUrl {
        on_socket,
        server: format!("{user}@{host}:{port}/{database}"),
    })
}
