//! [`Inventory`]: the playbook's inventory, a SQLite file or one site of a shared PostgreSQL
//! database, behind one type. Every read ([`super::reads`]) and write ([`super::journal`]) is
//! written once; this file sends it to whichever database this is.

use super::export::Snapshot;
use super::journal::{
    self, ArchiveRemoved, BeginRun, Escrowed, FinishRun, ForgetHostKey, NextRequest, Outcome,
    PinHostKey, RecordEvents, Rekeyed, Renumber, SheetsWritten, Write,
};
use super::lock::RunLock;
use super::model::{
    AccountRecord, ArchiveRecord, Archived, EscrowRecord, Event, EventFilter, EventRecord, Intent,
    OutcomeRecord, PcOutcome, PcRecord, PcRef, PcSeen, ReadRecord, Renewal, RunId, RunSummary,
    WriteStats,
};
use super::postgres::{Copied, Migrated, PgDb, SiteLock};
use super::reads::{self, PcColumn};
use super::sql::Sql;
use super::sqlite::{self, SqliteDb};
use super::{InventoryError, Store};
use crate::mac::Mac;
use crate::playbook::{InventoryConfig, Postgres};
use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

type R<T> = Result<T, InventoryError>;

/// The inventory: PCs, accounts, requests, runs, escrow and events. Cheap to clone; `Send + Sync`.
///
/// Reads are synchronous (a file read, or one round trip to the server); writes are `async` and
/// return once durably committed.
#[derive(Clone)]
pub struct Inventory {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    /// The site whose PCs, runs and escrow this inventory reads and writes; `""` in a file.
    site: String,
}

enum Db {
    Sqlite(SqliteDb),
    Postgres(PgDb),
}

/// The run lock of either kind: held until dropped.
#[derive(Debug)]
pub enum Lock {
    /// The SQLite file's lock file.
    File(RunLock),
    /// The site's advisory lock in the shared database.
    Site(SiteLock),
}

impl std::fmt::Debug for Inventory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inventory")
            .field("location", &self.location())
            .field("site", &self.inner.site)
            .finish()
    }
}

impl Inventory {
    fn new(db: Db, site: &str) -> Inventory {
        Inventory {
            inner: Arc::new(Inner {
                db,
                site: site.to_owned(),
            }),
        }
    }

    /// Opens the playbook's inventory for a run of `site`, with its lock: the SQLite file (see
    /// [`Inventory::open_for_run`]), or the shared database (connects, migrates, takes the site's
    /// lock, and starts up to `forks` connections).
    pub fn for_run(config: &InventoryConfig, site: &str, forks: usize) -> R<(Inventory, Lock)> {
        match &config.postgres {
            None => Inventory::open_for_run(&config.path),
            Some(pg) => {
                let (db, lock, _) = PgDb::open_for_run(pg, site, forks)?;
                Ok((Inventory::new(Db::Postgres(db), site), Lock::Site(lock)))
            }
        }
    }

    /// Opens the playbook's inventory to read `site`'s records, taking no lock and creating
    /// nothing.
    pub fn to_read(config: &InventoryConfig, site: &str) -> R<Inventory> {
        match &config.postgres {
            None => Inventory::open_read_only(&config.path),
            Some(pg) => Ok(Inventory::new(
                Db::Postgres(PgDb::open_read_only(pg)?),
                site,
            )),
        }
    }

    /// Opens a SQLite file for a run: creates the state directory (0700) and the database (0600)
    /// when missing, applies migrations, and takes the exclusive run lock (`<db>.lock`). A second
    /// opener gets [`InventoryError::Locked`].
    pub fn open_for_run(path: &Path) -> R<(Inventory, Lock)> {
        let (db, lock) = SqliteDb::open_for_run(path)?;
        Ok((
            Inventory::new(Db::Sqlite(db), sqlite::SITE),
            Lock::File(lock),
        ))
    }

    /// Opens a SQLite file for reading only (`run --check`, `rdplay inventory`): creates nothing,
    /// takes no lock; a missing file is an empty inventory.
    pub fn open_read_only(path: &Path) -> R<Inventory> {
        let db = SqliteDb::open_read_only(path)?;
        Ok(Inventory::new(Db::Sqlite(db), sqlite::SITE))
    }

    /// Brings a shared database's schema up to this build's (`rdplay inventory migrate`); refuses
    /// one newer than this build.
    pub fn migrate(pg: &Postgres) -> R<Migrated> {
        PgDb::migrate(pg)
    }

    /// Copies one site's SQLite inventory into the shared database (`rdplay inventory copy`), in
    /// one transaction, holding the site's lock; rows copied before are skipped. What moved, per
    /// table.
    pub fn copy_from_sqlite(pg: &Postgres, site: &str, sqlite: &Path) -> R<Vec<Copied>> {
        PgDb::copy_from_sqlite(pg, site, sqlite)
    }

    /// Where it is, for messages: the file, or `USER@HOST:PORT/DATABASE`.
    pub fn location(&self) -> String {
        match &self.inner.db {
            Db::Sqlite(db) => db.path().display().to_string(),
            Db::Postgres(db) => db.server().to_owned(),
        }
    }

    /// Whether it is shared by several sites (PostgreSQL).
    pub fn is_shared(&self) -> bool {
        matches!(self.inner.db, Db::Postgres(_))
    }

    /// The writes and commits of this process so far, where the database counts them (SQLite; the
    /// server counts its own, `pg_stat_database.xact_commit`).
    pub fn write_stats(&self) -> Option<WriteStats> {
        match &self.inner.db {
            Db::Sqlite(db) => Some(db.write_stats()),
            Db::Postgres(_) => None,
        }
    }

    fn site(&self) -> String {
        self.inner.site.clone()
    }

    /// Runs `read` in a transaction of its own (PostgreSQL) or on the reading connection (SQLite).
    fn read<T: Send + 'static>(
        &self,
        action: &'static str,
        read: impl FnOnce(&mut dyn Sql) -> R<T> + Send + 'static,
    ) -> R<T> {
        match &self.inner.db {
            Db::Sqlite(db) => db.read(read),
            Db::Postgres(db) => db.read(action, read),
        }
    }

    /// Applies `write`; returns once it is durably committed.
    async fn write<W: Write>(&self, write: W) -> R<W::Reply> {
        match &self.inner.db {
            Db::Sqlite(db) => db.write(write).await,
            Db::Postgres(db) => db.write(self.site(), write).await,
        }
    }
}

impl Store for Inventory {
    fn pc(&self, mac: &Mac) -> R<Option<PcRecord>> {
        let mac = mac.clone();
        self.read("read a PC", move |sql| reads::pc(sql, &mac))
    }

    fn pc_by_ip(&self, ip: Ipv4Addr) -> R<Option<PcRecord>> {
        let site = self.site();
        self.read("read a PC", move |sql| reads::pc_by_ip(sql, &site, ip))
    }

    fn pcs(&self) -> R<Vec<PcRecord>> {
        let site = self.site();
        self.read("read the PCs", move |sql| reads::pcs(sql, &site))
    }

    fn accounts_to_remove(&self, mac: &Mac) -> R<Vec<AccountRecord>> {
        let mac = mac.clone();
        self.read("read a PC's accounts", move |sql| {
            reads::accounts_to_remove(sql, &mac)
        })
    }

    fn usernames_in_use(&self) -> R<HashSet<String>> {
        self.read("read the usernames", reads::usernames_in_use)
    }

    /// Each PC's number within this site: its own, or the smallest free ones in the order given.
    fn numbers_for(&self, macs: &[Mac]) -> R<HashMap<Mac, u32>> {
        Ok(number_pcs(&self.pcs()?, macs))
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
        self.write(Escrowed {
            mac: mac.clone(),
            username: username.to_owned(),
            request: request.to_owned(),
            run,
            recipients,
            ciphertext,
            keep,
        })
        .await
    }

    fn identity_conflicts(&self) -> R<Vec<Event>> {
        Ok(conflicts(&self.pcs()?))
    }

    fn events(&self, filter: EventFilter) -> R<Vec<EventRecord>> {
        let site = self.site();
        self.read("read the events", move |sql| {
            reads::events(sql, Some(&site), filter)
        })
    }

    async fn record_events(&self, run: RunId, events: Vec<Event>) -> R<usize> {
        self.write(RecordEvents { run, events }).await
    }

    fn highest_uid(&self, mac: &Mac) -> R<Option<u32>> {
        let mac = mac.clone();
        self.read("read a PC's uids", move |sql| reads::highest_uid(sql, &mac))
    }

    fn failed_in_last_run(&self) -> R<Vec<PcRef>> {
        let site = self.site();
        self.read("read the last run's outcomes", move |sql| {
            reads::failed_in_last_run(sql, &site)
        })
    }

    fn archives_of(&self, mac: &Mac) -> R<Vec<ArchiveRecord>> {
        let mac = mac.clone();
        self.read("read a PC's archives", move |sql| {
            reads::archives_of(sql, &mac)
        })
    }

    async fn begin_run(&self, playbook: &Path, digest: &str) -> R<RunId> {
        self.write(BeginRun {
            playbook: journal::playbook_path(playbook),
            digest: digest.to_owned(),
        })
        .await
    }

    async fn next_request(&self, run: RunId) -> R<String> {
        self.write(NextRequest { run }).await
    }

    async fn seen(&self, pc: PcSeen) -> R<()> {
        self.write(pc).await
    }

    async fn pin_host_key(&self, mac: &Mac, ip: Ipv4Addr, key: &str) -> R<()> {
        self.write(PinHostKey {
            mac: mac.clone(),
            ip,
            key: key.to_owned(),
        })
        .await
    }

    async fn intend(&self, intent: Intent) -> R<()> {
        self.write(intent).await
    }

    async fn renewed(&self, renewal: Renewal) -> R<()> {
        self.write(renewal).await
    }

    async fn sheets_written(
        &self,
        username: &str,
        user_sheet: Vec<PathBuf>,
        pc_sheet: Vec<PathBuf>,
    ) -> R<()> {
        self.write(SheetsWritten {
            username: username.to_owned(),
            user_sheet,
            pc_sheet,
        })
        .await
    }

    async fn archived(&self, archive: Archived) -> R<i64> {
        self.write(archive).await
    }

    async fn archive_removed(&self, id: i64) -> R<()> {
        self.write(ArchiveRemoved { id }).await
    }

    async fn outcome(&self, run: RunId, pc: PcOutcome) -> R<()> {
        self.write(Outcome { run, pc }).await
    }

    async fn finish_run(&self, run: RunId) -> R<RunSummary> {
        self.write(FinishRun { run }).await
    }

    fn find_pc(&self, query: &str) -> R<PcRecord> {
        let not_found = || InventoryError::PcNotFound {
            path: self.location().into(),
            query: query.to_owned(),
        };
        if let Some(mac) = Mac::parse(query) {
            return self.pc(&mac)?.ok_or_else(not_found);
        }
        let (column, value) = match query.trim().parse::<Ipv4Addr>() {
            Ok(ip) => match self.pc_by_ip(ip)? {
                Some(pc) => return Ok(pc),
                None => (PcColumn::Ip, ip.to_string()),
            },
            Err(_) => (PcColumn::Hostname, query.to_owned()),
        };
        let mut found = self.read("find a PC", move |sql| reads::pcs_by(sql, column, &value))?;
        match found.len() {
            0 => Err(not_found()),
            1 => Ok(found.remove(0)),
            _ => Err(InventoryError::Ambiguous {
                query: query.to_owned(),
                macs: found.into_iter().map(|pc| pc.mac.to_string()).collect(),
            }),
        }
    }

    fn outcomes_of(&self, mac: &Mac, limit: u32) -> R<Vec<OutcomeRecord>> {
        let mac = mac.clone();
        self.read("read a PC's outcomes", move |sql| {
            reads::outcomes_of(sql, &mac, limit)
        })
    }

    fn accounts_of(&self, mac: &Mac) -> R<Vec<AccountRecord>> {
        let mac = mac.clone();
        self.read("read a PC's accounts", move |sql| {
            reads::accounts_of(sql, &mac)
        })
    }

    fn accounts(&self) -> R<Vec<AccountRecord>> {
        self.read("read the accounts", |sql| reads::accounts(sql, None))
    }

    fn snapshot(&self, site: Option<&str>) -> R<Snapshot> {
        let shared = self.is_shared();
        if let (false, Some(site)) = (shared, site) {
            return Err(InventoryError::OneSite {
                path: self.location().into(),
                site: site.to_owned(),
            });
        }
        let site = site.map(str::to_owned);
        self.read("read the inventory", move |sql| {
            let site = site.as_deref();
            let (pcs, sites): (Vec<_>, HashMap<_, _>) = reads::pcs_with_sites(sql, site)?
                .into_iter()
                .map(|(pc, s)| {
                    let mac = pc.mac.clone();
                    (pc, (mac, s))
                })
                .unzip();
            Ok(Snapshot {
                pcs,
                accounts: reads::accounts(sql, site)?,
                events: reads::events(sql, site, EventFilter::All)?,
                reads: reads::reads(sql, site)?,
                sites: if shared { sites } else { HashMap::new() },
            })
        })
    }

    fn escrowed(&self, username: Option<&str>) -> R<Vec<EscrowRecord>> {
        let (site, username) = (self.site(), username.map(str::to_owned));
        self.read("read the escrowed passwords", move |sql| {
            reads::escrowed(sql, &site, username.as_deref())
        })
    }

    fn reads(&self) -> R<Vec<ReadRecord>> {
        let site = self.site();
        self.read("read the reads of escrowed passwords", move |sql| {
            reads::reads(sql, Some(&site))
        })
    }

    async fn forget_host_key(&self, mac: &Mac) -> R<()> {
        self.write(ForgetHostKey { mac: mac.clone() }).await
    }

    async fn renumber(&self, mac: &Mac, number: u32) -> R<()> {
        self.write(Renumber {
            mac: mac.clone(),
            number,
        })
        .await
    }

    async fn record_read(&self, read: ReadRecord) -> R<()> {
        self.write(read).await
    }

    async fn rekey(&self, id: i64, recipients: Vec<String>, ciphertext: Vec<u8>) -> R<()> {
        self.write(Rekeyed {
            id,
            recipients,
            ciphertext,
        })
        .await
    }
}

/// The number of each PC of `macs`: its own (from `pcs`), or for those without one the smallest
/// free numbers, in the order given.
pub(crate) fn number_pcs(pcs: &[PcRecord], macs: &[Mac]) -> HashMap<Mac, u32> {
    let mut taken: std::collections::BTreeSet<u32> = pcs.iter().filter_map(|p| p.number).collect();
    let own: HashMap<&Mac, u32> = pcs
        .iter()
        .filter_map(|p| p.number.map(|n| (&p.mac, n)))
        .collect();
    let mut next = 1;
    let mut numbers = HashMap::with_capacity(macs.len());
    for mac in macs {
        let number = match own.get(mac) {
            Some(n) => *n,
            None => {
                while taken.contains(&next) {
                    next += 1;
                }
                taken.insert(next);
                next
            }
        };
        numbers.insert(mac.clone(), number);
    }
    numbers
}

/// PCs among `pcs` that share what should be theirs alone — a host key, a machine-id, a DMI serial
/// or UUID — as `clone` warnings, one per pair (cloned from one disk image, or one board in two PCs).
pub(crate) fn conflicts(pcs: &[PcRecord]) -> Vec<Event> {
    let mut groups: HashMap<(&'static str, String), Vec<&PcRecord>> = HashMap::new();
    for pc in pcs {
        let mut add = |what: &'static str, value: Option<&String>| {
            if let Some(v) = value.map(|v| v.trim()).filter(|v| !v.is_empty()) {
                groups.entry((what, v.to_string())).or_default().push(pc);
            }
        };
        add("SSH host key", pc.host_key.as_ref());
        if let Some(f) = &pc.facts {
            add("machine-id", f.machine_id.as_ref());
            add("DMI serial number", f.dmi_serial.as_ref());
            add("DMI UUID", f.dmi_uuid.as_ref());
        }
    }
    let mut events = Vec::new();
    let mut keys: Vec<_> = groups.into_iter().filter(|(_, p)| p.len() > 1).collect();
    keys.sort_by(|a, b| a.0.cmp(&b.0));
    for ((what, _), mut pcs) in keys {
        // The PC at the lowest address is named as the original, the others as its clones.
        pcs.sort_by_key(|p| (p.ip, p.mac.clone()));
        let first = pcs[0];
        for other in &pcs[1..] {
            let name = |p: &PcRecord| p.hostname.clone().unwrap_or_else(|| p.ip.to_string());
            let todo = if what == "SSH host key" {
                ": regenerate the host keys on the clone (ssh-keygen -A after removing /etc/ssh/ssh_host_*), then `rdplay inventory forget` it"
            } else {
                ""
            };
            events.push(Event {
                kind: "clone".into(),
                severity: crate::changes::Severity::Warning,
                mac: Some(other.mac.clone()),
                other_mac: Some(first.mac.clone()),
                ip: Some(other.ip),
                hostname: other.hostname.clone(),
                text: format!(
                    "same {what} as {} ({}): cloned from one disk image?{todo}",
                    crate::text::inert(&name(first), 40),
                    first.mac
                ),
                since: None,
            });
        }
    }
    events
}
