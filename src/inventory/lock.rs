//! The run lock: an exclusive `flock` on `<db>.lock`, so two runs never write one inventory at once.
//!
//! The kernel drops a `flock` when its holder dies, so a killed run cannot leave the lock stuck.

use super::InventoryError;
use std::fs::{File, OpenOptions, TryLockError};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Held for the whole run; released on drop or when the process ends, however it ends.
#[derive(Debug)]
pub struct RunLock {
    // Held only for its lock: closing the file releases it.
    _file: File,
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
            Ok(()) => Ok(RunLock { _file: file, path }),
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

/// `<db>.lock`, beside the database.
pub fn lock_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}
