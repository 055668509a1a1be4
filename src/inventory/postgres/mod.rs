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
//! The reads and writes themselves are the SQLite store's (`reads.rs`, `journal.rs`): this module
//! connects, locks and migrates. A read is synchronous: it costs the engine thread that calls it
//! one round trip to the server (a Unix socket or the LAN), as a SQLite read costs it a file read.

mod copy;
mod lock;
mod pool;
mod schema;

pub use copy::Copied;
pub use lock::SiteLock;
pub use pool::MAX_CONNECTIONS;
pub(crate) use pool::Tx;
pub use schema::{Migrated, SCHEMA_VERSION};

use super::InventoryError;
use super::journal::Write;
use super::sql::Sql;
use crate::playbook::Postgres;
use pool::{Pool, Server};
use std::path::Path;
use std::sync::Arc;

type R<T> = Result<T, InventoryError>;

/// A shared PostgreSQL database, connected.
pub(crate) struct PgDb {
    pool: Pool,
    /// Migrated when opened (a run); a reader only checks the version.
    writable: bool,
}

impl PgDb {
    /// Opens the shared inventory for a run of `site`: connects, migrates the schema, takes the
    /// site's lock, and starts up to `forks` connections (at most [`MAX_CONNECTIONS`]).
    pub(crate) fn open_for_run(
        pg: &Postgres,
        site: &str,
        forks: usize,
    ) -> R<(PgDb, SiteLock, Migrated)> {
        let server = Arc::new(Server::new(pg)?);
        let (lock, migrated) = SiteLock::acquire(Arc::clone(&server), site)?;
        let pool = Pool::start(server, forks)?;
        Ok((
            PgDb {
                pool,
                writable: true,
            },
            lock,
            migrated,
        ))
    }

    /// Opens the shared inventory to read (`run --check`, `rdplay inventory`): takes no lock and
    /// migrates nothing; a database older or newer than this build is an error.
    pub(crate) fn open_read_only(pg: &Postgres) -> R<PgDb> {
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
        Ok(PgDb {
            pool,
            writable: false,
        })
    }

    /// Brings the database's schema up to this build's (`rdplay inventory migrate`); refuses one
    /// newer than this build.
    pub(crate) fn migrate(pg: &Postgres) -> R<Migrated> {
        let server = Arc::new(Server::new(pg)?);
        let pool = Pool::start(server, 1)?;
        pool.blocking("migrate the schema", schema::migrate)
    }

    /// Copies one site's SQLite inventory into the shared database, in one transaction, holding
    /// the site's lock; rows copied before are skipped. What moved, per table.
    pub(crate) fn copy_from_sqlite(pg: &Postgres, site: &str, sqlite: &Path) -> R<Vec<Copied>> {
        let source = copy::open_sqlite(sqlite)?;
        let (db, _lock, _) = PgDb::open_for_run(pg, site, 1)?;
        let (site, path) = (site.to_owned(), sqlite.to_owned());
        // The SQLite connection moves to the connection thread with the work.
        db.pool.blocking("copy the SQLite inventory", move |tx| {
            copy::copy(&source, &path, tx, &site)
        })
    }

    /// The server, as `USER@HOST:PORT/DATABASE`.
    pub(crate) fn server(&self) -> &str {
        self.pool.server()
    }

    /// Runs `read` in a transaction of its own on a connection thread, and waits for it.
    pub(crate) fn read<T: Send + 'static>(
        &self,
        action: &'static str,
        read: impl FnOnce(&mut dyn Sql) -> R<T> + Send + 'static,
    ) -> R<T> {
        self.pool.blocking(action, move |tx| read(tx))
    }

    /// Applies `write` for `site` in a transaction of its own; resolves once it is committed on
    /// the server (or failed).
    pub(crate) async fn write<W: Write>(&self, site: String, write: W) -> R<W::Reply> {
        if !self.writable {
            return Err(InventoryError::ReadOnly {
                path: self.server().into(),
            });
        }
        self.pool
            .call(W::ACTION, move |tx| write.apply(tx, &site))
            .await
    }
}
