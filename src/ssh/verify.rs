//! Proving a new password: a real password login as the new account, over a connection of its own
//! (not the ControlMaster), with the password served by rdplay's askpass (never argv or environment)
//! and the PC's pinned host key.

use super::{SshError, SshSettings, askpass::AskpassServer};
use crate::secret::Secret;
use std::net::Ipv4Addr;
use std::time::Duration;

/// How a password login went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Login {
    /// The password logged in.
    LoggedIn,
    /// The PC accepts no password logins at all: the password cannot be proven this way.
    NotOffered,
}

/// Logs in as `user` with `password` and runs `true`; an error when the password is refused.
pub async fn password_login(
    settings: &SshSettings,
    ip: Ipv4Addr,
    host_keys: &str,
    user: &str,
    password: &Secret,
    timeout: Duration,
) -> Result<Login, SshError> {
    let local = |what: &str| {
        let what = what.to_string();
        move |source| SshError::Local { what, source }
    };
    // A private directory of its own: several PCs verify at once, each with its own askpass.
    let dir = tempfile::Builder::new()
        .prefix("verify-")
        .tempdir_in(&settings.run_dir)
        .map_err(local("creating the verification directory"))?;
    let askpass = AskpassServer::start(dir.path(), password.clone())
        .map_err(local("starting the askpass server"))?;
    let known_hosts = settings
        .pinned_known_hosts(ip, host_keys)
        .map_err(local("writing known_hosts"))?;
    let config = settings
        .write_config_file()
        .map_err(local("writing ssh config"))?;
    let mut cmd = super::first_contact::password_ssh(
        settings,
        &config,
        &known_hosts,
        "yes",
        user,
        ip,
        "true",
    );
    cmd.envs(
        askpass
            .env()
            .map_err(local("locating the rdplay binary for askpass"))?,
    )
    .env_remove("DISPLAY");
    let output = super::ssh_once(cmd, ip, "login check", timeout).await?;
    if output.status.success() {
        return Ok(Login::LoggedIn);
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    // `Permission denied (publickey).`: the server offers no password method at all.
    if super::no_password_method(&stderr).is_some() {
        return Ok(Login::NotOffered);
    }
    Err(SshError::Auth {
        ip,
        user: user.to_string(),
        detail: format!(
            "the new password does not log in ({})",
            super::last_meaningful_line(&stderr)
        ),
    })
}
