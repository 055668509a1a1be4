//! Where SQLite and PostgreSQL differ, and nothing else: how a [`Value`] is bound and read on each,
//! the placeholders (`?N` for SQLite, `$N` for PostgreSQL), and the one statement each says its own
//! way (the request number's sequence). Every other statement is written once, in
//! [`super::journal`] and [`super::reads`]. The schemas (DDL) are each database's own:
//! `schema.rs` and `postgres/schema.rs`. Connections and locking: `sqlite.rs`, `postgres/`.

use super::InventoryError;
use super::postgres::Tx;
use super::sql::{Dialect, Row, Sql, Value};
use postgres::types::{IsNull, ToSql, Type};
use rusqlite::types::{ToSqlOutput, ValueRef};
use std::path::Path;
use std::sync::Arc;

type R<T> = Result<T, InventoryError>;

impl Dialect {
    /// The next request number's `seq`: SQLite's writer is the file's only one, so the highest plus
    /// one; PostgreSQL's sites draw from one sequence at once.
    pub(crate) fn next_request_seq(self) -> &'static str {
        match self {
            Dialect::Sqlite => "SELECT COALESCE(MAX(seq), 0) + 1 FROM requests",
            Dialect::Postgres => "SELECT nextval(pg_get_serial_sequence('requests', 'seq'))",
        }
    }
}

// ---- SQLite ----

/// A SQLite connection (or a savepoint of one) as [`Sql`].
pub(crate) struct Sqlite<'c> {
    conn: &'c rusqlite::Connection,
    path: &'c Path,
    place: Arc<str>,
}

impl<'c> Sqlite<'c> {
    pub(crate) fn new(conn: &'c rusqlite::Connection, path: &'c Path) -> Sqlite<'c> {
        Sqlite {
            conn,
            path,
            place: Arc::from(path.display().to_string()),
        }
    }

    fn error(&self) -> impl Fn(rusqlite::Error) -> InventoryError + '_ {
        |source| InventoryError::Sqlite {
            path: self.path.to_owned(),
            source,
        }
    }
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        use rusqlite::types::Value as V;
        Ok(match self {
            Value::Null => ToSqlOutput::Owned(V::Null),
            Value::Int(n) => ToSqlOutput::Owned(V::Integer(*n)),
            Value::Bool(b) => ToSqlOutput::Owned(V::Integer(i64::from(*b))),
            Value::Text(t) => ToSqlOutput::Borrowed(ValueRef::Text(t.as_bytes())),
            Value::Blob(b) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
        })
    }
}

fn from_sqlite(value: ValueRef<'_>) -> Value {
    match value {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(n) => Value::Int(n),
        // The schema has no REAL column; one would be a foreign write, read as its text.
        ValueRef::Real(f) => Value::Text(f.to_string()),
        ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    }
}

impl Sql for Sqlite<'_> {
    fn execute(&mut self, sql: &str, args: &[Value]) -> R<u64> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(self.error())?;
        let changed = stmt
            .execute(rusqlite::params_from_iter(args))
            .map_err(self.error())?;
        Ok(changed as u64)
    }

    fn query(&mut self, sql: &str, args: &[Value]) -> R<Vec<Row>> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(self.error())?;
        let columns = stmt.column_count();
        let mut rows = stmt
            .query(rusqlite::params_from_iter(args))
            .map_err(self.error())?;
        let mut found = Vec::new();
        while let Some(row) = rows.next().map_err(self.error())? {
            let values = (0..columns)
                .map(|i| row.get_ref(i).map(from_sqlite))
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(self.error())?;
            found.push(Row {
                values,
                place: Arc::clone(&self.place),
            });
        }
        Ok(found)
    }

    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn place(&self) -> &str {
        &self.place
    }
}

// ---- PostgreSQL ----

/// `?N` placeholders as PostgreSQL's `$N` (outside quoted strings).
pub(crate) fn postgres_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut quoted = false;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                quoted = !quoted;
                out.push(c);
            }
            '?' if !quoted && chars.peek().is_some_and(char::is_ascii_digit) => out.push('$'),
            _ => out.push(c),
        }
    }
    out
}

impl ToSql for Value {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        let mismatch = || format!("{self:?} cannot be stored in a {ty} column").into();
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(n) => match *ty {
                Type::INT8 => n.to_sql(ty, out),
                Type::INT4 => i32::try_from(*n)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*n)?.to_sql(ty, out),
                _ => Err(mismatch()),
            },
            Value::Bool(b) => match *ty {
                Type::BOOL => b.to_sql(ty, out),
                _ => Err(mismatch()),
            },
            Value::Text(t) if <&str as ToSql>::accepts(ty) => t.as_str().to_sql(ty, out),
            Value::Blob(b) if *ty == Type::BYTEA => b.as_slice().to_sql(ty, out),
            Value::Text(_) | Value::Blob(_) => Err(mismatch()),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}

fn from_postgres(row: &postgres::Row, i: usize) -> Result<Value, postgres::Error> {
    let ty = row.columns()[i].type_().clone();
    Ok(match ty {
        Type::INT8 => row.try_get::<_, Option<i64>>(i)?.into(),
        Type::INT4 => row.try_get::<_, Option<i32>>(i)?.map(i64::from).into(),
        Type::INT2 => row.try_get::<_, Option<i16>>(i)?.map(i64::from).into(),
        Type::BOOL => row.try_get::<_, Option<bool>>(i)?.into(),
        Type::BYTEA => row.try_get::<_, Option<Vec<u8>>>(i)?.into(),
        _ => row.try_get::<_, Option<String>>(i)?.into(),
    })
}

impl Sql for Tx<'_> {
    fn execute(&mut self, sql: &str, args: &[Value]) -> R<u64> {
        let params: Vec<&(dyn ToSql + Sync)> = args.iter().map(|v| v as _).collect();
        Tx::execute(self, &postgres_placeholders(sql), &params)
    }

    fn query(&mut self, sql: &str, args: &[Value]) -> R<Vec<Row>> {
        let params: Vec<&(dyn ToSql + Sync)> = args.iter().map(|v| v as _).collect();
        let rows = Tx::query(self, &postgres_placeholders(sql), &params)?;
        let place: Arc<str> = Arc::from(self.server());
        rows.iter()
            .map(|row| {
                let values = (0..row.len())
                    .map(|i| from_postgres(row, i))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| self.error(e))?;
                Ok(Row {
                    values,
                    place: Arc::clone(&place),
                })
            })
            .collect()
    }

    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn place(&self) -> &str {
        self.server()
    }
}

#[cfg(test)]
mod tests {
    use super::postgres_placeholders;

    #[test]
    fn placeholders_become_dollars_outside_quotes() {
        assert_eq!(
            postgres_placeholders("SELECT a FROM t WHERE b = ?1 AND c != '?2' AND d = ?12"),
            "SELECT a FROM t WHERE b = $1 AND c != '?2' AND d = $12"
        );
        assert_eq!(postgres_placeholders("SELECT '?'"), "SELECT '?'");
    }
}
