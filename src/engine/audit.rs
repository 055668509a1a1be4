//! The run's audit log, `audit.jsonl` in the run directory (0600): one JSON object per line — for each
//! PC, the plan the run executed (`"event": "plan"`, the very shape `run --check --format json`
//! prints; for a PC met for the first time, also the plan made again after first contact, `"event":
//! "replan"`) and how it ended (`"event": "outcome"`, with the values drawn while applying). Never a
//! password or a hash. See docs/PLAN.md.

use super::outcome::{Outcome, PcReport};
use super::plan::PcPlan;
use crate::playbook::Printable;
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The audit log of one run.
pub struct Audit {
    path: PathBuf,
    file: Mutex<std::fs::File>,
    /// The first line that could not be written, with why: the run ends failed with it.
    lost: Mutex<Option<String>>,
}

#[derive(Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
enum Line<'a> {
    Plan(&'a PcPlan),
    Replan(&'a PcPlan),
    Outcome(OutcomeLine<'a>),
    Change(&'a crate::inventory::EventRecord),
    Printable(PrintableLine<'a>),
    Print(&'a PrintJob),
}

#[derive(Serialize)]
struct PrintableLine<'a> {
    what: Printable,
    files: &'a [PrintableFile],
}

/// A file a run wrote that can be printed, and its digest then: a later run may rewrite the file
/// (the batch files have one name), and `rdplay print` must not print that one for this run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct PrintableFile {
    pub path: PathBuf,
    /// sha256 of its bytes, in hex.
    pub sha256: String,
}

impl PrintableFile {
    /// The file at `path` as it is now.
    pub fn of(path: &Path) -> std::io::Result<PrintableFile> {
        Ok(PrintableFile {
            path: path.to_path_buf(),
            sha256: crate::files::sha256_file(path)?,
        })
    }

    /// Whether the file is still the one written (same bytes).
    pub fn unchanged(&self) -> bool {
        crate::files::sha256_file(&self.path).is_ok_and(|now| now == self.sha256)
    }
}

/// A print job as the audit log records it (`"event": "print"`): sent to CUPS with its id, or why
/// not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PrintJob {
    /// What was printed.
    pub what: Printable,
    /// The CUPS queue.
    pub printer: String,
    pub copies: u32,
    /// The files of the job.
    pub files: Vec<String>,
    /// The job id CUPS gave it (e.g. `office-laser-123`), when it took it.
    pub job: Option<String>,
    /// Why the job could not be sent, when it could not.
    pub error: Option<String>,
    /// `run` when printed at the end of the run, `print` when by `rdplay print`.
    pub by: &'static str,
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
    /// The accounts deleted without their archive, each with why (`account.archive.on_failure:
    /// delete`); absent when none was.
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    unarchived: &'a [String],
    created: Option<&'a str>,
    /// What the PC's helper reported it did (a renewal that reached exec).
    #[serde(skip_serializing_if = "Option::is_none")]
    reported: Option<&'a super::outcome::Reported>,
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
            lost: Mutex::new(None),
        })
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends the plan a PC is about to execute, durably: the PC must not be changed when its
    /// plan could not be recorded (the error says why).
    pub fn plan(&self, plan: &PcPlan) -> std::io::Result<()> {
        self.append(&Line::Plan(plan), true)
    }

    /// Appends the plan of a PC met for the first time, made again once first contact let it be
    /// probed: what the run applies to it.
    pub fn replan(&self, plan: &PcPlan) {
        self.write(&Line::Replan(plan));
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
            unarchived: &r.unarchived,
            created: r.new.as_deref(),
            reported: r.reported.as_ref(),
            files,
            reason,
            ms: r.duration.as_millis() as u64,
        }));
    }

    /// Appends something the run found changed (a PC's facts, a clone, a stranger).
    pub fn change(&self, change: &crate::inventory::EventRecord) {
        self.write(&Line::Change(change));
    }

    /// Appends the files of one kind the run wrote that can be printed (read by `rdplay print`).
    pub fn printable(&self, what: Printable, files: &[PrintableFile]) {
        self.write(&Line::Printable(PrintableLine { what, files }));
    }

    /// Appends a print job: its id, or why it could not be sent.
    pub fn print(&self, job: &PrintJob) {
        self.write(&Line::Print(job));
    }

    /// Why a line could not be written, for the first one that could not: the run reports it and
    /// ends failed.
    pub fn lost(&self) -> Option<String> {
        self.lost
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Appends a line the run goes on without; a failure is kept for [`Audit::lost`].
    fn write(&self, line: &Line<'_>) {
        if let Err(e) = self.append(line, false) {
            let mut lost = self
                .lost
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            lost.get_or_insert_with(|| e.to_string());
        }
    }

    fn append(&self, line: &Line<'_>, sync: bool) -> std::io::Result<()> {
        let mut text = serde_json::to_string(line).map_err(std::io::Error::other)?;
        text.push('\n');
        let mut file = self
            .file
            .lock()
            .map_err(|_| std::io::Error::other("audit log lock poisoned"))?;
        file.write_all(text.as_bytes())
            .and_then(|()| if sync { file.sync_data() } else { Ok(()) })
            .map_err(|e| {
                std::io::Error::new(
                    e.kind(),
                    format!(
                        "the audit log {} could not be written: {e}",
                        self.path.display()
                    ),
                )
            })
    }
}

/// Files that can be printed, by kind.
pub type Printables = Vec<(Printable, Vec<PrintableFile>)>;

/// The files that can be printed, by kind, as the audit log at `path` lists them (`"event":
/// "printable"` lines; later lines of a kind add to earlier ones). Lines it cannot read are skipped.
pub fn printables(path: &Path) -> std::io::Result<Printables> {
    #[derive(serde::Deserialize)]
    struct Entry {
        event: String,
        what: Option<Printable>,
        #[serde(default)]
        files: Vec<PrintableFile>,
    }
    let text = std::fs::read_to_string(path)?;
    let mut found: Printables = Vec::new();
    for line in text.lines() {
        let Ok(Entry {
            event,
            what: Some(what),
            files,
        }) = serde_json::from_str::<Entry>(line)
        else {
            continue;
        };
        if event != "printable" {
            continue;
        }
        match found.iter_mut().find(|(w, _)| *w == what) {
            Some((_, all)) => all.extend(files),
            None => found.push((what, files)),
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_files_and_jobs_are_logged_and_read_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let audit = Audit::create(dir.path()).expect("audit");
        let file = |path: &str| PrintableFile {
            path: path.into(),
            sha256: "00".into(),
        };
        let users = vec![file("/o/users.pdf")];
        audit.printable(Printable::UserSheets, &users);
        audit.printable(Printable::PcSheets, &[file("/o/pcs.pdf")]);
        audit.print(&PrintJob {
            what: Printable::UserSheets,
            printer: "rdtest".into(),
            copies: 1,
            files: vec!["/o/users.pdf".into()],
            job: Some("rdtest-7".into()),
            error: None,
            by: "run",
        });
        let text = std::fs::read_to_string(audit.path()).expect("log");
        assert!(text.contains(r#""event":"print","what":"user_sheets","printer":"rdtest""#));
        assert!(text.contains(r#""job":"rdtest-7""#));
        assert!(text.contains(r#""files":[{"path":"/o/users.pdf","sha256":"00"}]"#));
        let found = printables(audit.path()).expect("read");
        assert_eq!(
            found,
            [
                (Printable::UserSheets, users),
                (Printable::PcSheets, vec![file("/o/pcs.pdf")])
            ]
        );
    }

    #[test]
    fn a_line_that_cannot_be_written_is_an_error_or_kept_for_the_run() {
        // A full disk: the audit log is /dev/full.
        let dir = tempfile::tempdir().expect("tempdir");
        std::os::unix::fs::symlink("/dev/full", dir.path().join("audit.jsonl")).expect("link");
        let audit = Audit::create(dir.path()).expect("opening /dev/full works");
        let plan = PcPlan {
            ip: std::net::Ipv4Addr::new(10, 0, 0, 1),
            mac: None,
            hostname: None,
            number: None,
            new_number: false,
            action: super::super::plan::Action::Blocked(super::super::plan::Blocked {
                step: crate::tasks::StepKind::Scan,
                kind: super::super::plan::BlockedKind::Unreachable,
                reason: "off".into(),
            }),
            changes: Vec::new(),
        };
        let err = audit.plan(&plan).expect_err("no space");
        assert!(
            err.to_string().contains("audit.jsonl could not be written"),
            "{err}"
        );
        assert_eq!(audit.lost(), None, "the plan's error is its caller's");
        audit.printable(Printable::UserSheets, &[]);
        let lost = audit.lost().expect("kept for the run");
        assert!(lost.contains("No space left on device"), "{lost}");
    }
}
