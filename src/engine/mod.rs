//! The engine: from a scope of addresses to one plan per PC, and — for `run` — to those plans
//! applied. `--check` and `run` share all of it up to the plan: the scan and its triage
//! ([`scope`]), what is read of each PC ([`Engine::plan_pc`]: the inventory, then the read-only probe
//! when the [`planner`] asks for it), the planner itself and the [`driver`] (forks, SIGINT,
//! progress). Only `run` goes on to [`apply`] and the [`effects`].
//!
//! The engine reaches PCs through [`crate::remote::Connector`], the inventory through
//! [`crate::inventory::Store`], and reports progress through [`Observer`]; it prints nothing.

pub mod apply;
pub mod audit;
pub mod driver;
pub mod effects;
pub mod fleet;
pub mod outcome;
pub mod plan;
pub mod planner;
pub mod scope;

use crate::inventory::Store;
use crate::mac::Mac;
use crate::remote::{Connection, Connector, SshError};
use crate::tasks::StepKind;
use crate::tasks::scan::PortState;
use plan::PcPlan;
use planner::{Decision, Known, Planner, Probed};
use scope::Target;
use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};

/// Told where each PC is, for a progress display. Implementations must be cheap and never block.
pub trait Observer: Send + Sync {
    /// The scan found one more PC.
    fn found(&self, _ip: Ipv4Addr) {}
    /// A PC entered a step.
    fn enter(&self, _ip: Ipv4Addr, _step: StepKind) {}
    /// A PC is done.
    fn finished(&self, _ip: Ipv4Addr, _ok: bool) {}
}

/// An observer that ignores everything.
pub struct Silent;
impl Observer for Silent {}

/// The numbers given to the PCs that answered a scan, once it is complete (or why they could not be).
type Given = Option<Result<Arc<HashMap<Mac, u32>>, String>>;

/// What every PC's work shares.
pub struct Engine<C: Connector, S: Store> {
    pub planner: Planner,
    pub connector: C,
    pub store: S,
    observer: Arc<dyn Observer>,
    /// The step each PC last entered: where a PC whose work is stopped was.
    steps: Mutex<HashMap<Ipv4Addr, StepKind>>,
    /// The PCs' numbers, given once the scan is complete ([`Engine::give_numbers`]).
    numbers: tokio::sync::watch::Sender<Given>,
    /// First contact's guard against a wrong admin password.
    pub first_contacts: crate::tasks::gate::FirstContactGate,
}

impl<C: Connector, S: Store> Engine<C, S> {
    /// The engine of a playbook (its rules compiled once).
    pub fn new(
        pb: crate::playbook::Playbook,
        connector: C,
        store: S,
        observer: Arc<dyn Observer>,
    ) -> Result<Arc<Self>, regex::Error> {
        Ok(Arc::new(Engine {
            planner: Planner::new(pb)?,
            connector,
            store,
            observer,
            steps: Mutex::new(HashMap::new()),
            numbers: tokio::sync::watch::Sender::new(None),
            first_contacts: Default::default(),
        }))
    }

    /// The scan found a PC at `ip`.
    pub fn found(&self, ip: Ipv4Addr) {
        self.observer.found(ip);
    }

    /// A PC entered a step.
    pub fn enter(&self, ip: Ipv4Addr, step: StepKind) {
        if let Ok(mut steps) = self.steps.lock() {
            steps.insert(ip, step);
        }
        self.observer.enter(ip, step);
    }

    /// A PC is done.
    pub fn finished(&self, ip: Ipv4Addr, ok: bool) {
        self.observer.finished(ip, ok);
    }

    /// The step the PC at `ip` last entered (`scan` before any).
    pub fn step_of(&self, ip: Ipv4Addr) -> StepKind {
        self.steps
            .lock()
            .ok()
            .and_then(|steps| steps.get(&ip).copied())
            .unwrap_or(StepKind::Scan)
    }

    /// Gives the PCs their numbers once the scan is complete: `answered` are the MACs that answered,
    /// in address order; those the inventory has not numbered get the smallest free numbers in that
    /// order. A plan that needs a new number waits for this.
    pub fn give_numbers(&self, answered: &[Mac]) {
        let given = self
            .store
            .numbers_for(answered)
            .map(Arc::new)
            .map_err(|e| e.to_string());
        self.numbers.send_replace(Some(given));
    }

    /// The number given to the PC with `mac` (waits for the end of the scan).
    async fn given_number(&self, mac: &Mac) -> Result<Option<u32>, String> {
        let mut numbers = self.numbers.subscribe();
        let given = numbers
            .wait_for(Option::is_some)
            .await
            .map_err(|_| "the scan ended without PC numbers".to_string())?;
        match given.as_ref() {
            Some(Ok(numbers)) => Ok(numbers.get(mac).copied()),
            Some(Err(e)) => Err(e.clone()),
            None => Ok(None),
        }
    }

    /// Reads what the planner needs of one PC and returns its plan, with the connection the probe
    /// opened when the plan renews the PC (`run` applies over it; `--check` closes it).
    pub async fn plan_pc(&self, target: Target) -> (PcPlan, Option<C::Conn>) {
        let known = self.known(target).await;
        let (plan, conn) = match self.planner.decide(&known, None) {
            Decision::Plan(plan) => (plan, None),
            Decision::Probe { host_keys } => {
                let ip = known.target.ip;
                self.enter(ip, StepKind::Sftp);
                match self.connector.connect(ip, &host_keys).await {
                    Err(e @ SshError::HostKeyChanged { .. }) => {
                        let probed = Probed::HostKeyChanged(e.to_string());
                        (self.planner.decide_probed(&known, &probed), None)
                    }
                    Err(e) => {
                        let probed = Probed::Failed {
                            step: StepKind::Sftp,
                            reason: e.to_string(),
                        };
                        (self.planner.decide_probed(&known, &probed), None)
                    }
                    Ok(conn) => {
                        let probed = self.probe(&known, &conn).await;
                        (self.planner.decide_probed(&known, &probed), Some(conn))
                    }
                }
            }
        };
        match conn {
            Some(conn) if !plan.renews() => {
                conn.close().await;
                (plan, None)
            }
            conn => (plan, conn),
        }
    }

    /// The plan of a PC just met, made again once first contact has pinned its key and `conn` is open:
    /// the planner decides from the inventory, read again, and the read-only probe over `conn`, as for
    /// any known PC, so apply goes on with what the planner decided (the accounts on the PC, those to
    /// adopt, its name).
    pub async fn replan(&self, target: Target, conn: &C::Conn) -> PcPlan {
        let known = self.known(target).await;
        match self.planner.decide(&known, None) {
            Decision::Plan(plan) => plan,
            Decision::Probe { .. } => {
                let probed = self.probe(&known, conn).await;
                self.planner.decide_probed(&known, &probed)
            }
        }
    }

    /// The inventory's view of a PC, and the number a new PC is given. A failed read is kept as the
    /// error: the planner blocks the PC.
    async fn known(&self, target: Target) -> Known {
        let mut recorded = Ok(Vec::new());
        let mut record = None;
        if let Some(mac) = &target.mac {
            match self.store.pc(mac) {
                Ok(r) => record = r,
                Err(e) => recorded = Err(e.to_string()),
            }
            if recorded.is_ok() {
                recorded = self
                    .store
                    .accounts_to_remove(mac)
                    .map_err(|e| e.to_string());
            }
        }
        let taken = if self.planner.needs_taken() {
            self.store.usernames_in_use().map_err(|e| e.to_string())
        } else {
            Ok(Default::default())
        };
        let numbered = record.as_ref().is_some_and(|r| r.number.is_some());
        let given_number = match &target.mac {
            Some(mac) if target.state == PortState::Open && !numbered => {
                self.given_number(mac).await
            }
            _ => Ok(None),
        };
        Known {
            target,
            record,
            recorded,
            taken,
            given_number,
            now: jiff::Timestamp::now(),
        }
    }

    /// Runs the read-only probe over `conn` (the recorded accounts are the ones it looks for, and
    /// the login shells `account.shell` names).
    async fn probe(&self, known: &Known, conn: &C::Conn) -> Probed {
        let names: Vec<String> = match &known.recorded {
            Ok(r) => r.iter().map(|a| a.username.clone()).collect(),
            Err(_) => Vec::new(),
        };
        let timeout = self.planner.playbook().connection.step_timeout;
        let shells = self.planner.playbook().account.shell.candidates();
        match crate::tasks::exec::probe(conn, &names, shells, timeout).await {
            Ok(report) => Probed::Report(Box::new(report)),
            Err(e) => Probed::Failed {
                step: StepKind::Exec,
                reason: e.reason(),
            },
        }
    }
}

#[cfg(test)]
mod tests;
