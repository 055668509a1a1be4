//! The records the inventory stores and the messages the engine sends it.

use crate::facts::Facts;
use crate::mac::Mac;
use jiff::Timestamp;
use std::fmt;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

/// One run of `rdplay run`, as numbered by the inventory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct RunId(pub i64);

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "run {}", self.0)
    }
}

/// A PC the inventory knows, identified by its MAC.
#[derive(Debug, Clone, PartialEq)]
pub struct PcRecord {
    /// MAC address, lower-case colon form.
    pub mac: Mac,
    /// The address it was last seen at.
    pub ip: Ipv4Addr,
    /// Its hostname, as it reported it (untrusted text).
    pub hostname: Option<String>,
    /// The pinned SSH host key line(s), e.g. `ssh-ed25519 AAAA...`; `None` before first contact or
    /// after `rdplay inventory forget`.
    pub host_key: Option<String>,
    /// The facts of its last renewal.
    pub facts: Option<Facts>,
    /// When rdplay first saw it.
    pub first_seen: Timestamp,
    /// When rdplay last saw it.
    pub last_seen: Timestamp,
    /// Its number (the naming pattern's `number`), kept for good once given.
    pub number: Option<u32>,
}

/// Where an account is in the journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccountState {
    /// The intent is recorded; the account may or may not exist on the PC yet.
    Pending,
    /// The account was created and its sheets written.
    Live,
    /// rdplay deleted it from the PC.
    Deleted,
}

impl AccountState {
    /// The word stored in SQLite and shown to users.
    pub fn as_str(self) -> &'static str {
        match self {
            AccountState::Pending => "pending",
            AccountState::Live => "live",
            AccountState::Deleted => "deleted",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(AccountState::Pending),
            "live" => Some(AccountState::Live),
            "deleted" => Some(AccountState::Deleted),
            _ => None,
        }
    }
}

impl fmt::Display for AccountState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A managed account, past or present. The password is never stored.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountRecord {
    /// The login name.
    pub username: String,
    /// The PC it belongs to.
    pub mac: Mac,
    /// The request number that created it (`REQ-YYYYMMDD-NNNNNN`).
    pub request: String,
    /// The uid the PC gave it, once the renewal that created it was recorded (`None` before, and for
    /// accounts made by versions of rdplay that did not choose uids).
    pub uid: Option<u32>,
    /// Its login shell, as the PC reported it once the renewal that created it was recorded (`None`
    /// before, and for accounts made by versions of rdplay that did not record it).
    pub shell: Option<String>,
    /// Its journal state.
    pub state: AccountState,
    /// When the intent to create it was recorded.
    pub created_at: Timestamp,
    /// When rdplay deleted it; `None` while pending or live.
    pub deleted_at: Option<Timestamp>,
    /// The user sheets (absolute paths), empty until written.
    pub user_sheet: Vec<PathBuf>,
    /// The PC sheets (absolute paths), empty until written.
    pub pc_sheet: Vec<PathBuf>,
}

/// A PC named by a run's outcome: its MAC when it was learnt, always its address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PcRef {
    /// MAC address, when the run got that far.
    pub mac: Option<Mac>,
    /// The address it was reached at.
    pub ip: Ipv4Addr,
}

/// The engine saw a PC (after the scan or the first SSH contact).
#[derive(Debug, Clone)]
pub struct PcSeen {
    /// MAC address, lower-case colon form.
    pub mac: Mac,
    /// Its address.
    pub ip: Ipv4Addr,
    /// Its hostname, when known at this point.
    pub hostname: Option<String>,
}

/// The journal entry written before any change on a PC.
#[derive(Debug, Clone)]
pub struct Intent {
    /// The current run.
    pub run: RunId,
    /// The PC.
    pub mac: Mac,
    /// Its address.
    pub ip: Ipv4Addr,
    /// The request number from [`super::Inventory::next_request`].
    pub request: String,
    /// The account about to be created.
    pub new_username: String,
    /// The accounts about to be deleted.
    pub old_usernames: Vec<String>,
    /// The PC's number, recorded with its first intent (kept when it has one).
    pub number: Option<u32>,
}

/// The PC reported success: old accounts are gone, the new one exists.
#[derive(Debug, Clone)]
pub struct Renewal {
    /// The current run.
    pub run: RunId,
    /// The PC.
    pub mac: Mac,
    /// The request of the intent.
    pub request: String,
    /// The account that was created.
    pub new_username: String,
    /// The uid the new account was given.
    pub uid: Option<u32>,
    /// The login shell it was given (the plan's choice, as the PC reported it).
    pub shell: Option<String>,
    /// The accounts that were deleted (recorded or adopted).
    pub deleted: Vec<String>,
    /// How many files the deleted accounts left outside their homes (removed).
    pub leftover_files: u64,
    /// Their bytes.
    pub leftover_bytes: u64,
    /// The hostname the PC reported.
    pub hostname: String,
    /// The facts the PC reported.
    pub facts: Facts,
    /// How many sets of facts to keep per PC (`inventory.history`).
    pub history: u32,
}

/// Something that changed, as the inventory records it: on one PC (its facts), or between two PCs
/// (a clone), or at an address (a stranger).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Event {
    /// What changed: `memory`, `cpu`, `disk`, `interface`, `dmi`, `machine_id`, `os`, `kernel`,
    /// `clone`, `stranger`.
    pub kind: String,
    pub severity: crate::changes::Severity,
    /// The PC it is about.
    pub mac: Option<Mac>,
    /// The other PC, for a clone.
    pub other_mac: Option<Mac>,
    pub ip: Option<Ipv4Addr>,
    /// The PC's name when the event was recorded (untrusted text).
    pub hostname: Option<String>,
    /// One short sentence: `memory 8.0 GiB → 4.0 GiB`.
    pub text: String,
    /// When the facts compared against were recorded.
    pub since: Option<Timestamp>,
}

/// An escrowed password: ciphertext to the recipients named by their fingerprints.
#[derive(Debug, Clone, PartialEq)]
pub struct EscrowRecord {
    pub id: i64,
    pub mac: Mac,
    pub username: String,
    pub request: String,
    pub at: Timestamp,
    /// Fingerprints of the recipients it is encrypted to.
    pub recipients: Vec<String>,
    /// age ciphertext (never the password).
    pub ciphertext: Vec<u8>,
}

/// A password read back from escrow (reprint, show, rekey): who, when, with which key, and why.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ReadRecord {
    pub at: Timestamp,
    pub username: String,
    pub mac: Mac,
    /// `reprint`, `show` or `rekey`.
    pub action: String,
    /// The identity's public key fingerprint, derived from the identity itself.
    pub identity: String,
    /// Who read: `NAME (uid N)` of the process's real uid, with what sudo's variables claim marked
    /// unverified (`root (uid 0; via sudo from alice, uid 1000, unverified)`).
    pub local_user: String,
    pub local_host: String,
    pub reason: Option<String>,
}

/// Which recorded events to read.
#[derive(Debug, Clone, Copy)]
pub enum EventFilter {
    All,
    Run(RunId),
    Since(Timestamp),
}

/// A recorded [`Event`], with its run and time.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct EventRecord {
    pub run: RunId,
    pub at: Timestamp,
    #[serde(flatten)]
    pub event: Event,
}

impl EventRecord {
    /// The sentence a non-developer reads: `pc12: memory 8.0 GiB → 4.0 GiB since 2026-09-01`.
    pub fn sentence(&self) -> String {
        let e = &self.event;
        let who = match (&e.hostname, &e.ip, &e.mac) {
            (Some(h), _, _) => crate::text::inert(h, 40),
            (None, Some(ip), _) => ip.to_string(),
            (None, None, Some(mac)) => mac.to_string(),
            (None, None, None) => "?".into(),
        };
        let since = e
            .since
            .map(|t| format!(" since {}", t.strftime("%Y-%m-%d")))
            .unwrap_or_default();
        format!("{who}: {}{since}", crate::text::inert(&e.text, 300))
    }
}

/// An archive of an old account's work was written (`account.archive`), before the account is deleted.
#[derive(Debug, Clone)]
pub struct Archived {
    /// The current run.
    pub run: RunId,
    /// The PC.
    pub mac: Mac,
    /// The account archived.
    pub username: String,
    /// The request of the renewal that deletes it.
    pub request: String,
    /// The archive file (absolute).
    pub path: PathBuf,
    /// Its size.
    pub bytes: u64,
    /// Its SHA-256, lower-case hex.
    pub sha256: String,
}

/// An archive, as read back.
#[derive(Debug, Clone, PartialEq)]
pub struct ArchiveRecord {
    /// Its number in the inventory.
    pub id: i64,
    /// The PC.
    pub mac: Mac,
    /// The account archived.
    pub username: String,
    /// The request of the renewal that deleted it.
    pub request: String,
    /// The archive file.
    pub path: PathBuf,
    /// Its size.
    pub bytes: u64,
    /// Its SHA-256, lower-case hex.
    pub sha256: String,
    /// When it was written.
    pub created_at: Timestamp,
    /// When retention (`account.archive.keep`) removed the file; `None` while it is kept.
    pub removed_at: Option<Timestamp>,
}

/// How one PC ended in a run.
#[derive(Debug, Clone)]
pub struct PcOutcome {
    /// MAC address, when the run learnt it.
    pub mac: Option<Mac>,
    /// Its address.
    pub ip: Ipv4Addr,
    /// The last step reached (`scan`, `exchange`, `sftp`, `exec`, `inventory`, `render`).
    pub step: String,
    /// Whether the PC ended renewed.
    pub ok: bool,
    /// Why it failed (never holds a password).
    pub reason: Option<String>,
    /// How long the PC took.
    pub duration: Duration,
}

/// One recorded outcome, as read back.
#[derive(Debug, Clone, PartialEq)]
pub struct OutcomeRecord {
    /// The run.
    pub run: RunId,
    /// The PC's MAC, when known.
    pub mac: Option<Mac>,
    /// The PC's address.
    pub ip: Ipv4Addr,
    /// The last step reached.
    pub step: String,
    /// Whether it succeeded.
    pub ok: bool,
    /// Why it failed.
    pub reason: Option<String>,
    /// Milliseconds it took.
    pub duration_ms: u64,
    /// When it was recorded.
    pub at: Timestamp,
}

/// What a finished run did.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSummary {
    /// The run.
    pub run: RunId,
    /// When it began.
    pub started_at: Timestamp,
    /// When it finished.
    pub finished_at: Timestamp,
    /// PCs whose outcome was a success.
    pub ok: u32,
    /// PCs whose outcome was a failure.
    pub failed: u32,
}

/// Counters of the writer thread: how many writes went through how many commits (fsyncs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteStats {
    /// Writes applied.
    pub writes: u64,
    /// Transactions committed.
    pub commits: u64,
}
