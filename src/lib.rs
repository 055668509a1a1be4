#![cfg_attr(not(test), warn(clippy::unwrap_used))]
//! rdplay renews the local account of every PC of a LAN from one declarative playbook.
//!
//! The modules mirror the pipeline:
//!
//! - [`playbook`]: the YAML model, its validation and JSON Schema.
//! - [`plan`]: the per-PC DAG of typed tasks that `--check` prints and `run` executes.
//! - [`tasks`]: one file per step: scan, exchange, sftp, exec, inventory, render.
//! - [`ssh`]: sessions over the system OpenSSH (ControlMaster, askpass, pinned known_hosts).
//! - [`inventory`]: the SQLite store, its journal and exports.
//! - [`render`]: typst sheets to PDF and PNG, with the QR code of the MAC.
//! - [`secret`]: the redacting [`secret::Secret`] type, password hashing.
//! - [`facts`]: what a PC reports about itself.
//! - [`run`]: the run itself: every PC's pipeline, concurrently, and the outcome.
//! - [`text`]: making untrusted text inert for terminals and logs.
//! - [`files`]: private (0700) directories, one function for every module that makes one.
//! - [`cli`]: clap commands, progress and output.

pub mod cli;
pub mod facts;
pub mod files;
pub mod inventory;
pub mod plan;
pub mod playbook;
pub mod render;
pub mod run;
pub mod secret;
pub mod ssh;
pub mod tasks;
pub mod text;
