//! The steps of a PC's renewal, one file each. A step consumes what the previous one produced:
//!
//! ```text
//! scan ──► Reachable ──exchange──► host keys ──(connect)──► probe ──► sftp ──► Workdir ──(archive)──exec──► Report ──inventory
//! ```
//!
//! so a step cannot run without what it needs (exec consumes the [`sftp::Workdir`] only the upload
//! makes). Steps that only read (scan, the probe) are separate from the ones that change a PC
//! (exchange installs a key; exec changes accounts). The steps reach PCs through the
//! [`crate::remote::Connection`] seam and the inventory through [`crate::inventory::Store`].

pub mod archive;
pub mod exchange;
pub mod exec;
pub mod gate;
pub mod inventory;
pub mod scan;
pub mod sftp;

/// The steps, as named in progress, logs, errors and the inventory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepKind {
    Scan,
    Exchange,
    Sftp,
    Archive,
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
            StepKind::Archive => "archive",
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

/// Why a PC's renewal stopped: the step, what it was doing, and the underlying error when there is one.
#[derive(Debug)]
pub struct StepError {
    pub step: StepKind,
    /// What failed, in words a sysadmin can act on.
    pub what: String,
    /// The error underneath, kept as the source.
    pub cause: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl StepError {
    /// A step's failure with no error underneath.
    pub fn new(step: StepKind, what: impl Into<String>) -> Self {
        StepError {
            step,
            what: what.into(),
            cause: None,
        }
    }

    /// A step's failure caused by `cause`; shown as `what: cause`.
    pub fn caused(
        step: StepKind,
        what: impl Into<String>,
        cause: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        StepError {
            step,
            what: what.into(),
            cause: Some(cause.into()),
        }
    }

    /// The reason without the step: `what`, then the cause.
    pub fn reason(&self) -> String {
        match &self.cause {
            Some(cause) if self.what.is_empty() => cause.to_string(),
            Some(cause) => format!("{}: {cause}", self.what),
            None => self.what.clone(),
        }
    }
}

impl std::fmt::Display for StepError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.step, self.reason())
    }
}

impl std::error::Error for StepError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.cause
            .as_deref()
            .map(|c| c as &(dyn std::error::Error + 'static))
    }
}
