//! Inventory step: the journal around a PC's change. Before exec: [`intend`] records the new account as
//! pending (synced). After exec: [`record`] marks the old accounts deleted and stores the facts.

use super::exec::Renewed;
use super::{StepError, StepKind};
use crate::inventory::{Intent, Inventory, Renewal, RunId};

/// Records the intended change before anything changes on the PC.
pub async fn intend(
    inventory: &Inventory,
    run: RunId,
    up: &super::sftp::Uploaded,
    request: &str,
    new_username: &str,
    old: &[String],
) -> Result<(), StepError> {
    let pc = &up.trusted.pc;
    inventory
        .intend(Intent {
            run,
            mac: pc.mac.as_str().to_string(),
            ip: pc.ip,
            request: request.to_string(),
            new_username: new_username.to_string(),
            old_usernames: old.to_vec(),
        })
        .await
        .map_err(|e| StepError::new(StepKind::Inventory, format!("recording the intent: {e}")))
}

/// Records what exec did: old accounts deleted, the new one created, the facts.
pub async fn record(
    inventory: &Inventory,
    run: RunId,
    renewed: &Renewed,
    request: &str,
) -> Result<(), StepError> {
    let pc = &renewed.uploaded.trusted.pc;
    let mut deleted = renewed.report.deleted.clone();
    // Accounts already absent from the PC are gone too: record them as deleted.
    deleted.extend(renewed.report.absent.iter().cloned());
    inventory
        .renewed(Renewal {
            run,
            mac: pc.mac.as_str().to_string(),
            request: request.to_string(),
            new_username: renewed.report.created.clone().unwrap_or_default(),
            deleted,
            hostname: renewed.report.facts.hostname.clone(),
            facts: renewed.report.facts.clone(),
        })
        .await
        .map_err(|e| StepError::new(StepKind::Inventory, format!("recording the renewal: {e}")))
}
