//! The escrow effect: the new password, encrypted on the controller to the playbook's recipients
//! (public keys only), stored in the inventory with its account before the sheets are written. A PC
//! whose password could not be escrowed fails: its account stays pending and is renewed next run, so
//! no sheet exists for a password the admins could not read back.

use super::{BoxFuture, Done, Effect, Renewed};
use crate::escrow::{Recipient, encrypt};
use crate::inventory::{RunId, Store};
use crate::tasks::{StepError, StepKind};

/// Escrows every renewed PC's password.
pub struct Escrow<S: Store> {
    pub store: S,
    pub run: RunId,
    pub recipients: Vec<Recipient>,
    pub keep: u32,
}

impl<S: Store> Escrow<S> {
    /// The escrow of a playbook's `escrow` section (recipients validated by the playbook already).
    pub fn new(
        escrow: &crate::playbook::Escrow,
        store: S,
        run: RunId,
    ) -> Result<Escrow<S>, crate::escrow::EscrowError> {
        Ok(Escrow {
            store,
            run,
            recipients: escrow
                .recipients
                .iter()
                .map(|r| Recipient::parse(r))
                .collect::<Result<_, _>>()?,
            keep: escrow.keep,
        })
    }

    async fn escrow(&self, r: &Renewed<'_>) -> Result<Done, StepError> {
        let ciphertext = encrypt(r.password, &self.recipients)
            .map_err(|e| StepError::caused(StepKind::Render, "escrow", e))?;
        let fingerprints = self.recipients.iter().map(Recipient::fingerprint).collect();
        self.store
            .escrow(
                &r.pc.mac,
                r.username,
                r.request,
                self.run,
                fingerprints,
                ciphertext,
                self.keep,
            )
            .await
            .map_err(|e| {
                StepError::caused(StepKind::Inventory, "storing the escrowed password", e)
            })?;
        Ok(Done {
            effect: "escrow",
            files: Vec::new(),
        })
    }
}

impl<S: Store> Effect for Escrow<S> {
    fn name(&self) -> &'static str {
        "escrow"
    }

    fn apply<'a>(&'a self, pc: &'a Renewed<'a>) -> BoxFuture<'a, Result<Done, StepError>> {
        Box::pin(self.escrow(pc))
    }
}
