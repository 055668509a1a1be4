//! The run's audit log, `audit.jsonl` in the run directory (0600): one JSON object per line — for each
//! PC, the plan the run executed (`"event": "plan"`, the very shape `run --check --format json`
//! prints) and how it ended (`"event": "outcome"`, with the values drawn while applying). Never a
//! password or a hash. See docs/PLAN.md.

use super::outcome::{Outcome, PcReport};
use super::plan::PcPlan;
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The audit log of one run.
pub struct Audit {
    path: PathBuf,
    file: Mutex<std::fs::File>,
}

#[derive(Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
enum Line<'a> {
    Plan(&'a PcPlan),
    Outcome(OutcomeLine<'a>),
    Change(&'a crate::inventory::EventRecord),
}

#[derive(Serialize)]
struct OutcomeLine<'a> {
    ip: std::net::Ipv4Addr,
    mac: Option<&'a crate::mac::Mac>,
    outcome: &'static str,
    step: crate::tasks::StepKind,
    request: Option<&'a str>,
    removed: &'a [String],
    /// What the removed accounts left outside their homes (files, bytes), removed too.
    leftovers: Option<crate::tasks::exec::Leftovers>,
    /// The archives made of the removed accounts before they went.
    archives: Vec<String>,
    created: Option<&'a str>,
    files: Vec<String>,
    reason: Option<String>,
    ms: u64,
}

impl Audit {
    /// Creates `dir/audit.jsonl`, readable by its owner only.
    pub fn create(dir: &Path) -> std::io::Result<Audit> {
        use std::os::unix::fs::OpenOptionsExt;
        let path = dir.join("audit.jsonl");
        let file = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(&path)?;
        Ok(Audit {
            path,
            file: Mutex::new(file),
        })
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends the plan a PC is about to execute.
    pub fn plan(&self, plan: &PcPlan) {
        self.write(&Line::Plan(plan));
    }

    /// Appends how a PC ended.
    pub fn outcome(&self, r: &PcReport) {
        let (outcome, files, reason) = match &r.outcome {
            Outcome::Renewed { files, .. } => (
                "renewed",
                files.iter().map(|f| f.display().to_string()).collect(),
                None,
            ),
            Outcome::Kept { reason } => ("kept", Vec::new(), Some(reason.clone())),
            Outcome::Failed(e) => ("failed", Vec::new(), Some(e.reason())),
        };
        self.write(&Line::Outcome(OutcomeLine {
            ip: r.ip,
            mac: r.mac.as_ref(),
            outcome,
            step: r.outcome.step(),
            request: r.request.as_deref(),
            removed: &r.old,
            leftovers: r.leftovers,
            archives: r.archives.iter().map(|p| p.display().to_string()).collect(),
            created: r.new.as_deref(),
            files,
            reason,
            ms: r.duration.as_millis() as u64,
        }));
    }

    /// Appends something the run found changed (a PC's facts, a clone, a stranger).
    pub fn change(&self, change: &crate::inventory::EventRecord) {
        self.write(&Line::Change(change));
    }

    fn write(&self, line: &Line<'_>) {
        let Ok(mut text) = serde_json::to_string(line) else {
            return;
        };
        text.push('\n');
        let written = self
            .file
            .lock()
            .map_err(|_| std::io::Error::other("audit log lock poisoned"))
            .and_then(|mut f| f.write_all(text.as_bytes()));
        if let Err(e) = written {
            tracing::error!(path = %self.path.display(), "writing the audit log: {e}");
        }
    }
}
