//! `rdplay inventory copy`: one site's history from its SQLite file into the shared database, in
//! one transaction, idempotently (a row already copied is found by its natural key and skipped),
//! with a count of what moved.
//!
//! Runs get new ids (every `run` column follows); PCs, runs and accounts take the site; the request
//! number sequence is moved past every copied number, so numbers drawn later never repeat one.

use super::pool::Tx;
use crate::inventory::InventoryError;
use postgres::types::ToSql;
use rusqlite::{Connection, OpenFlags};
use std::collections::HashMap;
use std::path::Path;

/// A column's type on both sides.
#[derive(Clone, Copy)]
enum Kind {
    Text,
    Int,
    Bool,
    Bytes,
}

/// A table to copy: its columns (without its own id), the ones that find a row copied before, and
/// whether its rows take the site.
struct Table {
    name: &'static str,
    columns: &'static [(&'static str, Kind)],
    key: &'static [&'static str],
    site: bool,
}

use Kind::{Bool, Bytes, Int, Text};

/// Every table after `runs`, parents first.
const TABLES: &[Table] = &[
    Table {
        name: "pcs",
        columns: &[
            ("mac", Text),
            ("ip", Text),
            ("hostname", Text),
            ("host_key", Text),
            ("facts", Text),
            ("first_seen", Text),
            ("last_seen", Text),
            ("number", Int),
        ],
        key: &["mac"],
        site: true,
    },
    Table {
        name: "requests",
        columns: &[("id", Text), ("run", Int), ("issued_at", Text)],
        key: &["id"],
        site: false,
    },
    Table {
        name: "accounts",
        columns: &[
            ("username", Text),
            ("mac", Text),
            ("request", Text),
            ("run", Int),
            ("state", Text),
            ("created_at", Text),
            ("deleted_at", Text),
            ("user_sheet", Text),
            ("pc_sheet", Text),
            ("uid", Int),
            ("shell", Text),
        ],
        key: &["username", "mac", "request"],
        site: true,
    },
    Table {
        name: "journal",
        columns: &[
            ("run", Int),
            ("mac", Text),
            ("request", Text),
            ("new_username", Text),
            ("old_usernames", Text),
            ("deleted", Text),
            ("intended_at", Text),
            ("renewed_at", Text),
            ("sheets_at", Text),
            ("leftover_files", Int),
            ("leftover_bytes", Int),
        ],
        key: &["mac", "request"],
        site: false,
    },
    Table {
        name: "outcomes",
        columns: &[
            ("run", Int),
            ("mac", Text),
            ("ip", Text),
            ("step", Text),
            ("ok", Bool),
            ("reason", Text),
            ("duration_ms", Int),
            ("at", Text),
        ],
        key: &["run", "mac", "ip", "step", "at"],
        site: false,
    },
    Table {
        name: "facts_history",
        columns: &[("mac", Text), ("run", Int), ("at", Text), ("facts", Text)],
        key: &["mac", "at"],
        site: false,
    },
    Table {
        name: "events",
        columns: &[
            ("run", Int),
            ("at", Text),
            ("mac", Text),
            ("other_mac", Text),
            ("ip", Text),
            ("hostname", Text),
            ("kind", Text),
            ("severity", Text),
            ("text", Text),
            ("since", Text),
        ],
        key: &["run", "at", "kind", "mac", "other_mac", "text"],
        site: false,
    },
    Table {
        name: "archives",
        columns: &[
            ("mac", Text),
            ("username", Text),
            ("request", Text),
            ("run", Int),
            ("path", Text),
            ("bytes", Int),
            ("sha256", Text),
            ("created_at", Text),
            ("removed_at", Text),
        ],
        key: &["mac", "path"],
        site: false,
    },
    Table {
        name: "escrow",
        columns: &[
            ("mac", Text),
            ("username", Text),
            ("request", Text),
            ("run", Int),
            ("at", Text),
            ("recipients", Text),
            ("ciphertext", Bytes),
        ],
        key: &["mac", "username", "request", "at"],
        site: false,
    },
    Table {
        name: "reads",
        columns: &[
            ("at", Text),
            ("username", Text),
            ("mac", Text),
            ("action", Text),
            ("identity", Text),
            ("local_user", Text),
            ("local_host", Text),
            ("reason", Text),
        ],
        key: &["at", "username", "mac", "action"],
        site: false,
    },
];

/// What one table's copy did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copied {
    /// The table.
    pub table: &'static str,
    /// Rows inserted.
    pub copied: u64,
    /// Rows found already there (copied before).
    pub present: u64,
}

/// One value read from SQLite, typed for PostgreSQL.
enum Value {
    Text(Option<String>),
    Int(Option<i64>),
    Bool(Option<bool>),
    Bytes(Option<Vec<u8>>),
}

impl Value {
    fn as_sql(&self) -> &(dyn ToSql + Sync) {
        match self {
            Value::Text(v) => v,
            Value::Int(v) => v,
            Value::Bool(v) => v,
            Value::Bytes(v) => v,
        }
    }
}

fn cast(kind: Kind) -> &'static str {
    match kind {
        Text => "TEXT",
        Int => "BIGINT",
        Bool => "BOOLEAN",
        Bytes => "BYTEA",
    }
}

/// Opens a SQLite inventory to copy from: read-only, at this build's schema version.
pub fn open_sqlite(path: &Path) -> Result<Connection, InventoryError> {
    let sqlite = |source| InventoryError::Sqlite {
        path: path.to_owned(),
        source,
    };
    std::fs::metadata(path).map_err(|source| InventoryError::Io {
        action: "read the SQLite inventory",
        path: path.to_owned(),
        source,
    })?;
    let conn =
        Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(sqlite)?;
    let found = crate::inventory::schema::version(&conn, path)?;
    if found != crate::inventory::SCHEMA_VERSION {
        return Err(if found > crate::inventory::SCHEMA_VERSION {
            InventoryError::TooNew {
                path: path.to_owned(),
                found,
                known: crate::inventory::SCHEMA_VERSION,
            }
        } else {
            InventoryError::NeedsMigration {
                path: path.to_owned(),
                found,
                known: crate::inventory::SCHEMA_VERSION,
            }
        });
    }
    Ok(conn)
}

/// Copies every table of `sqlite` into the transaction, for `site`.
pub fn copy(
    sqlite: &Connection,
    path: &Path,
    tx: &mut Tx<'_>,
    site: &str,
) -> Result<Vec<Copied>, InventoryError> {
    let sqlite_err = |source| InventoryError::Sqlite {
        path: path.to_owned(),
        source,
    };
    let mut counts = Vec::new();
    // Runs first: their new ids.
    let mut stmt = sqlite
        .prepare("SELECT id, playbook, digest, started_at, finished_at, ok, failed FROM runs ORDER BY id")
        .map_err(sqlite_err)?;
    type RunRow = (
        i64,
        String,
        String,
        String,
        Option<String>,
        Option<i64>,
        Option<i64>,
    );
    let runs: Vec<RunRow> = stmt
        .query_map([], |r| r.try_into())
        .and_then(|rows| rows.collect())
        .map_err(sqlite_err)?;
    let mut run_ids = HashMap::new();
    let mut runs_count = Copied {
        table: "runs",
        copied: 0,
        present: 0,
    };
    for (old, playbook, digest, started, finished, ok, failed) in runs {
        let found = tx.query_opt(
            "SELECT id FROM runs WHERE site = $1 AND started_at = $2 AND digest = $3
             AND playbook = $4",
            &[&site, &started, &digest, &playbook],
        )?;
        let new: i64 = match found {
            Some(row) => {
                runs_count.present += 1;
                tx.get(&row, 0)?
            }
            None => {
                runs_count.copied += 1;
                let row = tx.query_one(
                    "INSERT INTO runs (playbook, digest, started_at, finished_at, ok, failed, site)
                     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
                    &[&playbook, &digest, &started, &finished, &ok, &failed, &site],
                )?;
                tx.get(&row, 0)?
            }
        };
        run_ids.insert(old, new);
    }
    counts.push(runs_count);
    for table in TABLES {
        counts.push(copy_table(sqlite, path, tx, site, table, &run_ids)?);
    }
    // New request numbers continue after every copied one (the number is the id's last part).
    let highest: Option<i64> = sqlite
        .query_row("SELECT MAX(seq) FROM requests", [], |r| r.get(0))
        .map_err(sqlite_err)?;
    if let Some(highest) = highest {
        tx.execute(
            "SELECT setval(pg_get_serial_sequence('requests', 'seq'),
                    GREATEST($1, (SELECT COALESCE(MAX(seq), 1) FROM requests)))",
            &[&highest],
        )?;
    }
    Ok(counts)
}

fn copy_table(
    sqlite: &Connection,
    path: &Path,
    tx: &mut Tx<'_>,
    site: &str,
    table: &Table,
    run_ids: &HashMap<i64, i64>,
) -> Result<Copied, InventoryError> {
    let sqlite_err = |source| InventoryError::Sqlite {
        path: path.to_owned(),
        source,
    };
    let names: Vec<&str> = table.columns.iter().map(|(n, _)| *n).collect();
    let select = format!(
        "SELECT {} FROM {} ORDER BY rowid",
        names.join(", "),
        table.name
    );
    let mut stmt = sqlite.prepare(&select).map_err(sqlite_err)?;
    let rows: Vec<Vec<Value>> = stmt
        .query_map([], |r| {
            table
                .columns
                .iter()
                .enumerate()
                .map(|(i, (_, kind))| {
                    Ok(match kind {
                        Text => Value::Text(r.get(i)?),
                        Int => Value::Int(r.get(i)?),
                        Bool => Value::Bool(r.get(i)?),
                        Bytes => Value::Bytes(r.get(i)?),
                    })
                })
                .collect()
        })
        .and_then(|rows| rows.collect())
        .map_err(sqlite_err)?;
    let mut columns: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let mut values: Vec<String> = table
        .columns
        .iter()
        .enumerate()
        .map(|(i, (_, kind))| format!("${}::{}", i + 1, cast(*kind)))
        .collect();
    if table.site {
        columns.push("site".into());
        values.push(format!("${}::TEXT", table.columns.len() + 1));
    }
    let key: Vec<String> = table
        .key
        .iter()
        .map(|k| {
            let i = names.iter().position(|n| n == k).unwrap_or(0);
            format!(
                "{k} IS NOT DISTINCT FROM ${}::{}",
                i + 1,
                cast(table.columns[i].1)
            )
        })
        .collect();
    let insert = format!(
        "INSERT INTO {t} ({cols}) SELECT {vals} WHERE NOT EXISTS (SELECT 1 FROM {t} WHERE {key})",
        t = table.name,
        cols = columns.join(", "),
        vals = values.join(", "),
        key = key.join(" AND "),
    );
    let mut count = Copied {
        table: table.name,
        copied: 0,
        present: 0,
    };
    let site = site.to_owned();
    for mut row in rows {
        for (value, (name, _)) in row.iter_mut().zip(table.columns) {
            if *name == "run"
                && let Value::Int(Some(run)) = value
            {
                *run = run_ids
                    .get(run)
                    .copied()
                    .ok_or_else(|| InventoryError::Corrupt {
                        path: path.to_owned(),
                        what: "run id",
                        value: run.to_string(),
                    })?;
            }
        }
        let mut params: Vec<&(dyn ToSql + Sync)> = row.iter().map(Value::as_sql).collect();
        if table.site {
            params.push(&site);
        }
        if tx.execute(&insert, &params)? == 1 {
            count.copied += 1;
        } else {
            count.present += 1;
        }
    }
    Ok(count)
}
