//! Every write to the inventory, written once for SQLite and PostgreSQL ([`Sql`]): the run's
//! records, the three journal steps of a PC (intent, renewal, sheets), escrow, archives, events,
//! outcomes, and an admin's changes. Each write is one [`Write`]: SQLite's single writer applies it
//! in a savepoint of a shared commit (`sqlite.rs`), PostgreSQL in a transaction of its own
//! (`postgres/`); either way it is durable when its caller hears back.

use super::InventoryError;
use super::model::{
    Archived, Event, Intent, PcOutcome, PcSeen, ReadRecord, Renewal, RunId, RunSummary,
};
use super::sql::{Sql, args};
use crate::mac::Mac;
use jiff::Timestamp;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

type R<T> = Result<T, InventoryError>;

/// A write: applied in one transaction (or savepoint) for `site`; its reply once committed.
pub(crate) trait Write: Send + 'static {
    /// What the caller gets back.
    type Reply: Send + 'static;
    /// What it does, for errors ("record the intent").
    const ACTION: &'static str;
    /// Applies the write to the open transaction.
    fn apply(self, sql: &mut dyn Sql, site: &str) -> R<Self::Reply>;
}

/// The time a write is made, as stored (RFC 3339).
fn now() -> String {
    Timestamp::now().to_string()
}

fn json_list(items: &[String]) -> String {
    serde_json::Value::from(items.to_vec()).to_string()
}

/// Sheet paths as a JSON list of absolute paths (relative ones resolve against the working
/// directory).
fn json_paths(place: &str, paths: &[PathBuf]) -> R<String> {
    let mut texts = Vec::with_capacity(paths.len());
    for p in paths {
        let absolute = std::path::absolute(p).map_err(|source| InventoryError::Io {
            action: "resolve the sheet path",
            path: p.clone(),
            source,
        })?;
        let text = absolute.to_str().ok_or_else(|| InventoryError::Commit {
            path: place.into(),
            message: format!("the sheet path {} is not valid UTF-8", absolute.display()),
        })?;
        texts.push(text.to_owned());
    }
    Ok(json_list(&texts))
}

/// Records the PC (or its new address and hostname) as seen now, for `site`.
fn upsert_pc(
    sql: &mut dyn Sql,
    site: &str,
    mac: &Mac,
    ip: Ipv4Addr,
    hostname: Option<&str>,
) -> R<()> {
    sql.execute(
        "INSERT INTO pcs (mac, ip, hostname, first_seen, last_seen, site)
         VALUES (?1, ?2, ?3, ?4, ?4, ?5)
         ON CONFLICT (mac) DO UPDATE SET ip = excluded.ip,
             hostname = COALESCE(excluded.hostname, pcs.hostname), last_seen = excluded.last_seen,
             site = excluded.site",
        &args![mac, ip, hostname, now(), site],
    )?;
    Ok(())
}

/// A change to one PC that touched no row: the PC is not in the inventory.
fn found(sql: &dyn Sql, changed: u64, mac: &Mac) -> R<()> {
    if changed == 0 {
        return Err(InventoryError::PcNotFound {
            path: sql.place().into(),
            query: mac.to_string(),
        });
    }
    Ok(())
}

// ---- runs ----

/// Records the start of a run.
pub(crate) struct BeginRun {
    pub playbook: String,
    pub digest: String,
}

impl Write for BeginRun {
    type Reply = RunId;
    const ACTION: &'static str = "record the start of the run";
    fn apply(self, sql: &mut dyn Sql, site: &str) -> R<RunId> {
        let row = sql.query_one(
            "INSERT INTO runs (playbook, digest, started_at, site) VALUES (?1, ?2, ?3, ?4)
             RETURNING id",
            &args![self.playbook, self.digest, now(), site],
        )?;
        Ok(RunId(row.int(0)?))
    }
}

/// Issues the next request number, `REQ-YYYYMMDD-NNNNNN` (UTC date; `NNNNNN` counts up across
/// every run and site and never repeats).
pub(crate) struct NextRequest {
    pub run: RunId,
}

impl Write for NextRequest {
    type Reply = String;
    const ACTION: &'static str = "issue a request number";
    fn apply(self, sql: &mut dyn Sql, _site: &str) -> R<String> {
        let seq = sql
            .query_one(sql.dialect().next_request_seq(), &[])?
            .int(0)?;
        let now = Timestamp::now();
        let id = format!("REQ-{}-{seq:06}", now.strftime("%Y%m%d"));
        sql.execute(
            "INSERT INTO requests (seq, id, run, issued_at) VALUES (?1, ?2, ?3, ?4)",
            &args![seq, id.as_str(), self.run.0, now.to_string()],
        )?;
        Ok(id)
    }
}

/// How a PC ended in a run.
pub(crate) struct Outcome {
    pub run: RunId,
    pub pc: PcOutcome,
}

impl Write for Outcome {
    type Reply = ();
    const ACTION: &'static str = "record a PC's outcome";
    fn apply(self, sql: &mut dyn Sql, _site: &str) -> R<()> {
        let Outcome { run, pc } = self;
        let duration_ms = u64::try_from(pc.duration.as_millis()).unwrap_or(u64::MAX);
        sql.execute(
            "INSERT INTO outcomes (run, mac, ip, step, ok, reason, duration_ms, at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            &args![
                run.0,
                pc.mac.as_ref(),
                pc.ip,
                pc.step,
                pc.ok,
                pc.reason,
                duration_ms,
                now()
            ],
        )?;
        Ok(())
    }
}

/// Records the end of a run and counts its outcomes (each PC's last one).
pub(crate) struct FinishRun {
    pub run: RunId,
}

impl Write for FinishRun {
    type Reply = RunSummary;
    const ACTION: &'static str = "record the end of the run";
    fn apply(self, sql: &mut dyn Sql, _site: &str) -> R<RunSummary> {
        let run = self.run;
        let now = Timestamp::now();
        let counts = sql.query_one(
            "SELECT COUNT(*) FILTER (WHERE ok), COUNT(*) FILTER (WHERE NOT ok) FROM outcomes o
             WHERE run = ?1 AND id = (SELECT MAX(id) FROM outcomes p WHERE p.run = o.run
               AND COALESCE(p.mac, p.ip) = COALESCE(o.mac, o.ip))",
            &args![run.0],
        )?;
        let (ok, failed) = (counts.int(0)?, counts.int(1)?);
        let started = sql.query_opt(
            "UPDATE runs SET finished_at = ?2, ok = ?3, failed = ?4 WHERE id = ?1
             RETURNING started_at",
            &args![run.0, now.to_string(), ok, failed],
        )?;
        let Some(started) = started else {
            return Err(super::sql::corrupt(
                sql.place(),
                "run id",
                &run.0.to_string(),
            ));
        };
        Ok(RunSummary {
            run,
            started_at: started.parse(0, "timestamp")?,
            finished_at: now,
            ok: u32::try_from(ok).unwrap_or(u32::MAX),
            failed: u32::try_from(failed).unwrap_or(u32::MAX),
        })
    }
}

// ---- PCs ----

impl Write for PcSeen {
    type Reply = ();
    const ACTION: &'static str = "record a PC";
    fn apply(self, sql: &mut dyn Sql, site: &str) -> R<()> {
        upsert_pc(sql, site, &self.mac, self.ip, self.hostname.as_deref())
    }
}

/// Pins a PC's host key line(s).
pub(crate) struct PinHostKey {
    pub mac: Mac,
    pub ip: Ipv4Addr,
    pub key: String,
}

impl Write for PinHostKey {
    type Reply = ();
    const ACTION: &'static str = "pin a host key";
    fn apply(self, sql: &mut dyn Sql, site: &str) -> R<()> {
        upsert_pc(sql, site, &self.mac, self.ip, None)?;
        sql.execute(
            "UPDATE pcs SET host_key = ?2 WHERE mac = ?1",
            &args![&self.mac, self.key],
        )?;
        Ok(())
    }
}

/// Forgets a PC's pinned host key (a reinstalled PC).
pub(crate) struct ForgetHostKey {
    pub mac: Mac,
}

impl Write for ForgetHostKey {
    type Reply = ();
    const ACTION: &'static str = "forget a host key";
    fn apply(self, sql: &mut dyn Sql, _site: &str) -> R<()> {
        let changed = sql.execute(
            "UPDATE pcs SET host_key = NULL WHERE mac = ?1",
            &args![&self.mac],
        )?;
        found(sql, changed, &self.mac)
    }
}

/// Sets one PC's number; refuses a number another PC of its site has.
pub(crate) struct Renumber {
    pub mac: Mac,
    pub number: u32,
}

impl Write for Renumber {
    type Reply = ();
    const ACTION: &'static str = "renumber a PC";
    fn apply(self, sql: &mut dyn Sql, _site: &str) -> R<()> {
        let holder = sql.query_opt(
            "SELECT other.mac FROM pcs other JOIN pcs this ON this.site = other.site
             WHERE this.mac = ?1 AND other.number = ?2 AND other.mac != ?1",
            &args![&self.mac, self.number],
        )?;
        if let Some(holder) = holder {
            return Err(InventoryError::NumberInUse {
                number: self.number,
                mac: holder.text(0)?,
            });
        }
        let changed = sql.execute(
            "UPDATE pcs SET number = ?2 WHERE mac = ?1",
            &args![&self.mac, self.number],
        )?;
        found(sql, changed, &self.mac)
    }
}

// ---- the journal of one PC ----

impl Write for Intent {
    type Reply = ();
    const ACTION: &'static str = "record the intent";
    /// Journal step 1, before any change on the PC: the new account `pending`. A name another
    /// account holds (a controller of another site may have taken it a moment ago) is
    /// [`InventoryError::UsernameInUse`].
    fn apply(self, sql: &mut dyn Sql, site: &str) -> R<()> {
        let i = self;
        let now = now();
        upsert_pc(sql, site, &i.mac, i.ip, None)?;
        // The PC's number is given for good with its first intent (a number it has stays).
        if let Some(number) = i.number {
            sql.execute(
                "UPDATE pcs SET number = ?2 WHERE mac = ?1 AND number IS NULL",
                &args![&i.mac, number],
            )?;
        }
        let holder = sql.query_opt(
            "SELECT mac FROM accounts WHERE username = ?1 AND state != 'deleted'",
            &args![&i.new_username],
        )?;
        if let Some(row) = holder {
            return Err(InventoryError::UsernameInUse {
                username: i.new_username,
                mac: row.text(0)?,
            });
        }
        // Two controllers drawing the same name at once: the unique index refuses the second.
        let inserted = sql.query_opt(
            "INSERT INTO accounts (username, mac, request, run, state, created_at, site)
             VALUES (?1, ?2, ?3, ?4, 'pending', ?5, ?6)
             ON CONFLICT (username) WHERE state != 'deleted' DO NOTHING
             RETURNING id",
            &args![
                &i.new_username,
                &i.mac,
                &i.request,
                i.run.0,
                now.as_str(),
                site
            ],
        )?;
        if inserted.is_none() {
            return Err(InventoryError::UsernameInUse {
                username: i.new_username,
                mac: "(another site, just now)".into(),
            });
        }
        sql.execute(
            "INSERT INTO journal (run, mac, request, new_username, old_usernames, intended_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            &args![
                i.run.0,
                &i.mac,
                &i.request,
                &i.new_username,
                json_list(&i.old_usernames),
                now
            ],
        )?;
        Ok(())
    }
}

impl Write for Renewal {
    type Reply = ();
    const ACTION: &'static str = "record the renewal";
    /// Journal step 2, after the PC reported success: the new account's uid and login shell, the
    /// deleted accounts marked so, the facts and what changed in them.
    fn apply(self, sql: &mut dyn Sql, _site: &str) -> R<()> {
        let r = self;
        let now = now();
        let changed = sql.execute(
            "UPDATE accounts SET uid = ?4, shell = ?5 WHERE mac = ?1 AND username = ?2
             AND request = ?3 AND state != 'deleted'",
            &args![
                &r.mac,
                &r.new_username,
                &r.request,
                r.uid,
                r.shell.as_deref()
            ],
        )?;
        if changed == 0 {
            return Err(InventoryError::UnknownAccount {
                username: r.new_username,
                mac: Some(r.mac.to_string()),
                expected: "intended",
            });
        }
        for old in r.deleted.iter().filter(|u| **u != r.new_username) {
            sql.execute(
                "UPDATE accounts SET state = 'deleted', deleted_at = ?3
                 WHERE mac = ?1 AND username = ?2 AND state != 'deleted'",
                &args![&r.mac, old, now.as_str()],
            )?;
        }
        let facts = serde_json::to_string(&r.facts).map_err(|e| InventoryError::Commit {
            path: sql.place().into(),
            message: format!("facts of {} could not be encoded: {e}", r.mac),
        })?;
        record_fact_changes(sql, &r, &now)?;
        sql.execute(
            "UPDATE pcs SET hostname = ?2, facts = ?3, last_seen = ?4 WHERE mac = ?1",
            &args![&r.mac, &r.hostname, facts.as_str(), now.as_str()],
        )?;
        sql.execute(
            "INSERT INTO facts_history (mac, run, at, facts) VALUES (?1, ?2, ?3, ?4)",
            &args![&r.mac, r.run.0, now.as_str(), facts],
        )?;
        sql.execute(
            "DELETE FROM facts_history WHERE mac = ?1 AND id NOT IN
             (SELECT id FROM facts_history WHERE mac = ?1 ORDER BY id DESC LIMIT ?2)",
            &args![&r.mac, r.history.max(1)],
        )?;
        sql.execute(
            "UPDATE journal SET renewed_at = ?3, deleted = ?4, leftover_files = ?5,
             leftover_bytes = ?6 WHERE mac = ?1 AND request = ?2",
            &args![
                &r.mac,
                &r.request,
                now,
                json_list(&r.deleted),
                r.leftover_files,
                r.leftover_bytes
            ],
        )?;
        Ok(())
    }
}

/// The changes from the facts recorded last for the PC to the ones it reports now, as events.
fn record_fact_changes(sql: &mut dyn Sql, r: &Renewal, now: &str) -> R<()> {
    let before = sql.query_opt(
        "SELECT p.facts, p.ip, COALESCE(
             (SELECT at FROM facts_history h WHERE h.mac = p.mac ORDER BY id DESC LIMIT 1),
             p.last_seen)
         FROM pcs p WHERE p.mac = ?1",
        &args![&r.mac],
    )?;
    let Some(before) = before else {
        return Ok(());
    };
    let (old, ip, since) = (before.opt_text(0)?, before.text(1)?, before.text(2)?);
    // Facts an older version recorded in another shape are not compared.
    let Some(old) = old.and_then(|o| serde_json::from_str::<crate::facts::Facts>(&o).ok()) else {
        return Ok(());
    };
    for change in crate::changes::diff(&old, &r.facts) {
        sql.execute(
            "INSERT INTO events (run, at, mac, ip, hostname, kind, severity, text, since)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            &args![
                r.run.0,
                now,
                &r.mac,
                ip.as_str(),
                &r.hostname,
                change.kind,
                change.severity.as_str(),
                change.text,
                since.as_str()
            ],
        )?;
    }
    Ok(())
}

/// Journal step 3: the sheets of an account exist; it becomes `live`.
pub(crate) struct SheetsWritten {
    pub username: String,
    pub user_sheet: Vec<PathBuf>,
    pub pc_sheet: Vec<PathBuf>,
}

impl Write for SheetsWritten {
    type Reply = ();
    const ACTION: &'static str = "record the sheets";
    fn apply(self, sql: &mut dyn Sql, _site: &str) -> R<()> {
        let found = sql.query_opt(
            "SELECT a.id, a.mac, a.request FROM accounts a
             JOIN journal j ON j.mac = a.mac AND j.request = a.request
             WHERE a.username = ?1 AND a.state != 'deleted' AND j.renewed_at IS NOT NULL",
            &args![&self.username],
        )?;
        let Some(row) = found else {
            return Err(InventoryError::UnknownAccount {
                username: self.username,
                mac: None,
                expected: "renewed",
            });
        };
        let (id, mac, request) = (row.int(0)?, row.text(1)?, row.text(2)?);
        let user_sheet = json_paths(sql.place(), &self.user_sheet)?;
        let pc_sheet = json_paths(sql.place(), &self.pc_sheet)?;
        sql.execute(
            "UPDATE accounts SET state = 'live', user_sheet = ?2, pc_sheet = ?3 WHERE id = ?1",
            &args![id, user_sheet, pc_sheet],
        )?;
        sql.execute(
            "UPDATE journal SET sheets_at = ?3 WHERE mac = ?1 AND request = ?2",
            &args![mac, request, now()],
        )?;
        Ok(())
    }
}

// ---- escrow, archives, events ----

/// Stores a new escrowed password and keeps only the newest `keep` of its PC.
pub(crate) struct Escrowed {
    pub mac: Mac,
    pub username: String,
    pub request: String,
    pub run: RunId,
    pub recipients: Vec<String>,
    pub ciphertext: Vec<u8>,
    pub keep: u32,
}

impl Write for Escrowed {
    type Reply = ();
    const ACTION: &'static str = "store the escrowed password";
    fn apply(self, sql: &mut dyn Sql, _site: &str) -> R<()> {
        sql.execute(
            "INSERT INTO escrow (mac, username, request, run, at, recipients, ciphertext)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            &args![
                &self.mac,
                self.username,
                self.request,
                self.run.0,
                now(),
                json_list(&self.recipients),
                self.ciphertext
            ],
        )?;
        sql.execute(
            "DELETE FROM escrow WHERE mac = ?1 AND id NOT IN
             (SELECT id FROM escrow WHERE mac = ?1 ORDER BY id DESC LIMIT ?2)",
            &args![&self.mac, self.keep.max(1)],
        )?;
        Ok(())
    }
}

/// Re-encrypts one escrowed password (a rekey).
pub(crate) struct Rekeyed {
    pub id: i64,
    pub recipients: Vec<String>,
    pub ciphertext: Vec<u8>,
}

impl Write for Rekeyed {
    type Reply = ();
    const ACTION: &'static str = "store the rekeyed password";
    fn apply(self, sql: &mut dyn Sql, _site: &str) -> R<()> {
        sql.execute(
            "UPDATE escrow SET recipients = ?2, ciphertext = ?3 WHERE id = ?1",
            &args![self.id, json_list(&self.recipients), self.ciphertext],
        )?;
        Ok(())
    }
}

impl Write for ReadRecord {
    type Reply = ();
    const ACTION: &'static str = "record a read of an escrowed password";
    /// Committed before the password's plaintext is used.
    fn apply(self, sql: &mut dyn Sql, _site: &str) -> R<()> {
        sql.execute(
            "INSERT INTO reads (at, username, mac, action, identity, local_user, local_host,
                                reason)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            &args![
                self.at.to_string(),
                self.username,
                &self.mac,
                self.action,
                self.identity,
                self.local_user,
                self.local_host,
                self.reason
            ],
        )?;
        Ok(())
    }
}

impl Write for Archived {
    type Reply = i64;
    const ACTION: &'static str = "record an archive";
    /// An archive of an old account, recorded before the account is deleted; its id.
    fn apply(self, sql: &mut dyn Sql, _site: &str) -> R<i64> {
        let a = self;
        let file = a.path.to_str().ok_or_else(|| InventoryError::Commit {
            path: sql.place().into(),
            message: format!("the archive path {} is not valid UTF-8", a.path.display()),
        })?;
        sql.query_one(
            "INSERT INTO archives (mac, username, request, run, path, bytes, sha256, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING id",
            &args![
                &a.mac,
                &a.username,
                &a.request,
                a.run.0,
                file,
                a.bytes,
                &a.sha256,
                now()
            ],
        )?
        .int(0)
    }
}

/// Retention removed an archive's file.
pub(crate) struct ArchiveRemoved {
    pub id: i64,
}

impl Write for ArchiveRemoved {
    type Reply = ();
    const ACTION: &'static str = "record an archive's removal";
    fn apply(self, sql: &mut dyn Sql, _site: &str) -> R<()> {
        sql.execute(
            "UPDATE archives SET removed_at = ?2 WHERE id = ?1 AND removed_at IS NULL",
            &args![self.id, now()],
        )?;
        Ok(())
    }
}

/// Records events found across the fleet (clones, strangers); one already recorded (same kind,
/// PCs, address and words) is not recorded again. How many were new.
pub(crate) struct RecordEvents {
    pub run: RunId,
    pub events: Vec<Event>,
}

impl Write for RecordEvents {
    type Reply = usize;
    const ACTION: &'static str = "record events";
    fn apply(self, sql: &mut dyn Sql, _site: &str) -> R<usize> {
        let now = now();
        let mut recorded = 0;
        for e in self.events {
            let known = sql.query_one(
                "SELECT EXISTS (SELECT 1 FROM events WHERE kind = ?1
                 AND mac IS NOT DISTINCT FROM ?2 AND other_mac IS NOT DISTINCT FROM ?3
                 AND ip IS NOT DISTINCT FROM ?4 AND text = ?5)",
                &args![&e.kind, e.mac.as_ref(), e.other_mac.as_ref(), e.ip, &e.text],
            )?;
            if known.bool(0)? {
                continue;
            }
            sql.execute(
                "INSERT INTO events (run, at, mac, other_mac, ip, hostname, kind, severity, text,
                 since) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                &args![
                    self.run.0,
                    now.as_str(),
                    e.mac.as_ref(),
                    e.other_mac.as_ref(),
                    e.ip,
                    e.hostname,
                    e.kind,
                    e.severity.as_str(),
                    e.text,
                    e.since.map(|t| t.to_string())
                ],
            )?;
            recorded += 1;
        }
        Ok(recorded)
    }
}

/// The playbook's path as recorded: absolute where it can be made so.
pub(crate) fn playbook_path(playbook: &Path) -> String {
    std::path::absolute(playbook)
        .unwrap_or_else(|_| playbook.to_owned())
        .display()
        .to_string()
}
