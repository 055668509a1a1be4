//! Sessions over the system OpenSSH.
//!
//! Two kinds of connection reach a PC:
//! - **first contact** ([`first_contact`]): one plain `ssh` process logging in as the admin account with its
//!   password supplied by [`askpass`] (never argv or environment), accepting and recording the host key;
//! - **managed sessions** ([`Master::connect`]): the `openssh` crate's ControlMaster, one per PC for all its
//!   steps, as the connection user with the controller's key, `StrictHostKeyChecking=yes` against the key
//!   pinned for that PC. Commands and the SFTP subsystem open channels on the master through the
//!   multiplexing protocol itself (the crate's `native-mux`), so the only `ssh` process per PC is the
//!   master: no client process per command and none to close it.
//!
//! This module knows nothing of playbooks: callers pass [`SshSettings`].

pub mod askpass;
mod config;
mod first_contact;
mod keys;
mod master;

pub use config::SshSettings;
pub(crate) use first_contact::shell_quote;
pub use first_contact::{FirstContact, first_contact};
pub use keys::controller_key;
pub use master::{Master, RemoteOutput};

use std::net::Ipv4Addr;

/// What went wrong talking to a PC, in words a sysadmin can act on.
#[derive(Debug, thiserror::Error)]
pub enum SshError {
    /// The PC presented a host key different from the one pinned at first contact.
    #[error(
        "host key of {ip} does not match the key pinned at first contact: refusing to connect \
         (if the PC was reinstalled, forget its key with `rdplay inventory forget {ip} --playbook PLAYBOOK` and run again)"
    )]
    HostKeyChanged { ip: Ipv4Addr },
    /// The PC's host key could not be verified (none pinned, or ssh refused it).
    #[error("host key of {ip} could not be verified: {detail}")]
    HostKeyUnverified { ip: Ipv4Addr, detail: String },
    /// Authentication failed.
    #[error("authentication to {user}@{ip} failed: {detail}")]
    Auth {
        ip: Ipv4Addr,
        user: String,
        detail: String,
    },
    /// The connection could not be made or broke.
    #[error("could not connect to {ip}: {detail}")]
    Connect { ip: Ipv4Addr, detail: String },
    /// A remote command failed.
    #[error("on {ip}: {what} failed: {detail}")]
    Remote {
        ip: Ipv4Addr,
        what: String,
        detail: String,
    },
    /// A step took longer than its timeout.
    #[error("on {ip}: {what} timed out after {secs} s")]
    Timeout {
        ip: Ipv4Addr,
        what: String,
        secs: u64,
    },
    /// First contact was needed but this run has no admin password.
    #[error(
        "first contact with {ip} needed but no admin password is available (see `exchange.password` in the playbook)"
    )]
    NoFirstContact { ip: Ipv4Addr },
    /// The controller has no key yet (the first run makes it).
    #[error("no controller key yet to reach {ip} (a run creates it)")]
    NoControllerKey { ip: Ipv4Addr },
    /// A local I/O problem (temp files, sockets, spawning ssh).
    #[error("{what}: {source}")]
    Local {
        what: String,
        source: std::io::Error,
    },
}

impl SshError {
    /// Classifies ssh's own diagnostics (its stderr or log) into an error.
    pub(crate) fn from_ssh_output(ip: Ipv4Addr, user: &str, output: &str) -> SshError {
        let detail = last_meaningful_line(output);
        if output.contains("REMOTE HOST IDENTIFICATION HAS CHANGED")
            || output.contains("Offending")
            || output.contains("differs from the key for the IP address")
        {
            SshError::HostKeyChanged { ip }
        } else if output.contains("Host key verification failed") {
            SshError::HostKeyUnverified { ip, detail }
        } else if output.contains("Permission denied") || output.contains("Too many authentication")
        {
            SshError::Auth {
                ip,
                user: user.to_string(),
                detail,
            }
        } else {
            SshError::Connect { ip, detail }
        }
    }
}

/// Runs `work` for at most `timeout`; past it, the step on `ip` fails with a timeout naming `what`.
async fn within<T>(
    ip: Ipv4Addr,
    what: &str,
    timeout: std::time::Duration,
    work: impl std::future::Future<Output = T>,
) -> Result<T, SshError> {
    tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| SshError::Timeout {
            ip,
            what: what.to_string(),
            secs: timeout.as_secs(),
        })
}

/// The last non-empty line of ssh's diagnostics, cleaned of control characters, as a short reason.
fn last_meaningful_line(output: &str) -> String {
    let line = output
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or("ssh gave no reason");
    crate::text::inert(line, 300)
}
