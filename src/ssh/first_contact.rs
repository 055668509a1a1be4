//! First contact: log in as the admin with its password, pin the host key, install the controller's key.

use super::{SshError, SshSettings, askpass::AskpassServer, local, no_password_method, ssh_once};
use crate::secret::Secret;
use std::net::Ipv4Addr;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// What first contact learned: the host key(s) the PC presented, to pin.
#[derive(Debug, Clone)]
pub struct FirstContact {
    /// OpenSSH public host key lines (`type base64`), as recorded by ssh.
    pub host_keys: String,
}

/// Installs `controller_key` in `target_user`'s authorized_keys on the PC at `ip`, logging in as `admin`
/// (password from the askpass server) and becoming root with `sudo -S` (password on stdin).
///
/// The host key is accepted on first use and returned for pinning; nothing is written to any known_hosts
/// file but this PC's own file in the run's private directory.
#[allow(clippy::too_many_arguments)]
pub async fn first_contact(
    settings: &SshSettings,
    askpass: &AskpassServer,
    ip: Ipv4Addr,
    admin: &str,
    admin_password: &Secret,
    target_user: &str,
    controller_key: &str,
    timeout: Duration,
) -> Result<FirstContact, SshError> {
    let known_hosts = settings.run_dir.join(format!("first-contact-{ip}"));
    let _ = std::fs::remove_file(&known_hosts);
    let config = settings
        .write_config_file()
        .map_err(local("writing ssh config"))?;

    // The script runs as root through sudo; the user and the key are its arguments (both public).
    let script = r#"set -e; umask 077; u=$1; k=$2
h=$(getent passwd "$u" | cut -d: -f6); [ -n "$h" ] || { echo "no account $u on this PC" >&2; exit 5; }
mkdir -p "$h/.ssh"; f="$h/.ssh/authorized_keys"; touch "$f"
grep -qxF "$k" "$f" || printf '%s\n' "$k" >> "$f"
chown "$u" "$h/.ssh" "$f"; chmod 700 "$h/.ssh"; chmod 600 "$f""#;
    let remote = format!(
        "sudo -S -p '' sh -c {} rdplay-first-contact {} {}",
        shell_quote(script),
        shell_quote(target_user),
        shell_quote(controller_key.trim())
    );

    let mut cmd = password_ssh(
        settings,
        &config,
        &known_hosts,
        "accept-new",
        admin,
        ip,
        &remote,
    );
    cmd.envs(
        askpass
            .env()
            .map_err(local("locating the rdplay binary for askpass"))?,
    )
    .env_remove("DISPLAY")
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .kill_on_drop(true);
    let mut child = cmd.spawn().map_err(local("starting ssh"))?;

    // sudo reads the password on stdin; nothing else follows it.
    if let Some(mut stdin) = child.stdin.take() {
        let mut line = admin_password.expose().as_bytes().to_vec();
        line.push(b'\n');
        let _ = stdin.write_all(&line).await;
        line.fill(0);
    }
    let output = super::within(ip, "first contact", timeout, child.wait_with_output())
        .await?
        .map_err(local("waiting for ssh"))?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        // 255 is ssh's own failure; anything else came from sudo or the script.
        return Err(if output.status.code() == Some(255) {
            match no_password_method(&stderr) {
                // No password can log in there: rdplay's key may (installed by the admin).
                Some(offered) => {
                    return by_key(settings, &config, &known_hosts, ip, admin, offered, timeout)
                        .await;
                }
                None => SshError::from_ssh_output(ip, admin, settings, &stderr),
            }
        } else if stderr.contains("incorrect password") || stderr.contains("no password") {
            SshError::Auth {
                ip,
                user: admin.to_string(),
                detail: "sudo refused the admin password".into(),
            }
        } else {
            SshError::Remote {
                ip,
                what: "installing the controller key".into(),
                detail: super::last_meaningful_line(&stderr),
            }
        });
    }
    pinned(ip, &known_hosts)
}

/// The host keys ssh recorded in `known_hosts` at first contact (the file is removed).
fn pinned(ip: Ipv4Addr, known_hosts: &std::path::Path) -> Result<FirstContact, SshError> {
    let recorded =
        std::fs::read_to_string(known_hosts).map_err(local("reading the recorded host key"))?;
    let _ = std::fs::remove_file(known_hosts);
    let host_keys: String = recorded
        .lines()
        .filter_map(|l| {
            l.split_once(' ')
                .map(|(_, key)| format!("{}\n", key.trim()))
        })
        .collect();
    if host_keys.is_empty() {
        return Err(SshError::HostKeyUnverified {
            ip,
            detail: "ssh recorded no host key at first contact".into(),
        });
    }
    Ok(FirstContact { host_keys })
}

/// Whether first contact with the PC at `ip` would fail because it allows no password login and
/// rdplay's key is not installed there, learnt without sending any password (for `--check`): ssh in
/// batch mode cannot answer a password prompt, so it only hears the methods the server offers, then
/// tries rdplay's key. `Ok(None)`: first contact can log in (or the probe cannot tell).
pub async fn first_contact_refused(
    settings: &SshSettings,
    ip: Ipv4Addr,
    admin: &str,
) -> Result<Option<SshError>, SshError> {
    let config = settings
        .write_config_file()
        .map_err(local("writing ssh config"))?;
    let limit = settings.handshake_limit();
    // Nothing is pinned or written: the host key is not checked (no secret is sent).
    let probe = |user: &str, key: bool| {
        let mut cmd = crate::child::async_command("ssh");
        cmd.arg("-F")
            .arg(&config)
            .args(["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no"])
            .args(["-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=INFO"])
            .args(["-o", "ControlMaster=no", "-o", "ControlPath=none"]);
        if key {
            cmd.args(["-o", "PasswordAuthentication=no"])
                .args(settings.key_login_args(ip));
        } else {
            cmd.args(["-o", "PubkeyAuthentication=no"])
                .args(settings.login_args(ip, user));
        }
        cmd.arg("true");
        cmd
    };
    let what = "first contact check";
    let output = ssh_once(probe(admin, false), ip, what, limit).await?;
    let Some(offered) = no_password_method(&String::from_utf8_lossy(&output.stderr)) else {
        return Ok(None);
    };
    if settings.identity.exists() {
        let output = ssh_once(probe(&settings.user, true), ip, what, limit).await?;
        if output.status.success() {
            return Ok(None);
        }
    }
    Ok(Some(SshError::PasswordsRefused {
        ip,
        user: admin.to_string(),
        offered,
        key: settings.identity.display().to_string(),
    }))
}

/// First contact where the PC allows no password login: rdplay's own key, when the admin installed it
/// for the connection user (root), logs in and the host key is pinned on that first use, as a password
/// first contact would. Otherwise [`SshError::PasswordsRefused`], with the fix.
async fn by_key(
    settings: &SshSettings,
    config: &std::path::Path,
    known_hosts: &std::path::Path,
    ip: Ipv4Addr,
    admin: &str,
    offered: String,
    timeout: Duration,
) -> Result<FirstContact, SshError> {
    let refused = || SshError::PasswordsRefused {
        ip,
        user: admin.to_string(),
        offered: offered.clone(),
        key: settings.identity.display().to_string(),
    };
    if !settings.identity.exists() {
        return Err(refused());
    }
    let _ = std::fs::remove_file(known_hosts);
    let mut cmd = crate::child::async_command("ssh");
    cmd.arg("-F")
        .arg(config)
        .args(["-o", "StrictHostKeyChecking=accept-new"])
        .arg("-o")
        .arg(format!("UserKnownHostsFile={}", known_hosts.display()))
        .args(["-o", "BatchMode=yes", "-o", "PasswordAuthentication=no"])
        .args(["-o", "ControlMaster=no", "-o", "ControlPath=none"])
        .args(settings.key_login_args(ip))
        .arg("true");
    let output = ssh_once(cmd, ip, "first contact", timeout).await?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(if stderr.contains("Permission denied") {
            refused()
        } else {
            SshError::from_ssh_output(ip, &settings.user, settings, &stderr)
        });
    }
    pinned(ip, known_hosts)
}

/// A plain `ssh` (no ControlMaster) that logs in as `user` with a password only — through rdplay's
/// askpass, which the caller adds — checking the host key against `known_hosts` as `strict` says
/// (`accept-new` at first contact, `yes` once pinned), and runs `remote`.
pub(super) fn password_ssh(
    settings: &SshSettings,
    config: &std::path::Path,
    known_hosts: &std::path::Path,
    strict: &str,
    user: &str,
    ip: Ipv4Addr,
    remote: &str,
) -> tokio::process::Command {
    let mut cmd = crate::child::async_command("ssh");
    cmd.arg("-F")
        .arg(config)
        .arg("-o")
        .arg(format!("StrictHostKeyChecking={strict}"))
        .arg("-o")
        .arg(format!("UserKnownHostsFile={}", known_hosts.display()))
        .args(["-o", "PubkeyAuthentication=no"])
        .args([
            "-o",
            "PreferredAuthentications=keyboard-interactive,password",
        ])
        .args(["-o", "NumberOfPasswordPrompts=1"])
        .args(["-o", "BatchMode=no"])
        .args(["-o", "ControlMaster=no", "-o", "ControlPath=none"])
        // INFO, not the config's ERROR: ssh says at INFO why a handshake failed ("Unable to
        // negotiate ... no matching key exchange method") and that a server went silent.
        .args(["-o", "LogLevel=INFO"])
        .args(settings.login_args(ip, user))
        .arg(remote);
    cmd
}

/// Quotes `s` for a POSIX shell: `'...'` with embedded quotes closed and escaped.
pub(crate) fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_server_without_password_logins_is_told_apart_from_a_refused_password() {
        let only_keys = "tech@10.0.0.2: Permission denied (publickey).\r\n";
        assert_eq!(
            super::super::no_password_method(only_keys).as_deref(),
            Some("publickey")
        );
        let refused = "tech@10.0.0.2: Permission denied (publickey,password).\r\n";
        assert_eq!(super::super::no_password_method(refused), None);
        let kbd = "Permission denied (publickey,keyboard-interactive).";
        assert_eq!(super::super::no_password_method(kbd), None);
        assert_eq!(super::super::no_password_method("Connection refused"), None);
    }

    #[test]
    fn shell_quote_survives_quotes() {
        assert_eq!(super::shell_quote("it's"), r"'it'\''s'");
    }
}
