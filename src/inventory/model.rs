//! The records the inventory stores and the messages the engine sends it.

use crate::facts::Facts;
use crate::mac::Mac;
use jiff::Timestamp;
use std::fmt;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

/// One run of `rdplay run`, as numbered by the inventory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
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
