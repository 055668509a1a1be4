//! The playbook exactly as written: the serde and JSON Schema model.
//!
//! These types only describe the YAML's shape (keys, types, defaults). Their doc comments are
//! the descriptions an editor shows through the JSON Schema. Everything that needs a check
//! beyond the shape (addresses, durations, the naming pattern, the password policy, files that
//! must exist) happens when they become a [`super::Playbook`], so every problem is reported at
//! once with its place in the file.

use super::duration::DURATION_PATTERN;
use super::size::SIZE_PATTERN;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// An rdplay playbook: which PCs to reach, how to reach them, and the account to renew on each.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "Playbook")]
#[schemars(title = "rdplay playbook")]
pub struct RawPlaybook {
    /// Site code: letters and digits, used by the naming pattern as `{{ site }}` (e.g. `SS`).
    #[schemars(regex(pattern = r"^[A-Za-z0-9]{1,16}$"), example = &"SS")]
    pub site: String,
    /// Which addresses to scan for PCs.
    pub target: RawTarget,
    /// How rdplay's SSH connections behave.
    #[serde(default)]
    pub connection: RawConnection,
    /// First contact: the admin account that installs rdplay's key on PCs that do not trust it yet.
    pub exchange: RawExchange,
    /// The account rdplay creates on each PC, and how it is named.
    #[serde(default)]
    pub account: RawAccount,
    /// When an existing rdplay account is renewed.
    #[serde(default)]
    pub renewal: RawRenewal,
    /// How the new account's password is generated.
    #[serde(default)]
    pub password: RawPasswordPolicy,
    /// rdplay's own state: SSH key, known_hosts, inventory. Relative to the playbook's directory.
    #[serde(default = "default_state_dir")]
    pub state_dir: PathBuf,
    /// Where the inventory of PCs and accounts is kept.
    #[serde(default)]
    pub inventory: RawInventory,
    /// The sheets handed to users and stuck on PCs.
    #[serde(default)]
    pub output: RawOutput,
    /// Password escrow (off unless given): see docs/SECURITY.md.
    #[serde(default)]
    pub escrow: Option<RawEscrow>,
    /// What rdplay logs, and where.
    #[serde(default)]
    pub logging: RawLogging,
}

/// A host number inside the network (`7`), a range of them (`2-254`, or the older `2,254`),
/// or full addresses (`192.168.122.7`, `192.168.122.2-192.168.122.40`).
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum RawHosts {
    /// A host number: the offset from the network's address (the last octet in a /24).
    Number(u32),
    /// `A-B`, `A,B`, an address, or `ADDRESS-ADDRESS`.
    Text(String),
}

/// One item or a list of them.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum OneOrMany<T> {
    /// A single item.
    One(T),
    /// Several items.
    Many(Vec<T>),
}

impl<T: Clone> OneOrMany<T> {
    /// The items as a list.
    pub fn to_vec(&self) -> Vec<T> {
        match self {
            OneOrMany::One(t) => vec![t.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

impl<T> Default for OneOrMany<T> {
    fn default() -> Self {
        OneOrMany::Many(Vec::new())
    }
}

/// `account.shell`: one login shell, or several in order of preference.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(untagged, rename = "Shell")]
pub enum RawShell {
    /// One absolute path, e.g. `/bin/bash`: every PC must have it.
    One(String),
    /// Absolute paths in order of preference, e.g. `[/bin/bash, /bin/sh]`: each PC gets the first
    /// that exists on it and is listed in its /etc/shells.
    Prefer(Vec<String>),
}

/// Which addresses to scan for PCs.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "Target")]
pub struct RawTarget {
    /// The network: CIDR (`192.168.122.0/24`, from /16 to /32) or the short form of a /24
    /// (`192.168.122`).
    #[schemars(
        regex(pattern = r"^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}(\.[0-9]{1,3}/[0-9]{1,2})?$"),
        example = &"192.168.122.0/24"
    )]
    pub network: String,
    /// Host ranges to scan, one or a list: `2-254`, `3,10` (same as `3-10`), `7`, or full
    /// addresses. Default: every host from 2 to the last before broadcast (`2-254` in a /24).
    /// In a flow list write `[3-10]`: `[3,10]` is the two hosts 3 and 10.
    #[serde(default)]
    pub ranges: OneOrMany<RawHosts>,
    /// Addresses never to touch (the gateway, servers...): host numbers or full addresses.
    #[serde(default)]
    pub exclude: Vec<RawHosts>,
    /// The SSH port of the PCs.
    #[serde(default = "default_port")]
    pub port: u16,
}

/// How rdplay's SSH connections behave.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "Connection")]
pub struct RawConnection {
    /// The user rdplay logs in as once its key is installed.
    #[serde(default = "default_user")]
    pub user: String,
    /// rdplay's private key (ed25519, generated when absent). Default: `<state_dir>/id_ed25519`.
    #[serde(default)]
    pub identity: Option<PathBuf>,
    /// rdplay's own known_hosts, pinned at first contact. Default: `<state_dir>/known_hosts`.
    #[serde(default)]
    pub known_hosts: Option<PathBuf>,
    /// How long to wait for a PC to accept a connection.
    #[serde(default = "default_connect_timeout")]
    #[schemars(regex(pattern = DURATION_PATTERN))]
    pub connect_timeout: String,
    /// How long one step on a PC (upload, renewal) may take before the PC is marked failed.
    #[serde(default = "default_step_timeout")]
    #[schemars(regex(pattern = DURATION_PATTERN))]
    pub step_timeout: String,
    /// How many PCs are worked on at once.
    #[serde(default = "default_forks")]
    #[schemars(range(min = 1, max = 1024))]
    pub forks: usize,
    /// How long an idle SSH master connection stays open (OpenSSH ControlPersist).
    #[serde(default = "default_control_persist")]
    #[schemars(regex(pattern = DURATION_PATTERN))]
    pub control_persist: String,
    /// Whether to read `~/.ssh/config` (false: rdplay's options only).
    #[serde(default = "default_true")]
    pub ssh_config: bool,
    /// The key exchange methods every connection offers, in order (OpenSSH's `KexAlgorithms`,
    /// e.g. `[curve25519-sha256]`). Default: OpenSSH's own list.
    #[serde(default)]
    #[schemars(length(min = 1))]
    pub kex_algorithms: Option<Vec<String>>,
}

/// First contact: the admin account that installs rdplay's key on PCs that do not trust it yet.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "Exchange")]
pub struct RawExchange {
    /// The admin account present on every PC (e.g. a technician account).
    pub admin_user: String,
    /// Where its password comes from. Never the password itself.
    pub password: RawPasswordSource,
    /// How the admin becomes root: `sudo`, with the password on its standard input.
    #[serde(default, rename = "become")]
    pub become_method: Become,
}

/// Where the admin password comes from: never the password itself.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case", rename = "PasswordSource")]
pub enum RawPasswordSource {
    /// A file holding the password (one trailing newline is ignored); it must be mode 0600.
    File(PathBuf),
    /// The *name* of an environment variable holding the password.
    Env(String),
    /// Ask on the terminal, without echo.
    Prompt,
}

/// How the admin account becomes root.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Become {
    /// `sudo -S`, the password written to its standard input.
    #[default]
    Sudo,
}

/// The account rdplay creates on each PC.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "Account")]
pub struct RawAccount {
    /// The user name, a minijinja template. Variables: `site`, `index`, `ip`, `octet`,
    /// `hostname`, `mac`, `request`, `date`, `date_compact`; functions `random_digits(n)` and
    /// `random_letters(n)`; filter `pad(width)`. See docs/PLAYBOOK.md.
    #[serde(default = "default_pattern")]
    pub pattern: String,
    /// The login shell: one path (used wherever it exists on the PC), or a list in order of
    /// preference (each PC gets the first that exists there and is listed in its /etc/shells, e.g.
    /// `[/bin/bash, /bin/sh]` for a fleet with busybox PCs). Default: /bin/bash.
    #[serde(default = "default_shell")]
    pub shell: RawShell,
    /// Supplementary groups (they must exist on the PCs).
    #[serde(default)]
    pub groups: Vec<String>,
    /// The directory that holds home directories.
    #[serde(default = "default_home_base")]
    pub home_base: String,
    /// A regular expression (whole name) for accounts made before rdplay that it may take over
    /// and delete, e.g. `USERSS[0-9]{3}-[0-9]{4}`. Unset: only accounts in rdplay's inventory.
    #[serde(default)]
    pub adopt: Option<String>,
    /// Prove the new password logs in before its sheet is written (a password login over SSH as
    /// the new account; where the PC refuses password logins, a check that the stored hash is the
    /// one sent and the account is usable). Default: true.
    #[serde(default = "default_true")]
    pub verify_login: bool,
    /// Archive the old account's home and the files it left elsewhere (a compressed tar, fetched over
    /// SSH) before deleting it. Unset: nothing is archived.
    #[serde(default)]
    pub archive: Option<RawArchive>,
}

/// Password escrow: each new password encrypted to these public keys and kept in the inventory.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "Escrow")]
pub struct RawEscrow {
    /// age keys (`age1…`) and SSH public keys (`ssh-ed25519 AAAA…`, `ssh-rsa AAAA…`) of the admins
    /// who may read a password back (`rdplay reprint`). The controller needs no private key.
    pub recipients: Vec<String>,
    /// How many escrowed passwords to keep per PC (the newest). Default: 3.
    #[serde(default = "default_escrow_keep")]
    pub keep: u32,
}

fn default_escrow_keep() -> u32 {
    3
}

/// The archive of an old account's work, made before it is deleted: its home and the files it owns
/// elsewhere, as a `.tar.gz` on the controller, one file per account.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "Archive")]
pub struct RawArchive {
    /// Where archives are kept on the controller (0700 directories, one per PC; 0600 files).
    /// Default: `<state_dir>/archives`.
    #[serde(default)]
    pub dir: Option<PathBuf>,
    /// The largest archive of one account (compressed), e.g. `2GiB` or `500MB`: a larger one fails the
    /// PC before anything is deleted.
    #[serde(default = "default_max_size")]
    #[schemars(regex(pattern = SIZE_PATTERN))]
    pub max_size: String,
    /// How many archives to keep per PC: after a new one, older ones are deleted.
    #[serde(default = "default_keep")]
    #[schemars(range(min = 1, max = 10000))]
    pub keep: u32,
    /// When an old account's archive cannot be made (too large, too slow, the PC refused): `keep`
    /// (default) keeps the account, locked with its jobs and processes ended, and fails the PC with
    /// the reason; `delete` deletes it without its archive and names the reason in the outcome.
    #[serde(default)]
    pub on_failure: ArchiveFailure,
}

/// What a failed archive does to the renewal (`account.archive.on_failure`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ArchiveFailure {
    /// The old account stays (locked, nothing of it running) and the PC fails with the reason.
    #[default]
    Keep,
    /// The old account is deleted without its archive; the outcome says why there is none.
    Delete,
}

/// When an existing rdplay account is renewed: `{ older_than: 12h }` (the default), or `always`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case", rename = "Renewal")]
pub enum RawRenewal {
    /// Every run renews every PC's account, even one made minutes ago.
    Always,
    /// Only accounts created longer ago than this (e.g. `30d`; default `12h`, so that a second run
    /// the same day keeps the accounts whose sheets were just printed). `m` is refused here: write
    /// `min` for minutes or days for months.
    OlderThan(#[schemars(regex(pattern = DURATION_PATTERN))] String),
}

/// The renewal policy when the playbook gives none: accounts renewed within the last 12 hours are
/// kept, so running again after fixing a few failed PCs does not renew the others.
pub const DEFAULT_RENEWAL: &str = "12h";

impl Default for RawRenewal {
    fn default() -> Self {
        RawRenewal::OlderThan(DEFAULT_RENEWAL.into())
    }
}

/// How the new account's password is generated (OS random source, uniform over every password
/// the policy allows).
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "PasswordPolicy")]
pub struct RawPasswordPolicy {
    /// Number of characters (at most 128). The policy must reach 80 bits of entropy.
    #[serde(default = "default_length")]
    pub length: usize,
    /// At least this many upper-case letters.
    #[serde(default = "default_one")]
    pub min_upper: usize,
    /// At least this many lower-case letters.
    #[serde(default = "default_one")]
    pub min_lower: usize,
    /// At least this many digits.
    #[serde(default = "default_one")]
    pub min_digit: usize,
    /// At least this many symbols from `symbols`.
    #[serde(default = "default_one")]
    pub min_symbol: usize,
    /// The symbols that may appear (ASCII punctuation). Empty: no symbols at all.
    #[serde(default = "default_symbols")]
    pub symbols: String,
    /// Leave out characters that are easily misread on paper: `0 O 1 l I |`.
    #[serde(default = "default_true")]
    pub exclude_ambiguous: bool,
}

/// Where the inventory of PCs and accounts is kept.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "Inventory")]
pub struct RawInventory {
    /// The SQLite file. Default: `<state_dir>/inventory.db`.
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// How many sets of facts to keep per PC, to compare and to look back on. Default: 10.
    #[serde(default = "default_history")]
    pub history: u32,
    /// Changes of this severity or worse (`info`, `warning`) fail the run (exit 3), for
    /// monitoring. Default: changes are reported, never a failure.
    #[serde(default)]
    pub fail_on: Option<crate::changes::Severity>,
    /// A shared PostgreSQL inventory instead of the SQLite file, for several sites:
    /// `postgres://USER@HOST[:PORT]/DATABASE`, or a Unix socket directory as host
    /// (`postgres://rdplay@%2Frun%2Fpostgresql/rdplay`). Never a password in it: see `password`.
    #[serde(default)]
    pub url: Option<String>,
    /// Where the database password comes from: `{ env: NAME }` or `{ file: PATH }` (mode 0600).
    /// Unset: the server must not ask for one (peer or certificate authentication).
    #[serde(default)]
    pub password: Option<RawPasswordSource>,
    /// TLS to the database server: `require` (default over TCP) or `disable`. A Unix socket never
    /// uses TLS.
    #[serde(default)]
    pub tls: Option<TlsMode>,
    /// The CA certificate (PEM) the server's certificate must chain to. Default: the system's.
    #[serde(default)]
    pub ca: Option<PathBuf>,
}

/// Whether the connection to the database server is encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TlsMode {
    /// TLS or no connection, the server's certificate checked.
    Require,
    /// Never TLS.
    Disable,
}

impl Default for RawInventory {
    fn default() -> Self {
        RawInventory {
            path: None,
            history: default_history(),
            fail_on: None,
            url: None,
            password: None,
            tls: None,
            ca: None,
        }
    }
}

fn default_history() -> u32 {
    10
}

/// The sheets handed to users and stuck on PCs.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "Output")]
pub struct RawOutput {
    /// Where sheets are written (0700 directories, 0600 files).
    #[serde(default = "default_output_dir")]
    pub dir: PathBuf,
    /// A typst template for the user's sheet. Unset: the built-in one.
    #[serde(default)]
    pub user_sheet: Option<PathBuf>,
    /// A typst template for the sheet stuck on the PC. Unset: the built-in one.
    #[serde(default)]
    pub pc_sheet: Option<PathBuf>,
    /// The formats to write.
    #[serde(default = "default_formats")]
    pub formats: Vec<Format>,
    /// Also write one file with every sheet of the run, for printing.
    #[serde(default = "default_true")]
    pub batch: bool,
    /// What the QR code on the sheets holds: a minijinja template over the naming variables
    /// and `username`.
    #[serde(default = "default_qr")]
    pub qr: String,
    /// Print the run's sheets through the system's CUPS (`lp`) at the end of the run. Unset:
    /// nothing is printed; `rdplay print` can still print a run's files later.
    #[serde(default)]
    pub print: Option<RawPrint>,
    /// Also write `labels.pdf`: every PC's label of the run on sheets of sticky labels.
    #[serde(default)]
    pub labels: Option<RawLabels>,
    /// Also write `slips.pdf`: every account of the run on slips to cut, several per page
    /// (`slips: {}`).
    #[serde(default)]
    pub slips: Option<RawSlips>,
    /// The language of the templates' fixed words and dates: `en` or `fr` built in, or any code
    /// with a `lang/<code>.json` beside the templates.
    #[serde(default = "default_lang")]
    #[schemars(regex(pattern = r"^[a-z]{2,3}$"), example = &"fr")]
    pub lang: String,
}

/// PC labels on sheets of sticky labels: a built-in `sheet` or your own `grid`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "Labels")]
pub struct RawLabels {
    /// A built-in label sheet: `avery-l7160` (A4, 21), `avery-l7163` (A4, 14), `avery-l7651`
    /// (A4, 65), `avery-5160` (US Letter, 30). Default: `avery-l7160` unless `grid` is given.
    #[serde(default)]
    pub sheet: Option<String>,
    /// Your own label sheet, in millimetres.
    #[serde(default)]
    pub grid: Option<RawGrid>,
    /// The first label to use on the first sheet (1 = top left, row by row): the ones before it
    /// were used already. `rdplay run --start N` overrides it.
    #[serde(default = "default_start")]
    pub start: u32,
    /// A typst template for the label sheet. Unset: the built-in one.
    #[serde(default)]
    pub template: Option<PathBuf>,
}

/// A sheet of labels: the paper, and where the labels are on it (millimetres).
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "Grid")]
pub struct RawGrid {
    /// `a4`, `a5`, `us-letter` or `us-legal`.
    #[serde(default = "default_paper")]
    pub paper: String,
    pub columns: u32,
    pub rows: u32,
    /// One label's width, mm.
    pub width: f64,
    /// One label's height, mm.
    pub height: f64,
    /// From the paper's top edge to the first row, mm.
    pub top: f64,
    /// From the paper's left edge to the first column, mm.
    pub left: f64,
    /// Between two columns, mm.
    #[serde(default)]
    pub gap_x: f64,
    /// Between two rows, mm.
    #[serde(default)]
    pub gap_y: f64,
}

/// Account slips to cut, several per page.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "Slips")]
pub struct RawSlips {
    /// A typst template for the slips. Unset: the built-in one.
    #[serde(default)]
    pub template: Option<PathBuf>,
}

/// Printing through CUPS at the end of a run. A print failure never fails the renewal: the run
/// reports a warning and the files stay for `rdplay print`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "Print")]
pub struct RawPrint {
    /// The CUPS queue to print to (as `lpstat -p` names it).
    #[schemars(example = &"office-laser")]
    pub printer: String,
    /// Other queues `rdplay print --printer` may send this playbook's files to. No other
    /// printer ever receives them.
    #[serde(default)]
    pub printers: Vec<String>,
    /// What to print, one job each, in this order.
    #[serde(default = "default_print_what")]
    pub what: Vec<Printable>,
    /// Copies of each job (1 to 100).
    #[serde(default = "default_copies")]
    pub copies: u32,
    /// CUPS job options, given to `lp -o NAME=VALUE` (e.g. `media: A4`, `sides: one-sided`).
    #[serde(default)]
    pub options: std::collections::BTreeMap<String, String>,
}

/// A kind of file a run writes that can be printed.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Deserialize,
    Serialize,
    JsonSchema,
    clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum Printable {
    /// The user sheets (one page per account, with its password).
    UserSheets,
    /// The PC sheets (one label per PC, with the QR code of its MAC).
    PcSheets,
    /// The account slips (`output.slips`), with the passwords.
    UserSlips,
    /// The sheets of PC labels (`output.labels`).
    PcLabels,
}

impl Printable {
    /// The name in the playbook and the audit log, e.g. `user_sheets`.
    pub fn as_str(self) -> &'static str {
        match self {
            Printable::UserSheets => "user_sheets",
            Printable::PcSheets => "pc_sheets",
            Printable::UserSlips => "user_slips",
            Printable::PcLabels => "pc_labels",
        }
    }

    /// Whether its files hold passwords.
    pub fn has_passwords(self) -> bool {
        matches!(self, Printable::UserSheets | Printable::UserSlips)
    }
}

/// A sheet format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// PDF, for printing.
    Pdf,
    /// PNG image.
    Png,
}

/// What rdplay logs, and where.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "Logging")]
pub struct RawLogging {
    /// The least severe level logged (`--log-level`, `-v` and `-q` override it).
    #[serde(default)]
    pub level: LogLevel,
    /// Also log to this file. Unset: standard error only.
    #[serde(default)]
    pub file: Option<PathBuf>,
}

/// A log level: the seed's five.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Deserialize,
    Serialize,
    JsonSchema,
    clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
pub enum LogLevel {
    /// Everything, including each command sent to PCs (never passwords): `-vv`.
    Trace,
    /// Each PC's steps, handshakes and effects with their times: `-v`.
    Debug,
    /// Progress of each PC.
    #[default]
    Info,
    /// Things that may need attention.
    Warning,
    /// Failures.
    Error,
    /// Only failures that stop the run.
    Critical,
}

impl LogLevel {
    /// The `tracing` level to filter at (`critical` maps to ERROR, tracing's highest).
    pub fn as_tracing(&self) -> tracing::Level {
        match self {
            LogLevel::Trace => tracing::Level::TRACE,
            LogLevel::Debug => tracing::Level::DEBUG,
            LogLevel::Info => tracing::Level::INFO,
            LogLevel::Warning => tracing::Level::WARN,
            LogLevel::Error | LogLevel::Critical => tracing::Level::ERROR,
        }
    }

    /// The level `steps` more verbose (negative: quieter), clamped to the five levels.
    pub fn shifted(self, steps: i32) -> LogLevel {
        const ORDER: [LogLevel; 6] = [
            LogLevel::Trace,
            LogLevel::Debug,
            LogLevel::Info,
            LogLevel::Warning,
            LogLevel::Error,
            LogLevel::Critical,
        ];
        let at = ORDER.iter().position(|l| *l == self).unwrap_or(2) as i32;
        ORDER[(at - steps).clamp(0, 5) as usize]
    }
}

impl Default for RawConnection {
    fn default() -> Self {
        RawConnection {
            user: default_user(),
            identity: None,
            known_hosts: None,
            connect_timeout: default_connect_timeout(),
            step_timeout: default_step_timeout(),
            forks: default_forks(),
            control_persist: default_control_persist(),
            ssh_config: true,
            kex_algorithms: None,
        }
    }
}

impl Default for RawAccount {
    fn default() -> Self {
        RawAccount {
            pattern: default_pattern(),
            shell: default_shell(),
            groups: Vec::new(),
            home_base: default_home_base(),
            adopt: None,
            verify_login: true,
            archive: None,
        }
    }
}

impl Default for RawPasswordPolicy {
    fn default() -> Self {
        RawPasswordPolicy {
            length: default_length(),
            min_upper: 1,
            min_lower: 1,
            min_digit: 1,
            min_symbol: 1,
            symbols: default_symbols(),
            exclude_ambiguous: true,
        }
    }
}

impl Default for RawOutput {
    fn default() -> Self {
        RawOutput {
            dir: default_output_dir(),
            user_sheet: None,
            pc_sheet: None,
            formats: default_formats(),
            batch: true,
            qr: default_qr(),
            print: None,
            labels: None,
            slips: None,
            lang: default_lang(),
        }
    }
}

impl Default for RawLogging {
    fn default() -> Self {
        RawLogging {
            level: LogLevel::Info,
            file: None,
        }
    }
}

/// The default naming pattern: the seed's `USERSS006-1291`.
pub const DEFAULT_PATTERN: &str = "USER{{ site }}{{ number | pad(3) }}-{{ random_digits(4) }}";
/// The default symbol set: easy to type on QWERTY and AZERTY keyboards.
pub const DEFAULT_SYMBOLS: &str = "!#%*+-=?@_";

fn default_state_dir() -> PathBuf {
    PathBuf::from(".rdplay")
}
fn default_port() -> u16 {
    22
}
fn default_user() -> String {
    "root".into()
}
fn default_connect_timeout() -> String {
    "5s".into()
}
fn default_step_timeout() -> String {
    "120s".into()
}
fn default_forks() -> usize {
    50
}
fn default_control_persist() -> String {
    "60s".into()
}
fn default_true() -> bool {
    true
}
fn default_pattern() -> String {
    DEFAULT_PATTERN.into()
}
fn default_shell() -> RawShell {
    RawShell::One("/bin/bash".into())
}
fn default_home_base() -> String {
    "/home".into()
}
fn default_max_size() -> String {
    "2GiB".into()
}
fn default_keep() -> u32 {
    3
}
fn default_length() -> usize {
    16
}
fn default_one() -> usize {
    1
}
fn default_symbols() -> String {
    DEFAULT_SYMBOLS.into()
}
fn default_output_dir() -> PathBuf {
    PathBuf::from("output")
}
fn default_formats() -> Vec<Format> {
    vec![Format::Pdf]
}
fn default_qr() -> String {
    "{{ mac }}".into()
}
fn default_print_what() -> Vec<Printable> {
    vec![Printable::UserSheets, Printable::PcSheets]
}
fn default_copies() -> u32 {
    1
}
fn default_lang() -> String {
    "en".into()
}
fn default_start() -> u32 {
    1
}
fn default_paper() -> String {
    "a4".into()
}

// serde_yaml_ng reads enums from YAML tags (`!file admin.secret`), which nobody writes:
// these read a bare word for a variant without a value (`prompt`) and a one-key mapping for
// one with a value (`{ file: admin.secret }`).

impl<'de> Deserialize<'de> for RawPasswordSource {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = RawPasswordSource;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("`prompt`, `{ file: PATH }` or `{ env: VARIABLE_NAME }`")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                match v {
                    "prompt" => Ok(RawPasswordSource::Prompt),
                    // Never the value in the error: it may be the password itself.
                    _ => Err(E::custom("not a password source")),
                }
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Self::Value, A::Error> {
                let key: String = map
                    .next_key()?
                    .ok_or_else(|| serde::de::Error::invalid_length(0, &self))?;
                let value = match key.as_str() {
                    "file" => RawPasswordSource::File(map.next_value()?),
                    "env" => RawPasswordSource::Env(map.next_value()?),
                    other => {
                        return Err(serde::de::Error::unknown_variant(
                            other,
                            &["file", "env", "prompt"],
                        ));
                    }
                };
                only_one_key(&mut map, "`file` or `env`")?;
                Ok(value)
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for RawRenewal {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = RawRenewal;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("`always` or `{ older_than: 30d }`")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                match v {
                    "always" => Ok(RawRenewal::Always),
                    other => Err(E::unknown_variant(other, &["always", "older_than"])),
                }
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Self::Value, A::Error> {
                let key: String = map
                    .next_key()?
                    .ok_or_else(|| serde::de::Error::invalid_length(0, &self))?;
                let value = match key.as_str() {
                    "older_than" => RawRenewal::OlderThan(map.next_value()?),
                    other => {
                        return Err(serde::de::Error::unknown_variant(
                            other,
                            &["older_than", "always"],
                        ));
                    }
                };
                only_one_key(&mut map, "`older_than`")?;
                Ok(value)
            }
        }
        d.deserialize_any(V)
    }
}

/// Refuses a second key in a one-key mapping.
fn only_one_key<'de, A: serde::de::MapAccess<'de>>(
    map: &mut A,
    what: &str,
) -> Result<(), A::Error> {
    match map.next_key::<String>()? {
        None => Ok(()),
        Some(extra) => Err(serde::de::Error::custom(format!(
            "give one key, {what}, not also `{extra}`"
        ))),
    }
}
