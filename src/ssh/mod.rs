//! Sessions over the system OpenSSH.
//!
//! Two kinds of connection reach a PC:
//! - **first contact** ([`first_contact`]): one plain `ssh` process logging in as the admin account with its
//!   password supplied by [`askpass`] (never argv or environment), accepting and recording the host key;
//! - **managed sessions** ([`Master::connect`]): one ControlMaster per PC for all its steps, as the
//!   connection user with the controller's key, `StrictHostKeyChecking=yes` against the key pinned for
//!   that PC. rdplay starts the master `ssh` itself (so that a handshake that never completes is bounded
//!   and its process killed), then hands its control socket to the `openssh` crate: commands and the
//!   SFTP subsystem open channels on the master through the multiplexing protocol itself (the crate's
//!   `native-mux`), so the only `ssh` process per PC is the master: no client process per command and
//!   none to close it.
//!
//! A PC whose port 22 accepts connections but whose SSH server does not answer (a tarpit, a hung
//! sshd) fails within `connect_timeout`, with [`SshError::Handshake`]: ssh's `ConnectTimeout` covers
//! the TCP connection and the server's banner. After the banner, the key exchange and the login are
//! CPU work on both sides and legitimately take longer on a busy PC or controller (100 masters at once
//! in the lab, on 2 cores: up to 9.4 s), so they are not held to `connect_timeout`:
//! ssh ends a server that stops answering after [`SERVER_ALIVE_WINDOW`] (its `ServerAliveInterval`
//! and `ServerAliveCountMax`), and rdplay bounds a master's whole handshake by
//! [`SshSettings::handshake_limit`] (which also ends a server that answers a byte at a time), killing
//! its `ssh`.
//!
//! This module knows nothing of playbooks: callers pass [`SshSettings`].

pub mod askpass;
mod config;
mod first_contact;
mod keys;
mod master;
mod verify;

pub use config::{SERVER_ALIVE_WINDOW, SshSettings, unknown_kex};
pub(crate) use first_contact::shell_quote;
pub use first_contact::{FirstContact, first_contact, first_contact_refused};
pub use keys::controller_key;
pub use master::{Master, RemoteOutput, Streamed};
pub use verify::{Login, password_login};

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
    /// First contact: the PC's SSH server allows no password login, and rdplay's key is not
    /// installed there either.
    #[error(
        "{ip} refuses password logins (it offers only: {offered}): install rdplay's key for root \
         there (/root/.ssh/authorized_keys gets {key}.pub; first contact then uses it), or allow \
         passwords for {user} (`PasswordAuthentication yes`)"
    )]
    PasswordsRefused {
        ip: Ipv4Addr,
        user: String,
        /// The authentication methods the server offered, as ssh reported them.
        offered: String,
        /// rdplay's private key.
        key: String,
    },
    /// The connection could not be made or broke.
    #[error("could not connect to {ip}: {detail}")]
    Connect { ip: Ipv4Addr, detail: String },
    /// The PC accepted the TCP connection but its SSH server did not complete the handshake.
    #[error("on {ip}: SSH handshake did not complete {detail}")]
    Handshake {
        ip: Ipv4Addr,
        /// How long was waited and what was seen, e.g. `within 5 s (... no SSH server answers)`.
        detail: String,
    },
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
    /// Classifies ssh's own diagnostics (its stderr or log) into an error; `settings` are those ssh ran
    /// with.
    pub(crate) fn from_ssh_output(
        ip: Ipv4Addr,
        user: &str,
        settings: &SshSettings,
        output: &str,
    ) -> SshError {
        let detail = last_meaningful_line(output);
        if output.contains("timed out during banner exchange") {
            SshError::Handshake {
                ip,
                detail: format!(
                    "within {} s (the port accepts connections but no SSH server answers)",
                    settings.connect_timeout_secs()
                ),
            }
        } else if detail.starts_with("Connection to ") && detail.ends_with(" timed out") {
            // ssh's words when the server went silent for SERVER_ALIVE_WINDOW after its banner.
            SshError::Handshake {
                ip,
                detail: format!(
                    "(the SSH server answered, then said nothing for {} s)",
                    SERVER_ALIVE_WINDOW.as_secs()
                ),
            }
        } else if output.contains("REMOTE HOST IDENTIFICATION HAS CHANGED")
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

/// Makes an I/O error of ours (temp files, sockets, spawning ssh) an [`SshError::Local`] saying `what`
/// was being done.
fn local(what: &str) -> impl FnOnce(std::io::Error) -> SshError {
    let what = what.to_string();
    move |source| SshError::Local { what, source }
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

/// Runs a one-shot `ssh` that needs no input and says nothing on stdout, for at most `timeout`:
/// its exit status and diagnostics (stderr). Killed if it outlives the wait.
async fn ssh_once(
    mut cmd: tokio::process::Command,
    ip: Ipv4Addr,
    what: &str,
    timeout: std::time::Duration,
) -> Result<std::process::Output, SshError> {
    cmd.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let child = cmd.spawn().map_err(local("starting ssh"))?;
    within(ip, what, timeout, child.wait_with_output())
        .await?
        .map_err(local("waiting for ssh"))
}

/// The methods ssh reports the server offered (`Permission denied (publickey).`) when none of them
/// takes a password, or `None` (a password was refused, or something else failed).
fn no_password_method(stderr: &str) -> Option<String> {
    let at = stderr.rfind("Permission denied (")?;
    let offered = stderr[at + "Permission denied (".len()..]
        .split(')')
        .next()?;
    let methods: Vec<&str> = offered.split(',').map(str::trim).collect();
    (!methods
        .iter()
        .any(|m| *m == "password" || *m == "keyboard-interactive"))
    .then(|| methods.join(", "))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> SshSettings {
        SshSettings {
            user: "root".into(),
            port: 22,
            identity: "id".into(),
            connect_timeout: std::time::Duration::from_secs(3),
            control_persist: std::time::Duration::ZERO,
            kex_algorithms: Vec::new(),
            use_ssh_config: false,
            run_dir: "/nonexistent".into(),
        }
    }

    #[test]
    fn ssh_timeouts_after_the_tcp_connection_are_handshake_errors() {
        let ip = Ipv4Addr::new(10, 0, 0, 2);
        let classify =
            |log: &str| SshError::from_ssh_output(ip, "root", &settings(), log).to_string();
        assert_eq!(
            classify(
                "Connection timed out during banner exchange\r\nConnection to 10.0.0.2 port 22 timed out\r\n"
            ),
            "on 10.0.0.2: SSH handshake did not complete within 3 s \
             (the port accepts connections but no SSH server answers)"
        );
        assert_eq!(
            classify("Connection to 10.0.0.2 port 22 timed out\r\n"),
            "on 10.0.0.2: SSH handshake did not complete \
             (the SSH server answered, then said nothing for 15 s)"
        );
        // No connection at all stays a connection error.
        assert_eq!(
            classify("ssh: connect to host 10.0.0.2 port 22: Connection timed out\r\n"),
            "could not connect to 10.0.0.2: ssh: connect to host 10.0.0.2 port 22: Connection timed out"
        );
    }
}
