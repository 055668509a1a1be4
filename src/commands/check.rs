//! `rdplay run --check`: the plan of every PC, made by the same engine as a run (scan, triage, the
//! PCs' numbers, the inventory's records, the read-only probe, the planner, forks and Ctrl-C), then
//! printed instead of applied. Nothing is written anywhere, on the PCs or on the controller.

use super::run::{RunArgs, RunError, private_tempdir, sigint, ssh_settings};
use crate::engine::plan::{Action, Blocked, BlockedKind, PcPlan};
use crate::engine::scope::Scope;
use crate::engine::{Engine, Observer, driver};
use crate::inventory::Inventory;
use crate::playbook::Playbook;
use crate::remote::Connection;
use crate::remote::openssh::OpenSsh;
use crate::tasks::StepKind;
use std::sync::Arc;

/// The plans of a `--check`.
pub struct CheckReport {
    /// One plan per PC, in address order.
    pub plans: Vec<PcPlan>,
    /// Addresses without SSH and without a PC on record.
    pub skipped: usize,
    pub interrupted: bool,
    /// The playbook's `inventory.fail_on`: changes this severe make `--check` exit 3.
    pub fail_on: Option<crate::changes::Severity>,
}

/// Plans every PC of the playbook's scope.
pub async fn check(
    pb: Playbook,
    args: &RunArgs,
    observer: Arc<dyn Observer>,
) -> Result<CheckReport, RunError> {
    let sigint = sigint()?;
    let inventory = Inventory::to_read(&pb.inventory, &pb.site)?;
    let scope = Scope::new(&pb, &inventory, &args.limit)?;
    let ssh_dir = private_tempdir("rdplay-check-")?;
    let forks = args.forks.unwrap_or(pb.connection.forks).max(1);
    let connector = OpenSsh::new(ssh_settings(&pb, ssh_dir.path())?, None);
    let fail_on = pb.inventory.fail_on;
    let engine = Engine::new(pb, connector, inventory, observer)?;
    let driven = driver::drive(
        &engine,
        &scope,
        forks,
        sigint,
        |engine, target| async move {
            let ip = target.ip;
            let (mut plan, conn) = engine.plan_pc(target).await;
            if let Some(conn) = conn {
                conn.close().await;
            }
            // A new PC: would first contact log in at all? (No password is sent to learn it.)
            if let Action::Renew(renew) = &plan.action
                && let Some(admin) = &renew.first_contact
                && let Some(refused) = engine.connector.first_contact_refused(ip, admin).await
            {
                plan.action = Action::Blocked(Blocked {
                    step: StepKind::Exchange,
                    kind: BlockedKind::NoPasswordLogin,
                    reason: refused.to_string(),
                });
            }
            let blocked = matches!(plan.action, Action::Blocked(_));
            engine.finished(ip, !blocked);
            plan
        },
        |target, stopped| PcPlan {
            ip: target.ip,
            mac: target.mac.clone(),
            hostname: None,
            number: None,
            new_number: false,
            changes: Vec::new(),
            action: Action::Blocked(stopped),
        },
    )
    .await;
    let mut plans = driven.results;
    plans.sort_by_key(|p| p.ip);
    Ok(CheckReport {
        plans,
        skipped: driven.skipped,
        interrupted: driven.interrupted,
        fail_on,
    })
}
