//! The inventory's one surface: what the engine and the commands read from and write to it.
//! [`super::Inventory`] implements it once for SQLite and PostgreSQL. Reads answer at once (the
//! engine calls them while planning); writes are durable when they return.

use super::export::Snapshot;
use super::{
    AccountRecord, ArchiveRecord, Archived, EscrowRecord, Event, EventFilter, EventRecord, Intent,
    InventoryError, OutcomeRecord, PcOutcome, PcRecord, PcRef, PcSeen, ReadRecord, Renewal, RunId,
    RunSummary,
};
use crate::mac::Mac;
use std::collections::HashSet;
use std::future::Future;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

type R<T> = Result<T, InventoryError>;

/// What the engine reads from and writes to the inventory.
pub trait Store: Clone + Send + Sync + 'static {
    /// The PC with this MAC.
    fn pc(&self, mac: &Mac) -> R<Option<PcRecord>>;
    /// The PC last seen at this address.
    fn pc_by_ip(&self, ip: Ipv4Addr) -> R<Option<PcRecord>>;
    /// Every PC.
    fn pcs(&self) -> R<Vec<PcRecord>>;
    /// The accounts rdplay may (and must) delete on this PC: recorded and not deleted.
    fn accounts_to_remove(&self, mac: &Mac) -> R<Vec<AccountRecord>>;
    /// Every managed username not deleted, fleet-wide.
    fn usernames_in_use(&self) -> R<HashSet<String>>;
    /// Each PC's number: its own, or the smallest free ones in the order given (reads only).
    fn numbers_for(&self, macs: &[Mac]) -> R<std::collections::HashMap<Mac, u32>>;
    /// Stores an escrowed password; keeps the newest `keep` of the PC.
    #[allow(clippy::too_many_arguments)]
    fn escrow(
        &self,
        mac: &Mac,
        username: &str,
        request: &str,
        run: RunId,
        recipients: Vec<String>,
        ciphertext: Vec<u8>,
        keep: u32,
    ) -> impl Future<Output = R<()>> + Send;
    /// PCs sharing a host key, machine-id or DMI serial/UUID, as `clone` events.
    fn identity_conflicts(&self) -> R<Vec<Event>>;
    /// Recorded events.
    fn events(&self, filter: EventFilter) -> R<Vec<EventRecord>>;
    /// Records fleet-wide events (each once); how many were new.
    fn record_events(
        &self,
        run: RunId,
        events: Vec<Event>,
    ) -> impl Future<Output = R<usize>> + Send;
    /// The highest uid rdplay gave an account on this PC (deleted ones included).
    fn highest_uid(&self, mac: &Mac) -> R<Option<u32>>;
    /// The PCs that failed in the last run (for `--limit @failed`).
    fn failed_in_last_run(&self) -> R<Vec<PcRef>>;
    /// The archives made of a PC's old accounts, oldest first (removed ones too).
    fn archives_of(&self, mac: &Mac) -> R<Vec<ArchiveRecord>>;

    /// Records the start of a run.
    fn begin_run(&self, playbook: &Path, digest: &str) -> impl Future<Output = R<RunId>> + Send;
    /// The next request number.
    fn next_request(&self, run: RunId) -> impl Future<Output = R<String>> + Send;
    /// A PC was seen.
    fn seen(&self, pc: PcSeen) -> impl Future<Output = R<()>> + Send;
    /// Pins a PC's host key lines.
    fn pin_host_key(
        &self,
        mac: &Mac,
        ip: Ipv4Addr,
        key: &str,
    ) -> impl Future<Output = R<()>> + Send;
    /// Journal step 1: the new account `pending`, before any change on the PC.
    fn intend(&self, intent: Intent) -> impl Future<Output = R<()>> + Send;
    /// Journal step 2: the PC reported success.
    fn renewed(&self, renewal: Renewal) -> impl Future<Output = R<()>> + Send;
    /// Journal step 3: the sheets exist; the account is `live`.
    fn sheets_written(
        &self,
        username: &str,
        user_sheet: Vec<PathBuf>,
        pc_sheet: Vec<PathBuf>,
    ) -> impl Future<Output = R<()>> + Send;
    /// An archive of an old account was written (before the account is deleted).
    fn archived(&self, archive: Archived) -> impl Future<Output = R<i64>> + Send;
    /// Retention removed an archive's file.
    fn archive_removed(&self, id: i64) -> impl Future<Output = R<()>> + Send;
    /// How a PC ended in a run.
    fn outcome(&self, run: RunId, pc: PcOutcome) -> impl Future<Output = R<()>> + Send;
    /// Records the end of a run.
    fn finish_run(&self, run: RunId) -> impl Future<Output = R<RunSummary>> + Send;

    // ---- an admin's reads and changes (`rdplay inventory`, `reprint`, `escrow`) ----

    /// Finds a PC by what a user typed: a MAC (any case, `:` or `-`), an IPv4 address (this site's
    /// PC last seen there first) or a hostname; one several PCs have is ambiguous.
    fn find_pc(&self, query: &str) -> R<PcRecord>;
    /// The outcomes recorded for a PC, newest first, at most `limit`.
    fn outcomes_of(&self, mac: &Mac, limit: u32) -> R<Vec<OutcomeRecord>>;
    /// The accounts of one PC, oldest first.
    fn accounts_of(&self, mac: &Mac) -> R<Vec<AccountRecord>>;
    /// Every account recorded (of every site), oldest first.
    fn accounts(&self) -> R<Vec<AccountRecord>>;
    /// Everything `inventory list` and the exports show: of every site (`None`) or of one (a
    /// shared inventory only).
    fn snapshot(&self, site: Option<&str>) -> R<Snapshot>;
    /// The escrowed passwords, newest first: of one account, or of every account not deleted (of
    /// this site).
    fn escrowed(&self, username: Option<&str>) -> R<Vec<EscrowRecord>>;
    /// Every read of an escrowed password (of this site's PCs), oldest first.
    fn reads(&self) -> R<Vec<ReadRecord>>;
    /// Forgets a PC's pinned host key (a reinstalled PC): the next run makes first contact again.
    fn forget_host_key(&self, mac: &Mac) -> impl Future<Output = R<()>> + Send;
    /// Sets a PC's number by hand; refuses a number another PC of its site has.
    fn renumber(&self, mac: &Mac, number: u32) -> impl Future<Output = R<()>> + Send;
    /// Records a read of an escrowed password; durable when it returns, before the password is
    /// used.
    fn record_read(&self, read: ReadRecord) -> impl Future<Output = R<()>> + Send;
    /// Replaces an escrowed password's ciphertext (a rekey to other recipients).
    fn rekey(
        &self,
        id: i64,
        recipients: Vec<String>,
        ciphertext: Vec<u8>,
    ) -> impl Future<Output = R<()>> + Send;
}
