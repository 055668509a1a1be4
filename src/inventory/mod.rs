//! The inventory: SQLite store of PCs, accounts, requests and runs; journal; exports.
pub mod cli;
