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
    for pc in pcs
        .iter()
        .filter(|p| matches!(p.outcome, Outcome::Renewed { .. }))
    {
        if let Some(mac) = &pc.mac
            && let Some(record) = store.pc(mac)?
        {
            found.extend(shared_address(pc, &record));
        }
    }
    store.record_events(run, found).await?;
    store.events(EventFilter::Run(run))
}

/// A PC whose first contact failed: something that speaks SSH but is not ours.
fn stranger(pc: &PcReport) -> Option<Event> {
    let Outcome::Failed(e) = &pc.outcome else {
        return None;
    };
    // One whose first contact was not tried (a wrong admin password) says nothing of the PC.
    let tried = !e.reason().starts_with(crate::tasks::gate::NOT_TRIED);
    (e.step == StepKind::Exchange && tried).then(|| Event {
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

/// Two machines at one address: the scan reached the address through MAC A (its neighbour entry),
/// but the PC that answered over SSH reports no interface with MAC A.
fn shared_address(pc: &PcReport, record: &crate::inventory::PcRecord) -> Option<Event> {
    let facts = record.facts.as_ref()?;
    let own: Vec<&str> = facts
        .interfaces
        .iter()
        .filter_map(|i| i.mac.as_deref())
        .collect();
    let mac = pc.mac.as_ref()?;
    if own.is_empty() || own.iter().any(|m| m.eq_ignore_ascii_case(mac.as_str())) {
        return None;
    }
    Some(Event {
        kind: "address".into(),
        severity: Severity::Warning,
        mac: Some(mac.clone()),
        other_mac: None,
        ip: Some(pc.ip),
        hostname: record.hostname.clone(),
        text: format!(
            "{} answered from MAC {mac}, but the PC that logged in has {}: two machines share this address?",
            pc.ip,
            crate::text::inert(&own.join(", "), 120)
        ),
        since: None,
    })
}

/// Whether any event is at least `fail_on` (the playbook's `inventory.fail_on`).
pub fn fails(events: impl IntoIterator<Item = Severity>, fail_on: Option<Severity>) -> bool {
    fail_on.is_some_and(|limit| events.into_iter().any(|s| s >= limit))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::{Facts, Interface};

    fn record(interfaces: &[&str]) -> crate::inventory::PcRecord {
        crate::inventory::PcRecord {
            mac: crate::mac::Mac::parse("02:00:00:00:00:02").unwrap(),
            ip: "10.9.0.2".parse().unwrap(),
            hostname: Some("pc2".into()),
            host_key: None,
            facts: Some(Facts {
                interfaces: interfaces
                    .iter()
                    .map(|m| Interface {
                        name: "eth0".into(),
                        mac: Some(m.to_string()),
                        addresses: vec![],
                    })
                    .collect(),
                ..Facts::default()
            }),
            first_seen: jiff::Timestamp::now(),
            last_seen: jiff::Timestamp::now(),
            number: None,
        }
    }

    #[test]
    fn an_address_answered_by_another_machine_is_flagged() {
        let report = PcReport::new(
            "10.9.0.2".parse().unwrap(),
            crate::mac::Mac::parse("02:00:00:00:00:02"),
            Outcome::Renewed {
                first_contact: false,
                files: vec![],
            },
        );
        assert!(shared_address(&report, &record(&["02:00:00:00:00:02"])).is_none());
        assert!(
            shared_address(&report, &record(&[])).is_none(),
            "nothing known"
        );
        let e = shared_address(&report, &record(&["02:00:00:00:00:99"])).unwrap();
        assert_eq!(e.kind, "address");
        assert!(
            e.text.contains("two machines share this address"),
            "{}",
            e.text
        );
    }
}
