//! The planner: one pure function from what is known of a PC to its [`PcPlan`]. Inputs: the playbook,
//! the scan's answer for the address, the inventory's records for the PC, the number a PC the
//! inventory has not numbered is given and, when the PC has a pinned key and is due for renewal, the
//! read-only probe's report (after first contact too: apply asks again, [`super::Engine::replan`]).
//! `--check` and `run` both call it, once per PC, with the same inputs: what `--check` prints is what
//! `run` applies. Among its decisions: the new account's login shell, from what the probe saw of
//! each shell `account.shell` names.

use super::plan::{Action, Adopt, Blocked, BlockedKind, NewAccount, OldAccount, PcPlan, Renew};
use super::scope::Target;
use crate::inventory::{AccountRecord, AccountState, PcRecord};
use crate::playbook::{LoginShell, Playbook, Renewal};
use crate::tasks::StepKind;
use crate::tasks::exec::Report;
use crate::tasks::scan::PortState;
use std::collections::HashSet;
use std::time::Duration;

/// What is known of a PC before any connection: the scan, the inventory, the time.
#[derive(Debug, Clone)]
pub struct Known {
    pub target: Target,
    /// The inventory's record of the PC with the MAC the scan found (its pinned key is this PC's).
    pub record: Option<PcRecord>,
    /// The accounts rdplay recorded for the PC and not yet deleted, or why they could not be read.
    pub recorded: Result<Vec<AccountRecord>, String>,
    /// Usernames the inventory holds fleet-wide (read only when `account.adopt` is set).
    pub taken: Result<HashSet<String>, String>,
    /// For a PC the inventory has not numbered: the number the run gives it (the smallest free one,
    /// the PCs met for the first time numbered in address order once the scan is complete), or why
    /// none could be given.
    pub given_number: Result<Option<u32>, String>,
    pub now: jiff::Timestamp,
}

/// What the read-only probe found.
#[derive(Debug, Clone)]
pub enum Probed {
    Report(Box<Report>),
    HostKeyChanged(String),
    /// The connection (step sftp) or the probe itself (step exec) failed.
    Failed {
        step: StepKind,
        reason: String,
    },
}

/// The planner's answer: a plan, or first the probe of a PC with this pinned key.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // made and consumed once per PC
pub enum Decision {
    Plan(PcPlan),
    Probe { host_keys: String },
}

/// The planner, with the playbook's rules compiled once.
pub struct Planner {
    pb: Playbook,
    adopt: Option<regex::Regex>,
}

impl Planner {
    /// Compiles the playbook's rules (`account.adopt` as a full-match pattern; validated already).
    pub fn new(pb: Playbook) -> Result<Planner, regex::Error> {
        let adopt = pb
            .account
            .adopt
            .as_ref()
            .map(|re| regex::Regex::new(&format!("^(?:{re})$")))
            .transpose()?;
        Ok(Planner { pb, adopt })
    }

    /// The playbook.
    pub fn playbook(&self) -> &Playbook {
        &self.pb
    }

    /// Decides a PC's plan once probed (after a [`Decision::Probe`]).
    pub fn decide_probed(&self, known: &Known, probed: &Probed) -> PcPlan {
        match self.decide(known, Some(probed)) {
            Decision::Plan(plan) => plan,
            Decision::Probe { .. } => unreachable!("the planner decides once probed"),
        }
    }

    /// Decides a PC's plan. Call with `probed: None` first; a [`Decision::Probe`] asks for the probe,
    /// then call again with its result ([`Planner::decide_probed`]).
    pub fn decide(&self, known: &Known, probed: Option<&Probed>) -> Decision {
        let t = &known.target;
        let mut plan = PcPlan {
            ip: t.ip,
            mac: t
                .mac
                .clone()
                .or_else(|| t.known_by_ip.as_ref().map(|r| r.mac.clone())),
            hostname: known
                .record
                .as_ref()
                .or(t.known_by_ip.as_ref())
                .and_then(|r| r.hostname.clone()),
            number: known
                .record
                .as_ref()
                .or(t.known_by_ip.as_ref().filter(|_| t.mac.is_none()))
                .and_then(|r| r.number),
            new_number: false,
            changes: match (probed, known.record.as_ref().and_then(|r| r.facts.as_ref())) {
                (Some(Probed::Report(report)), Some(before)) => {
                    crate::changes::diff(before, &report.facts)
                }
                _ => Vec::new(),
            },
            action: Action::Blocked(Blocked {
                step: StepKind::Scan,
                kind: BlockedKind::Unreachable,
                reason: String::new(),
            }),
        };
        let blocked = |step, kind, reason: String| Action::Blocked(Blocked { step, kind, reason });
        plan.action = if t.state != PortState::Open {
            blocked(
                StepKind::Scan,
                BlockedKind::Unreachable,
                format!(
                    "a PC recorded at this address did not answer on port {} ({})",
                    self.pb.target.port,
                    t.state.word()
                ),
            )
        } else if t.mac.is_none() {
            blocked(
                StepKind::Scan,
                BlockedKind::NoMac,
                format!("port open, but {NO_MAC}"),
            )
        } else {
            match &known.recorded {
                Err(e) => blocked(
                    StepKind::Inventory,
                    BlockedKind::InventoryRead,
                    format!("reading the recorded accounts: {e}"),
                ),
                Ok(recorded) => match recorded
                    .iter()
                    .find_map(|a| crate::tasks::exec::refusal(&a.username))
                {
                    Some(why) => blocked(StepKind::Exec, BlockedKind::Refused, why),
                    None => match keep(&self.pb.renewal, recorded, known.now) {
                        Some((account, reason)) => Action::Keep { account, reason },
                        None => match self.renewal(known, recorded, probed, &mut plan.hostname) {
                            Ok(action) => action,
                            Err(host_keys) => return Decision::Probe { host_keys },
                        },
                    },
                },
            }
        };
        if plan.renews() && plan.number.is_none() {
            match &known.given_number {
                Ok(Some(number)) => (plan.number, plan.new_number) = (Some(*number), true),
                unnumbered => {
                    let why = match unnumbered {
                        Err(e) => format!("giving the PCs their numbers: {e}"),
                        Ok(_) => "this PC was given no number".into(),
                    };
                    plan.action = blocked(StepKind::Inventory, BlockedKind::InventoryRead, why);
                }
            }
        }
        Decision::Plan(plan)
    }

    /// The renewal of a PC due for it; `Err(host keys)` when the probe must run first.
    fn renewal(
        &self,
        known: &Known,
        recorded: &[AccountRecord],
        probed: Option<&Probed>,
        hostname: &mut Option<String>,
    ) -> Result<Action, String> {
        let pinned = known.record.as_ref().and_then(|r| r.host_key.clone());
        let names: Vec<String> = recorded.iter().map(|a| a.username.clone()).collect();
        let (first_contact, delete, adopt, tools) = match (pinned, probed) {
            (None, _) => (
                Some(self.pb.exchange.admin_user.clone()),
                names
                    .iter()
                    .map(|name| OldAccount {
                        name: name.clone(),
                        on_pc: None,
                        home: None,
                        processes: None,
                        leftover_files: None,
                        leftover_bytes: None,
                        archive: self.pb.account.archive.is_some(),
                    })
                    .collect(),
                if self.adopt.is_some() {
                    Adopt::AfterFirstContact
                } else {
                    Adopt::Off
                },
                None,
            ),
            (Some(host_keys), None) => return Err(host_keys),
            (Some(_), Some(Probed::HostKeyChanged(reason))) => {
                return Ok(Action::Blocked(Blocked {
                    step: StepKind::Sftp,
                    kind: BlockedKind::HostKeyChanged,
                    reason: reason.clone(),
                }));
            }
            (Some(_), Some(Probed::Failed { step, reason })) => {
                return Ok(Action::Blocked(Blocked {
                    step: *step,
                    kind: BlockedKind::ProbeFailed,
                    reason: reason.clone(),
                }));
            }
            (Some(_), Some(Probed::Report(report))) => {
                *hostname = Some(report.facts.hostname.clone());
                let delete = names
                    .iter()
                    .map(|name| {
                        let seen = report.present.iter().find(|p| &p.name == name);
                        OldAccount {
                            name: name.clone(),
                            on_pc: Some(seen.is_some()),
                            home: seen.map(|p| p.home.clone()),
                            processes: seen.map(|p| p.processes),
                            leftover_files: seen.map(|p| p.leftover_files),
                            leftover_bytes: seen.map(|p| p.leftover_bytes),
                            archive: self.pb.account.archive.is_some() && seen.is_some(),
                        }
                    })
                    .collect();
                let adopt = match self.adoptable(report, &names, &known.taken) {
                    Ok(adopt) => adopt,
                    Err(e) => {
                        return Ok(Action::Blocked(Blocked {
                            step: StepKind::Inventory,
                            kind: BlockedKind::InventoryRead,
                            reason: format!("reading the fleet's accounts: {e}"),
                        }));
                    }
                };
                (None, delete, adopt, Some(report.tools))
            }
        };
        let walk = match probed {
            Some(Probed::Report(report)) if first_contact.is_none() => Some(report.walk.clone()),
            _ => None,
        };
        // The login shell: from what the probe saw of each candidate; before first contact, the
        // one path `account.shell` names, or none chosen yet for a preference list.
        let shells = &self.pb.account.shell;
        let shell = match probed {
            Some(Probed::Report(report)) if first_contact.is_none() => {
                match shells.choose(|path| report.shell_seen(path)) {
                    Ok(shell) => Some(shell),
                    Err(reason) => {
                        return Ok(Action::Blocked(Blocked {
                            step: StepKind::Exec,
                            kind: BlockedKind::NoShell,
                            reason,
                        }));
                    }
                }
            }
            _ => match shells {
                LoginShell::Path(path) => Some(path.clone()),
                LoginShell::Prefer(_) => None,
            },
        };
        let mac = known
            .target
            .mac
            .as_ref()
            .map(|m| m.bare())
            .unwrap_or_default();
        let mut sheets = Vec::new();
        for f in &self.pb.output.formats {
            let ext = crate::render::Format::from(*f).extension();
            sheets.push(format!("users/<new account>.{ext}"));
            sheets.push(format!("pcs/{mac}.{ext}"));
        }
        Ok(Action::Renew(Renew {
            first_contact,
            delete,
            adopt,
            create: NewAccount {
                pattern: self.pb.account.pattern.clone(),
                shell,
                shell_prefer: match shells {
                    LoginShell::Path(_) => Vec::new(),
                    LoginShell::Prefer(paths) => paths.clone(),
                },
                groups: self.pb.account.groups.clone(),
                home_base: self.pb.account.home_base.display().to_string(),
                password_length: self.pb.password.length,
            },
            sheets,
            archive: self.pb.account.archive.clone(),
            tools,
            walk,
        }))
    }

    /// The local accounts of a probe that `account.adopt` selects: matching the pattern, not recorded
    /// by rdplay for this PC, not held by any PC in the inventory. The helper still refuses any with
    /// uid < 1000 or root.
    pub fn adoptable(
        &self,
        report: &Report,
        recorded: &[String],
        taken: &Result<HashSet<String>, String>,
    ) -> Result<Adopt, String> {
        let Some(pattern) = &self.adopt else {
            return Ok(Adopt::Off);
        };
        let taken = taken.as_ref().map_err(Clone::clone)?;
        Ok(Adopt::Accounts(
            report
                .local
                .iter()
                .filter(|u| pattern.is_match(u) && !recorded.contains(u) && !taken.contains(*u))
                .cloned()
                .collect(),
        ))
    }

    /// Whether planning needs the fleet's usernames (only `account.adopt` does).
    pub fn needs_taken(&self) -> bool {
        self.adopt.is_some()
    }
}

/// Why a PC whose port answers cannot be renewed when the controller has no MAC for it.
pub const NO_MAC: &str = "no MAC in the neighbour table: rdplay identifies each PC by its MAC, \
    which it learns only on the PCs' own LAN (not across a router, nor from another VLAN)";

/// The account kept and why, under a `renewal: { older_than: ... }` policy; `None` when the PC is
/// renewed. Only a single live account younger than the limit is kept: a pending one (a run that did
/// not finish) is always renewed.
fn keep(
    renewal: &Renewal,
    records: &[AccountRecord],
    now: jiff::Timestamp,
) -> Option<(String, String)> {
    let Renewal::OlderThan(limit) = renewal else {
        return None;
    };
    let [account] = records else {
        return None;
    };
    if account.state != AccountState::Live {
        return None;
    }
    let age = now.duration_since(account.created_at).unsigned_abs();
    // The reason names the creation time, not the age: the same words for `--check` and the run.
    (age < *limit).then(|| {
        (
            account.username.clone(),
            format!(
                "kept: {} was created {}, renewed once older than {} (`--renew-recent` renews it now)",
                account.username,
                account.created_at.strftime("%Y-%m-%d %H:%M UTC"),
                human(*limit)
            ),
        )
    })
}

fn human(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..120 => format!("{s} s"),
        120..7200 => format!("{} min", s / 60),
        7200..172800 => format!("{} h", s / 3600),
        _ => format!("{} d", s / 86400),
    }
}
