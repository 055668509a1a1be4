//! MAC addresses, the identity of a PC in the inventory, are stored in their canonical text form.

impl rusqlite::ToSql for crate::mac::Mac {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(rusqlite::types::ToSqlOutput::from(self.as_str()))
    }
}
