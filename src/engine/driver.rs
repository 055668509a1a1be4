//! The driver: scans the scope and starts each PC's work as soon as its address answers, at most
//! `forks` at once, so silent addresses hold nobody up and one PC's failure or hang never holds up
//! another. Ctrl-C stops every PC. `run` and `--check` both go through it.
//!
//! Once the scan is done, the PCs are given their numbers ([`Engine::give_numbers`]; the plan of a
//! PC met for the first time waits for it), and a recorded PC that did not answer at its last address
//! is planned, unless its MAC answered at another address ([`super::scope::Answered::moved`]: DHCP
//! moved it; it is that PC, not a missing one).

use super::Engine;
use super::plan::Blocked;
use super::scope::{Answered, Scope, Target, Triage};
use crate::inventory::Store;
use crate::remote::Connector;
use crate::tasks::scan::PortState;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

/// What driving a scope gave.
pub struct Driven<T> {
    /// One result per PC, in address order.
    pub results: Vec<T>,
    /// Addresses without SSH and without a PC on record.
    pub skipped: usize,
    /// Whether Ctrl-C stopped the work.
    pub interrupted: bool,
}

/// Runs `per_pc` for every PC of the scope, `forks` at once. `stopped` makes the result of a PC whose
/// work was stopped (Ctrl-C, or a panic in its task) from its target and its label
/// ([`Blocked::stopped`], at the step the PC was in).
pub async fn drive<C, S, T, F, Fut>(
    engine: &Arc<Engine<C, S>>,
    scope: &Scope,
    forks: usize,
    mut sigint: tokio::signal::unix::Signal,
    per_pc: F,
    stopped: impl Fn(&Target, Blocked) -> T,
) -> Driven<T>
where
    C: Connector,
    S: Store,
    T: Send + 'static,
    F: Fn(Arc<Engine<C, S>>, Target) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
{
    let port = engine.planner.playbook().target.port;
    let mut found =
        crate::tasks::scan::scan_stream(scope.to_scan.clone(), port, scope.timeout, 256);
    let slots = Arc::new(tokio::sync::Semaphore::new(forks.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    let mut pending: HashMap<tokio::task::Id, Target> = HashMap::new();
    let mut driven = Driven {
        results: Vec::new(),
        skipped: 0,
        interrupted: false,
    };
    let start = |target: Target,
                 tasks: &mut tokio::task::JoinSet<T>,
                 pending: &mut HashMap<tokio::task::Id, Target>| {
        engine.found(target.ip);
        let (slots, this) = (Arc::clone(&slots), target.clone());
        let work = per_pc(Arc::clone(engine), target);
        let handle = tasks.spawn(async move {
            let _slot = slots.acquire_owned().await;
            work.await
        });
        pending.insert(handle.id(), this);
    };
    let (mut answered, mut silent) = (Answered::default(), Vec::new());
    let mut scanning = true;
    loop {
        tokio::select! {
            result = found.recv(), if scanning && !driven.interrupted => match result {
                Some(r) => match scope.triage(&engine.store, r) {
                    Triage::Target(target) if target.state != PortState::Open => silent.push(target),
                    Triage::Target(target) => {
                        answered.note(&target);
                        start(target, &mut tasks, &mut pending);
                    }
                    Triage::Skip => driven.skipped += 1,
                    Triage::Excluded => {}
                },
                None => {
                    scanning = false;
                    engine.give_numbers(&answered.macs());
                    for target in std::mem::take(&mut silent) {
                        match answered.moved(&target) {
                            Some(to) => tracing::info!(ip = %target.ip, %to, "the PC recorded here answered at another address (DHCP moved it)"),
                            None => start(target, &mut tasks, &mut pending),
                        }
                    }
                    tracing::info!(pcs = pending.len() + driven.results.len(), skipped = driven.skipped, "scan done");
                }
            },
            joined = tasks.join_next_with_id(), if !tasks.is_empty() => match joined {
                Some(Ok((id, result))) => {
                    pending.remove(&id);
                    driven.results.push(result);
                }
                Some(Err(e)) => {
                    if let Some(target) = pending.remove(&e.id()) {
                        let label = Blocked::stopped(engine.step_of(target.ip), e.is_panic());
                        driven.results.push(stopped(&target, label));
                    }
                }
                None => {}
            },
            _ = sigint.recv(), if !driven.interrupted => {
                driven.interrupted = true;
                tracing::warn!("interrupted: stopping every PC (the journal keeps what was begun)");
                tasks.abort_all();
            }
        }
        if (!scanning || driven.interrupted) && tasks.is_empty() {
            break;
        }
    }
    driven
}
