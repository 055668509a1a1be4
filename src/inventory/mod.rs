//! The inventory: the SQLite store (or the shared PostgreSQL one, [`postgres`]) of PCs, accounts, request numbers and runs; the crash-safe journal;
//! the run lock; and the exports (JSON, CSV, GLPI).
//!
//! It is what the next run trusts to decide which accounts it may delete on a PC: every account
//! recorded for that PC's MAC whose state is not `deleted`. The engine writes the journal in three
//! durable steps per PC — [`Inventory::intend`] before touching the PC, [`Inventory::renewed`] after
//! the PC reports success, [`Inventory::sheets_written`] once the sheets exist — so a crash between any
//! two leaves rows that the next run's [`Inventory::accounts_to_remove`] includes. Passwords are never
//! stored. See docs/INVENTORY.md.
//!
//! This module must not talk to PCs.

mod backend;
mod error;
pub mod export;
pub mod glpi;
pub mod inert;
mod lock;
mod mac;
mod model;
pub mod postgres;
mod schema;
mod seam;
mod store;
mod writer;

pub use backend::{Backend, Lock};
pub use error::InventoryError;
pub use lock::{RunLock, lock_path};
pub use model::{
    AccountRecord, AccountState, ArchiveRecord, Archived, EscrowRecord, Event, EventFilter,
    EventRecord, Intent, OutcomeRecord, PcOutcome, PcRecord, PcRef, PcSeen, ReadRecord, Renewal,
    RunId, RunSummary, WriteStats,
};
pub use schema::SCHEMA_VERSION;
pub use seam::Store;
pub use store::Inventory;
