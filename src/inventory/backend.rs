//! The inventory a playbook names: its SQLite file (the default) or a shared PostgreSQL database.
//! Commands open it here and hand the engine one type, whichever it is.

use super::postgres::{PgInventory, SiteLock};
use super::{
    AccountRecord, ArchiveRecord, Archived, EscrowRecord, Event, EventFilter, EventRecord, Intent,
    Inventory, InventoryError, PcOutcome, PcRecord, PcRef, PcSeen, ReadRecord, Renewal, RunId,
    RunLock, RunSummary, Store,
};
use crate::mac::Mac;
use crate::playbook::InventoryConfig;
use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

type R<T> = Result<T, InventoryError>;

/// The playbook's inventory, of either kind.
#[derive(Clone, Debug)]
pub enum Backend {
    /// The SQLite file of one controller.
    Sqlite(Inventory),
    /// One site's part of a shared PostgreSQL database.
    Postgres(PgInventory),
}

/// The run lock of either kind: held until dropped.
#[derive(Debug)]
pub enum Lock {
    /// The SQLite file's lock file.
    File(RunLock),
    /// The site's advisory lock in the shared database.
    Site(SiteLock),
}

/// Calls the same method on whichever backend this is.
macro_rules! each {
    ($self:ident, $i:ident => $call:expr) => {
        match $self {
            Backend::Sqlite($i) => $call,
            Backend::Postgres($i) => $call,
        }
    };
}

impl Backend {
    /// Opens the inventory for a run of `site`, with its lock (see [`Inventory::open_for_run`] and
    /// [`PgInventory::open_for_run`]); a shared one gets up to `forks` connections.
    pub fn open_for_run(config: &InventoryConfig, site: &str, forks: usize) -> R<(Backend, Lock)> {
        match &config.postgres {
            None => {
                let (inventory, lock) = Inventory::open_for_run(&config.path)?;
                Ok((Backend::Sqlite(inventory), Lock::File(lock)))
            }
            Some(pg) => {
                let (inventory, lock, _) = PgInventory::open_for_run(pg, site, forks)?;
                Ok((Backend::Postgres(inventory), Lock::Site(lock)))
            }
        }
    }

    /// Opens the inventory to read `site`'s records, taking no lock.
    pub fn open_read_only(config: &InventoryConfig, site: &str) -> R<Backend> {
        match &config.postgres {
            None => Inventory::open_read_only(&config.path).map(Backend::Sqlite),
            Some(pg) => PgInventory::open_read_only(pg, site).map(Backend::Postgres),
        }
    }

    /// Finds a PC by what a user typed: a MAC, an IPv4 address or a hostname.
    pub fn find_pc(&self, query: &str) -> R<PcRecord> {
        each!(self, i => i.find_pc(query))
    }

    /// The outcomes recorded for a PC, newest first, at most `limit`.
    pub fn outcomes_of(&self, mac: &Mac, limit: u32) -> R<Vec<super::OutcomeRecord>> {
        each!(self, i => i.outcomes_of(mac, limit))
    }

    /// The accounts of one PC, oldest first.
    pub fn accounts_of(&self, mac: &Mac) -> R<Vec<AccountRecord>> {
        each!(self, i => i.accounts_of(mac))
    }

    /// Every account recorded (of every site), oldest first.
    pub fn accounts(&self) -> R<Vec<AccountRecord>> {
        each!(self, i => i.accounts())
    }

    /// Forgets a PC's pinned host key (a reinstalled PC): the next run makes first contact again.
    pub async fn forget_host_key(&self, pc: &PcRecord) -> R<()> {
        match self {
            Backend::Sqlite(i) => i.forget_host_key(&pc.mac, pc.ip).await,
            Backend::Postgres(p) => p.forget_host_key(&pc.mac).await,
        }
    }

    /// Sets a PC's number by hand; refuses a number another PC (of its site) has.
    pub async fn renumber(&self, mac: &Mac, number: u32) -> R<()> {
        each!(self, i => i.renumber(mac, number).await)
    }

    /// The escrowed passwords, newest first: of one account, or of every account not deleted (of
    /// this site, in a shared inventory).
    pub fn escrowed(&self, username: Option<&str>) -> R<Vec<EscrowRecord>> {
        each!(self, i => i.escrowed(username))
    }

    /// Every read of an escrowed password (of this site's PCs, in a shared inventory), oldest first.
    pub fn reads(&self) -> R<Vec<ReadRecord>> {
        each!(self, i => i.reads())
    }

    /// Records a read of an escrowed password; durable when it returns, before the password is used.
    pub async fn record_read(&self, read: ReadRecord) -> R<()> {
        each!(self, i => i.record_read(read).await)
    }

    /// Replaces an escrowed password's ciphertext (a rekey to other recipients).
    pub async fn rekey(&self, id: i64, recipients: Vec<String>, ciphertext: Vec<u8>) -> R<()> {
        each!(self, i => i.rekey(id, recipients, ciphertext).await)
    }

    /// The writes and commits of this process so far, where the backend counts them (SQLite).
    pub fn write_stats(&self) -> Option<super::WriteStats> {
        match self {
            Backend::Sqlite(i) => Some(i.write_stats()),
            // The server counts its own (pg_stat_database.xact_commit).
            Backend::Postgres(_) => None,
        }
    }

    /// Where it is, for messages: the file, or `USER@HOST:PORT/DATABASE`.
    pub fn location(&self) -> String {
        match self {
            Backend::Sqlite(i) => i.path().display().to_string(),
            Backend::Postgres(p) => p.server().to_owned(),
        }
    }
}

impl Store for Backend {
    fn pc(&self, mac: &Mac) -> R<Option<PcRecord>> {
        each!(self, i => i.pc(mac))
    }
    fn pc_by_ip(&self, ip: Ipv4Addr) -> R<Option<PcRecord>> {
        each!(self, i => i.pc_by_ip(ip))
    }
    fn pcs(&self) -> R<Vec<PcRecord>> {
        each!(self, i => i.pcs())
    }
    fn accounts_to_remove(&self, mac: &Mac) -> R<Vec<AccountRecord>> {
        each!(self, i => i.accounts_to_remove(mac))
    }
    fn usernames_in_use(&self) -> R<HashSet<String>> {
        each!(self, i => i.usernames_in_use())
    }
    fn numbers_for(&self, macs: &[Mac]) -> R<HashMap<Mac, u32>> {
        each!(self, i => i.numbers_for(macs))
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
        each!(self, i => i.escrow(mac, username, request, run, recipients, ciphertext, keep).await)
    }
    fn identity_conflicts(&self) -> R<Vec<Event>> {
        each!(self, i => i.identity_conflicts())
    }
    fn events(&self, filter: EventFilter) -> R<Vec<EventRecord>> {
        each!(self, i => i.events(filter))
    }
    async fn record_events(&self, run: RunId, events: Vec<Event>) -> R<usize> {
        each!(self, i => i.record_events(run, events).await)
    }
    fn highest_uid(&self, mac: &Mac) -> R<Option<u32>> {
        each!(self, i => i.highest_uid(mac))
    }
    fn failed_in_last_run(&self) -> R<Vec<PcRef>> {
        each!(self, i => i.failed_in_last_run())
    }
    fn archives_of(&self, mac: &Mac) -> R<Vec<ArchiveRecord>> {
        each!(self, i => i.archives_of(mac))
    }
    async fn begin_run(&self, playbook: &Path, digest: &str) -> R<RunId> {
        each!(self, i => i.begin_run(playbook, digest).await)
    }
    async fn next_request(&self, run: RunId) -> R<String> {
        each!(self, i => i.next_request(run).await)
    }
    async fn seen(&self, pc: PcSeen) -> R<()> {
        each!(self, i => i.seen(pc).await)
    }
    async fn pin_host_key(&self, mac: &Mac, ip: Ipv4Addr, key: &str) -> R<()> {
        each!(self, i => i.pin_host_key(mac, ip, key).await)
    }
    async fn intend(&self, intent: Intent) -> R<()> {
        each!(self, i => i.intend(intent).await)
    }
    async fn renewed(&self, renewal: Renewal) -> R<()> {
        each!(self, i => i.renewed(renewal).await)
    }
    async fn sheets_written(
        &self,
        username: &str,
        user_sheet: Vec<PathBuf>,
        pc_sheet: Vec<PathBuf>,
    ) -> R<()> {
        each!(self, i => i.sheets_written(username, user_sheet, pc_sheet).await)
    }
    async fn archived(&self, archive: Archived) -> R<i64> {
        each!(self, i => i.archived(archive).await)
    }
    async fn archive_removed(&self, id: i64) -> R<()> {
        each!(self, i => i.archive_removed(id).await)
    }
    async fn outcome(&self, run: RunId, pc: PcOutcome) -> R<()> {
        each!(self, i => i.outcome(run, pc).await)
    }
    async fn finish_run(&self, run: RunId) -> R<RunSummary> {
        each!(self, i => i.finish_run(run).await)
    }
}
