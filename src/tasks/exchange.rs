//! Exchange: first contact with a PC whose MAC has no pinned host key — log in as the admin, pin the host
//! key, install the controller's key for the connection user. Known PCs skip it.

use super::scan::Reachable;
use super::{StepError, StepKind};
use crate::secret::Secret;
use crate::ssh::{SshSettings, askpass::AskpassServer};
use std::time::Duration;

/// A PC whose host key is pinned and which accepts the controller's key.
pub struct Trusted {
    pub pc: Reachable,
    /// The pinned host key lines.
    pub host_keys: String,
    /// Whether this run made first contact.
    pub first_contact: bool,
}

/// What first contact needs; `None` password means first contact is impossible in this run.
pub struct Admin<'a> {
    pub user: &'a str,
    pub password: Option<&'a Secret>,
    pub askpass: Option<&'a AskpassServer>,
    /// The controller's public key line.
    pub controller_key: &'a str,
}

/// Returns the PC trusted: with its pinned key when known, else after first contact.
pub async fn exchange(
    settings: &SshSettings,
    admin: &Admin<'_>,
    inventory: &crate::inventory::Inventory,
    pc: Reachable,
    pinned: Option<String>,
    timeout: Duration,
) -> Result<Trusted, StepError> {
    if let Some(host_keys) = pinned.filter(|k| !k.trim().is_empty()) {
        return Ok(Trusted {
            pc,
            host_keys,
            first_contact: false,
        });
    }
    let (Some(password), Some(askpass)) = (admin.password, admin.askpass) else {
        return Err(StepError::new(
            StepKind::Exchange,
            "first contact needed but no admin password is available (see `exchange.password` in the playbook)",
        ));
    };
    let contact = crate::ssh::first_contact(
        settings,
        askpass,
        pc.ip,
        admin.user,
        password,
        &settings.user,
        admin.controller_key,
        timeout,
    )
    .await
    .map_err(|e| StepError::new(StepKind::Exchange, e.to_string()))?;
    inventory
        .pin_host_key(pc.mac.as_str(), pc.ip, &contact.host_keys)
        .await
        .map_err(|e| StepError::new(StepKind::Exchange, format!("pinning the host key: {e}")))?;
    Ok(Trusted {
        pc,
        host_keys: contact.host_keys,
        first_contact: true,
    })
}
