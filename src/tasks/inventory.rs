//! Inventory step: the journal around a PC's change. Before exec: [`intend`] records the new account as
//! pending (synced). After exec: [`record`] marks the old accounts deleted and stores the facts, the new
//! account's uid and login shell and what the old ones left outside their homes.

use super::exec::Report;
use super::scan::Reachable;
use super::{StepError, StepKind};
use crate::inventory::{Intent, Renewal, RunId, Store};

/// Records the intended change before anything changes on the PC.
pub async fn intend<S: Store>(
    store: &S,
    run: RunId,
    pc: &Reachable,
    request: &str,
    new_username: &str,
    old: &[String],
    number: u32,
) -> Result<(), StepError> {
    store
        .intend(Intent {
            run,
            mac: pc.mac.clone(),
            ip: pc.ip,
            request: request.to_string(),
            new_username: new_username.to_string(),
            old_usernames: old.to_vec(),
            number: Some(number),
        })
        .await
        .map_err(|e| StepError::caused(StepKind::Inventory, "recording the intent", e))
}

/// Records what exec did: old accounts deleted (absent ones too), the new one created, the facts.
pub async fn record<S: Store>(
    store: &S,
    run: RunId,
    pc: &Reachable,
    report: &Report,
    request: &str,
    history: u32,
) -> Result<(), StepError> {
    let leftovers = report.leftovers();
    store
        .renewed(Renewal {
            run,
            mac: pc.mac.clone(),
            request: request.to_string(),
            new_username: report.created.clone().unwrap_or_default(),
            uid: report.created_uid,
            shell: report.created_shell.clone(),
            deleted: gone(report),
            leftover_files: leftovers.files,
            leftover_bytes: leftovers.bytes,
            hostname: report.facts.hostname.clone(),
            facts: report.facts.clone(),
            history,
        })
        .await
        .map_err(|e| StepError::caused(StepKind::Inventory, "recording the renewal", e))
}

/// The accounts a renewal's report says are gone: deleted, or already absent.
pub fn gone(report: &Report) -> Vec<String> {
    let mut gone = report.deleted.clone();
    gone.extend(report.absent.iter().cloned());
    gone
}
