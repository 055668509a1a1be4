//! The plan: per PC, what a run does. [`super::planner`] decides it; `--check` prints it (text, or one
//! JSON object per PC); `run` writes it to the run's audit log and applies it. The values a run draws
//! only while applying — the request number, the account's name when the pattern uses it or random
//! parts, the password — are not part of a plan: the plan names the rule they follow.

use crate::mac::Mac;
use crate::tasks::StepKind;
use serde::Serialize;
use std::net::Ipv4Addr;

/// One PC's plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PcPlan {
    pub ip: Ipv4Addr,
    pub mac: Option<Mac>,
    /// What the PC (or the inventory, before contact) says its name is; untrusted text.
    pub hostname: Option<String>,
    /// The PC's number: the one the inventory keeps for its MAC, or for a PC it has not numbered that
    /// the plan renews, the smallest free number (PCs met for the first time are numbered in address
    /// order once the scan is complete), recorded with its renewal. `None` for a PC not renewed that
    /// has no number yet.
    pub number: Option<u32>,
    /// Whether `number` is new: given by this plan, not yet recorded.
    pub new_number: bool,
    /// What changed in the PC's facts since they were last recorded, as its probe shows.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<crate::changes::FactChange>,
    #[serde(flatten)]
    pub action: Action,
}

/// What happens to a PC.
// (A renewal is the big variant and the common one: one plan per PC, made once and kept for the run;
// boxing it would buy nothing.)
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// The renewal policy keeps the current account this time.
    Keep { account: String, reason: String },
    /// The PC's account is renewed.
    Renew(Renew),
    /// The PC cannot be renewed in this run.
    Blocked(Blocked),
}

/// Why a PC cannot be renewed, with the step that stops it and the underlying error's text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Blocked {
    pub step: StepKind,
    #[serde(rename = "blocked")]
    pub kind: BlockedKind,
    pub reason: String,
}

/// The kinds of [`Blocked`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockedKind {
    /// A PC the inventory knows did not answer on the SSH port.
    Unreachable,
    /// The port answered but the neighbour table has no MAC for it.
    NoMac,
    /// The PC presents a host key other than the pinned one.
    HostKeyChanged,
    /// The read-only probe failed (connection, helper, report).
    ProbeFailed,
    /// The inventory could not be read for this PC.
    InventoryRead,
    /// The inventory records an account rdplay must never touch (root, an odd name): tampered.
    Refused,
    /// None of the login shells `account.shell` names can be the new account's on this PC (the
    /// probe found it missing, or, for a preference list, missing or not in its /etc/shells).
    NoShell,
    /// First contact cannot log in: the PC's SSH server allows no password login, and rdplay's key
    /// is not installed for the connection user either (`--check` only: a run says so at `exchange`).
    NoPasswordLogin,
    /// The PC's work was stopped before it ended: Ctrl-C, or an internal error.
    Interrupted,
}

impl Blocked {
    /// The label of a PC whose work was stopped at `step` before it ended, by Ctrl-C or by a panic in
    /// its task: the same for `--check` and `run`.
    pub fn stopped(step: StepKind, panicked: bool) -> Blocked {
        Blocked {
            step,
            kind: BlockedKind::Interrupted,
            reason: if panicked {
                "internal error (panic): please report it".into()
            } else {
                "stopped by Ctrl-C".into()
            },
        }
    }

    /// How a run fails the PC: at the step, with the kind and the reason.
    pub fn failure(&self) -> crate::tasks::StepError {
        crate::tasks::StepError::new(
            self.step,
            format!("{}: {}", self.kind.describe(), self.reason),
        )
    }
}

/// A renewal.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Renew {
    /// Whether the key exchange comes first (no host key pinned yet): the admin account it logs in as.
    pub first_contact: Option<String>,
    /// Accounts rdplay recorded for this PC, deleted with their homes and sessions.
    pub delete: Vec<OldAccount>,
    /// Pre-existing accounts that match `account.adopt`, deleted too (archived first when
    /// `account.archive` is on).
    pub adopt: Adopt,
    /// The new account.
    pub create: NewAccount,
    /// The files the sheets effect writes, relative to the output directory.
    pub sheets: Vec<String>,
    /// How the accounts deleted are archived first (`account.archive`), when on: the directory, the
    /// size cap, how many archives a PC keeps, and what a failed archive does.
    #[serde(serialize_with = "archive_json")]
    pub archive: Option<crate::playbook::Archive>,
    /// The tools the helper will use on the PC, as its probe found them; `None` before first contact.
    pub tools: Option<crate::tasks::exec::Tools>,
    /// The mount points of the filesystems the leftover walk covers, as the probe found them (the PC's
    /// own permanent local filesystems); `None` before first contact.
    pub walk: Option<Vec<String>>,
}

/// `account.archive` as a plan shows it: `{"dir", "max_size", "keep", "on_failure"}`, or null.
fn archive_json<S: serde::Serializer>(
    archive: &Option<crate::playbook::Archive>,
    to: S,
) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct Json<'a> {
        dir: String,
        max_size: u64,
        keep: u32,
        on_failure: &'a crate::playbook::ArchiveFailure,
    }
    archive
        .as_ref()
        .map(|a| Json {
            dir: a.dir.display().to_string(),
            max_size: a.max_size,
            keep: a.keep,
            on_failure: &a.on_failure,
        })
        .serialize(to)
}

/// An account to delete, as the probe saw it (or only as recorded, before first contact).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OldAccount {
    pub name: String,
    /// Whether it is on the PC: `None` before first contact (nothing can be listed yet).
    pub on_pc: Option<bool>,
    pub home: Option<String>,
    /// Its running processes, ended before deletion.
    pub processes: Option<u32>,
    /// The files it owns outside its home on the PC's local filesystems, removed with it (its crontab,
    /// mail spool, files in /tmp, /var/tmp, /dev/shm, shared directories...).
    pub leftover_files: Option<u64>,
    /// Their size in bytes.
    pub leftover_bytes: Option<u64>,
    /// Whether its home and those files are archived on the controller first (`account.archive`;
    /// false when it is already absent).
    pub archive: bool,
}

/// Adoption of pre-existing accounts (`account.adopt`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "mode", content = "accounts", rename_all = "snake_case")]
pub enum Adopt {
    /// No `account.adopt` in the playbook.
    Off,
    /// These accounts.
    Accounts(Vec<String>),
    /// Listed once first contact lets the PC be probed.
    AfterFirstContact,
}

/// The new account: its naming rule (the name is drawn when the run applies the plan).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewAccount {
    pub pattern: String,
    /// Its login shell: `account.shell` when it is one path; for a preference list, the first the
    /// probe found on the PC and in its /etc/shells (`None` before first contact: the PC cannot be
    /// probed yet; the plan made after first contact chooses).
    pub shell: Option<String>,
    /// `account.shell`'s preference list, when it is one.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub shell_prefer: Vec<String>,
    pub groups: Vec<String>,
    pub home_base: String,
    /// Length of the password drawn for it (never the password).
    pub password_length: usize,
}

impl PcPlan {
    /// Whether the plan changes the PC.
    pub fn renews(&self) -> bool {
        matches!(self.action, Action::Renew(_))
    }

    /// The plan as `--check` shows it: a header line, then one line per change.
    pub fn text(&self) -> String {
        use crate::text::inert;
        let mut t = format!(
            "{} {} {}{}\n",
            inert(self.hostname.as_deref().unwrap_or("?"), 64),
            self.ip,
            self.mac.as_ref().map_or("?", |m| m.as_str()),
            self.number.map(|n| format!(" #{n}")).unwrap_or_default()
        );
        for c in &self.changes {
            t.push_str(&format!(
                "  ~ changed: {} ({})\n",
                inert(&c.text, 200),
                c.severity.as_str()
            ));
        }
        match &self.action {
            Action::Keep { reason, .. } => t.push_str(&format!("  = {reason}\n")),
            Action::Blocked(b) => t.push_str(&format!(
                "  ! {}: {}\n",
                b.kind.describe(),
                inert(&b.reason, 300)
            )),
            Action::Renew(r) => {
                if let (Some(number), true) = (self.number, self.new_number) {
                    t.push_str(&format!(
                        "  + number #{number}: the smallest free PC number, kept for good\n"
                    ));
                }
                if let Some(admin) = &r.first_contact {
                    t.push_str(&format!(
                        "  ! key exchange needed (first contact as {admin}; accounts on the PC cannot be listed before it)\n"
                    ));
                }
                for a in &r.delete {
                    t.push_str(&match (a.on_pc, &a.home) {
                        (Some(false), _) => format!(
                            "  - forget account {} (recorded, already absent from the PC)\n",
                            a.name
                        ),
                        (Some(true), home) => format!(
                            "  - delete account {} (home {}, {} processes, {} outside the home)\n",
                            a.name,
                            inert(home.as_deref().unwrap_or("?"), 100),
                            a.processes.unwrap_or(0),
                            match (a.leftover_files, a.leftover_bytes) {
                                (Some(files @ 1..), bytes) => crate::tasks::exec::Leftovers {
                                    files,
                                    bytes: bytes.unwrap_or(0),
                                }
                                .describe(),
                                _ => "no file".to_string(),
                            }
                        ),
                        (None, _) => format!(
                            "  - delete account {} (recorded; its home, sessions and files too)\n",
                            a.name
                        ),
                    });
                }
                match &r.adopt {
                    Adopt::Off => {}
                    Adopt::Accounts(names) => {
                        for name in names {
                            t.push_str(&format!(
                                "  - adopt and delete account {name} (matches account.adopt)\n"
                            ));
                        }
                    }
                    Adopt::AfterFirstContact => t.push_str(
                        "  - adopt and delete the accounts matching account.adopt (listed after first contact)\n",
                    ),
                }
                let deletes = r.delete.iter().any(|a| a.archive) || r.adopt != Adopt::Off;
                if let (Some(archive), true) = (&r.archive, deletes) {
                    t.push_str(&format!(
                        "  ~ archive each account deleted (its home and files, at most {} each) into {} first; {}\n",
                        crate::text::bytes(archive.max_size),
                        inert(&archive.dir.display().to_string(), 200),
                        match archive.on_failure {
                            crate::playbook::ArchiveFailure::Keep => {
                                "a failed archive keeps the account and fails the PC"
                            }
                            crate::playbook::ArchiveFailure::Delete => {
                                "a failed archive deletes the account without it"
                            }
                        }
                    ));
                }
                let c = &r.create;
                let groups = if c.groups.is_empty() {
                    String::new()
                } else {
                    format!(", groups {}", c.groups.join(","))
                };
                let shell = match (&c.shell, c.shell_prefer.as_slice()) {
                    (Some(shell), []) => format!("shell {}", inert(shell, 100)),
                    (Some(shell), prefer) => format!(
                        "shell {}, the first of {} this PC has in /etc/shells",
                        inert(shell, 100),
                        inert(&prefer.join(", "), 300)
                    ),
                    (None, prefer) => format!(
                        "shell: the first of {} the PC has in /etc/shells, chosen after first contact",
                        inert(&prefer.join(", "), 300)
                    ),
                };
                t.push_str(&format!(
                    "  + create account named by {:?} ({shell}{groups}, home under {}, password {})\n",
                    c.pattern,
                    c.home_base,
                    "*".repeat(c.password_length)
                ));
                if let Some(tools) = &r.tools {
                    t.push_str(&format!("  ~ tools: {}\n", tools.describe()));
                }
                if let Some(walk) = &r.walk {
                    let roots: Vec<String> = walk.iter().map(|w| inert(w, 100)).collect();
                    t.push_str(&format!(
                        "  ~ leftover walk: {} (the PC's own local filesystems; none mounted at run time)\n",
                        roots.join(" ")
                    ));
                }
                t.push_str("  ~ inventory: a new request number, the PC's facts\n");
                for s in &r.sheets {
                    t.push_str(&format!("  + sheet {s}\n"));
                }
            }
        }
        t
    }
}

impl BlockedKind {
    /// How `--check` and the run table say it.
    pub fn describe(self) -> &'static str {
        match self {
            BlockedKind::Unreachable => "unreachable",
            BlockedKind::NoMac => "no MAC",
            BlockedKind::HostKeyChanged => "host key changed",
            BlockedKind::ProbeFailed => "probe failed",
            BlockedKind::InventoryRead => "inventory unreadable",
            BlockedKind::Refused => "refused",
            BlockedKind::NoShell => "no login shell",
            BlockedKind::NoPasswordLogin => "no password login",
            BlockedKind::Interrupted => "interrupted",
        }
    }
}

/// Counts of a set of plans: to renew, kept by policy, blocked.
pub fn counts(plans: &[PcPlan]) -> (usize, usize, usize) {
    let renew = plans.iter().filter(|p| p.renews()).count();
    let kept = plans
        .iter()
        .filter(|p| matches!(p.action, Action::Keep { .. }))
        .count();
    (renew, kept, plans.len() - renew - kept)
}
