//! The inventory's error type: every message says which file, what went wrong and what to do next.

use std::path::PathBuf;

/// Everything that can go wrong in the inventory. Messages never hold a password (none is stored).
#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    /// Another process holds the run lock.
    #[error(
        "the inventory {path} is in use: another rdplay run holds its lock ({path}.lock); \
         wait for that run to finish (a killed run releases the lock by itself)"
    )]
    Locked {
        /// The inventory database.
        path: PathBuf,
    },
    /// A file or directory could not be created, opened or written.
    #[error(
        "cannot {action} {path}: {source}; check that the directory exists and that you may write to it"
    )]
    Io {
        /// What rdplay tried to do, e.g. "create the state directory".
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// SQLite refused an operation.
    #[error("inventory {path}: {source}")]
    Sqlite {
        /// The inventory database.
        path: PathBuf,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// The file system refused write-ahead logging, which the crash safety relies on.
    #[error(
        "inventory {path}: SQLite could not switch to write-ahead logging (journal mode stays {mode}); \
         put the inventory on a local file system"
    )]
    NoWal {
        /// The inventory database.
        path: PathBuf,
        /// The journal mode SQLite kept.
        mode: String,
    },
    /// A batch of writes could not be committed: none of its writes happened.
    #[error(
        "inventory {path}: could not commit to disk: {message}; nothing of this step was recorded"
    )]
    Commit {
        /// The inventory database.
        path: PathBuf,
        /// SQLite's error, as text (it is reported to every write of the batch).
        message: String,
    },
    /// The database was written by a newer rdplay.
    #[error(
        "the inventory {path} has schema version {found}, but this rdplay knows only up to {known}; \
         use a newer rdplay"
    )]
    TooNew {
        /// The inventory database.
        path: PathBuf,
        /// The schema version in the file.
        found: i64,
        /// The newest schema version this build knows.
        known: i64,
    },
    /// The database is older than this rdplay and a read-only opener cannot migrate it.
    #[error(
        "the inventory {path} has schema version {found}, older than this rdplay's {known}; \
         the next `rdplay run` migrates it"
    )]
    NeedsMigration {
        /// The inventory database.
        path: PathBuf,
        /// The schema version in the file.
        found: i64,
        /// The schema version this build writes.
        known: i64,
    },
    /// A stored value does not parse.
    #[error(
        "the inventory {path} holds an invalid {what}: {value:?}; was the file edited by hand?"
    )]
    Corrupt {
        /// The inventory database.
        path: PathBuf,
        /// Which kind of value, e.g. "IP address".
        what: &'static str,
        /// The stored text.
        value: String,
    },
    /// A write named an account the inventory does not hold in the needed state.
    #[error("the inventory has no {expected} account {username:?}{}", on_mac(mac))]
    UnknownAccount {
        /// The account name.
        username: String,
        /// The PC, when the write named one.
        mac: Option<String>,
        /// The state the account should have been in.
        expected: &'static str,
    },
    /// An intent named a username that is already a managed account.
    #[error(
        "the username {username:?} is already a managed account (on PC {mac}); \
         managed usernames must be unique across the fleet"
    )]
    UsernameInUse {
        /// The account name.
        username: String,
        /// The PC where it is in use.
        mac: String,
    },
    /// `renumber` to a number another PC has.
    #[error("PC number {number} belongs to {mac} already: numbers are unique across the fleet")]
    NumberInUse {
        /// The number.
        number: u32,
        /// The PC that has it.
        mac: String,
    },
    /// `show PC` found nothing.
    #[error(
        "no PC in the inventory {path} matches {query:?} (give a MAC, an IP address or a hostname)"
    )]
    PcNotFound {
        /// The inventory database.
        path: PathBuf,
        /// What the user asked for.
        query: String,
    },
    /// `show PC` matched several PCs by hostname.
    #[error("several PCs are named {query:?} ({}); give a MAC address instead", macs.join(", "))]
    Ambiguous {
        /// What the user asked for.
        query: String,
        /// The matching PCs.
        macs: Vec<String>,
    },
    /// The writer thread stopped (it only stops when the process is ending).
    #[error(
        "inventory {path}: the writer thread has stopped; nothing more can be recorded in this run"
    )]
    WriterGone {
        /// The inventory database.
        path: PathBuf,
    },
    /// The PostgreSQL server could not be reached, after the bounded retries.
    #[error(
        "cannot reach the inventory database {server} ({attempts} attempts): {}; \
         check that the server runs and that this controller may connect (pg_hba.conf)",
        pg_text(source)
    )]
    Unreachable {
        /// The server, as `USER@HOST:PORT/DATABASE` (never a password).
        server: String,
        /// How many connections were tried.
        attempts: u32,
        /// The last attempt's error.
        source: postgres::Error,
    },
    /// The PostgreSQL server refused or failed a query.
    #[error(
        "the inventory database {server} could not {action}: {}",
        pg_text(source)
    )]
    Postgres {
        /// The server, as `USER@HOST:PORT/DATABASE` (never a password).
        server: String,
        /// What rdplay tried to do, e.g. "record the intent".
        action: &'static str,
        /// The server's or the connection's error.
        source: postgres::Error,
    },
    /// The PostgreSQL connection could not be set up (password source, CA file, TLS).
    #[error("the inventory database {server}: {message}")]
    PostgresSetup {
        /// The server, as `USER@HOST:PORT/DATABASE`.
        server: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// Another controller (or run) of the same site holds the site's lock in the shared database.
    #[error(
        "site {site} is in use in the inventory database {server}: another rdplay run of this site \
         holds its lock; wait for that run to finish (a killed run's lock is freed when its \
         connection ends)"
    )]
    SiteLocked {
        /// The site code.
        site: String,
        /// The server.
        server: String,
    },
    /// A write was attempted through a read-only inventory.
    #[error("inventory {path} was opened read-only; only `rdplay run` records changes")]
    ReadOnly {
        /// The inventory database.
        path: PathBuf,
    },
    /// A site was named for a SQLite inventory, which holds one.
    #[error(
        "--site {site}: the SQLite inventory {path} holds one site; --site is for a shared \
         (PostgreSQL) inventory"
    )]
    OneSite {
        /// The inventory file.
        path: PathBuf,
        /// The site named.
        site: String,
    },
}

fn on_mac(mac: &Option<String>) -> String {
    match mac {
        Some(mac) => format!(" on PC {mac}"),
        None => String::new(),
    }
}

/// A PostgreSQL error as a sentence: the server's own message (`FATAL: password authentication
/// failed for user "rdplay"`), or the connection's error with its cause. Never holds a password: the
/// server does not repeat one, and the client never shows its settings.
fn pg_text(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{}: {}", db.severity(), db.message());
    }
    match std::error::Error::source(e) {
        Some(cause) => format!("{e}: {cause}"),
        None => e.to_string(),
    }
}
