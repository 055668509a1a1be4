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
    /// What the PC's helper reported it did, as it said it (a renewal that reached exec).
    pub reported: Option<Reported>,
    pub outcome: Outcome,
    pub duration: Duration,
}

/// What a PC's helper reported it did in a renewal: the audit log's outcome line carries it, so that
/// the plan can be compared with the PC's own account of the change (tests/equality.rs).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Reported {
    /// The accounts it deleted.
    pub deleted: Vec<String>,
    /// The accounts it was asked to delete that were not on the PC.
    pub absent: Vec<String>,
    /// The account it created, its uid and its login shell.
    pub created: Option<String>,
    pub uid: Option<u32>,
    pub shell: Option<String>,
    /// The filesystems its leftover walk covered.
    pub walk: Vec<String>,
    /// What it removed of the deleted accounts outside their homes.
    pub leftover_files: u64,
    pub leftover_bytes: u64,
}

impl Reported {
    /// What the helper's report says it did.
    pub fn of(report: &crate::tasks::exec::Report) -> Reported {
        let leftovers = report.leftovers();
        Reported {
            deleted: report.deleted.clone(),
            absent: report.absent.clone(),
            created: report.created.clone(),
            uid: report.created_uid,
            shell: report.created_shell.clone(),
            walk: report.walk.clone(),
            leftover_files: leftovers.files,
            leftover_bytes: leftovers.bytes,
        }
    }
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
            reported: None,
            outcome,
            duration: Duration::ZERO,
        }
    }
}
