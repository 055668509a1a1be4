//! The SQLite schema and its versioned migrations (`PRAGMA user_version` counts the applied ones).

use super::InventoryError;
use rusqlite::Connection;
use std::path::Path;

/// Migrations in order; migration `i` brings the schema from version `i` to `i + 1`. Never edit one that
/// has shipped: append a new one.
const MIGRATIONS: &[&str] = &[
    // 1: the first schema.
    "CREATE TABLE runs (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        playbook    TEXT NOT NULL,
        digest      TEXT NOT NULL,
        started_at  TEXT NOT NULL,
        finished_at TEXT,
        ok          INTEGER,
        failed      INTEGER
    );
    CREATE TABLE pcs (
        mac        TEXT PRIMARY KEY,
        ip         TEXT NOT NULL,
        hostname   TEXT,
        host_key   TEXT,
        facts      TEXT,
        first_seen TEXT NOT NULL,
        last_seen  TEXT NOT NULL
    );
    CREATE INDEX pcs_ip ON pcs(ip);
    CREATE INDEX pcs_hostname ON pcs(hostname);
    CREATE TABLE requests (
        seq       INTEGER PRIMARY KEY,
        id        TEXT NOT NULL UNIQUE,
        run       INTEGER NOT NULL REFERENCES runs(id),
        issued_at TEXT NOT NULL
    );
    CREATE TABLE accounts (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        username   TEXT NOT NULL,
        mac        TEXT NOT NULL REFERENCES pcs(mac),
        request    TEXT NOT NULL,
        run        INTEGER NOT NULL REFERENCES runs(id),
        state      TEXT NOT NULL CHECK (state IN ('pending', 'live', 'deleted')),
        created_at TEXT NOT NULL,
        deleted_at TEXT,
        user_sheet TEXT NOT NULL DEFAULT '[]',
        pc_sheet   TEXT NOT NULL DEFAULT '[]'
    );
    CREATE UNIQUE INDEX accounts_managed_username ON accounts(username) WHERE state != 'deleted';
    CREATE INDEX accounts_mac ON accounts(mac);
    CREATE TABLE journal (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        run           INTEGER NOT NULL REFERENCES runs(id),
        mac           TEXT NOT NULL REFERENCES pcs(mac),
        request       TEXT NOT NULL,
        new_username  TEXT NOT NULL,
        old_usernames TEXT NOT NULL,
        deleted       TEXT,
        intended_at   TEXT NOT NULL,
        renewed_at    TEXT,
        sheets_at     TEXT
    );
    CREATE INDEX journal_mac ON journal(mac);
    CREATE TABLE outcomes (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        run         INTEGER NOT NULL REFERENCES runs(id),
        mac         TEXT,
        ip          TEXT NOT NULL,
        step        TEXT NOT NULL,
        ok          INTEGER NOT NULL,
        reason      TEXT,
        duration_ms INTEGER NOT NULL,
        at          TEXT NOT NULL
    );
    CREATE INDEX outcomes_run ON outcomes(run);",
    // 2: every PC's own number, given once and kept (DHCP may move it to another address).
    "ALTER TABLE pcs ADD COLUMN number INTEGER;
    CREATE UNIQUE INDEX pcs_number ON pcs(number) WHERE number IS NOT NULL;",
    // 3: the history of each PC's facts (bounded per PC), and what changed: fact changes, clones,
    // strangers.
    "CREATE TABLE facts_history (
        id    INTEGER PRIMARY KEY AUTOINCREMENT,
        mac   TEXT NOT NULL REFERENCES pcs(mac),
        run   INTEGER NOT NULL REFERENCES runs(id),
        at    TEXT NOT NULL,
        facts TEXT NOT NULL
    );
    CREATE INDEX facts_history_mac ON facts_history(mac);
    CREATE TABLE events (
        id        INTEGER PRIMARY KEY AUTOINCREMENT,
        run       INTEGER NOT NULL REFERENCES runs(id),
        at        TEXT NOT NULL,
        mac       TEXT,
        other_mac TEXT,
        ip        TEXT,
        hostname  TEXT,
        kind      TEXT NOT NULL,
        severity  TEXT NOT NULL CHECK (severity IN ('info', 'warning')),
        text      TEXT NOT NULL,
        since     TEXT
    );
    CREATE INDEX events_run ON events(run);",
    // 4: the uid each account was given (a uid is never given twice on a PC), what a renewal removed
    // of the old accounts outside their homes, and the archives of old accounts' work.
    "ALTER TABLE accounts ADD COLUMN uid INTEGER;
    ALTER TABLE journal ADD COLUMN leftover_files INTEGER;
    ALTER TABLE journal ADD COLUMN leftover_bytes INTEGER;
    CREATE TABLE archives (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        mac        TEXT NOT NULL REFERENCES pcs(mac),
        username   TEXT NOT NULL,
        request    TEXT NOT NULL,
        run        INTEGER NOT NULL REFERENCES runs(id),
        path       TEXT NOT NULL,
        bytes      INTEGER NOT NULL,
        sha256     TEXT NOT NULL,
        created_at TEXT NOT NULL,
        removed_at TEXT
    );
    CREATE INDEX archives_mac ON archives(mac);",
    // 5: escrowed passwords (age ciphertext only, to the playbook's recipients) and every read of one.
    "CREATE TABLE escrow (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        mac        TEXT NOT NULL REFERENCES pcs(mac),
        username   TEXT NOT NULL,
        request    TEXT NOT NULL,
        run        INTEGER NOT NULL REFERENCES runs(id),
        at         TEXT NOT NULL,
        recipients TEXT NOT NULL,
        ciphertext BLOB NOT NULL
    );
    CREATE INDEX escrow_mac ON escrow(mac);
    CREATE INDEX escrow_username ON escrow(username);
    CREATE TABLE reads (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        at         TEXT NOT NULL,
        username   TEXT NOT NULL,
        mac        TEXT NOT NULL,
        action     TEXT NOT NULL,
        identity   TEXT NOT NULL,
        local_user TEXT NOT NULL,
        local_host TEXT NOT NULL,
        reason     TEXT
    );",
    // 6: sites, as in the shared PostgreSQL inventory, so that one journal serves both: runs, PCs
    // and accounts carry their site (a file holds one, `""`); a PC's number is unique within it.
    "ALTER TABLE runs ADD COLUMN site TEXT NOT NULL DEFAULT '';
    ALTER TABLE pcs ADD COLUMN site TEXT NOT NULL DEFAULT '';
    ALTER TABLE accounts ADD COLUMN site TEXT NOT NULL DEFAULT '';
    DROP INDEX pcs_number;
    CREATE UNIQUE INDEX pcs_number ON pcs(site, number) WHERE number IS NOT NULL;
    CREATE INDEX pcs_site ON pcs(site, ip);
    CREATE INDEX runs_site ON runs(site);",
    // 7: each account's login shell (`account.shell` may let each PC choose from a list).
    "ALTER TABLE accounts ADD COLUMN shell TEXT;",
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// The schema version stored in the file.
pub fn version(conn: &Connection, path: &Path) -> Result<i64, InventoryError> {
    conn.query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(|source| InventoryError::Sqlite {
            path: path.to_owned(),
            source,
        })
}

/// Applies the missing migrations, each in its own transaction with its version bump.
pub fn migrate(conn: &mut Connection, path: &Path) -> Result<(), InventoryError> {
    let sqlite = |source| InventoryError::Sqlite {
        path: path.to_owned(),
        source,
    };
    let found = version(conn, path)?;
    if found > SCHEMA_VERSION {
        return Err(InventoryError::TooNew {
            path: path.to_owned(),
            found,
            known: SCHEMA_VERSION,
        });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let tx = conn.transaction().map_err(sqlite)?;
        tx.execute_batch(sql).map_err(sqlite)?;
        tx.pragma_update(None, "user_version", index as i64 + 1)
            .map_err(sqlite)?;
        tx.commit().map_err(sqlite)?;
    }
    Ok(())
}

/// Settings of every connection that writes: WAL, full fsync at each commit, foreign keys.
pub fn configure_writer(conn: &Connection, path: &Path) -> Result<(), InventoryError> {
    let sqlite = |source| InventoryError::Sqlite {
        path: path.to_owned(),
        source,
    };
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
        .map_err(sqlite)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(InventoryError::NoWal {
            path: path.to_owned(),
            mode,
        });
    }
    conn.execute_batch(
        "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;",
    )
    .map_err(sqlite)
}
