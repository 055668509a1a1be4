//! How each PC ended: renewed, kept, or failed at a step.

use crate::mac::Mac;
use crate::tasks::exec::Leftovers;
use crate::tasks::{StepError, StepKind};
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

/// One PC's end, with what the run learnt of it on the way.
#[derive(Debug)]
pub struct PcReport {
    pub ip: Ipv4Addr,
    pub mac: Option<Mac>,
    pub hostname: Option<String>,
    /// The request number drawn for it.
    pub request: Option<String>,
    /// The accounts removed (or, when kept, the account kept).
    pub old: Vec<String>,
    /// The account created.
    pub new: Option<String>,
    /// What the removed accounts left outside their homes, removed with them.
    pub leftovers: Option<Leftovers>,
    /// The archives made of the removed accounts (`account.archive`).
    pub archives: Vec<PathBuf>,
    /// Why an account was deleted without its archive (`account.archive.on_failure: delete`).
    pub unarchived: Vec<String>,
    pub outcome: Outcome,
    pub duration: Duration,
}

/// How a PC ended.
#[derive(Debug)]
pub enum Outcome {
    /// The account was renewed; the effects wrote these files.
    Renewed {
        first_contact: bool,
        files: Vec<PathBuf>,
    },
    /// The renewal policy kept the account.
    Kept { reason: String },
    /// The PC stopped at a step.
    Failed(StepError),
}

impl Outcome {
    /// Whether the PC failed.
    pub fn failed(&self) -> bool {
        matches!(self, Outcome::Failed(_))
    }

    /// The last step the PC reached.
    pub fn step(&self) -> StepKind {
        match self {
            Outcome::Failed(e) => e.step,
            Outcome::Kept { .. } => StepKind::Scan,
            Outcome::Renewed { .. } => StepKind::Render,
        }
    }
}

impl PcReport {
    /// A PC known only by its address and MAC.
    pub fn new(ip: Ipv4Addr, mac: Option<Mac>, outcome: Outcome) -> PcReport {
        PcReport {
            ip,
            mac,
            hostname: None,
            request: None,
            old: Vec::new(),
            new: None,
            leftovers: None,
            archives: Vec::new(),
            unarchived: Vec::new(),
            outcome,
            duration: Duration::ZERO,
        }
    }
}
