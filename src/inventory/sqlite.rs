//! The SQLite file of one controller: opening it (with its run lock and migrations), the reader,
//! and the single writer.
//!
//! One thread owns the writing connection and commits the writes of many PCs in one transaction,
//! so 50+ PCs renewed at once share each fsync instead of queueing for their own. Each write runs
//! in its own savepoint: a write that fails (say, an unknown account) is rolled back alone and
//! reported to its caller, while the rest of its batch commits.
//!
//! A SQLite file holds one site's records; its rows carry the site `""`.

use super::dialect::Sqlite;
use super::journal::Write;
use super::lock::RunLock;
use super::model::WriteStats;
use super::sql::Sql;
use super::{InventoryError, schema};
use rusqlite::{Connection, OpenFlags, TransactionBehavior};
use std::fs::OpenOptions;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;

type R<T> = Result<T, InventoryError>;

/// The site a SQLite file's rows carry.
pub(crate) const SITE: &str = "";

/// An open SQLite inventory: a reader, and the writer when opened for a run.
pub(crate) struct SqliteDb {
    path: PathBuf,
    // Declared before `writer` so it closes first: the writer's connection, closing last,
    // checkpoints the WAL and removes the -wal and -shm files.
    reader: Mutex<Connection>,
    writer: Option<Writer>,
}

impl SqliteDb {
    /// Opens the file for a run: creates the state directory (0700) and the database (0600) when
    /// missing, applies migrations, and takes the exclusive run lock (`<db>.lock`). A second opener
    /// gets [`InventoryError::Locked`].
    pub(crate) fn open_for_run(path: &Path) -> R<(SqliteDb, RunLock)> {
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
        create_private(path)?;
        let mut conn = Connection::open(path).map_err(|e| sqlite(path, e))?;
        schema::configure_writer(&conn, path)?;
        schema::migrate(&mut conn, path)?;
        let reader = open_reader(path)?;
        let writer = Writer::start(conn, path)?;
        let db = SqliteDb {
            path: path.to_owned(),
            reader: Mutex::new(reader),
            writer: Some(writer),
        };
        Ok((db, lock))
    }

    /// Opens the file for reading only (`run --check`, `rdplay inventory`): creates nothing, takes
    /// no lock; a missing file reads as an empty inventory.
    pub(crate) fn open_read_only(path: &Path) -> R<SqliteDb> {
        let reader = match std::fs::metadata(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => empty(path)?,
            Err(source) => {
                return Err(InventoryError::Io {
                    action: "read",
                    path: path.to_owned(),
                    source,
                });
            }
            Ok(_) => {
                let conn = open_reader(path)?;
                match schema::version(&conn, path)? {
                    0 => empty(path)?,
                    found if found > schema::SCHEMA_VERSION => {
                        return Err(InventoryError::TooNew {
                            path: path.to_owned(),
                            found,
                            known: schema::SCHEMA_VERSION,
                        });
                    }
                    found if found < schema::SCHEMA_VERSION => {
                        return Err(InventoryError::NeedsMigration {
                            path: path.to_owned(),
                            found,
                            known: schema::SCHEMA_VERSION,
                        });
                    }
                    _ => conn,
                }
            }
        };
        Ok(SqliteDb {
            path: path.to_owned(),
            reader: Mutex::new(reader),
            writer: None,
        })
    }

    /// The database file.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// How many writes went through how many commits so far (each commit is one fsync).
    pub(crate) fn write_stats(&self) -> WriteStats {
        self.writer.as_ref().map(Writer::stats).unwrap_or_default()
    }

    /// Runs `read` on the reading connection.
    pub(crate) fn read<T>(&self, read: impl FnOnce(&mut dyn Sql) -> R<T>) -> R<T> {
        let conn = self
            .reader
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        read(&mut Sqlite::new(&conn, &self.path))
    }

    /// Sends `write` to the writer and waits until it is durably committed (or failed).
    pub(crate) async fn write<W: Write>(&self, write: W) -> R<W::Reply> {
        let writer = self
            .writer
            .as_ref()
            .ok_or_else(|| InventoryError::ReadOnly {
                path: self.path.clone(),
            })?;
        writer.call(write).await
    }
}

/// Creates the database file 0600 (or restricts an existing one to it).
fn create_private(path: &Path) -> R<()> {
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
    Ok(())
}

fn open_reader(path: &Path) -> R<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| sqlite(path, e))?;
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(|e| sqlite(path, e))?;
    Ok(conn)
}

/// An empty inventory for a file not created yet: the schema in memory, so every read answers
/// nothing the way a new file would.
fn empty(path: &Path) -> R<Connection> {
    let mut conn = Connection::open_in_memory().map_err(|e| sqlite(path, e))?;
    schema::migrate(&mut conn, path)?;
    Ok(conn)
}

/// The most writes one transaction takes; more wait for the next commit.
const MAX_BATCH: usize = 512;

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
            Some(write) => write.apply(&mut Sqlite::new(conn, path), SITE),
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
struct Writer {
    path: PathBuf,
    queue: Option<mpsc::Sender<Box<dyn Job>>>,
    thread: Option<JoinHandle<()>>,
    counters: Arc<Counters>,
}

impl Writer {
    /// Starts the thread that owns `conn`.
    fn start(conn: Connection, path: &Path) -> Result<Writer, InventoryError> {
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
    async fn call<W: Write>(&self, write: W) -> Result<W::Reply, InventoryError> {
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

    fn stats(&self) -> WriteStats {
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
