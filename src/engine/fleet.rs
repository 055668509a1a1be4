//! What a run learns across the fleet once every PC is done: PCs that share an identity (cloned
//! from one disk image), and strangers (they answer on the SSH port, but first contact fails: not
//! PCs of ours, and left untouched). Recorded with the PCs' own fact changes as the run's events.

use super::outcome::{Outcome, PcReport};
use crate::changes::Severity;
use crate::inventory::{Event, EventFilter, EventRecord, RunId, Store};
use crate::tasks::StepKind;

/// Records the fleet-wide events of `run` and returns every event the run recorded (fact changes
/// included), oldest first.
pub async fn events_of_run<S: Store>(
    store: &S,
    run: RunId,
    pcs: &[PcReport],
) -> Result<Vec<EventRecord>, crate::inventory::InventoryError> {
    let mut found = store.identity_conflicts()?;
    found.extend(pcs.iter().filter_map(stranger));
    store.record_events(run, found).await?;
    store.events(EventFilter::Run(run))
}

/// A PC whose first contact failed: something that speaks SSH but is not ours.
fn stranger(pc: &PcReport) -> Option<Event> {
    let Outcome::Failed(e) = &pc.outcome else {
        return None;
    };
    (e.step == StepKind::Exchange).then(|| Event {
        kind: "stranger".into(),
        severity: Severity::Warning,
        mac: pc.mac.clone(),
        other_mac: None,
        ip: Some(pc.ip),
        hostname: None,
        text: format!(
            "answers on the SSH port but first contact failed ({}): not a PC of ours? Left untouched",
            crate::text::inert(&e.reason(), 160)
        ),
        since: None,
    })
}

/// Whether any event is at least `fail_on` (the playbook's `inventory.fail_on`).
pub fn fails(events: impl IntoIterator<Item = Severity>, fail_on: Option<Severity>) -> bool {
    fail_on.is_some_and(|limit| events.into_iter().any(|s| s >= limit))
}
