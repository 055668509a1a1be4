//! The run lock: an exclusive `flock` on `<db>.lock`, so two runs never write one inventory at once.
//!
//! The kernel drops a `flock` when its holder dies, so a killed run cannot leave the lock stuck.
//!
//! A `flock` belongs to the open file description, not to the descriptor: a process forked by another
//! thread holds a duplicate of the descriptor until its exec closes it (close-on-exec, std's default),
//! and merely closing ours would leave the lock held by that duplicate for a moment. So [`RunLock`]
//! unlocks explicitly when dropped (`LOCK_UN` releases it for every duplicate), and reopening the
//! inventory right after a run never finds its own lock taken.

use super::InventoryError;
use std::fs::{File, OpenOptions, TryLockError};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Held for the whole run; released on drop (at once, even while a child process still holds a
/// duplicate of its descriptor) or when the process ends, however it ends.
#[derive(Debug)]
pub struct RunLock {
    // Held only for its lock, which `drop` releases.
    file: File,
    path: PathBuf,
}

impl RunLock {
    /// Takes the lock of the inventory at `db`, or says who holds it.
    pub(crate) fn acquire(db: &Path) -> Result<RunLock, InventoryError> {
        let path = lock_path(db);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(|source| InventoryError::Io {
                action: "open the lock file",
                path: path.clone(),
                source,
            })?;
        match file.try_lock() {
            Ok(()) => Ok(RunLock { file, path }),
            Err(TryLockError::WouldBlock) => Err(InventoryError::Locked {
                path: db.to_owned(),
            }),
            Err(TryLockError::Error(source)) => Err(InventoryError::Io {
                action: "lock",
                path,
                source,
            }),
        }
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        // Closing alone would not do (see the module's doc). Should the unlock fail (it cannot for a
        // descriptor we hold), closing still releases the lock once the last duplicate closes.
        let _ = self.file.unlock();
    }
}

/// `<db>.lock`, beside the database.
pub fn lock_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// A process spawned by another thread holds a copy of the lock's descriptor between its fork and
    /// its exec (close-on-exec closes it only at the exec). Dropping the lock must release it all the
    /// same, so the next run (or the same process reopening) never sees its own lock as another run's.
    #[test]
    fn drop_releases_the_lock_while_other_threads_spawn_processes() {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("inventory.sqlite");
        let stop = Arc::new(AtomicBool::new(false));
        let spawner = {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let mut spawned = 0u32;
                loop {
                    crate::child::command("true").status().expect("spawn true");
                    spawned += 1;
                    if stop.load(Ordering::Relaxed) {
                        return spawned;
                    }
                }
            })
        };
        let mut failure = None;
        for i in 0..300 {
            match RunLock::acquire(&db) {
                Ok(lock) => {
                    std::thread::sleep(std::time::Duration::from_micros(500));
                    drop(lock);
                }
                Err(e) => {
                    failure = Some(format!("reopening #{i}: {e}"));
                    break;
                }
            }
        }
        stop.store(true, Ordering::Relaxed);
        let spawned = spawner.join().expect("spawner thread");
        assert!(spawned > 0, "the spawner ran no process");
        if let Some(failure) = failure {
            panic!("{failure} (while {spawned} processes were spawned)");
        }
    }
}
