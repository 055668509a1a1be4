//! The inventory: the SQLite file (or one site of a shared PostgreSQL database, [`postgres`]) of
//! PCs, accounts, request numbers and runs; the crash-safe journal; the run lock; and the exports
//! (JSON, CSV, GLPI). One type, [`Inventory`], with one surface, [`Store`]; every statement is
//! written once (`reads.rs`, `journal.rs`) and what differs between the two databases sits in
//! `dialect.rs`. docs/ARCHITECTURE.md says how to add an operation.
//!
//! It is what the next run trusts to decide which accounts it may delete on a PC: every account
//! recorded for that PC's MAC whose state is not `deleted`. The engine writes the journal in three
//! durable steps per PC — [`Store::intend`] before touching the PC, [`Store::renewed`] after
//! the PC reports success, [`Store::sheets_written`] once the sheets exist — so a crash between any
//! two leaves rows that the next run's [`Store::accounts_to_remove`] includes. Passwords are never
//! stored. See docs/INVENTORY.md.
//!
//! This module must not talk to PCs.

mod dialect;
mod error;
pub mod export;
pub mod glpi;
pub mod inert;
mod journal;
mod lock;
mod mac;
mod model;
pub mod postgres;
mod reads;
mod schema;
mod seam;
mod sql;
mod sqlite;
mod store;

pub use error::InventoryError;
pub use lock::{RunLock, lock_path};
pub use model::{
    AccountRecord, AccountState, ArchiveRecord, Archived, EscrowRecord, Event, EventFilter,
    EventRecord, Intent, OutcomeRecord, PcOutcome, PcRecord, PcRef, PcSeen, ReadRecord, Renewal,
    RunId, RunSummary, WriteStats,
};
pub use schema::SCHEMA_VERSION;
pub use seam::Store;
pub use store::{Inventory, Lock};
