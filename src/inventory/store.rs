//! [`Inventory`]: opening the store (with its lock), the reads, and the durable writes.

use super::lock::RunLock;
use super::model::{
    AccountRecord, AccountState, ArchiveRecord, Archived, EscrowRecord, Event, EventFilter,
    EventRecord, Intent, OutcomeRecord, PcOutcome, PcRecord, PcRef, PcSeen, ReadRecord, Renewal,
    RunId, RunSummary, WriteStats,
};
use super::writer::{
    ArchiveRemoved, BeginRun, Escrowed, FinishRun, NextRequest, Outcome, PinHostKey, RecordEvents,
    Rekeyed, Renumber, SheetsWritten, Write, Writer,
};
use super::{InventoryError, schema};
use crate::facts::Facts;
use crate::mac::Mac;
use rusqlite::{Connection, OpenFlags, Row};
use std::collections::{HashMap, HashSet};
use std::fs::OpenOptions;
use std::net::Ipv4Addr;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The inventory: the SQLite store of PCs, accounts, requests and runs. Cheap to clone; `Send + Sync`.
///
/// Reads are synchronous (a few milliseconds at most); writes are `async` and return once their
/// transaction is durably committed (WAL, `synchronous = FULL`).
#[derive(Clone)]
pub struct Inventory {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Inventory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inventory")
            .field("path", &self.inner.path)
            .field("read_only", &self.inner.writer.is_none())
            .finish()
    }
}

struct Inner {
    path: PathBuf,
    // Declared before `writer` so it closes first: the writer's connection, closing last, checkpoints
    // the WAL and removes the -wal and -shm files.
    reader: Option<Mutex<Connection>>,
    writer: Option<Writer>,
}

const PC_COLUMNS: &str = "mac, ip, hostname, host_key, facts, first_seen, last_seen, number";
const ACCOUNT_COLUMNS: &str =
    "username, mac, request, state, created_at, deleted_at, user_sheet, pc_sheet, uid";

impl Inventory {
    /// Opens the inventory for a run: creates the state directory (0700) and the database (0600) when
    /// missing, applies migrations, and takes the exclusive run lock (`<db>.lock`). A second opener gets
    /// [`InventoryError::Locked`].
    pub fn open_for_run(path: &Path) -> Result<(Inventory, RunLock), InventoryError> {
        if let Some(dir) = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty() && !d.exists())
        {
            crate::files::private_dir(dir).map_err(|source| InventoryError::Io {
                action: "create the state directory",
                path: dir.to_owned(),
                source,
            })?;
        }
        let lock = RunLock::acquire(path)?;
        let io = |action, source| InventoryError::Io {
            action,
            path: path.to_owned(),
            source,
        };
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)
            .map_err(|e| io("create the inventory", e))?;
        let mode = file
            .metadata()
            .map_err(|e| io("inspect the inventory", e))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            file.set_permissions(std::fs::Permissions::from_mode(0o600))
                .map_err(|e| io("restrict the permissions (0600) of the inventory", e))?;
        }
        drop(file);
        let sqlite = |source| InventoryError::Sqlite {
            path: path.to_owned(),
            source,
        };
        let mut conn = Connection::open(path).map_err(sqlite)?;
        schema::configure_writer(&conn, path)?;
        schema::migrate(&mut conn, path)?;
        let reader = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(sqlite)?;
        reader
            .busy_timeout(std::time::Duration::from_secs(10))
            .map_err(sqlite)?;
        let writer = Writer::start(conn, path)?;
        let inner = Inner {
            path: path.to_owned(),
            reader: Some(Mutex::new(reader)),
            writer: Some(writer),
        };
        Ok((
            Inventory {
                inner: Arc::new(inner),
            },
            lock,
        ))
    }

    /// Opens the inventory for reading only (`run --check`, `rdplay inventory`): creates nothing, takes
    /// no lock; a missing file is an empty inventory.
    pub fn open_read_only(path: &Path) -> Result<Inventory, InventoryError> {
        let empty = || Inventory {
            inner: Arc::new(Inner {
                path: path.to_owned(),
                reader: None,
                writer: None,
            }),
        };
        match std::fs::metadata(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(empty()),
            Err(source) => {
                return Err(InventoryError::Io {
                    action: "read",
                    path: path.to_owned(),
                    source,
                });
            }
            Ok(_) => {}
        }
        let sqlite = |source| InventoryError::Sqlite {
            path: path.to_owned(),
            source,
        };
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(sqlite)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(sqlite)?;
        let found = schema::version(&conn, path)?;
        if found == 0 {
            return Ok(empty());
        }
        if found > schema::SCHEMA_VERSION {
            return Err(InventoryError::TooNew {
                path: path.to_owned(),
                found,
                known: schema::SCHEMA_VERSION,
            });
        }
        if found < schema::SCHEMA_VERSION {
            return Err(InventoryError::NeedsMigration {
                path: path.to_owned(),
                found,
                known: schema::SCHEMA_VERSION,
            });
        }
        Ok(Inventory {
            inner: Arc::new(Inner {
                path: path.to_owned(),
                reader: Some(Mutex::new(conn)),
                writer: None,
            }),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// How many writes went through how many commits so far (each commit is one fsync).
    pub fn write_stats(&self) -> WriteStats {
        self.inner
            .writer
            .as_ref()
            .map(Writer::stats)
            .unwrap_or_default()
    }

    // ---- reads ----

    /// The PC with this MAC.
    pub fn pc(&self, mac: &Mac) -> Result<Option<PcRecord>, InventoryError> {
        Ok(self.pcs_where("mac = ?1", &[mac])?.pop())
    }

    /// The PC last seen at this address.
    pub fn pc_by_ip(&self, ip: Ipv4Addr) -> Result<Option<PcRecord>, InventoryError> {
        let ip = ip.to_string();
        Ok(self
            .pcs_where("ip = ?1 ORDER BY last_seen DESC LIMIT 1", &[&ip])?
            .pop())
    }

    /// Every PC, by MAC.
    pub fn pcs(&self) -> Result<Vec<PcRecord>, InventoryError> {
        self.pcs_where("1 ORDER BY mac", &[])
    }

    /// Finds a PC by what a user typed: a MAC (any case, `:` or `-`), an IPv4 address or a hostname.
    pub fn find_pc(&self, query: &str) -> Result<PcRecord, InventoryError> {
        let not_found = || InventoryError::PcNotFound {
            path: self.path().to_owned(),
            query: query.to_owned(),
        };
        if let Some(mac) = Mac::parse(query) {
            return self.pc(&mac)?.ok_or_else(not_found);
        }
        if let Ok(ip) = query.trim().parse::<Ipv4Addr>() {
            return self.pc_by_ip(ip)?.ok_or_else(not_found);
        }
        let mut found = self.pcs_where("hostname = ?1 ORDER BY mac", &[&query])?;
        match found.len() {
            0 => Err(not_found()),
            1 => Ok(found.remove(0)),
            _ => Err(InventoryError::Ambiguous {
                query: query.to_owned(),
                macs: found.into_iter().map(|pc| pc.mac.to_string()).collect(),
            }),
        }
    }

    /// The accounts rdplay may (and must) delete on this PC: every account recorded for its MAC that is
    /// not deleted, pending ones included (their creation may or may not have reached the PC).
    pub fn accounts_to_remove(&self, mac: &Mac) -> Result<Vec<AccountRecord>, InventoryError> {
        self.accounts_where("mac = ?1 AND state != 'deleted' ORDER BY id", &[mac])
    }

    /// The number of each PC of `macs`: its own, or for those without one the smallest free numbers,
    /// in the order given. Reads only: a new PC's number is recorded with its first intent.
    pub fn numbers_for(&self, macs: &[Mac]) -> Result<HashMap<Mac, u32>, InventoryError> {
        Ok(number_pcs(&self.pcs()?, macs))
    }

    /// The highest uid rdplay gave an account on this PC, deleted ones included: the next account's
    /// uid must be above it.
    pub fn highest_uid(&self, mac: &Mac) -> Result<Option<u32>, InventoryError> {
        let found: Vec<Option<i64>> = self.select(
            "SELECT MAX(uid) FROM accounts WHERE mac = ?1",
            &[mac],
            |r| r.get(0),
        )?;
        found
            .into_iter()
            .flatten()
            .next()
            .map(|u| u32::try_from(u).map_err(|_| self.corrupt("uid", &u.to_string())))
            .transpose()
    }

    /// Every managed username not deleted (live or pending), fleet-wide.
    pub fn usernames_in_use(&self) -> Result<HashSet<String>, InventoryError> {
        Ok(self
            .accounts_where("state != 'deleted'", &[])?
            .into_iter()
            .map(|a| a.username)
            .collect())
    }

    /// Every account ever recorded, oldest first.
    pub fn accounts(&self) -> Result<Vec<AccountRecord>, InventoryError> {
        self.accounts_where("1 ORDER BY id", &[])
    }

    /// The accounts of one PC, oldest first.
    pub fn accounts_of(&self, mac: &Mac) -> Result<Vec<AccountRecord>, InventoryError> {
        self.accounts_where("mac = ?1 ORDER BY id", &[mac])
    }

    /// The PCs that failed in the last run that recorded outcomes (for `--limit @failed`); for each PC,
    /// its last outcome in that run counts. A run killed before it finished counts too.
    pub fn failed_in_last_run(&self) -> Result<Vec<PcRef>, InventoryError> {
        let outcomes = self.outcomes_where(
            "run = (SELECT MAX(run) FROM outcomes) AND ok = 0
             AND id = (SELECT MAX(id) FROM outcomes p WHERE p.run = outcomes.run
                       AND COALESCE(p.mac, p.ip) = COALESCE(outcomes.mac, outcomes.ip))
             ORDER BY id",
            &[],
        )?;
        Ok(outcomes
            .into_iter()
            .map(|o| PcRef {
                mac: o.mac,
                ip: o.ip,
            })
            .collect())
    }

    /// The archives made of a PC's old accounts, oldest first (removed ones too).
    pub fn archives_of(&self, mac: &Mac) -> Result<Vec<ArchiveRecord>, InventoryError> {
        let raws = self.select(
            "SELECT id, mac, username, request, path, bytes, sha256, created_at, removed_at
             FROM archives WHERE mac = ?1 ORDER BY id",
            &[mac],
            |r| r.try_into(),
        )?;
        raws.into_iter()
            .map(
                |(id, mac, username, request, path, bytes, sha256, created, removed): RawArchive| {
                    Ok(ArchiveRecord {
                        id,
                        mac: self.parse("MAC address", &mac)?,
                        username,
                        request,
                        path: PathBuf::from(path),
                        bytes: u64::try_from(bytes).unwrap_or(0),
                        sha256,
                        created_at: self.parse("timestamp", &created)?,
                        removed_at: removed.map(|t| self.parse("timestamp", &t)).transpose()?,
                    })
                },
            )
            .collect()
    }

    /// The outcomes recorded for a PC, newest first, at most `limit`.
    pub fn outcomes_of(&self, mac: &Mac, limit: u32) -> Result<Vec<OutcomeRecord>, InventoryError> {
        self.outcomes_where("mac = ?1 ORDER BY id DESC LIMIT ?2", &[mac, &limit])
    }

    fn with_reader<T>(
        &self,
        empty: T,
        read: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, InventoryError> {
        let Some(reader) = &self.inner.reader else {
            return Ok(empty);
        };
        let conn = reader
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        read(&conn).map_err(|source| InventoryError::Sqlite {
            path: self.path().to_owned(),
            source,
        })
    }

    fn select<R>(
        &self,
        sql: &str,
        args: &[&dyn rusqlite::ToSql],
        row: impl Fn(&Row<'_>) -> rusqlite::Result<R>,
    ) -> Result<Vec<R>, InventoryError> {
        self.with_reader(Vec::new(), |conn| {
            let mut stmt = conn.prepare_cached(sql)?;
            let rows = stmt.query_map(args, |r| row(r))?;
            rows.collect()
        })
    }

    fn pcs_where(
        &self,
        filter: &str,
        args: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<PcRecord>, InventoryError> {
        let sql = format!("SELECT {PC_COLUMNS} FROM pcs WHERE {filter}");
        let raws = self.select(&sql, args, |r| r.try_into())?;
        raws.into_iter()
            .map(
                |(mac, ip, hostname, host_key, facts, first, last, number): RawPc| {
                    Ok(PcRecord {
                        mac: self.parse("MAC address", &mac)?,
                        ip: self.parse("IP address", &ip)?,
                        hostname,
                        // Older versions forgot a key by storing an empty one.
                        host_key: host_key.filter(|k| !k.trim().is_empty()),
                        facts: facts.map(|f| self.parse_facts(&f)).transpose()?,
                        first_seen: self.parse("timestamp", &first)?,
                        last_seen: self.parse("timestamp", &last)?,
                        number,
                    })
                },
            )
            .collect()
    }

    fn accounts_where(
        &self,
        filter: &str,
        args: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<AccountRecord>, InventoryError> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE {filter}");
        let raws = self.select(&sql, args, |r| r.try_into())?;
        raws.into_iter()
            .map(|(username, mac, request, state, created, deleted, user_sheet, pc_sheet, uid): RawAccount| {
                Ok(AccountRecord {
                    username,
                    mac: self.parse("MAC address", &mac)?,
                    request,
                    uid: uid.map(|u: i64| u32::try_from(u).map_err(|_| self.corrupt("uid", &u.to_string()))).transpose()?,
                    state: AccountState::parse(&state).ok_or_else(|| self.corrupt("account state", &state))?,
                    created_at: self.parse("timestamp", &created)?,
                    deleted_at: deleted.map(|d| self.parse("timestamp", &d)).transpose()?,
                    user_sheet: self.parse_paths(&user_sheet)?,
                    pc_sheet: self.parse_paths(&pc_sheet)?,
                })
            })
            .collect()
    }

    fn outcomes_where(
        &self,
        filter: &str,
        args: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<OutcomeRecord>, InventoryError> {
        let sql = format!(
            "SELECT run, mac, ip, step, ok, reason, duration_ms, at FROM outcomes WHERE {filter}"
        );
        let raws = self.select(&sql, args, |r| r.try_into())?;
        raws.into_iter()
            .map(
                |(run, mac, ip, step, ok, reason, duration_ms, at): RawOutcome| {
                    Ok(OutcomeRecord {
                        run: RunId(run),
                        mac: mac.map(|m| self.parse("MAC address", &m)).transpose()?,
                        ip: self.parse("IP address", &ip)?,
                        step,
                        ok,
                        reason,
                        duration_ms: u64::try_from(duration_ms).unwrap_or(0),
                        at: self.parse("timestamp", &at)?,
                    })
                },
            )
            .collect()
    }

    /// The events recorded, oldest first: of one run, or since a time, or all.
    pub fn events(&self, filter: EventFilter) -> Result<Vec<EventRecord>, InventoryError> {
        let (clause, arg): (&str, String) = match filter {
            EventFilter::All => ("1", String::new()),
            EventFilter::Run(run) => ("run = ?1", run.0.to_string()),
            EventFilter::Since(t) => ("at >= ?1", t.to_string()),
        };
        let sql = format!(
            "SELECT run, at, mac, other_mac, ip, hostname, kind, severity, text, since
             FROM events WHERE {clause} ORDER BY id"
        );
        let args: Vec<&dyn rusqlite::ToSql> = if clause == "1" {
            Vec::new()
        } else {
            vec![&arg]
        };
        let raws: Vec<RawEvent> = self.select(&sql, &args, |r| r.try_into())?;
        raws.into_iter()
            .map(
                |(run, at, mac, other, ip, hostname, kind, severity, text, since)| {
                    let mac_of = |m: Option<String>| {
                        m.map(|m| self.parse::<Mac>("MAC address", &m)).transpose()
                    };
                    Ok(EventRecord {
                        run: RunId(run),
                        at: self.parse("timestamp", &at)?,
                        event: Event {
                            kind,
                            severity: crate::changes::Severity::parse(&severity)
                                .ok_or_else(|| self.corrupt("severity", &severity))?,
                            mac: mac_of(mac)?,
                            other_mac: mac_of(other)?,
                            ip: ip.map(|ip| self.parse("IP address", &ip)).transpose()?,
                            hostname,
                            text,
                            since: since.map(|t| self.parse("timestamp", &t)).transpose()?,
                        },
                    })
                },
            )
            .collect()
    }

    /// PCs that share what should be theirs alone — a host key, a machine-id, a DMI serial or UUID
    /// — as `clone` warnings, one per pair (cloned from one disk image, or one board in two PCs).
    pub fn identity_conflicts(&self) -> Result<Vec<Event>, InventoryError> {
        Ok(conflicts(&self.pcs()?))
    }

    /// The escrowed passwords, newest first: of one account (`Some(name)`), or of every account not
    /// deleted (`None`).
    pub fn escrowed(&self, username: Option<&str>) -> Result<Vec<EscrowRecord>, InventoryError> {
        let (clause, args): (&str, Vec<&dyn rusqlite::ToSql>) = match &username {
            Some(name) => ("e.username = ?1", vec![name as &dyn rusqlite::ToSql]),
            None => (
                "EXISTS (SELECT 1 FROM accounts a WHERE a.username = e.username
                 AND a.mac = e.mac AND a.state != 'deleted')",
                Vec::new(),
            ),
        };
        let sql = format!(
            "SELECT e.id, e.mac, e.username, e.request, e.at, e.recipients, e.ciphertext
             FROM escrow e WHERE {clause} ORDER BY e.id DESC"
        );
        let raws: Vec<RawEscrow> = self.select(&sql, &args, |r| r.try_into())?;
        raws.into_iter()
            .map(|(id, mac, username, request, at, recipients, ciphertext)| {
                Ok(EscrowRecord {
                    id,
                    mac: self.parse("MAC address", &mac)?,
                    username,
                    request,
                    at: self.parse("timestamp", &at)?,
                    recipients: serde_json::from_str(&recipients)
                        .map_err(|_| self.corrupt("list of recipients", &recipients))?,
                    ciphertext,
                })
            })
            .collect()
    }

    /// Every read of an escrowed password, oldest first.
    pub fn reads(&self) -> Result<Vec<ReadRecord>, InventoryError> {
        let raws: Vec<RawRead> = self.select(
            "SELECT at, username, mac, action, identity, local_user, local_host, reason
             FROM reads ORDER BY id",
            &[],
            |r| r.try_into(),
        )?;
        raws.into_iter()
            .map(
                |(at, username, mac, action, identity, local_user, local_host, reason)| {
                    Ok(ReadRecord {
                        at: self.parse("timestamp", &at)?,
                        username,
                        mac: self.parse("MAC address", &mac)?,
                        action,
                        identity,
                        local_user,
                        local_host,
                        reason,
                    })
                },
            )
            .collect()
    }

    fn corrupt(&self, what: &'static str, value: &str) -> InventoryError {
        InventoryError::Corrupt {
            path: self.path().to_owned(),
            what,
            value: value.to_owned(),
        }
    }

    fn parse<T: std::str::FromStr>(
        &self,
        what: &'static str,
        value: &str,
    ) -> Result<T, InventoryError> {
        value.parse().map_err(|_| self.corrupt(what, value))
    }

    fn parse_facts(&self, value: &str) -> Result<Facts, InventoryError> {
        serde_json::from_str(value).map_err(|_| self.corrupt("facts document", value))
    }

    fn parse_paths(&self, value: &str) -> Result<Vec<PathBuf>, InventoryError> {
        serde_json::from_str(value).map_err(|_| self.corrupt("list of sheet paths", value))
    }

    // ---- writes ----

    async fn write<W: Write>(&self, write: W) -> Result<W::Reply, InventoryError> {
        let writer = self
            .inner
            .writer
            .as_ref()
            .ok_or_else(|| InventoryError::ReadOnly {
                path: self.path().to_owned(),
            })?;
        writer.call(write).await
    }

    /// Records the start of a run.
    pub async fn begin_run(&self, playbook: &Path, digest: &str) -> Result<RunId, InventoryError> {
        let playbook = std::path::absolute(playbook).unwrap_or_else(|_| playbook.to_owned());
        self.write(BeginRun {
            playbook: playbook.display().to_string(),
            digest: digest.to_owned(),
        })
        .await
    }

    /// Issues the next request number, `REQ-YYYYMMDD-NNNNNN` (UTC date; `NNNNNN` counts up across all
    /// runs and never repeats).
    pub async fn next_request(&self, run: RunId) -> Result<String, InventoryError> {
        self.write(NextRequest { run }).await
    }

    /// Records that a PC was seen: its address, its hostname when known, and the time.
    pub async fn seen(&self, pc: PcSeen) -> Result<(), InventoryError> {
        self.write(pc).await
    }

    /// Pins the PC's SSH host key line(s).
    pub async fn pin_host_key(
        &self,
        mac: &Mac,
        ip: Ipv4Addr,
        key: &str,
    ) -> Result<(), InventoryError> {
        self.write(PinHostKey {
            mac: mac.clone(),
            ip,
            key: Some(key.to_owned()),
        })
        .await
    }

    /// Forgets the PC's pinned host key (a reinstalled PC): the next run makes first contact again.
    pub async fn forget_host_key(&self, mac: &Mac, ip: Ipv4Addr) -> Result<(), InventoryError> {
        self.write(PinHostKey {
            mac: mac.clone(),
            ip,
            key: None,
        })
        .await
    }

    /// Sets a PC's number by hand; refuses a number another PC has.
    pub async fn renumber(&self, mac: &Mac, number: u32) -> Result<(), InventoryError> {
        self.write(Renumber {
            mac: mac.clone(),
            number,
        })
        .await
    }

    /// Stores an escrowed password (age ciphertext) for a new account; keeps the newest `keep` of
    /// its PC.
    #[allow(clippy::too_many_arguments)]
    pub async fn escrow(
        &self,
        mac: &Mac,
        username: &str,
        request: &str,
        run: RunId,
        recipients: Vec<String>,
        ciphertext: Vec<u8>,
        keep: u32,
    ) -> Result<(), InventoryError> {
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

    /// Replaces an escrowed password's ciphertext (a rekey to other recipients).
    pub async fn rekey(
        &self,
        id: i64,
        recipients: Vec<String>,
        ciphertext: Vec<u8>,
    ) -> Result<(), InventoryError> {
        self.write(Rekeyed {
            id,
            recipients,
            ciphertext,
        })
        .await
    }

    /// Records a read of an escrowed password (before its plaintext is used).
    pub async fn record_read(&self, read: ReadRecord) -> Result<(), InventoryError> {
        self.write(read).await
    }

    /// Records events found across the fleet; returns how many were new.
    pub async fn record_events(
        &self,
        run: RunId,
        events: Vec<Event>,
    ) -> Result<usize, InventoryError> {
        self.write(RecordEvents { run, events }).await
    }

    /// Journal step 1, before any change on the PC: the new account is recorded `pending`.
    pub async fn intend(&self, intent: Intent) -> Result<(), InventoryError> {
        self.write(intent).await
    }

    /// Journal step 2, after the PC reported success: the deleted accounts are marked so, the facts
    /// stored. List in `deleted` every old account no longer on the PC (absent ones included).
    pub async fn renewed(&self, renewal: Renewal) -> Result<(), InventoryError> {
        self.write(renewal).await
    }

    /// Journal step 3, after the sheets exist: the new account becomes `live` with its sheet paths.
    pub async fn sheets_written(
        &self,
        username: &str,
        user_sheet: Vec<PathBuf>,
        pc_sheet: Vec<PathBuf>,
    ) -> Result<(), InventoryError> {
        self.write(SheetsWritten {
            username: username.to_owned(),
            user_sheet,
            pc_sheet,
        })
        .await
    }

    /// Records how a PC ended in this run.
    pub async fn outcome(&self, run: RunId, pc: PcOutcome) -> Result<(), InventoryError> {
        self.write(Outcome { run, pc }).await
    }

    /// Records an archive of an old account (durable when this returns).
    pub async fn archived(&self, archive: Archived) -> Result<i64, InventoryError> {
        self.write(archive).await
    }

    /// Records that retention removed an archive's file.
    pub async fn archive_removed(&self, id: i64) -> Result<(), InventoryError> {
        self.write(ArchiveRemoved { id }).await
    }

    /// Records the end of a run and returns its counts.
    pub async fn finish_run(&self, run: RunId) -> Result<RunSummary, InventoryError> {
        self.write(FinishRun { run }).await
    }
}

type RawPc = (
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    String,
    Option<u32>,
);
type RawAccount = (
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    String,
    String,
    Option<i64>,
);
type RawArchive = (
    i64,
    String,
    String,
    String,
    String,
    i64,
    String,
    String,
    Option<String>,
);
type RawEvent = (
    i64,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    String,
    String,
    Option<String>,
);
type RawEscrow = (i64, String, String, String, String, String, Vec<u8>);
type RawRead = (
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
);
type RawOutcome = (
    i64,
    Option<String>,
    String,
    String,
    bool,
    Option<String>,
    i64,
    String,
);

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
