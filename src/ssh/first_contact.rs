//! First contact: log in as the admin with its password, pin the host key, install the controller's key.

use super::{SshError, SshSettings, askpass::AskpassServer, local};
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
            SshError::from_ssh_output(ip, admin, settings, &stderr)
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
    let recorded =
        std::fs::read_to_string(&known_hosts).map_err(local("reading the recorded host key"))?;
    let _ = std::fs::remove_file(&known_hosts);
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
        .arg("-o")
        .arg(format!(
            "ConnectTimeout={}",
            settings.connect_timeout_secs()
        ))
        .arg("-p")
        .arg(settings.port.to_string())
        .arg("-l")
        .arg(user)
        .arg(ip.to_string())
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
    fn shell_quote_survives_quotes() {
        assert_eq!(super::shell_quote("it's"), r"'it'\''s'");
    }
}
