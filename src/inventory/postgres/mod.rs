//! The shared inventory on PostgreSQL: one database for several sites, each site's controller
//! running against it at the same time. The same records, journal and promises as the SQLite store
//! ([`crate::inventory::Inventory`]), with sites:
//!
//! - runs, PCs and accounts carry their site; a controller reads its own site's PCs (two sites may
//!   use the same private addresses) and numbers them within the site;
//! - account names and request numbers are unique across every site: the database allocates
//!   request numbers from one sequence, and a unique index refuses a second live account of a name
//!   (the engine then draws another);
//! - each journal step is one transaction, committed on the server before the engine goes on: a
//!   step the server did not confirm fails the PC before the PC is changed;
//! - a session-level advisory lock per site ([`SiteLock`]) keeps two runs of one site apart.
//!
//! The [`Store`] reads are synchronous: over PostgreSQL each costs the engine thread that calls it
//! one round trip to the server (a Unix socket or the LAN), as a SQLite read costs it a file read.

mod admin;
mod copy;
mod lock;
mod pool;
mod schema;

pub use copy::Copied;
pub use lock::SiteLock;
pub use pool::MAX_CONNECTIONS;
pub use schema::{Migrated, SCHEMA_VERSION};

use super::export::Snapshot;
use super::model::{
    AccountRecord, AccountState, ArchiveRecord, Archived, Event, EventFilter, EventRecord, Intent,
    OutcomeRecord, PcOutcome, PcRecord, PcRef, PcSeen, Renewal, RunId, RunSummary,
};
use super::{InventoryError, Store};
use crate::mac::Mac;
use crate::playbook::Postgres;
use pool::{Pool, Server, Tx};
use postgres::Row;
use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

type R<T> = Result<T, InventoryError>;

/// The inventory of one site in a shared PostgreSQL database. Cheap to clone; `Send + Sync`.
#[derive(Clone)]
pub struct PgInventory {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    site: String,
    /// Migrated when opened (a run); a reader only checks the version.
    writable: bool,
}

impl std::fmt::Debug for PgInventory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgInventory")
            .field("server", &self.server())
            .field("site", &self.inner.site)
            .finish()
    }
}

const PC_COLUMNS: &str = "mac, ip, hostname, host_key, facts, first_seen, last_seen, number";
const ACCOUNT_COLUMNS: &str =
    "username, mac, request, state, created_at, deleted_at, user_sheet, pc_sheet, uid";

impl PgInventory {
    /// Opens the shared inventory for a run of `site`: connects, migrates the schema, takes the
    /// site's lock, and starts up to `forks` connections (at most [`MAX_CONNECTIONS`]).
    pub fn open_for_run(
        pg: &Postgres,
        site: &str,
        forks: usize,
    ) -> R<(PgInventory, SiteLock, Migrated)> {
        let server = Arc::new(Server::new(pg)?);
        let (lock, migrated) = SiteLock::acquire(Arc::clone(&server), site)?;
        let pool = Pool::start(server, forks)?;
        let inventory = PgInventory {
            inner: Arc::new(Inner {
                pool,
                site: site.to_owned(),
                writable: true,
            }),
        };
        Ok((inventory, lock, migrated))
    }

    /// Opens the shared inventory to read `site` (`run --check`, `rdplay inventory`): takes no lock
    /// and migrates nothing; a database older or newer than this build is an error.
    pub fn open_read_only(pg: &Postgres, site: &str) -> R<PgInventory> {
        let server = Arc::new(Server::new(pg)?);
        let pool = Pool::start(server, 1)?;
        let found = pool.blocking("read the schema version", schema::version)?;
        if found > SCHEMA_VERSION {
            return Err(schema::too_new(pool.server(), found));
        }
        if found < SCHEMA_VERSION {
            return Err(InventoryError::NeedsMigration {
                path: pool.server().into(),
                found,
                known: SCHEMA_VERSION,
            });
        }
        Ok(PgInventory {
            inner: Arc::new(Inner {
                pool,
                site: site.to_owned(),
                writable: false,
            }),
        })
    }

    /// Brings the database's schema up to this build's (`rdplay inventory migrate`); refuses one
    /// newer than this build.
    pub fn migrate(pg: &Postgres) -> R<Migrated> {
        let server = Arc::new(Server::new(pg)?);
        let pool = Pool::start(server, 1)?;
        pool.blocking("migrate the schema", schema::migrate)
    }

    /// Copies one site's SQLite inventory into the shared database (`rdplay inventory copy`), in
    /// one transaction, holding the site's lock; rows copied before are skipped. What moved, per
    /// table.
    pub fn copy_from_sqlite(pg: &Postgres, site: &str, sqlite: &Path) -> R<Vec<Copied>> {
        let source = copy::open_sqlite(sqlite)?;
        let (inventory, _lock, _) = PgInventory::open_for_run(pg, site, 1)?;
        let (site, path) = (site.to_owned(), sqlite.to_owned());
        // The SQLite connection moves to the connection thread with the work.
        inventory
            .inner
            .pool
            .blocking("copy the SQLite inventory", move |tx| {
                copy::copy(&source, &path, tx, &site)
            })
    }

    /// The server, as `USER@HOST:PORT/DATABASE`.
    pub fn server(&self) -> &str {
        self.inner.pool.server()
    }

    /// The site this inventory reads and writes.
    pub fn site(&self) -> &str {
        &self.inner.site
    }

    fn read<T: Send + 'static>(
        &self,
        action: &'static str,
        work: impl FnOnce(&mut Tx<'_>) -> R<T> + Send + 'static,
    ) -> R<T> {
        self.inner.pool.blocking(action, work)
    }

    async fn write<T: Send + 'static>(
        &self,
        action: &'static str,
        work: impl FnOnce(&mut Tx<'_>) -> R<T> + Send + 'static,
    ) -> R<T> {
        if !self.inner.writable {
            return Err(InventoryError::ReadOnly {
                path: self.server().into(),
            });
        }
        self.inner.pool.call(action, work).await
    }

    /// Everything `inventory list` and the exports show: of every site (`None`) or of one; the
    /// accounts, events and password reads of those sites' PCs and runs.
    pub fn snapshot(&self, site: Option<&str>) -> R<Snapshot> {
        let site = site.map(str::to_owned);
        self.read("read the inventory", move |tx| {
            let rows = tx.query(
                &format!(
                    "SELECT {PC_COLUMNS}, site FROM pcs WHERE $1::TEXT IS NULL OR site = $1
                     ORDER BY mac"
                ),
                &[&site],
            )?;
            let mut pcs = Vec::with_capacity(rows.len());
            let mut sites = HashMap::with_capacity(rows.len());
            for r in &rows {
                let pc = pc_record(tx, r)?;
                sites.insert(pc.mac.clone(), tx.get(r, 8)?);
                pcs.push(pc);
            }
            let of_site = "($1::TEXT IS NULL OR mac IN (SELECT mac FROM pcs WHERE site = $1))";
            let accounts = accounts_where(tx, &format!("{of_site} ORDER BY id"), &[&site])?;
            let rows = tx.query(
                "SELECT e.run, e.at, e.mac, e.other_mac, e.ip, e.hostname, e.kind, e.severity,
                        e.text, e.since
                 FROM events e JOIN runs r ON r.id = e.run
                 WHERE $1::TEXT IS NULL OR r.site = $1 ORDER BY e.id",
                &[&site],
            )?;
            let events = rows
                .iter()
                .map(|r| event_record(tx, r))
                .collect::<R<Vec<_>>>()?;
            let reads = admin::reads_of(tx, &site)?;
            Ok(Snapshot {
                pcs,
                accounts,
                events,
                reads,
                sites,
            })
        })
    }

    /// Every account ever recorded (of every site), oldest first.
    pub fn accounts(&self) -> R<Vec<AccountRecord>> {
        self.read("read the accounts", |tx| {
            accounts_where(tx, "TRUE ORDER BY id", &[])
        })
    }

    /// Finds a PC of any site by what a user typed: a MAC, an IPv4 address or a hostname (an
    /// address or a name several sites' PCs have is ambiguous: give the MAC).
    pub fn find_pc(&self, query: &str) -> R<PcRecord> {
        let not_found = || InventoryError::PcNotFound {
            path: self.server().into(),
            query: query.to_owned(),
        };
        if let Some(mac) = Mac::parse(query) {
            return self.pc(&mac)?.ok_or_else(not_found);
        }
        let (column, value) = match query.trim().parse::<Ipv4Addr>() {
            Ok(ip) => ("ip", ip.to_string()),
            Err(_) => ("hostname", query.to_owned()),
        };
        let mut found = self.read("find a PC", move |tx| {
            pcs_where(tx, &format!("{column} = $1 ORDER BY mac"), &[&value])
        })?;
        match found.len() {
            0 => Err(not_found()),
            1 => Ok(found.remove(0)),
            _ => Err(InventoryError::Ambiguous {
                query: query.to_owned(),
                macs: found.into_iter().map(|pc| pc.mac.to_string()).collect(),
            }),
        }
    }

    /// The outcomes recorded for a PC, newest first, at most `limit`.
    pub fn outcomes_of(&self, mac: &Mac, limit: u32) -> R<Vec<OutcomeRecord>> {
        let mac = mac.to_string();
        self.read("read a PC's outcomes", move |tx| {
            let rows = tx.query(
                "SELECT run, mac, ip, step, ok, reason, duration_ms, at FROM outcomes
                 WHERE mac = $1 ORDER BY id DESC LIMIT $2",
                &[&mac, &i64::from(limit)],
            )?;
            rows.iter()
                .map(|r| {
                    let mac: Option<String> = tx.get(r, 1)?;
                    let duration: i64 = tx.get(r, 6)?;
                    Ok(OutcomeRecord {
                        run: RunId(tx.get(r, 0)?),
                        mac: mac.map(|m| parse(tx, "MAC address", &m)).transpose()?,
                        ip: parse(tx, "IP address", &tx.get::<String>(r, 2)?)?,
                        step: tx.get(r, 3)?,
                        ok: tx.get(r, 4)?,
                        reason: tx.get(r, 5)?,
                        duration_ms: u64::try_from(duration).unwrap_or(0),
                        at: parse(tx, "timestamp", &tx.get::<String>(r, 7)?)?,
                    })
                })
                .collect()
        })
    }

    /// The accounts of one PC, oldest first.
    pub fn accounts_of(&self, mac: &Mac) -> R<Vec<AccountRecord>> {
        let mac = mac.to_string();
        self.read("read a PC's accounts", move |tx| {
            accounts_where(tx, "mac = $1 ORDER BY id", &[&mac])
        })
    }
}

/// The time a write is made, as stored (RFC 3339, as the SQLite store writes it).
fn now() -> String {
    jiff::Timestamp::now().to_string()
}

fn json_list(items: &[String]) -> String {
    serde_json::Value::from(items.to_vec()).to_string()
}

/// Sheet paths as a JSON list of absolute paths.
fn json_paths(paths: &[PathBuf]) -> R<String> {
    let mut texts = Vec::with_capacity(paths.len());
    for p in paths {
        let absolute = std::path::absolute(p).map_err(|source| InventoryError::Io {
            action: "resolve the sheet path",
            path: p.clone(),
            source,
        })?;
        texts.push(absolute.display().to_string());
    }
    Ok(json_list(&texts))
}

fn corrupt(tx: &Tx<'_>, what: &'static str, value: &str) -> InventoryError {
    InventoryError::Corrupt {
        path: tx.server().into(),
        what,
        value: value.to_owned(),
    }
}

fn parse<T: std::str::FromStr>(tx: &Tx<'_>, what: &'static str, value: &str) -> R<T> {
    value.parse().map_err(|_| corrupt(tx, what, value))
}

fn upsert_pc(
    tx: &mut Tx<'_>,
    site: &str,
    mac: &Mac,
    ip: Ipv4Addr,
    hostname: Option<&str>,
) -> R<()> {
    tx.execute(
        "INSERT INTO pcs (mac, ip, hostname, first_seen, last_seen, site)
         VALUES ($1, $2, $3, $4, $4, $5)
         ON CONFLICT (mac) DO UPDATE SET ip = excluded.ip,
             hostname = COALESCE(excluded.hostname, pcs.hostname), last_seen = excluded.last_seen,
             site = excluded.site",
        &[&mac.to_string(), &ip.to_string(), &hostname, &now(), &site],
    )?;
    Ok(())
}

fn pcs_where(
    tx: &mut Tx<'_>,
    filter: &str,
    args: &[&(dyn postgres::types::ToSql + Sync)],
) -> R<Vec<PcRecord>> {
    let rows = tx.query(
        &format!("SELECT {PC_COLUMNS} FROM pcs WHERE {filter}"),
        args,
    )?;
    rows.iter().map(|r| pc_record(tx, r)).collect()
}

fn pc_record(tx: &Tx<'_>, r: &Row) -> R<PcRecord> {
    let host_key: Option<String> = tx.get(r, 3)?;
    let facts: Option<String> = tx.get(r, 4)?;
    let number: Option<i64> = tx.get(r, 7)?;
    Ok(PcRecord {
        mac: parse(tx, "MAC address", &tx.get::<String>(r, 0)?)?,
        ip: parse(tx, "IP address", &tx.get::<String>(r, 1)?)?,
        hostname: tx.get(r, 2)?,
        host_key: host_key.filter(|k| !k.trim().is_empty()),
        facts: facts
            .map(|f| serde_json::from_str(&f).map_err(|_| corrupt(tx, "facts document", &f)))
            .transpose()?,
        first_seen: parse(tx, "timestamp", &tx.get::<String>(r, 5)?)?,
        last_seen: parse(tx, "timestamp", &tx.get::<String>(r, 6)?)?,
        number: number
            .map(|n| u32::try_from(n).map_err(|_| corrupt(tx, "PC number", &n.to_string())))
            .transpose()?,
    })
}

fn accounts_where(
    tx: &mut Tx<'_>,
    filter: &str,
    args: &[&(dyn postgres::types::ToSql + Sync)],
) -> R<Vec<AccountRecord>> {
    let rows = tx.query(
        &format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE {filter}"),
        args,
    )?;
    rows.iter()
        .map(|r| {
            let state: String = tx.get(r, 3)?;
            let deleted: Option<String> = tx.get(r, 5)?;
            let uid: Option<i64> = tx.get(r, 8)?;
            let paths = |s: String| -> R<Vec<PathBuf>> {
                serde_json::from_str(&s).map_err(|_| corrupt(tx, "list of sheet paths", &s))
            };
            Ok(AccountRecord {
                username: tx.get(r, 0)?,
                mac: parse(tx, "MAC address", &tx.get::<String>(r, 1)?)?,
                request: tx.get(r, 2)?,
                uid: uid
                    .map(|u| u32::try_from(u).map_err(|_| corrupt(tx, "uid", &u.to_string())))
                    .transpose()?,
                state: AccountState::parse(&state)
                    .ok_or_else(|| corrupt(tx, "account state", &state))?,
                created_at: parse(tx, "timestamp", &tx.get::<String>(r, 4)?)?,
                deleted_at: deleted.map(|d| parse(tx, "timestamp", &d)).transpose()?,
                user_sheet: paths(tx.get(r, 6)?)?,
                pc_sheet: paths(tx.get(r, 7)?)?,
            })
        })
        .collect()
}

fn event_record(tx: &Tx<'_>, r: &Row) -> R<EventRecord> {
    let mac_of = |i: usize| -> R<Option<Mac>> {
        tx.get::<Option<String>>(r, i)?
            .map(|m| parse(tx, "MAC address", &m))
            .transpose()
    };
    let severity: String = tx.get(r, 7)?;
    let ip: Option<String> = tx.get(r, 4)?;
    let since: Option<String> = tx.get(r, 9)?;
    Ok(EventRecord {
        run: RunId(tx.get(r, 0)?),
        at: parse(tx, "timestamp", &tx.get::<String>(r, 1)?)?,
        event: Event {
            kind: tx.get(r, 6)?,
            severity: crate::changes::Severity::parse(&severity)
                .ok_or_else(|| corrupt(tx, "severity", &severity))?,
            mac: mac_of(2)?,
            other_mac: mac_of(3)?,
            ip: ip.map(|ip| parse(tx, "IP address", &ip)).transpose()?,
            hostname: tx.get(r, 5)?,
            text: tx.get(r, 8)?,
            since: since.map(|t| parse(tx, "timestamp", &t)).transpose()?,
        },
    })
}

/// The changes from the facts recorded last for the PC to the ones it reports now, as events.
fn record_fact_changes(tx: &mut Tx<'_>, r: &Renewal, now: &str) -> R<()> {
    let before = tx.query_opt(
        "SELECT p.facts, p.ip, COALESCE(
             (SELECT at FROM facts_history h WHERE h.mac = p.mac ORDER BY id DESC LIMIT 1),
             p.last_seen)
         FROM pcs p WHERE p.mac = $1",
        &[&r.mac.to_string()],
    )?;
    let Some(before) = before else {
        return Ok(());
    };
    let (old, ip, since): (Option<String>, String, String) = (
        tx.get(&before, 0)?,
        tx.get(&before, 1)?,
        tx.get(&before, 2)?,
    );
    // Facts an older version recorded in another shape are not compared.
    let Some(old) = old.and_then(|o| serde_json::from_str::<crate::facts::Facts>(&o).ok()) else {
        return Ok(());
    };
    for change in crate::changes::diff(&old, &r.facts) {
        tx.execute(
            "INSERT INTO events (run, at, mac, ip, hostname, kind, severity, text, since)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            &[
                &r.run.0,
                &now,
                &r.mac.to_string(),
                &ip,
                &r.hostname,
                &change.kind,
                &change.severity.as_str(),
                &change.text,
                &since,
            ],
        )?;
    }
    Ok(())
}

impl Store for PgInventory {
    /// The PC with this MAC (whatever its site: a MAC is one PC).
    fn pc(&self, mac: &Mac) -> R<Option<PcRecord>> {
        let mac = mac.to_string();
        self.read("read a PC", move |tx| {
            Ok(pcs_where(tx, "mac = $1", &[&mac])?.pop())
        })
    }

    /// The PC of this site last seen at this address.
    fn pc_by_ip(&self, ip: Ipv4Addr) -> R<Option<PcRecord>> {
        let (ip, site) = (ip.to_string(), self.inner.site.clone());
        self.read("read a PC", move |tx| {
            Ok(pcs_where(
                tx,
                "site = $1 AND ip = $2 ORDER BY last_seen DESC LIMIT 1",
                &[&site, &ip],
            )?
            .pop())
        })
    }

    /// Every PC of this site, by MAC.
    fn pcs(&self) -> R<Vec<PcRecord>> {
        let site = self.inner.site.clone();
        self.read("read the PCs", move |tx| {
            pcs_where(tx, "site = $1 ORDER BY mac", &[&site])
        })
    }

    /// The accounts rdplay may (and must) delete on this PC: recorded and not deleted.
    fn accounts_to_remove(&self, mac: &Mac) -> R<Vec<AccountRecord>> {
        let mac = mac.to_string();
        self.read("read a PC's accounts", move |tx| {
            accounts_where(tx, "mac = $1 AND state != 'deleted' ORDER BY id", &[&mac])
        })
    }

    /// Every managed username not deleted, across every site.
    fn usernames_in_use(&self) -> R<HashSet<String>> {
        self.read("read the usernames", |tx| {
            let rows = tx.query(
                "SELECT username FROM accounts WHERE state != 'deleted'",
                &[],
            )?;
            rows.iter().map(|r| tx.get(r, 0)).collect()
        })
    }

    /// Each PC's number within this site: its own, or the smallest free ones in the order given.
    fn numbers_for(&self, macs: &[Mac]) -> R<HashMap<Mac, u32>> {
        let pcs = self.pcs()?;
        Ok(super::store::number_pcs(&pcs, macs))
    }

    /// The highest uid rdplay gave an account on this PC (deleted ones included).
    fn highest_uid(&self, mac: &Mac) -> R<Option<u32>> {
        let mac = mac.to_string();
        self.read("read a PC's uids", move |tx| {
            let row = tx.query_one("SELECT MAX(uid) FROM accounts WHERE mac = $1", &[&mac])?;
            let uid: Option<i64> = tx.get(&row, 0)?;
            uid.map(|u| u32::try_from(u).map_err(|_| corrupt(tx, "uid", &u.to_string())))
                .transpose()
        })
    }

    /// The PCs that failed in this site's last run that recorded outcomes.
    fn failed_in_last_run(&self) -> R<Vec<PcRef>> {
        let site = self.inner.site.clone();
        self.read("read the last run's outcomes", move |tx| {
            let rows = tx.query(
                "SELECT mac, ip FROM outcomes o
                 WHERE run = (SELECT MAX(p.run) FROM outcomes p JOIN runs r ON r.id = p.run
                              WHERE r.site = $1)
                   AND NOT ok
                   AND id = (SELECT MAX(id) FROM outcomes p WHERE p.run = o.run
                             AND COALESCE(p.mac, p.ip) = COALESCE(o.mac, o.ip))
                 ORDER BY id",
                &[&site],
            )?;
            rows.iter()
                .map(|r| {
                    let mac: Option<String> = tx.get(r, 0)?;
                    let ip: String = tx.get(r, 1)?;
                    Ok(PcRef {
                        mac: mac.map(|m| parse(tx, "MAC address", &m)).transpose()?,
                        ip: parse(tx, "IP address", &ip)?,
                    })
                })
                .collect()
        })
    }

    /// The archives made of a PC's old accounts, oldest first.
    fn archives_of(&self, mac: &Mac) -> R<Vec<ArchiveRecord>> {
        let mac = mac.to_string();
        self.read("read a PC's archives", move |tx| {
            let rows = tx.query(
                "SELECT id, mac, username, request, path, bytes, sha256, created_at, removed_at
                 FROM archives WHERE mac = $1 ORDER BY id",
                &[&mac],
            )?;
            rows.iter()
                .map(|r| {
                    let bytes: i64 = tx.get(r, 5)?;
                    let removed: Option<String> = tx.get(r, 8)?;
                    Ok(ArchiveRecord {
                        id: tx.get(r, 0)?,
                        mac: parse(tx, "MAC address", &tx.get::<String>(r, 1)?)?,
                        username: tx.get(r, 2)?,
                        request: tx.get(r, 3)?,
                        path: PathBuf::from(tx.get::<String>(r, 4)?),
                        bytes: u64::try_from(bytes).unwrap_or(0),
                        sha256: tx.get(r, 6)?,
                        created_at: parse(tx, "timestamp", &tx.get::<String>(r, 7)?)?,
                        removed_at: removed.map(|t| parse(tx, "timestamp", &t)).transpose()?,
                    })
                })
                .collect()
        })
    }

    /// The events of this site's runs, oldest first: of one run, since a time, or all.
    fn events(&self, filter: EventFilter) -> R<Vec<EventRecord>> {
        let site = self.inner.site.clone();
        self.read("read the events", move |tx| {
            let columns = "e.run, e.at, e.mac, e.other_mac, e.ip, e.hostname, e.kind, e.severity,
                           e.text, e.since";
            let from = "FROM events e JOIN runs r ON r.id = e.run WHERE r.site = $1";
            let rows = match filter {
                EventFilter::All => {
                    tx.query(&format!("SELECT {columns} {from} ORDER BY e.id"), &[&site])?
                }
                EventFilter::Run(run) => tx.query(
                    &format!("SELECT {columns} {from} AND e.run = $2 ORDER BY e.id"),
                    &[&site, &run.0],
                )?,
                EventFilter::Since(t) => tx.query(
                    &format!("SELECT {columns} {from} AND e.at >= $2 ORDER BY e.id"),
                    &[&site, &t.to_string()],
                )?,
            };
            rows.iter().map(|r| event_record(tx, r)).collect()
        })
    }

    /// PCs of this site that share a host key, machine-id or DMI serial/UUID, as `clone` events.
    fn identity_conflicts(&self) -> R<Vec<Event>> {
        Ok(super::store::conflicts(&self.pcs()?))
    }

    /// Records the start of a run of this site.
    async fn begin_run(&self, playbook: &Path, digest: &str) -> R<RunId> {
        let playbook = std::path::absolute(playbook).unwrap_or_else(|_| playbook.to_owned());
        let (playbook, digest) = (playbook.display().to_string(), digest.to_owned());
        let site = self.inner.site.clone();
        self.write("record the start of the run", move |tx| {
            let row = tx.query_one(
                "INSERT INTO runs (playbook, digest, started_at, site) VALUES ($1, $2, $3, $4)
                 RETURNING id",
                &[&playbook, &digest, &now(), &site],
            )?;
            Ok(RunId(tx.get(&row, 0)?))
        })
        .await
    }

    /// Issues the next request number, `REQ-YYYYMMDD-NNNNNN`, from the database's one sequence:
    /// unique across every site and controller.
    async fn next_request(&self, run: RunId) -> R<String> {
        self.write("issue a request number", move |tx| {
            let row = tx.query_one(
                "SELECT nextval(pg_get_serial_sequence('requests', 'seq'))",
                &[],
            )?;
            let seq: i64 = tx.get(&row, 0)?;
            let now = jiff::Timestamp::now();
            let id = format!("REQ-{}-{seq:06}", now.strftime("%Y%m%d"));
            tx.execute(
                "INSERT INTO requests (seq, id, run, issued_at) VALUES ($1, $2, $3, $4)",
                &[&seq, &id, &run.0, &now.to_string()],
            )?;
            Ok(id)
        })
        .await
    }

    /// Records that a PC was seen.
    async fn seen(&self, pc: PcSeen) -> R<()> {
        let site = self.inner.site.clone();
        self.write("record a PC", move |tx| {
            upsert_pc(tx, &site, &pc.mac, pc.ip, pc.hostname.as_deref())
        })
        .await
    }

    /// Pins a PC's host key line(s).
    async fn pin_host_key(&self, mac: &Mac, ip: Ipv4Addr, key: &str) -> R<()> {
        let (mac, key, site) = (mac.clone(), Some(key.to_owned()), self.inner.site.clone());
        self.write("pin a host key", move |tx| {
            upsert_pc(tx, &site, &mac, ip, None)?;
            tx.execute(
                "UPDATE pcs SET host_key = $2 WHERE mac = $1",
                &[&mac.to_string(), &key],
            )?;
            Ok(())
        })
        .await
    }

    /// Journal step 1, before any change on the PC: the new account `pending`. A name another
    /// account holds (a controller of another site may have taken it a moment ago) is
    /// [`InventoryError::UsernameInUse`].
    async fn intend(&self, i: Intent) -> R<()> {
        let site = self.inner.site.clone();
        self.write("record the intent", move |tx| {
            let now = now();
            let mac = i.mac.to_string();
            upsert_pc(tx, &site, &i.mac, i.ip, None)?;
            if let Some(number) = i.number {
                tx.execute(
                    "UPDATE pcs SET number = $2 WHERE mac = $1 AND number IS NULL",
                    &[&mac, &i64::from(number)],
                )?;
            }
            let holder = tx.query_opt(
                "SELECT mac FROM accounts WHERE username = $1 AND state != 'deleted'",
                &[&i.new_username],
            )?;
            if let Some(row) = holder {
                return Err(InventoryError::UsernameInUse {
                    username: i.new_username,
                    mac: tx.get(&row, 0)?,
                });
            }
            // Two controllers drawing the same name at once: the unique index refuses the second.
            let inserted = tx.query_opt(
                "INSERT INTO accounts (username, mac, request, run, state, created_at, site)
                 VALUES ($1, $2, $3, $4, 'pending', $5, $6)
                 ON CONFLICT (username) WHERE state != 'deleted' DO NOTHING
                 RETURNING id",
                &[&i.new_username, &mac, &i.request, &i.run.0, &now, &site],
            )?;
            if inserted.is_none() {
                return Err(InventoryError::UsernameInUse {
                    username: i.new_username,
                    mac: "(another site, just now)".into(),
                });
            }
            tx.execute(
                "INSERT INTO journal (run, mac, request, new_username, old_usernames, intended_at)
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    &i.run.0,
                    &mac,
                    &i.request,
                    &i.new_username,
                    &json_list(&i.old_usernames),
                    &now,
                ],
            )?;
            Ok(())
        })
        .await
    }

    /// Journal step 2, after the PC reported success.
    async fn renewed(&self, r: Renewal) -> R<()> {
        self.write("record the renewal", move |tx| {
            let now = now();
            let mac = r.mac.to_string();
            let uid = r.uid.map(i64::from);
            let changed = tx.execute(
                "UPDATE accounts SET uid = $4 WHERE mac = $1 AND username = $2 AND request = $3
                 AND state != 'deleted'",
                &[&mac, &r.new_username, &r.request, &uid],
            )?;
            if changed == 0 {
                return Err(InventoryError::UnknownAccount {
                    username: r.new_username,
                    mac: Some(mac),
                    expected: "intended",
                });
            }
            for old in r.deleted.iter().filter(|u| **u != r.new_username) {
                tx.execute(
                    "UPDATE accounts SET state = 'deleted', deleted_at = $3
                     WHERE mac = $1 AND username = $2 AND state != 'deleted'",
                    &[&mac, old, &now],
                )?;
            }
            let facts = serde_json::to_string(&r.facts).map_err(|e| InventoryError::Commit {
                path: tx.server().into(),
                message: format!("facts of {mac} could not be encoded: {e}"),
            })?;
            record_fact_changes(tx, &r, &now)?;
            tx.execute(
                "UPDATE pcs SET hostname = $2, facts = $3, last_seen = $4 WHERE mac = $1",
                &[&mac, &r.hostname, &facts, &now],
            )?;
            tx.execute(
                "INSERT INTO facts_history (mac, run, at, facts) VALUES ($1, $2, $3, $4)",
                &[&mac, &r.run.0, &now, &facts],
            )?;
            tx.execute(
                "DELETE FROM facts_history WHERE mac = $1 AND id NOT IN
                 (SELECT id FROM facts_history WHERE mac = $1 ORDER BY id DESC LIMIT $2)",
                &[&mac, &i64::from(r.history.max(1))],
            )?;
            tx.execute(
                "UPDATE journal SET renewed_at = $3, deleted = $4, leftover_files = $5,
                 leftover_bytes = $6 WHERE mac = $1 AND request = $2",
                &[
                    &mac,
                    &r.request,
                    &now,
                    &json_list(&r.deleted),
                    &i64::try_from(r.leftover_files).unwrap_or(i64::MAX),
                    &i64::try_from(r.leftover_bytes).unwrap_or(i64::MAX),
                ],
            )?;
            Ok(())
        })
        .await
    }

    /// Journal step 3, after the sheets exist: the account becomes `live`.
    async fn sheets_written(
        &self,
        username: &str,
        user_sheet: Vec<PathBuf>,
        pc_sheet: Vec<PathBuf>,
    ) -> R<()> {
        let username = username.to_owned();
        let user_sheet = json_paths(&user_sheet)?;
        let pc_sheet = json_paths(&pc_sheet)?;
        self.write("record the sheets", move |tx| {
            let found = tx.query_opt(
                "SELECT a.id, a.mac, a.request FROM accounts a
                 JOIN journal j ON j.mac = a.mac AND j.request = a.request
                 WHERE a.username = $1 AND a.state != 'deleted' AND j.renewed_at IS NOT NULL",
                &[&username],
            )?;
            let Some(row) = found else {
                return Err(InventoryError::UnknownAccount {
                    username,
                    mac: None,
                    expected: "renewed",
                });
            };
            let (id, mac, request): (i64, String, String) =
                (tx.get(&row, 0)?, tx.get(&row, 1)?, tx.get(&row, 2)?);
            tx.execute(
                "UPDATE accounts SET state = 'live', user_sheet = $2, pc_sheet = $3 WHERE id = $1",
                &[&id, &user_sheet, &pc_sheet],
            )?;
            tx.execute(
                "UPDATE journal SET sheets_at = $3 WHERE mac = $1 AND request = $2",
                &[&mac, &request, &now()],
            )?;
            Ok(())
        })
        .await
    }

    /// Stores an escrowed password; keeps the newest `keep` of the PC.
    #[allow(clippy::too_many_arguments)]
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
        let (mac, username, request) = (mac.to_string(), username.to_owned(), request.to_owned());
        self.write("store the escrowed password", move |tx| {
            tx.execute(
                "INSERT INTO escrow (mac, username, request, run, at, recipients, ciphertext)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[
                    &mac,
                    &username,
                    &request,
                    &run.0,
                    &now(),
                    &json_list(&recipients),
                    &ciphertext,
                ],
            )?;
            tx.execute(
                "DELETE FROM escrow WHERE mac = $1 AND id NOT IN
                 (SELECT id FROM escrow WHERE mac = $1 ORDER BY id DESC LIMIT $2)",
                &[&mac, &i64::from(keep.max(1))],
            )?;
            Ok(())
        })
        .await
    }

    /// Records fleet-wide events, each once; how many were new.
    async fn record_events(&self, run: RunId, events: Vec<Event>) -> R<usize> {
        self.write("record events", move |tx| {
            let now = now();
            let mut recorded = 0;
            for e in events {
                let ip = e.ip.map(|ip| ip.to_string());
                let (mac, other) = (
                    e.mac.as_ref().map(Mac::to_string),
                    e.other_mac.as_ref().map(Mac::to_string),
                );
                let known = tx.query_one(
                    "SELECT EXISTS (SELECT 1 FROM events WHERE kind = $1
                     AND mac IS NOT DISTINCT FROM $2 AND other_mac IS NOT DISTINCT FROM $3
                     AND ip IS NOT DISTINCT FROM $4 AND text = $5)",
                    &[&e.kind, &mac, &other, &ip, &e.text],
                )?;
                if tx.get::<bool>(&known, 0)? {
                    continue;
                }
                tx.execute(
                    "INSERT INTO events (run, at, mac, other_mac, ip, hostname, kind, severity,
                     text, since) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                    &[
                        &run.0,
                        &now,
                        &mac,
                        &other,
                        &ip,
                        &e.hostname,
                        &e.kind,
                        &e.severity.as_str(),
                        &e.text,
                        &e.since.map(|t| t.to_string()),
                    ],
                )?;
                recorded += 1;
            }
            Ok(recorded)
        })
        .await
    }

    /// Records an archive of an old account.
    async fn archived(&self, a: Archived) -> R<i64> {
        self.write("record an archive", move |tx| {
            let file = a.path.to_str().ok_or_else(|| InventoryError::Commit {
                path: tx.server().into(),
                message: format!("the archive path {} is not valid UTF-8", a.path.display()),
            })?;
            let row = tx.query_one(
                "INSERT INTO archives (mac, username, request, run, path, bytes, sha256, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
                &[
                    &a.mac.to_string(),
                    &a.username,
                    &a.request,
                    &a.run.0,
                    &file,
                    &i64::try_from(a.bytes).unwrap_or(i64::MAX),
                    &a.sha256,
                    &now(),
                ],
            )?;
            tx.get(&row, 0)
        })
        .await
    }

    /// Records that retention removed an archive's file.
    async fn archive_removed(&self, id: i64) -> R<()> {
        self.write("record an archive's removal", move |tx| {
            tx.execute(
                "UPDATE archives SET removed_at = $2 WHERE id = $1 AND removed_at IS NULL",
                &[&id, &now()],
            )?;
            Ok(())
        })
        .await
    }

    /// Records how a PC ended in a run.
    async fn outcome(&self, run: RunId, pc: PcOutcome) -> R<()> {
        self.write("record a PC's outcome", move |tx| {
            let duration_ms = i64::try_from(pc.duration.as_millis()).unwrap_or(i64::MAX);
            tx.execute(
                "INSERT INTO outcomes (run, mac, ip, step, ok, reason, duration_ms, at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                &[
                    &run.0,
                    &pc.mac.as_ref().map(Mac::to_string),
                    &pc.ip.to_string(),
                    &pc.step,
                    &pc.ok,
                    &pc.reason,
                    &duration_ms,
                    &now(),
                ],
            )?;
            Ok(())
        })
        .await
    }

    /// Records the end of a run and returns its counts.
    async fn finish_run(&self, run: RunId) -> R<RunSummary> {
        self.write("record the end of the run", move |tx| {
            let now = jiff::Timestamp::now();
            let row = tx.query_one(
                "SELECT COUNT(*) FILTER (WHERE ok), COUNT(*) FILTER (WHERE NOT ok) FROM outcomes o
                 WHERE run = $1 AND id = (SELECT MAX(id) FROM outcomes p WHERE p.run = o.run
                   AND COALESCE(p.mac, p.ip) = COALESCE(o.mac, o.ip))",
                &[&run.0],
            )?;
            let (ok, failed): (i64, i64) = (tx.get(&row, 0)?, tx.get(&row, 1)?);
            let started = tx.query_opt(
                "UPDATE runs SET finished_at = $2, ok = $3, failed = $4 WHERE id = $1
                 RETURNING started_at",
                &[&run.0, &now.to_string(), &ok, &failed],
            )?;
            let Some(started) = started else {
                return Err(corrupt(tx, "run id", &run.0.to_string()));
            };
            let started: String = tx.get(&started, 0)?;
            Ok(RunSummary {
                run,
                started_at: parse(tx, "timestamp", &started)?,
                finished_at: now,
                ok: u32::try_from(ok).unwrap_or(u32::MAX),
                failed: u32::try_from(failed).unwrap_or(u32::MAX),
            })
        })
        .await
    }
}
