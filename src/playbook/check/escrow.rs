//! `escrow`: the password escrow. Its recipients (age or SSH public keys, at least one) and how
//! many passwords to keep per PC.

use super::Checker;
use crate::playbook::raw::RawPlaybook;
use crate::playbook::sections::Escrow;

impl Checker<'_> {
    pub(super) fn escrow(&mut self, raw: &RawPlaybook) -> Option<Escrow> {
        let e = raw.escrow.as_ref()?;
        if e.recipients.is_empty() {
            self.problem(
                "escrow.recipients",
                "escrow.recipients is empty: no one could read a password back",
                Some("add an admin's `age1…` key or SSH public key".into()),
            );
        }
        for (i, r) in e.recipients.iter().enumerate() {
            if let Err(err) = crate::escrow::Recipient::parse(r) {
                self.problem(&format!("escrow.recipients[{i}]"), err.to_string(), None);
            }
        }
        if e.keep == 0 {
            self.problem(
                "escrow.keep",
                "escrow.keep: 0 would keep no password",
                Some("use 1 or more (default 3)".into()),
            );
        }
        Some(Escrow {
            recipients: e.recipients.iter().map(|r| r.trim().to_string()).collect(),
            keep: e.keep.max(1),
        })
    }
}
