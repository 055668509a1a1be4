#![cfg_attr(not(test), warn(clippy::unwrap_used))]
//! rdplay renews the local account of every PC of a LAN from one declarative playbook.
//!
//! The modules form layers, each using only the ones below it (docs/ARCHITECTURE.md):
//!
//! - leaf types: [`mac`], [`secret`], [`facts`] (and their [`changes`]), [`text`], [`files`],
//!   [`child`] (every local program rdplay starts);
//! - domain: [`playbook`], [`inventory`] (the [`inventory::Store`] seam), [`render`], [`ssh`], [`escrow`],
//!   [`remote`] (the [`remote::Connector`] seam), [`tasks`] (one file per step);
//! - [`engine`]: scope and triage, the planner, the driver, apply, effects;
//! - [`commands`]: one module per subcommand, returning values;
//! - [`cli`]: clap, printing, logging set-up, exit codes. Nothing imports it.

pub mod changes;
pub mod child;
pub mod cli;
pub mod commands;
pub mod cups;
pub mod engine;
pub mod escrow;
pub mod facts;
pub mod files;
pub mod inventory;
pub mod mac;
pub mod playbook;
pub mod remote;
pub mod render;
pub mod secret;
pub mod ssh;
pub mod tasks;
pub mod text;
