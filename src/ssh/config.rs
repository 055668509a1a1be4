//! The ssh settings rdplay passes to every connection, and the ssh config file that carries them.

use std::io::Write;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How often ssh checks a silent server (`ServerAliveInterval`), and how many checks may go unanswered
/// (`ServerAliveCountMax`) before it gives up: the connection, handshake included, ends after the
/// server has said nothing for [`SERVER_ALIVE_WINDOW`].
const SERVER_ALIVE_INTERVAL: u64 = 5;
const SERVER_ALIVE_COUNT_MAX: u64 = 3;
/// How long a silent server is waited for once connected (see [`SERVER_ALIVE_INTERVAL`]).
pub const SERVER_ALIVE_WINDOW: Duration =
    Duration::from_secs(SERVER_ALIVE_INTERVAL * SERVER_ALIVE_COUNT_MAX);
/// What a master's handshake gets beyond `connect_timeout` and [`SERVER_ALIVE_WINDOW`].
const HANDSHAKE_MARGIN: Duration = Duration::from_secs(2);

/// How to reach PCs: filled from the playbook's `connection` section by the caller.
#[derive(Debug, Clone)]
pub struct SshSettings {
    /// Account for managed sessions (root by default).
    pub user: String,
    /// SSH port.
    pub port: u16,
    /// The controller's private key.
    pub identity: PathBuf,
    /// How long a PC may take to accept the TCP connection and send its SSH banner (ssh's
    /// `ConnectTimeout`); see [`SshSettings::handshake_limit`] for the rest of the handshake.
    pub connect_timeout: Duration,
    /// ControlPersist for masters.
    pub control_persist: Duration,
    /// Honour the operator's `~/.ssh/config`.
    pub use_ssh_config: bool,
    /// The key exchange methods offered, in order (`KexAlgorithms`); empty: OpenSSH's default.
    pub kex_algorithms: Vec<String>,
    /// A private (0700) directory for this run: control sockets, per-PC known_hosts, the config file.
    pub run_dir: PathBuf,
}

impl SshSettings {
    /// `connect_timeout` in whole seconds, at least 1, as ssh's `ConnectTimeout` takes it.
    pub fn connect_timeout_secs(&self) -> u64 {
        self.connect_timeout.as_secs().max(1)
    }

    /// How long a master's whole handshake (TCP, banner, key exchange, login) may take before rdplay
    /// kills its `ssh`: `connect_timeout`, then [`SERVER_ALIVE_WINDOW`] (after which ssh itself ends a
    /// silent server), then a margin. Only a server that answers but never finishes reaches it.
    pub fn handshake_limit(&self) -> Duration {
        Duration::from_secs(self.connect_timeout_secs()) + SERVER_ALIVE_WINDOW + HANDSHAKE_MARGIN
    }

    /// The `known_hosts` line for `ip` and an OpenSSH public key (`type base64`).
    pub fn known_hosts_line(&self, ip: Ipv4Addr, key: &str) -> String {
        if self.port == 22 {
            format!("{ip} {key}\n")
        } else {
            format!("[{ip}]:{} {key}\n", self.port)
        }
    }

    /// Writes the per-PC known_hosts file holding only the key pinned for that PC and returns its path.
    pub fn pinned_known_hosts(&self, ip: Ipv4Addr, keys: &str) -> std::io::Result<PathBuf> {
        let path = self.run_dir.join(format!("known_hosts-{ip}"));
        let mut text = String::new();
        for key in keys.lines().filter(|l| !l.trim().is_empty()) {
            text.push_str(&self.known_hosts_line(ip, key.trim()));
        }
        write_private(&path, text.as_bytes())?;
        Ok(path)
    }

    /// The arguments that end every login of rdplay's as `user` to `ip`: the connect timeout, the
    /// port, the user and the address.
    pub(crate) fn login_args(&self, ip: Ipv4Addr, user: &str) -> Vec<std::ffi::OsString> {
        [
            "-o".to_string(),
            format!("ConnectTimeout={}", self.connect_timeout_secs()),
            "-p".into(),
            self.port.to_string(),
            "-l".into(),
            user.to_string(),
            ip.to_string(),
        ]
        .into_iter()
        .map(Into::into)
        .collect()
    }

    /// [`SshSettings::login_args`] for a login with rdplay's key only, as the connection user.
    pub(crate) fn key_login_args(&self, ip: Ipv4Addr) -> Vec<std::ffi::OsString> {
        let mut args: Vec<std::ffi::OsString> = vec![
            "-o".into(),
            "IdentitiesOnly=yes".into(),
            "-i".into(),
            self.identity.clone().into(),
        ];
        args.extend(self.login_args(ip, &self.user));
        args
    }

    /// Writes rdplay's ssh config file for this run and returns its path. It comes first, so its
    /// settings win; the operator's `~/.ssh/config` is included after it when allowed.
    pub fn write_config_file(&self) -> std::io::Result<PathBuf> {
        let path = self.run_dir.join("ssh_config");
        // Written once per run; every connection of the run reads the same file.
        if path.exists() {
            return Ok(path);
        }
        let mut text = format!(
            "# Written by rdplay for one run.\n\
             Host *\n  \
             GlobalKnownHostsFile /dev/null\n  \
             HashKnownHosts no\n  \
             CheckHostIP no\n  \
             ServerAliveInterval {SERVER_ALIVE_INTERVAL}\n  \
             ServerAliveCountMax {SERVER_ALIVE_COUNT_MAX}\n  \
             UpdateHostKeys no\n  \
             LogLevel ERROR\n",
        );
        if !self.kex_algorithms.is_empty() {
            text.push_str(&format!(
                "  KexAlgorithms {}\n",
                self.kex_algorithms.join(",")
            ));
        }
        if self.use_ssh_config
            && let Some(home) = std::env::var_os("HOME")
        {
            let user_config = Path::new(&home).join(".ssh/config");
            if user_config.exists() {
                text.push_str(&format!("Include {}\n", user_config.display()));
            }
        }
        write_private(&path, text.as_bytes())?;
        Ok(path)
    }
}

/// The names in `wanted` that the local OpenSSH does not list as key exchange methods (`ssh -Q kex`).
pub fn unknown_kex(wanted: &[String]) -> std::io::Result<Vec<String>> {
    let out = crate::child::command("ssh")
        .args(["-Q", "kex"])
        .stdin(std::process::Stdio::null())
        .output()?;
    if !out.status.success() {
        return Err(std::io::Error::other(format!("ssh -Q kex: {}", out.status)));
    }
    let known = String::from_utf8_lossy(&out.stdout);
    let known: Vec<&str> = known.lines().map(str::trim).collect();
    Ok(wanted
        .iter()
        .filter(|w| !known.contains(&w.as_str()))
        .cloned()
        .collect())
}

/// Creates or replaces `path` with mode 0600 (run-scoped files in a private temporary directory: not synced).
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)
}
