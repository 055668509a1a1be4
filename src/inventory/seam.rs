//! The store interface the engine talks to. [`super::Inventory`] (SQLite) implements it; a second
//! backend is one more module implementing [`Store`]. Reads answer at once (the engine calls them
//! while planning); writes are journal steps, durable when they return.

use super::{
    AccountRecord, ArchiveRecord, Archived, Event, EventFilter, EventRecord, Intent, Inventory,
    InventoryError, PcOutcome, PcRecord, PcRef, PcSeen, Renewal, RunId, RunSummary,
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
}

impl Store for Inventory {
    fn pc(&self, mac: &Mac) -> R<Option<PcRecord>> {
        Inventory::pc(self, mac)
    }
    fn pc_by_ip(&self, ip: Ipv4Addr) -> R<Option<PcRecord>> {
        Inventory::pc_by_ip(self, ip)
    }
    fn pcs(&self) -> R<Vec<PcRecord>> {
        Inventory::pcs(self)
    }
    fn accounts_to_remove(&self, mac: &Mac) -> R<Vec<AccountRecord>> {
        Inventory::accounts_to_remove(self, mac)
    }
    fn usernames_in_use(&self) -> R<HashSet<String>> {
        Inventory::usernames_in_use(self)
    }
    fn highest_uid(&self, mac: &Mac) -> R<Option<u32>> {
        Inventory::highest_uid(self, mac)
    }
    fn failed_in_last_run(&self) -> R<Vec<PcRef>> {
        Inventory::failed_in_last_run(self)
    }
    fn numbers_for(&self, macs: &[Mac]) -> R<std::collections::HashMap<Mac, u32>> {
        Inventory::numbers_for(self, macs)
    }
    async fn escrow(
        &self,
        mac: &Mac,
        username: &str,
        request: &str,
        run: RunId,
        recipients: Vec<String>,
        ciphertext: Vec<u8>,
        keep: u32,
    ) -> R<()> {
        Inventory::escrow(
            self, mac, username, request, run, recipients, ciphertext, keep,
        )
        .await
    }
    fn identity_conflicts(&self) -> R<Vec<Event>> {
        Inventory::identity_conflicts(self)
    }
    fn events(&self, filter: EventFilter) -> R<Vec<EventRecord>> {
        Inventory::events(self, filter)
    }
    async fn record_events(&self, run: RunId, events: Vec<Event>) -> R<usize> {
        Inventory::record_events(self, run, events).await
    }
    fn archives_of(&self, mac: &Mac) -> R<Vec<ArchiveRecord>> {
        Inventory::archives_of(self, mac)
    }
    async fn archived(&self, archive: Archived) -> R<i64> {
        Inventory::archived(self, archive).await
    }
    async fn archive_removed(&self, id: i64) -> R<()> {
        Inventory::archive_removed(self, id).await
    }
    async fn begin_run(&self, playbook: &Path, digest: &str) -> R<RunId> {
        Inventory::begin_run(self, playbook, digest).await
    }
    async fn next_request(&self, run: RunId) -> R<String> {
        Inventory::next_request(self, run).await
    }
    async fn seen(&self, pc: PcSeen) -> R<()> {
        Inventory::seen(self, pc).await
    }
    async fn pin_host_key(&self, mac: &Mac, ip: Ipv4Addr, key: &str) -> R<()> {
        Inventory::pin_host_key(self, mac, ip, key).await
    }
    async fn intend(&self, intent: Intent) -> R<()> {
        Inventory::intend(self, intent).await
    }
    async fn renewed(&self, renewal: Renewal) -> R<()> {
        Inventory::renewed(self, renewal).await
    }
    async fn sheets_written(
        &self,
        username: &str,
        user_sheet: Vec<PathBuf>,
        pc_sheet: Vec<PathBuf>,
    ) -> R<()> {
        Inventory::sheets_written(self, username, user_sheet, pc_sheet).await
    }
    async fn outcome(&self, run: RunId, pc: PcOutcome) -> R<()> {
        Inventory::outcome(self, run, pc).await
    }
    async fn finish_run(&self, run: RunId) -> R<RunSummary> {
        Inventory::finish_run(self, run).await
    }
}
