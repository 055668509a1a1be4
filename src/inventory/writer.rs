//! The single writer: one thread owns the writing SQLite connection and commits the writes of many PCs
//! in one transaction, so 50+ PCs renewed at once share each fsync instead of queueing for their own.
//!
//! Each write runs in its own savepoint: a write that fails (say, an unknown account) is rolled back
//! alone and reported to its caller, while the rest of its batch commits.

use super::InventoryError;
use super::model::{
    Archived, Event, Intent, PcOutcome, PcSeen, ReadRecord, Renewal, RunId, RunSummary, WriteStats,
};
use crate::mac::Mac;
use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;

/// The most writes one transaction takes; more wait for the next commit.
const MAX_BATCH: usize = 512;

/// Records the start of a run.
pub(crate) struct BeginRun {
    pub playbook: String,
    pub digest: String,
}

/// Issues the next request number.
pub(crate) struct NextRequest {
    pub run: RunId,
}

/// Pins a PC's host key, or forgets it (`None`).
pub(crate) struct PinHostKey {
    pub mac: Mac,
    pub ip: Ipv4Addr,
    pub key: Option<String>,
}

/// Journal step 3: the sheets of an account exist.
pub(crate) struct SheetsWritten {
    pub username: String,
    pub user_sheet: Vec<PathBuf>,
    pub pc_sheet: Vec<PathBuf>,
}

/// Retention removed an archive's file.
pub(crate) struct ArchiveRemoved {
    pub id: i64,
}

/// How a PC ended in a run.
pub(crate) struct Outcome {
    pub run: RunId,
    pub pc: PcOutcome,
}

/// Records the end of a run and counts its outcomes.
pub(crate) struct FinishRun {
    pub run: RunId,
}

/// Sets one PC's number.
pub(crate) struct Renumber {
    pub mac: Mac,
    pub number: u32,
}

/// A write: applied on the writer thread inside its own savepoint, answered with its own reply type
/// once the batch it is in has committed.
pub(crate) trait Write: Send + 'static {
    /// What the caller gets back.
    type Reply: Send + 'static;
    /// Applies the write to the open transaction.
    fn apply(self, conn: &Connection, path: &Path) -> Result<Self::Reply, InventoryError>;
}

/// A write with its caller's reply channel, its type erased so one queue carries every kind.
trait Job: Send {
    /// Applies the write; whether it succeeded.
    fn apply(&mut self, conn: &Connection, path: &Path) -> bool;
    /// The write failed after all (its savepoint could not be made or released).
    fn fail(&mut self, error: InventoryError);
    /// Answers the caller once the transaction ended: the write's own result, or the commit's error.
    fn answer(self: Box<Self>, commit: Result<(), InventoryError>);
}

struct Typed<W: Write> {
    write: Option<W>,
    result: Option<Result<W::Reply, InventoryError>>,
    reply: tokio::sync::oneshot::Sender<Result<W::Reply, InventoryError>>,
}

impl<W: Write> Job for Typed<W> {
    fn apply(&mut self, conn: &Connection, path: &Path) -> bool {
        let result = match self.write.take() {
            Some(write) => write.apply(conn, path),
            None => return false,
        };
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn fail(&mut self, error: InventoryError) {
        self.write = None;
        self.result = Some(Err(error));
    }

    fn answer(self: Box<Self>, commit: Result<(), InventoryError>) {
        let result = match (self.result, commit) {
            (Some(Err(e)), _) | (Some(Ok(_)), Err(e)) => Err(e),
            (Some(Ok(reply)), Ok(())) => Ok(reply),
            (None, Err(e)) => Err(e),
            (None, Ok(())) => Err(InventoryError::WriterGone {
                path: PathBuf::from("(a write that never ran)"),
            }),
        };
        // The caller may have given up waiting; its write is committed all the same.
        let _ = self.reply.send(result);
    }
}

#[derive(Default)]
struct Counters {
    writes: AtomicU64,
    commits: AtomicU64,
}

/// The handle on the writer thread. Dropping it lets the thread finish its queue and close the database.
pub(crate) struct Writer {
    path: PathBuf,
    queue: Option<mpsc::Sender<Box<dyn Job>>>,
    thread: Option<JoinHandle<()>>,
    counters: Arc<Counters>,
}

impl Writer {
    /// Starts the thread that owns `conn`.
    pub(crate) fn start(conn: Connection, path: &Path) -> Result<Writer, InventoryError> {
        let (queue, jobs) = mpsc::channel::<Box<dyn Job>>();
        let counters = Arc::new(Counters::default());
        let thread_counters = Arc::clone(&counters);
        let thread_path = path.to_owned();
        let thread = std::thread::Builder::new()
            .name("inventory-writer".into())
            .spawn(move || serve(conn, &thread_path, &jobs, &thread_counters))
            .map_err(|source| InventoryError::Io {
                action: "start the inventory writer thread for",
                path: path.to_owned(),
                source,
            })?;
        Ok(Writer {
            path: path.to_owned(),
            queue: Some(queue),
            thread: Some(thread),
            counters,
        })
    }

    /// Sends `write` and waits until it is durably committed (or failed).
    pub(crate) async fn call<W: Write>(&self, write: W) -> Result<W::Reply, InventoryError> {
        let gone = || InventoryError::WriterGone {
            path: self.path.clone(),
        };
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job: Box<dyn Job> = Box::new(Typed {
            write: Some(write),
            result: None,
            reply,
        });
        self.queue
            .as_ref()
            .ok_or_else(gone)?
            .send(job)
            .map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }

    pub(crate) fn stats(&self) -> WriteStats {
        WriteStats {
            writes: self.counters.writes.load(Ordering::Relaxed),
            commits: self.counters.commits.load(Ordering::Relaxed),
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Closing the queue ends the thread's loop once the queued writes are done.
        self.queue.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(
    mut conn: Connection,
    path: &Path,
    jobs: &mpsc::Receiver<Box<dyn Job>>,
    counters: &Counters,
) {
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let committed =
            commit_batch(&mut conn, path, &mut batch).map_err(|message| InventoryError::Commit {
                path: path.to_owned(),
                message,
            });
        // Counted before any caller hears back, so a caller reading the counters sees its write.
        counters
            .writes
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        counters.commits.fetch_add(1, Ordering::Relaxed);
        let message = committed.as_ref().err().map(ToString::to_string);
        for job in batch {
            job.answer(match &message {
                None => Ok(()),
                Some(m) => Err(InventoryError::Commit {
                    path: path.to_owned(),
                    message: m.clone(),
                }),
            });
        }
    }
    // A clean end: leave the file in rollback-journal mode, so that read-only openers (`--check`,
    // `rdplay inventory`, possibly as another user) need no -wal or -shm file and create none. The next
    // run switches back to WAL. If a reader is open this fails with SQLITE_BUSY and the file stays in
    // WAL mode, which is just as safe.
    let _ = conn.query_row("PRAGMA journal_mode = DELETE", [], |_| Ok(()));
}

/// Applies `jobs` in one transaction, each in its own savepoint (a failing write is rolled back
/// alone); the commit's error, if any.
fn commit_batch(
    conn: &mut Connection,
    path: &Path,
    jobs: &mut [Box<dyn Job>],
) -> Result<(), String> {
    match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Err(e) => Err(e.to_string()),
        Ok(mut tx) => {
            for job in jobs.iter_mut() {
                match tx.savepoint() {
                    Ok(mut sp) => {
                        sp.set_drop_behavior(rusqlite::DropBehavior::Rollback);
                        if job.apply(&sp, path)
                            && let Err(source) = sp.commit()
                        {
                            job.fail(sqlite(path, source));
                        }
                    }
                    Err(source) => job.fail(sqlite(path, source)),
                }
            }
            tx.commit().map_err(|e| e.to_string())
        }
    }
}

fn sqlite(path: &Path, source: rusqlite::Error) -> InventoryError {
    InventoryError::Sqlite {
        path: path.to_owned(),
        source,
    }
}

/// The time a write is made, as stored (RFC 3339) and as a value.
fn now() -> (Timestamp, String) {
    let now = Timestamp::now();
    (now, now.to_string())
}

impl Write for BeginRun {
    type Reply = RunId;
    fn apply(self, conn: &Connection, path: &Path) -> Result<RunId, InventoryError> {
        let (_, now_text) = now();
        let sql = |source| sqlite(path, source);
        let BeginRun { playbook, digest } = self;
        conn.execute(
            "INSERT INTO runs (playbook, digest, started_at) VALUES (?1, ?2, ?3)",
            params![playbook, digest, now_text],
        )
        .map_err(sql)?;
        Ok(RunId(conn.last_insert_rowid()))
    }
}

impl Write for NextRequest {
    type Reply = String;
    fn apply(self, conn: &Connection, path: &Path) -> Result<String, InventoryError> {
        let (now, now_text) = now();
        let sql = |source| sqlite(path, source);
        let NextRequest { run } = self;
        let seq: i64 = conn
            .query_row("SELECT COALESCE(MAX(seq), 0) + 1 FROM requests", [], |r| {
                r.get(0)
            })
            .map_err(sql)?;
        let id = format!("REQ-{}-{seq:06}", now.strftime("%Y%m%d"));
        conn.execute(
            "INSERT INTO requests (seq, id, run, issued_at) VALUES (?1, ?2, ?3, ?4)",
            params![seq, id, run.0, now_text],
        )
        .map_err(sql)?;
        Ok(id)
    }
}

impl Write for PcSeen {
    type Reply = ();
    fn apply(self, conn: &Connection, path: &Path) -> Result<(), InventoryError> {
        let (_, now_text) = now();
        let sql = |source| sqlite(path, source);
        let pc = self;
        upsert_pc(conn, &pc.mac, pc.ip, pc.hostname.as_deref(), &now_text).map_err(sql)?;
        Ok(())
    }
}

impl Write for PinHostKey {
    type Reply = ();
    fn apply(self, conn: &Connection, path: &Path) -> Result<(), InventoryError> {
        let (_, now_text) = now();
        let sql = |source| sqlite(path, source);
        let PinHostKey { mac, ip, key } = self;
        upsert_pc(conn, &mac, ip, None, &now_text).map_err(sql)?;
        conn.execute(
            "UPDATE pcs SET host_key = ?2 WHERE mac = ?1",
            params![mac, key],
        )
        .map_err(sql)?;
        Ok(())
    }
}

impl Write for Intent {
    type Reply = ();
    fn apply(self, conn: &Connection, path: &Path) -> Result<(), InventoryError> {
        let (_, now_text) = now();
        let sql = |source| sqlite(path, source);
        let i = self;
        upsert_pc(conn, &i.mac, i.ip, None, &now_text).map_err(sql)?;
        // The PC's number is given for good with its first intent (a number it has stays).
        if let Some(number) = i.number {
            conn.execute(
                "UPDATE pcs SET number = ?2 WHERE mac = ?1 AND number IS NULL",
                params![i.mac, number],
            )
            .map_err(sql)?;
        }
        let holder: Option<String> = conn
            .query_row(
                "SELECT mac FROM accounts WHERE username = ?1 AND state != 'deleted'",
                [&i.new_username],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql)?;
        if let Some(mac) = holder {
            return Err(InventoryError::UsernameInUse {
                username: i.new_username,
                mac,
            });
        }
        conn.execute(
            "INSERT INTO accounts (username, mac, request, run, state, created_at)
             VALUES (?1, ?2, ?3, ?4, 'pending', ?5)",
            params![i.new_username, i.mac, i.request, i.run.0, now_text],
        )
        .map_err(sql)?;
        conn.execute(
            "INSERT INTO journal (run, mac, request, new_username, old_usernames, intended_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                i.run.0,
                i.mac,
                i.request,
                i.new_username,
                json_list(&i.old_usernames),
                now_text
            ],
        )
        .map_err(sql)?;
        Ok(())
    }
}

impl Write for Renewal {
    type Reply = ();
    fn apply(self, conn: &Connection, path: &Path) -> Result<(), InventoryError> {
        let (_, now_text) = now();
        let sql = |source| sqlite(path, source);
        let r = self;
        let created: Option<String> = conn
            .query_row(
                "SELECT state FROM accounts WHERE mac = ?1 AND username = ?2 AND request = ?3
                 AND state != 'deleted'",
                params![r.mac, r.new_username, r.request],
                |row| row.get(0),
            )
            .optional()
            .map_err(sql)?;
        if created.is_none() {
            return Err(InventoryError::UnknownAccount {
                username: r.new_username,
                mac: Some(r.mac.to_string()),
                expected: "intended",
            });
        }
        conn.execute(
            "UPDATE accounts SET uid = ?4 WHERE mac = ?1 AND username = ?2 AND request = ?3
             AND state != 'deleted'",
            params![r.mac, r.new_username, r.request, r.uid],
        )
        .map_err(sql)?;
        for old in r.deleted.iter().filter(|u| **u != r.new_username) {
            conn.execute(
                "UPDATE accounts SET state = 'deleted', deleted_at = ?3
                 WHERE mac = ?1 AND username = ?2 AND state != 'deleted'",
                params![r.mac, old, now_text],
            )
            .map_err(sql)?;
        }
        let facts = serde_json::to_string(&r.facts).map_err(|e| InventoryError::Commit {
            path: path.to_owned(),
            message: format!("facts of {} could not be encoded: {e}", r.mac),
        })?;
        record_fact_changes(conn, path, &r, &now_text)?;
        conn.execute(
            "UPDATE pcs SET hostname = ?2, facts = ?3, last_seen = ?4 WHERE mac = ?1",
            params![r.mac, r.hostname, facts, now_text],
        )
        .map_err(sql)?;
        conn.execute(
            "INSERT INTO facts_history (mac, run, at, facts) VALUES (?1, ?2, ?3, ?4)",
            params![r.mac, r.run.0, now_text, facts],
        )
        .map_err(sql)?;
        conn.execute(
            "DELETE FROM facts_history WHERE mac = ?1 AND id NOT IN
             (SELECT id FROM facts_history WHERE mac = ?1 ORDER BY id DESC LIMIT ?2)",
            params![r.mac, r.history.max(1)],
        )
        .map_err(sql)?;
        conn.execute(
            "UPDATE journal SET renewed_at = ?3, deleted = ?4, leftover_files = ?5, leftover_bytes = ?6
             WHERE mac = ?1 AND request = ?2",
            params![
                r.mac,
                r.request,
                now_text,
                json_list(&r.deleted),
                i64::try_from(r.leftover_files).unwrap_or(i64::MAX),
                i64::try_from(r.leftover_bytes).unwrap_or(i64::MAX)
            ],
        )
        .map_err(sql)?;
        Ok(())
    }
}

/// The changes from the facts recorded last for the PC to the ones it reports now, as events.
fn record_fact_changes(
    conn: &Connection,
    path: &Path,
    r: &Renewal,
    now_text: &str,
) -> Result<(), InventoryError> {
    let sql = |source| sqlite(path, source);
    let before: Option<(Option<String>, String, String)> = conn
        .query_row(
            "SELECT p.facts, p.ip, COALESCE(
                 (SELECT at FROM facts_history h WHERE h.mac = p.mac ORDER BY id DESC LIMIT 1),
                 p.last_seen)
             FROM pcs p WHERE p.mac = ?1",
            [&r.mac],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .optional()
        .map_err(sql)?;
    let Some((Some(old), ip, since)) = before else {
        return Ok(());
    };
    // Facts an older version recorded in another shape are not compared.
    let Ok(old) = serde_json::from_str::<crate::facts::Facts>(&old) else {
        return Ok(());
    };
    for change in crate::changes::diff(&old, &r.facts) {
        conn.execute(
            "INSERT INTO events (run, at, mac, ip, hostname, kind, severity, text, since)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                r.run.0,
                now_text,
                r.mac,
                ip,
                r.hostname,
                change.kind,
                change.severity.as_str(),
                change.text,
                since
            ],
        )
        .map_err(sql)?;
    }
    Ok(())
}

/// Records events found across the fleet (clones, strangers); one already recorded (same kind,
/// PCs, address and words) is not recorded again.
pub(crate) struct RecordEvents {
    pub run: RunId,
    pub events: Vec<Event>,
}

impl Write for RecordEvents {
    type Reply = usize;
    fn apply(self, conn: &Connection, path: &Path) -> Result<usize, InventoryError> {
        let (_, now_text) = now();
        let sql = |source| sqlite(path, source);
        let mut recorded = 0;
        for e in self.events {
            let ip = e.ip.map(|ip| ip.to_string());
            let known: bool = conn
                .query_row(
                    "SELECT EXISTS (SELECT 1 FROM events WHERE kind = ?1 AND mac IS ?2
                     AND other_mac IS ?3 AND ip IS ?4 AND text = ?5)",
                    params![e.kind, e.mac, e.other_mac, ip, e.text],
                    |r| r.get(0),
                )
                .map_err(sql)?;
            if known {
                continue;
            }
            conn.execute(
                "INSERT INTO events (run, at, mac, other_mac, ip, hostname, kind, severity, text, since)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    self.run.0,
                    now_text,
                    e.mac,
                    e.other_mac,
                    ip,
                    e.hostname,
                    e.kind,
                    e.severity.as_str(),
                    e.text,
                    e.since.map(|t| t.to_string())
                ],
            )
            .map_err(sql)?;
            recorded += 1;
        }
        Ok(recorded)
    }
}

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
    fn apply(self, conn: &Connection, path: &Path) -> Result<(), InventoryError> {
        let (_, now_text) = now();
        let sql = |source| sqlite(path, source);
        conn.execute(
            "INSERT INTO escrow (mac, username, request, run, at, recipients, ciphertext)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                self.mac,
                self.username,
                self.request,
                self.run.0,
                now_text,
                json_list(&self.recipients),
                self.ciphertext
            ],
        )
        .map_err(sql)?;
        conn.execute(
            "DELETE FROM escrow WHERE mac = ?1 AND id NOT IN
             (SELECT id FROM escrow WHERE mac = ?1 ORDER BY id DESC LIMIT ?2)",
            params![self.mac, self.keep.max(1)],
        )
        .map_err(sql)?;
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
    fn apply(self, conn: &Connection, path: &Path) -> Result<(), InventoryError> {
        conn.execute(
            "UPDATE escrow SET recipients = ?2, ciphertext = ?3 WHERE id = ?1",
            params![self.id, json_list(&self.recipients), self.ciphertext],
        )
        .map_err(|source| sqlite(path, source))
        .map(drop)
    }
}

impl Write for ReadRecord {
    type Reply = ();
    fn apply(self, conn: &Connection, path: &Path) -> Result<(), InventoryError> {
        conn.execute(
            "INSERT INTO reads (at, username, mac, action, identity, local_user, local_host, reason)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                self.at.to_string(),
                self.username,
                self.mac,
                self.action,
                self.identity,
                self.local_user,
                self.local_host,
                self.reason
            ],
        )
        .map_err(|source| sqlite(path, source))
        .map(drop)
    }
}

impl Write for SheetsWritten {
    type Reply = ();
    fn apply(self, conn: &Connection, path: &Path) -> Result<(), InventoryError> {
        let (_, now_text) = now();
        let sql = |source| sqlite(path, source);
        let SheetsWritten {
            username,
            user_sheet,
            pc_sheet,
        } = self;
        let found: Option<(i64, String, String)> = conn
            .query_row(
                "SELECT a.id, a.mac, a.request FROM accounts a
                 JOIN journal j ON j.mac = a.mac AND j.request = a.request
                 WHERE a.username = ?1 AND a.state != 'deleted' AND j.renewed_at IS NOT NULL",
                [&username],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .map_err(sql)?;
        let Some((id, mac, request)) = found else {
            return Err(InventoryError::UnknownAccount {
                username,
                mac: None,
                expected: "renewed",
            });
        };
        conn.execute(
            "UPDATE accounts SET state = 'live', user_sheet = ?2, pc_sheet = ?3 WHERE id = ?1",
            params![
                id,
                json_paths(path, &user_sheet)?,
                json_paths(path, &pc_sheet)?
            ],
        )
        .map_err(sql)?;
        conn.execute(
            "UPDATE journal SET sheets_at = ?3 WHERE mac = ?1 AND request = ?2",
            params![mac, request, now_text],
        )
        .map_err(sql)?;
        Ok(())
    }
}

impl Write for Archived {
    type Reply = i64;
    fn apply(self, conn: &Connection, path: &Path) -> Result<i64, InventoryError> {
        let (_, now_text) = now();
        let sql = |source| sqlite(path, source);
        let a = self;
        let file = a.path.to_str().ok_or_else(|| InventoryError::Commit {
            path: path.to_owned(),
            message: format!("the archive path {} is not valid UTF-8", a.path.display()),
        })?;
        conn.execute(
            "INSERT INTO archives (mac, username, request, run, path, bytes, sha256, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                a.mac,
                a.username,
                a.request,
                a.run.0,
                file,
                i64::try_from(a.bytes).unwrap_or(i64::MAX),
                a.sha256,
                now_text
            ],
        )
        .map_err(sql)?;
        Ok(conn.last_insert_rowid())
    }
}

impl Write for ArchiveRemoved {
    type Reply = ();
    fn apply(self, conn: &Connection, path: &Path) -> Result<(), InventoryError> {
        let (_, now_text) = now();
        conn.execute(
            "UPDATE archives SET removed_at = ?2 WHERE id = ?1 AND removed_at IS NULL",
            params![self.id, now_text],
        )
        .map_err(|source| sqlite(path, source))?;
        Ok(())
    }
}

impl Write for Outcome {
    type Reply = ();
    fn apply(self, conn: &Connection, path: &Path) -> Result<(), InventoryError> {
        let (_, now_text) = now();
        let sql = |source| sqlite(path, source);
        let Outcome { run, pc } = self;
        let duration_ms = i64::try_from(pc.duration.as_millis()).unwrap_or(i64::MAX);
        conn.execute(
            "INSERT INTO outcomes (run, mac, ip, step, ok, reason, duration_ms, at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                run.0,
                pc.mac,
                pc.ip.to_string(),
                pc.step,
                pc.ok,
                pc.reason,
                duration_ms,
                now_text
            ],
        )
        .map_err(sql)?;
        Ok(())
    }
}

impl Write for FinishRun {
    type Reply = RunSummary;
    fn apply(self, conn: &Connection, path: &Path) -> Result<RunSummary, InventoryError> {
        let (now, now_text) = now();
        let sql = |source| sqlite(path, source);
        let FinishRun { run } = self;
        let (ok, failed): (u32, u32) = conn
            .query_row(
                "SELECT COALESCE(SUM(ok), 0), COALESCE(SUM(1 - ok), 0) FROM outcomes o
                 WHERE run = ?1 AND id = (SELECT MAX(id) FROM outcomes p WHERE p.run = o.run
                   AND COALESCE(p.mac, p.ip) = COALESCE(o.mac, o.ip))",
                [run.0],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(sql)?;
        let started: Option<String> = conn
            .query_row("SELECT started_at FROM runs WHERE id = ?1", [run.0], |r| {
                r.get(0)
            })
            .optional()
            .map_err(sql)?;
        let Some(started) = started else {
            return Err(InventoryError::Corrupt {
                path: path.to_owned(),
                what: "run id",
                value: run.0.to_string(),
            });
        };
        conn.execute(
            "UPDATE runs SET finished_at = ?2, ok = ?3, failed = ?4 WHERE id = ?1",
            params![run.0, now_text, ok, failed],
        )
        .map_err(sql)?;
        let started_at = started.parse().map_err(|_| InventoryError::Corrupt {
            path: path.to_owned(),
            what: "timestamp",
            value: started.clone(),
        })?;
        Ok(RunSummary {
            run,
            started_at,
            finished_at: now,
            ok,
            failed,
        })
    }
}

impl Write for Renumber {
    type Reply = ();
    fn apply(self, conn: &Connection, path: &Path) -> Result<(), InventoryError> {
        let sql = |source| sqlite(path, source);
        let holder: Option<String> = conn
            .query_row(
                "SELECT mac FROM pcs WHERE number = ?1 AND mac != ?2",
                params![self.number, self.mac],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql)?;
        if let Some(other) = holder {
            return Err(InventoryError::NumberInUse {
                number: self.number,
                mac: other,
            });
        }
        let changed = conn
            .execute(
                "UPDATE pcs SET number = ?2 WHERE mac = ?1",
                params![self.mac, self.number],
            )
            .map_err(sql)?;
        if changed == 0 {
            return Err(InventoryError::PcNotFound {
                path: path.to_owned(),
                query: self.mac.to_string(),
            });
        }
        Ok(())
    }
}

fn upsert_pc(
    conn: &Connection,
    mac: &Mac,
    ip: Ipv4Addr,
    hostname: Option<&str>,
    now: &str,
) -> rusqlite::Result<usize> {
    conn.execute(
        "INSERT INTO pcs (mac, ip, hostname, first_seen, last_seen) VALUES (?1, ?2, ?3, ?4, ?4)
         ON CONFLICT (mac) DO UPDATE SET ip = excluded.ip,
             hostname = COALESCE(excluded.hostname, pcs.hostname), last_seen = excluded.last_seen",
        params![mac, ip.to_string(), hostname, now],
    )
}

fn json_list(items: &[String]) -> String {
    serde_json::Value::from(items.to_vec()).to_string()
}

/// Sheet paths as a JSON list of absolute paths (relative ones resolve against the working directory).
fn json_paths(db: &Path, paths: &[PathBuf]) -> Result<String, InventoryError> {
    let mut texts = Vec::with_capacity(paths.len());
    for p in paths {
        let absolute = std::path::absolute(p).map_err(|source| InventoryError::Io {
            action: "resolve the sheet path",
            path: p.clone(),
            source,
        })?;
        let text = absolute.to_str().ok_or_else(|| InventoryError::Commit {
            path: db.to_owned(),
            message: format!("the sheet path {} is not valid UTF-8", absolute.display()),
        })?;
        texts.push(text.to_owned());
    }
    Ok(json_list(&texts))
}
