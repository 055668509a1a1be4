//! The playbook: the YAML model, its validation with `file:line:col` errors, the JSON Schema,
//! the naming pattern and the password policy.
//!
//! [`Playbook::load`] is the one entry point for the rest of rdplay: it returns a playbook whose
//! every value has been checked, every default filled in and every path made absolute. This
//! module reads files but never touches the network or the inventory.
//!
//! | file | owns |
//! | --- | --- |
//! | `raw.rs` | the YAML's shape: serde and JSON Schema types, defaults, descriptions |
//! | `playbook.rs` | [`Playbook`] and its loader: size, UTF-8, nesting, YAML syntax |
//! | `check/` | the checks of every value, one file per section, each problem at its place |
//! | `source.rs` | the place of every key and value in the text |
//! | `error.rs` | [`PlaybookError`], [`Diagnostic`] and how they are shown |
//! | `target.rs` | networks, ranges, exclusions |
//! | `account.rs` | the naming pattern, its variables, Linux's name rules |
//! | `password.rs` | the password policy, its entropy, the generator |
//! | `password_source.rs` | reading the first-contact admin password |
//! | `sections.rs` | connection, exchange, renewal, inventory, output, logging |
//! | `schema.rs`, `init.rs`, `cli.rs` | `rdplay schema`, `rdplay init`, `rdplay validate` |

pub mod account;
mod check;
pub mod duration;
pub mod error;
pub mod init;
pub mod password;
pub mod password_source;
#[allow(clippy::module_inception)]
mod playbook;
pub mod raw;
pub mod schema;
pub mod sections;
pub(crate) mod size;
mod source;
mod suggest;
pub mod target;

pub use account::{Account, Archive, LoginShell, NameVars, PatternError};
pub use error::{Diagnostic, Location, PlaybookError};
pub use password::PasswordPolicy;
pub use password_source::PasswordSource;
pub use playbook::{MAX_PLAYBOOK_BYTES, Playbook};
pub use raw::{ArchiveFailure, Become, Format, LogLevel, Printable, TlsMode};
pub use sections::{
    Connection, Escrow, Exchange, InventoryConfig, Labels, Logging, Output, Postgres, PostgresUrl,
    Print, Renewal, Slips,
};
pub use target::{HostRange, Network, Target};
