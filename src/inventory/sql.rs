//! What the journal ([`super::journal`]) and the reads ([`super::reads`]) see of a database: one
//! connection inside one transaction, running statements written once for both SQLite and
//! PostgreSQL, with `?N` placeholders, over plain [`Value`]s. The two implementations, and the few
//! statements that truly differ, are in [`super::dialect`].

use super::InventoryError;
use crate::mac::Mac;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

type R<T> = Result<T, InventoryError>;

/// A value bound to a statement or read from a row. Each side converts it to the column's type:
/// SQLite keeps a boolean as an integer, PostgreSQL as a `BOOLEAN`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Null,
    Int(i64),
    Bool(bool),
    Text(String),
    Blob(Vec<u8>),
}

impl From<i64> for Value {
    fn from(v: i64) -> Value {
        Value::Int(v)
    }
}

impl From<u32> for Value {
    fn from(v: u32) -> Value {
        Value::Int(i64::from(v))
    }
}

impl From<u64> for Value {
    /// Saturates: counts and sizes above `i64::MAX` are stored as `i64::MAX`.
    fn from(v: u64) -> Value {
        Value::Int(i64::try_from(v).unwrap_or(i64::MAX))
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Value {
        Value::Bool(v)
    }
}

impl From<String> for Value {
    fn from(v: String) -> Value {
        Value::Text(v)
    }
}

impl From<&String> for Value {
    fn from(v: &String) -> Value {
        Value::Text(v.clone())
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Value {
        Value::Text(v.to_owned())
    }
}

impl From<&Mac> for Value {
    fn from(v: &Mac) -> Value {
        Value::Text(v.to_string())
    }
}

impl From<std::net::Ipv4Addr> for Value {
    fn from(v: std::net::Ipv4Addr) -> Value {
        Value::Text(v.to_string())
    }
}

impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Value {
        Value::Blob(v)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::Null, Into::into)
    }
}

/// The arguments of a statement: `args![a, b]` is `[Value::from(a), Value::from(b)]`.
macro_rules! args {
    ($($value:expr),* $(,)?) => {
        [$($crate::inventory::sql::Value::from($value)),*]
    };
}
pub(crate) use args;

/// One row a query answered, its columns by position; reading a column as a type it does not
/// hold is [`InventoryError::Corrupt`], never a panic.
#[derive(Debug)]
pub(crate) struct Row {
    pub(crate) values: Vec<Value>,
    /// The database, for errors: a file or `USER@HOST:PORT/DATABASE`.
    pub(crate) place: Arc<str>,
}

impl Row {
    fn value(&self, i: usize) -> &Value {
        self.values.get(i).unwrap_or(&Value::Null)
    }

    /// The error for a column that does not hold what the schema says.
    pub(crate) fn corrupt(&self, what: &'static str, value: &str) -> InventoryError {
        corrupt(&self.place, what, value)
    }

    fn shape(&self, i: usize, what: &'static str) -> InventoryError {
        self.corrupt(what, &format!("{:?}", self.value(i)))
    }

    /// A text column that may be NULL.
    pub(crate) fn opt_text(&self, i: usize) -> R<Option<String>> {
        match self.value(i) {
            Value::Null => Ok(None),
            Value::Text(t) => Ok(Some(t.clone())),
            _ => Err(self.shape(i, "text")),
        }
    }

    /// A text column.
    pub(crate) fn text(&self, i: usize) -> R<String> {
        self.opt_text(i)?.ok_or_else(|| self.shape(i, "text"))
    }

    /// An integer column that may be NULL.
    pub(crate) fn opt_int(&self, i: usize) -> R<Option<i64>> {
        match self.value(i) {
            Value::Null => Ok(None),
            Value::Int(n) => Ok(Some(*n)),
            _ => Err(self.shape(i, "integer")),
        }
    }

    /// An integer column.
    pub(crate) fn int(&self, i: usize) -> R<i64> {
        self.opt_int(i)?.ok_or_else(|| self.shape(i, "integer"))
    }

    /// A boolean column (an integer 0 or 1 in SQLite).
    pub(crate) fn bool(&self, i: usize) -> R<bool> {
        match self.value(i) {
            Value::Bool(b) => Ok(*b),
            Value::Int(0) => Ok(false),
            Value::Int(1) => Ok(true),
            _ => Err(self.shape(i, "boolean")),
        }
    }

    /// A blob column.
    pub(crate) fn blob(&self, i: usize) -> R<Vec<u8>> {
        match self.value(i) {
            Value::Blob(b) => Ok(b.clone()),
            _ => Err(self.shape(i, "blob")),
        }
    }

    /// A text column parsed as `T` (a MAC, an address, a time), named `what` in the error.
    pub(crate) fn parse<T: FromStr>(&self, i: usize, what: &'static str) -> R<T> {
        let text = self.text(i)?;
        text.parse().map_err(|_| self.corrupt(what, &text))
    }

    /// A text column that may be NULL, parsed as `T`.
    pub(crate) fn opt_parse<T: FromStr>(&self, i: usize, what: &'static str) -> R<Option<T>> {
        self.opt_text(i)?
            .map(|text| text.parse().map_err(|_| self.corrupt(what, &text)))
            .transpose()
    }

    /// A text column holding JSON, decoded as `T`.
    pub(crate) fn json<T: serde::de::DeserializeOwned>(
        &self,
        i: usize,
        what: &'static str,
    ) -> R<T> {
        let text = self.text(i)?;
        serde_json::from_str(&text).map_err(|_| self.corrupt(what, &text))
    }

    /// An integer column that may be NULL, as a `u32` (a uid, a PC number).
    pub(crate) fn opt_u32(&self, i: usize, what: &'static str) -> R<Option<u32>> {
        self.opt_int(i)?
            .map(|n| u32::try_from(n).map_err(|_| self.corrupt(what, &n.to_string())))
            .transpose()
    }
}

/// The error for a value the schema does not allow.
pub(crate) fn corrupt(place: &str, what: &'static str, value: &str) -> InventoryError {
    InventoryError::Corrupt {
        path: PathBuf::from(place),
        what,
        value: value.to_owned(),
    }
}

/// Which database a statement runs on, for the few statements that differ ([`super::dialect`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

/// One connection inside one transaction (a write's savepoint, or a read). Statements use `?1`,
/// `?2`... placeholders on both databases.
pub(crate) trait Sql {
    /// Runs a statement; the rows it changed.
    fn execute(&mut self, sql: &str, args: &[Value]) -> R<u64>;
    /// Runs a query; its rows.
    fn query(&mut self, sql: &str, args: &[Value]) -> R<Vec<Row>>;
    /// Which database this is.
    fn dialect(&self) -> Dialect;
    /// The database, for errors: a file or `USER@HOST:PORT/DATABASE`.
    fn place(&self) -> &str;

    /// Runs a query that answers one row or none.
    fn query_opt(&mut self, sql: &str, args: &[Value]) -> R<Option<Row>> {
        Ok(self.query(sql, args)?.into_iter().next())
    }

    /// Runs a query that answers exactly one row.
    fn query_one(&mut self, sql: &str, args: &[Value]) -> R<Row> {
        self.query_opt(sql, args)?
            .ok_or_else(|| InventoryError::Commit {
                path: PathBuf::from(self.place()),
                message: format!("a query answered no row: {}", first_line(sql)),
            })
    }
}

fn first_line(sql: &str) -> &str {
    sql.trim().lines().next().unwrap_or_default()
}
