//! The plan: per PC, what a run would change. `rdplay run --check` builds it with read-only probes and
//! prints it (text or JSON); nothing is written anywhere, on the PCs or on the controller.

use crate::inventory::Inventory;
use crate::playbook::Playbook;
use crate::run::RunArgs;
use crate::ssh::{Master, SshSettings};
use crate::tasks::scan::PortState;
use serde::Serialize;
use std::net::Ipv4Addr;
use std::time::Duration;

/// Output format of `--check`.
#[derive(Debug, Clone, Copy, clap::ValueEnum, Default)]
pub enum PlanFormat {
    #[default]
    Text,
    Json,
}

/// One PC's plan.
#[derive(Debug, Serialize)]
pub struct PcPlan {
    pub ip: Ipv4Addr,
    pub mac: Option<String>,
    pub hostname: Option<String>,
    pub status: Status,
    pub changes: Vec<Change>,
}

/// Whether the PC would be renewed.
#[derive(Debug, Serialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Status {
    /// Known and probed: the changes listed would happen.
    Renew,
    /// Never contacted: the key exchange comes first; what is on the PC cannot be known before it.
    KeyExchangeNeeded { admin: String },
    /// A PC the inventory knows did not answer.
    Unreachable { reason: String },
    /// The PC presents a host key other than the pinned one.
    HostKeyChanged,
    /// The probe failed.
    ProbeFailed { reason: String },
    /// The renewal policy keeps the current account this time.
    Kept { reason: String },
}

/// One change a run would make.
#[derive(Debug, Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Change {
    DeleteAccount {
        name: String,
        home: Option<String>,
        processes: Option<u32>,
        on_pc: bool,
    },
    AdoptAccount {
        name: String,
    },
    CreateAccount {
        name: String,
        shell: String,
        password: String,
    },
    Inventory {
        request: String,
        facts: bool,
    },
    Sheet {
        path: String,
    },
}

/// The whole plan.
#[derive(Debug, Serialize)]
pub struct Plan {
    pub playbook: String,
    pub pcs: Vec<PcPlan>,
    pub skipped_addresses: usize,
}

impl Plan {
    fn counts(&self) -> (usize, usize, usize) {
        let renew = self
            .pcs
            .iter()
            .filter(|p| matches!(p.status, Status::Renew | Status::KeyExchangeNeeded { .. }))
            .count();
        let kept = self
            .pcs
            .iter()
            .filter(|p| matches!(p.status, Status::Kept { .. }))
            .count();
        let failing = self.pcs.len() - renew - kept;
        (renew, self.skipped_addresses + kept, failing)
    }

    /// The plan as a diff per PC and a summary line.
    pub fn text(&self) -> String {
        use crate::text::inert;
        let mut t = String::new();
        for pc in &self.pcs {
            t.push_str(&format!(
                "{} {} {}\n",
                inert(pc.hostname.as_deref().unwrap_or("?"), 64),
                pc.ip,
                pc.mac.as_deref().unwrap_or("?")
            ));
            match &pc.status {
                Status::Renew => {}
                Status::KeyExchangeNeeded { admin } => t.push_str(&format!(
                    "  ! key exchange needed (first contact as {admin}; accounts on the PC cannot be listed before it)\n"
                )),
                Status::Unreachable { reason } => t.push_str(&format!("  ! unreachable: {}\n", inert(reason, 200))),
                Status::HostKeyChanged => t.push_str("  ! host key changed: this PC would be refused\n"),
                Status::ProbeFailed { reason } => t.push_str(&format!("  ! probe failed: {}\n", inert(reason, 200))),
                Status::Kept { reason } => t.push_str(&format!("  = {reason}\n")),
            }
            for c in &pc.changes {
                t.push_str(&match c {
                    Change::DeleteAccount {
                        name,
                        home,
                        processes,
                        on_pc: true,
                    } => format!(
                        "  - delete account {name} (home {}, {} processes)\n",
                        inert(home.as_deref().unwrap_or("?"), 100),
                        processes.unwrap_or(0)
                    ),
                    Change::DeleteAccount { name, .. } => {
                        format!(
                            "  - forget account {name} (recorded, already absent from the PC)\n"
                        )
                    }
                    Change::AdoptAccount { name } => {
                        format!("  - adopt and delete account {name} (matches account.adopt)\n")
                    }
                    Change::CreateAccount {
                        name,
                        shell,
                        password,
                    } => {
                        format!("  + create account {name} (shell {shell}, password {password})\n")
                    }
                    Change::Inventory { request, .. } => {
                        format!("  ~ inventory: request {request}, facts\n")
                    }
                    Change::Sheet { path } => format!("  + sheet {path}\n"),
                });
            }
        }
        let (renew, skip, failing) = self.counts();
        t.push_str(&format!(
            "plan: {renew} PCs to renew, {skip} addresses to skip, {failing} PCs failing\n"
        ));
        t
    }
}

/// Why a PC's account is kept this time under a `renewal: { older_than: ... }` policy, or `None` when it
/// is renewed. Used by `run` and `--check` alike. Only a single live account younger than the limit is
/// kept: a pending one (a run that did not finish) is always renewed.
pub fn keep_reason(
    renewal: &crate::playbook::Renewal,
    records: &[crate::inventory::AccountRecord],
    now: jiff::Timestamp,
) -> Option<String> {
    let crate::playbook::Renewal::OlderThan(limit) = renewal else {
        return None;
    };
    let [account] = records else {
        return None;
    };
    if account.state != crate::inventory::AccountState::Live {
        return None;
    }
    let age = now.duration_since(account.created_at).unsigned_abs();
    (age < *limit).then(|| {
        format!(
            "kept: {} is {} old, renewed once older than {}",
            account.username,
            human(age),
            human(*limit)
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

/// Runs `rdplay run --check`: returns 0 (nothing to change), 2 (changes pending), 3 (some PCs could not
/// be probed) or 1 (could not run).
pub async fn check(pb: Playbook, args: RunArgs) -> u8 {
    use crate::cli::exit;
    match build(&pb, &args).await {
        Ok(plan) => {
            match args.format {
                PlanFormat::Text => print!("{}", plan.text()),
                PlanFormat::Json => match serde_json::to_string_pretty(&plan) {
                    Ok(j) => println!("{j}"),
                    Err(e) => {
                        eprintln!("error: {e}");
                        return exit::FAILURE;
                    }
                },
            }
            let (renew, _, failing) = plan.counts();
            if failing > 0 {
                exit::SOME_FAILED
            } else if renew > 0 {
                exit::CHANGES_PENDING
            } else {
                exit::OK
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            exit::FAILURE
        }
    }
}

async fn build(pb: &Playbook, args: &RunArgs) -> Result<Plan, crate::run::RunError> {
    let inventory = Inventory::open_read_only(&pb.inventory.path)?;
    let crate::run::Scope {
        to_scan,
        limit,
        timeout,
        ..
    } = crate::run::Scope::new(pb, &inventory, &args.limit)?;
    let results: Vec<_> = crate::tasks::scan::scan(&to_scan, pb.target.port, timeout, 256)
        .await
        .into_iter()
        .filter(|r| limit.keeps(r.ip, r.mac.as_ref().map(|m| m.as_str())))
        .collect();
    // A private temporary directory for ssh's sockets and known_hosts, removed on return.
    let tmp = tempfile::Builder::new()
        .prefix("rdplay-check-")
        .tempdir()
        .map_err(|source| crate::run::RunError::Io {
            what: "creating a temporary directory".into(),
            source,
        })?;
    let ssh = crate::run::ssh_settings(pb, tmp.path());
    let mut skipped = 0;
    let mut tasks = tokio::task::JoinSet::new();
    let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(pb.connection.forks.max(1)));
    let shared = std::sync::Arc::new((pb.clone(), inventory.clone(), ssh));
    for r in results {
        let known = inventory.pc_by_ip(r.ip).ok().flatten();
        if r.state != PortState::Open && known.is_none() {
            skipped += 1;
            continue;
        }
        let shared = shared.clone();
        let slots = slots.clone();
        tasks.spawn(async move {
            let _slot = slots.acquire_owned().await;
            plan_pc(&shared.0, &shared.1, &shared.2, r, known).await
        });
    }
    let mut pcs = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        if let Ok(plan) = joined {
            pcs.push(plan);
        }
    }
    pcs.sort_by_key(|p| p.ip);
    Ok(Plan {
        playbook: pb.path.display().to_string(),
        pcs,
        skipped_addresses: skipped,
    })
}

async fn plan_pc(
    pb: &Playbook,
    inventory: &Inventory,
    ssh: &SshSettings,
    r: crate::tasks::scan::ScanResult,
    known_by_ip: Option<crate::inventory::PcRecord>,
) -> PcPlan {
    let mac = r.mac.as_ref().map(|m| m.to_string());
    let known = match &mac {
        Some(m) => inventory.pc(m).ok().flatten(),
        None => None,
    };
    let mut plan = PcPlan {
        ip: r.ip,
        mac: mac
            .clone()
            .or_else(|| known_by_ip.as_ref().map(|k| k.mac.clone())),
        hostname: known
            .as_ref()
            .or(known_by_ip.as_ref())
            .and_then(|k| k.hostname.clone()),
        status: Status::Renew,
        changes: Vec::new(),
    };
    if r.state != PortState::Open {
        plan.status = Status::Unreachable {
            reason: format!("port {}: {}", pb.target.port, r.state.word()),
        };
        return plan;
    }
    let Some(mac) = mac else {
        plan.status = Status::ProbeFailed {
            reason: "no MAC in the neighbour table".into(),
        };
        return plan;
    };
    let recorded = inventory.accounts_to_remove(&mac).unwrap_or_default();
    if let Some(reason) = keep_reason(&pb.renewal, &recorded, jiff::Timestamp::now()) {
        plan.status = Status::Kept { reason };
        return plan;
    }
    let hostname = plan.hostname.clone().unwrap_or_default();
    match known
        .and_then(|k| k.host_key)
        .filter(|k| !k.trim().is_empty())
    {
        None => {
            plan.status = Status::KeyExchangeNeeded {
                admin: pb.exchange.admin_user.clone(),
            };
            for a in &recorded {
                plan.changes.push(Change::DeleteAccount {
                    name: a.username.clone(),
                    home: None,
                    processes: None,
                    on_pc: true,
                });
            }
        }
        Some(keys) => {
            let names: Vec<String> = recorded.iter().map(|a| a.username.clone()).collect();
            match probe(ssh, r.ip, &keys, &names, pb.connection.step_timeout).await {
                Ok(report) => {
                    plan.hostname = Some(report.facts.hostname.clone());
                    for p in &report.present {
                        plan.changes.push(Change::DeleteAccount {
                            name: p.name.clone(),
                            home: Some(p.home.clone()),
                            processes: Some(p.processes),
                            on_pc: true,
                        });
                    }
                    if let Ok(Some(adopt)) = crate::run::compile_adopt(&pb.account.adopt) {
                        let taken = inventory.usernames_in_use().unwrap_or_default();
                        for name in crate::tasks::exec::adoptable(&report, &adopt, &names, &taken) {
                            plan.changes.push(Change::AdoptAccount { name });
                        }
                    }
                    for a in &report.absent {
                        plan.changes.push(Change::DeleteAccount {
                            name: a.clone(),
                            home: None,
                            processes: None,
                            on_pc: false,
                        });
                    }
                }
                Err(ProbeError::HostKey) => {
                    plan.status = Status::HostKeyChanged;
                    return plan;
                }
                Err(ProbeError::Other(reason)) => {
                    plan.status = Status::ProbeFailed { reason };
                    return plan;
                }
            }
        }
    }
    // The same naming and policy code as a run; the name shown is an example when the pattern is random.
    let vars = crate::playbook::NameVars {
        site: pb.site.clone(),
        index: pb
            .target
            .addresses()
            .iter()
            .position(|a| *a == r.ip)
            .map_or(0, |p| p as u32 + 1),
        ip: r.ip,
        hostname: plan.hostname.clone().unwrap_or(hostname),
        mac: mac.clone(),
        request: "REQ-(allocated by the run)".into(),
        date: jiff::Zoned::now().date(),
    };
    let name = pb
        .account
        .username(&vars)
        .unwrap_or_else(|e| format!("(pattern error: {e})"));
    let mask = "*".repeat(pb.password.length);
    plan.changes.push(Change::CreateAccount {
        name: name.clone(),
        shell: pb.account.shell.clone(),
        password: mask,
    });
    plan.changes.push(Change::Inventory {
        request: "REQ-(allocated by the run)".into(),
        facts: true,
    });
    for f in crate::run::render_formats(&pb.output.formats) {
        let ext = f.extension();
        plan.changes.push(Change::Sheet {
            path: format!("users/{name}.{ext}"),
        });
        plan.changes.push(Change::Sheet {
            path: format!("pcs/{}.{ext}", mac.replace(':', "")),
        });
    }
    plan
}

enum ProbeError {
    HostKey,
    Other(String),
}

async fn probe(
    ssh: &SshSettings,
    ip: Ipv4Addr,
    keys: &str,
    names: &[String],
    timeout: Duration,
) -> Result<crate::tasks::exec::Report, ProbeError> {
    if !ssh.identity.exists() {
        return Err(ProbeError::Other(
            "no controller key yet (a run creates it)".into(),
        ));
    }
    let kh = ssh
        .pinned_known_hosts(ip, keys)
        .map_err(|e| ProbeError::Other(e.to_string()))?;
    let master = Master::connect(ssh, ip, &kh).await.map_err(|e| match e {
        crate::ssh::SshError::HostKeyChanged { .. } => ProbeError::HostKey,
        e => ProbeError::Other(e.to_string()),
    })?;
    let report = crate::tasks::exec::probe(&master, names, timeout).await;
    master.close().await;
    report.map_err(|e| ProbeError::Other(e.to_string()))
}
