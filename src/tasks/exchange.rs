//! Exchange: first contact with a PC whose MAC has no pinned host key — log in as the admin, pin the host
//! key, install the controller's key for the connection user. Known PCs skip it.

use super::gate::FirstContactGate;
use super::scan::Reachable;
use super::{StepError, StepKind};
use crate::inventory::Store;
use crate::remote::Connector;
use std::time::Duration;

/// First contact with `pc`, when `gate` allows it (a wrong admin password is not sent to every PC);
/// returns the host key lines, pinned in the inventory before any other use.
pub async fn first_contact<C: Connector, S: Store>(
    connector: &C,
    store: &S,
    gate: &FirstContactGate,
    pc: &Reachable,
    timeout: Duration,
) -> Result<String, StepError> {
    let host_keys = gate
        .contact(connector.first_contact(pc.ip, timeout))
        .await
        .map_err(|stopped| StepError::new(StepKind::Exchange, stopped.to_string()))?
        .map_err(|e| StepError::caused(StepKind::Exchange, "", e))?;
    store
        .pin_host_key(&pc.mac, pc.ip, &host_keys)
        .await
        .map_err(|e| StepError::caused(StepKind::Exchange, "pinning the host key", e))?;
    Ok(host_keys)
}
