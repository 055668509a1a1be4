//! The single writer: one thread owns the writing SQLite connection and commits the writes of many PCs
//! in one transaction, so 50+ PCs renewed at once share each fsync instead of queueing for their own.
//!
//! Each write runs in its own savepoint: a write that fails (say, an unknown account) is rolled back
//! alone and reported to its caller, while the rest of its batch commits.

use super::model::{Intent, PcOutcome, PcSeen, Renewal, RunId, RunSummary, WriteStats};
use super::{InventoryError, validate_mac};
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

/// A write, as sent to the writer thread.
pub(crate) enum Op {
    BeginRun {
        playbook: String,
        digest: String,
    },
    NextRequest {
        run: RunId,
    },
    Seen(PcSeen),
    /// Pins the key lines, or forgets the pinned key (`None`).
    PinHostKey {
        mac: String,
        ip: Ipv4Addr,
        key: Option<String>,
    },
    Intend(Intent),
    Renewed(Box<Renewal>),
    SheetsWritten {
        username: String,
        user_sheet: Vec<PathBuf>,
        pc_sheet: Vec<PathBuf>,
    },
    Outcome {
        run: RunId,
        pc: PcOutcome,
    },
    FinishRun {
        run: RunId,
    },
}

/// What a write gives back.
pub(crate) enum Reply {
    Done,
    Run(RunId),
    Request(String),
    Summary(RunSummary),
}

struct Job {
    op: Op,
    reply: tokio::sync::oneshot::Sender<Result<Reply, InventoryError>>,
}

#[derive(Default)]
struct Counters {
    writes: AtomicU64,
    commits: AtomicU64,
}

/// The handle on the writer thread. Dropping it lets the thread finish its queue and close the database.
pub(crate) struct Writer {
    path: PathBuf,
    queue: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
    counters: Arc<Counters>,
}

impl Writer {
    /// Starts the thread that owns `conn`.
    pub(crate) fn start(conn: Connection, path: &Path) -> Result<Writer, InventoryError> {
        let (queue, jobs) = mpsc::channel::<Job>();
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

    /// Sends `op` and waits until it is durably committed (or failed).
    pub(crate) async fn call(&self, op: Op) -> Result<Reply, InventoryError> {
        let gone = || InventoryError::WriterGone {
            path: self.path.clone(),
        };
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.queue
            .as_ref()
            .ok_or_else(gone)?
            .send(Job { op, reply })
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

fn serve(mut conn: Connection, path: &Path, jobs: &mpsc::Receiver<Job>, counters: &Counters) {
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let (ops, replies): (Vec<Op>, Vec<_>) = batch.into_iter().map(|j| (j.op, j.reply)).unzip();
        let results = commit_batch(&mut conn, path, ops);
        counters
            .writes
            .fetch_add(replies.len() as u64, Ordering::Relaxed);
        counters.commits.fetch_add(1, Ordering::Relaxed);
        for (reply, result) in replies.into_iter().zip(results) {
            // The caller may have given up waiting; its write is committed all the same.
            let _ = reply.send(result);
        }
    }
    // A clean end: leave the file in rollback-journal mode, so that read-only openers (`--check`,
    // `rdplay inventory`, possibly as another user) need no -wal or -shm file and create none. The next
    // run switches back to WAL. If a reader is open this fails with SQLITE_BUSY and the file stays in
    // WAL mode, which is just as safe.
    let _ = conn.query_row("PRAGMA journal_mode = DELETE", [], |_| Ok(()));
}

/// Applies `ops` in one transaction; returns one result per op.
fn commit_batch(
    conn: &mut Connection,
    path: &Path,
    ops: Vec<Op>,
) -> Vec<Result<Reply, InventoryError>> {
    let count = ops.len();
    let failed_all = |message: String| {
        (0..count)
            .map(|_| {
                Err(InventoryError::Commit {
                    path: path.to_owned(),
                    message: message.clone(),
                })
            })
            .collect()
    };
    let mut tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => return failed_all(e.to_string()),
    };
    let mut results = Vec::with_capacity(count);
    for op in ops {
        let result = match tx.savepoint() {
            Ok(mut sp) => {
                sp.set_drop_behavior(rusqlite::DropBehavior::Rollback);
                let result = apply(&sp, path, op);
                match result {
                    Ok(reply) => sp
                        .commit()
                        .map(|()| reply)
                        .map_err(|source| sqlite(path, source)),
                    Err(e) => Err(e),
                }
            }
            Err(source) => Err(sqlite(path, source)),
        };
        results.push(result);
    }
    match tx.commit() {
        Ok(()) => results,
        Err(e) => failed_all(e.to_string()),
    }
}

fn sqlite(path: &Path, source: rusqlite::Error) -> InventoryError {
    InventoryError::Sqlite {
        path: path.to_owned(),
        source,
    }
}

fn apply(conn: &Connection, path: &Path, op: Op) -> Result<Reply, InventoryError> {
    let now = Timestamp::now();
    let now_text = now.to_string();
    let sql = |source| sqlite(path, source);
    match op {
        Op::BeginRun { playbook, digest } => {
            conn.execute(
                "INSERT INTO runs (playbook, digest, started_at) VALUES (?1, ?2, ?3)",
                params![playbook, digest, now_text],
            )
            .map_err(sql)?;
            Ok(Reply::Run(RunId(conn.last_insert_rowid())))
        }
        Op::NextRequest { run } => {
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
            Ok(Reply::Request(id))
        }
        Op::Seen(pc) => {
            validate_mac(&pc.mac)?;
            upsert_pc(conn, &pc.mac, pc.ip, pc.hostname.as_deref(), &now_text).map_err(sql)?;
            Ok(Reply::Done)
        }
        Op::PinHostKey { mac, ip, key } => {
            validate_mac(&mac)?;
            upsert_pc(conn, &mac, ip, None, &now_text).map_err(sql)?;
            conn.execute(
                "UPDATE pcs SET host_key = ?2 WHERE mac = ?1",
                params![mac, key],
            )
            .map_err(sql)?;
            Ok(Reply::Done)
        }
        Op::Intend(i) => {
            validate_mac(&i.mac)?;
            upsert_pc(conn, &i.mac, i.ip, None, &now_text).map_err(sql)?;
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
            Ok(Reply::Done)
        }
        Op::Renewed(r) => {
            validate_mac(&r.mac)?;
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
                    mac: Some(r.mac),
                    expected: "intended",
                });
            }
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
            conn.execute(
                "UPDATE pcs SET hostname = ?2, facts = ?3, last_seen = ?4 WHERE mac = ?1",
                params![r.mac, r.hostname, facts, now_text],
            )
            .map_err(sql)?;
            conn.execute(
                "UPDATE journal SET renewed_at = ?3, deleted = ?4 WHERE mac = ?1 AND request = ?2",
                params![r.mac, r.request, now_text, json_list(&r.deleted)],
            )
            .map_err(sql)?;
            Ok(Reply::Done)
        }
        Op::SheetsWritten {
            username,
            user_sheet,
            pc_sheet,
        } => {
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
            Ok(Reply::Done)
        }
        Op::Outcome { run, pc } => {
            if let Some(mac) = &pc.mac {
                validate_mac(mac)?;
            }
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
            Ok(Reply::Done)
        }
        Op::FinishRun { run } => {
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
            Ok(Reply::Summary(RunSummary {
                run,
                started_at,
                finished_at: now,
                ok,
                failed,
            }))
        }
    }
}

fn upsert_pc(
    conn: &Connection,
    mac: &str,
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
