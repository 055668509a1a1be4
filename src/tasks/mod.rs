//! The steps of a PC's renewal, one file each. A step consumes what the previous one produced:
//!
//! ```text
//! scan ──► Reachable ──exchange──► Trusted ──sftp──► Uploaded ──exec──► Renewed ──inventory──► Recorded ──render──► Done
//! ```
//!
//! so a step cannot run without what it needs. Steps that only read (scan, the probe) are separate from
//! the ones that change a PC (exchange installs a key; exec changes accounts).

pub mod exchange;
pub mod exec;
pub mod inventory;
pub mod render;
pub mod scan;
pub mod sftp;

/// The steps, as named in progress, logs, errors and the inventory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StepKind {
    Scan,
    Exchange,
    Sftp,
    Exec,
    Inventory,
    Render,
}

impl StepKind {
    /// The step's name.
    pub fn name(self) -> &'static str {
        match self {
            StepKind::Scan => "scan",
            StepKind::Exchange => "exchange",
            StepKind::Sftp => "sftp",
            StepKind::Exec => "exec",
            StepKind::Inventory => "inventory",
            StepKind::Render => "render",
        }
    }
}

impl std::fmt::Display for StepKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a PC's renewal stopped: the step and a reason a sysadmin can act on.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{step}: {reason}")]
pub struct StepError {
    pub step: StepKind,
    pub reason: String,
}

impl StepError {
    /// A step's failure.
    pub fn new(step: StepKind, reason: impl Into<String>) -> Self {
        StepError {
            step,
            reason: reason.into(),
        }
    }
}
