//! The site lock: a session-level advisory lock in the shared database, one per site, so two runs of
//! one site never overlap while runs of different sites go on side by side.
//!
//! The lock belongs to a database session: a thread of its own keeps that connection open for the
//! whole run. When the process dies, however it dies (kill -9 included), the kernel closes the
//! socket, the server ends the session and frees the lock; nothing is left to clean up. Should the
//! server restart during a run, the session ends with it and so does the lock (the run's queries
//! fail until it is back).

use super::pool::{Connection, Server};
use super::schema::{self, Migrated};
use crate::inventory::InventoryError;
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;

/// The first key of every site lock ("rdpl"); the second is the site's number in `sites`.
const LOCK_CLASS: i32 = 0x7264_706c;

/// A site's run lock, held until dropped (or until the process ends).
#[derive(Debug)]
pub struct SiteLock {
    site: String,
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl SiteLock {
    /// Connects, migrates the schema, and takes the lock of `site`, or says that another run holds
    /// it ([`InventoryError::SiteLocked`]).
    pub(crate) fn acquire(
        server: Arc<Server>,
        site: &str,
    ) -> Result<(SiteLock, Migrated), InventoryError> {
        let (answer, answered) = mpsc::sync_channel(1);
        let (stop, stopped) = mpsc::channel::<()>();
        let code = site.to_owned();
        let name = server.name.clone();
        let thread = std::thread::Builder::new()
            .name("inventory-lock".into())
            .spawn(move || {
                let mut conn = Connection::new(server);
                let taken = conn.transaction("take the site lock", |tx| {
                    let migrated = schema::migrate(tx)?;
                    tx.execute(
                        "INSERT INTO sites (code) VALUES ($1) ON CONFLICT (code) DO NOTHING",
                        &[&code],
                    )?;
                    let row = tx.query_one("SELECT id FROM sites WHERE code = $1", &[&code])?;
                    let id: i64 = tx.get(&row, 0)?;
                    let id = i32::try_from(id).unwrap_or(i32::MAX);
                    let row =
                        tx.query_one("SELECT pg_try_advisory_lock($1, $2)", &[&LOCK_CLASS, &id])?;
                    if tx.get::<bool>(&row, 0)? {
                        Ok((migrated, id))
                    } else {
                        Err(InventoryError::SiteLocked {
                            site: code.clone(),
                            server: tx.server().to_owned(),
                        })
                    }
                });
                let held = taken.as_ref().ok().map(|(_, id)| *id);
                let _ = answer.send(taken.map(|(migrated, _)| migrated));
                if let Some(id) = held {
                    // Holds the session (and so the lock) until the run drops the lock.
                    let _ = stopped.recv();
                    // Released before the connection closes: the server ends a closed session a
                    // moment later, and the next run of the site (this process's own, say) must
                    // find the lock free. Should this fail, closing the session frees it anyway.
                    let _ = conn.transaction("release the site lock", |tx| {
                        tx.execute("SELECT pg_advisory_unlock($1, $2)", &[&LOCK_CLASS, &id])
                    });
                }
                drop(conn);
            })
            .map_err(|e| InventoryError::PostgresSetup {
                server: name.clone(),
                message: format!("cannot start the lock thread: {e}"),
            })?;
        let mut lock = SiteLock {
            site: site.to_owned(),
            stop: Some(stop),
            thread: Some(thread),
        };
        match answered.recv() {
            Ok(Ok(migrated)) => Ok((lock, migrated)),
            Ok(Err(e)) => Err(e),
            Err(_) => {
                lock.stop.take();
                Err(InventoryError::PostgresSetup {
                    server: name,
                    message: "the lock thread ended without an answer".into(),
                })
            }
        }
    }

    /// The site this lock is for.
    pub fn site(&self) -> &str {
        &self.site
    }
}

impl Drop for SiteLock {
    fn drop(&mut self) {
        self.stop.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
