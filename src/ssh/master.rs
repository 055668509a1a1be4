//! Managed sessions: one ControlMaster per PC (the `openssh` crate over system `ssh`), commands with
//! capped output and timeouts, and SFTP uploads over the same master.

use super::{SshError, SshSettings};
use openssh::{KnownHosts, Session, SessionBuilder};
use std::net::Ipv4Addr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A PC's ControlMaster; every step of that PC goes through it.
pub struct Master {
    ip: Ipv4Addr,
    session: Arc<Session>,
    /// The connection user is not root: commands that need root go through `sudo -n`.
    sudo: bool,
}

/// What a remote command returned.
#[derive(Debug)]
pub struct RemoteOutput {
    /// Exit code (`None` when killed by a signal).
    pub code: Option<i32>,
    /// Standard output, at most the cap given.
    pub stdout: Vec<u8>,
    /// Standard error, at most 64 KiB.
    pub stderr: Vec<u8>,
}

impl RemoteOutput {
    /// The last line of stderr, made inert, as a reason for an error.
    pub fn reason(&self) -> String {
        super::last_meaningful_line(&String::from_utf8_lossy(&self.stderr))
    }
}

const STDERR_CAP: usize = 64 * 1024;

impl Master {
    /// Opens the master to `ip` as the connection user with the controller's key, accepting only the
    /// host key in `known_hosts` (the key pinned for this PC).
    pub async fn connect(
        settings: &SshSettings,
        ip: Ipv4Addr,
        known_hosts: &Path,
    ) -> Result<Master, SshError> {
        let config = settings
            .write_config_file()
            .map_err(|source| SshError::Local {
                what: "writing ssh config".into(),
                source,
            })?;
        let persist = std::num::NonZeroUsize::new(settings.control_persist.as_secs() as usize)
            .map(openssh::ControlPersist::IdleFor)
            .unwrap_or(openssh::ControlPersist::ClosedAfterInitialConnection);
        let mut builder = SessionBuilder::default();
        builder
            .user(settings.user.clone())
            .port(settings.port)
            .keyfile(&settings.identity)
            .known_hosts_check(KnownHosts::Strict)
            .user_known_hosts_file(known_hosts)
            .config_file(&config)
            .connect_timeout(settings.connect_timeout.max(Duration::from_secs(1)))
            .server_alive_interval(Duration::from_secs(5))
            .control_directory(&settings.run_dir)
            .control_persist(persist);
        match builder.connect_mux(ip.to_string()).await {
            Ok(session) => Ok(Master {
                ip,
                session: Arc::new(session),
                sudo: settings.user != "root",
            }),
            Err(e) => Err(SshError::from_ssh_output(
                ip,
                &settings.user,
                &error_chain(&e),
            )),
        }
    }

    /// How a command that needs root starts on this PC: nothing as root, `sudo -n` (never asking for
    /// a password) as another connection user.
    pub fn as_root(&self) -> &'static [&'static str] {
        if self.sudo { &["sudo", "-n"] } else { &[] }
    }

    /// Runs `program args...` (each argument quoted for the remote shell), feeding `stdin`, keeping at
    /// most `stdout_cap` bytes of output (more is an error: a PC cannot flood the controller), within
    /// `timeout`.
    pub async fn run(
        &self,
        what: &str,
        program: &str,
        args: &[&str],
        stdin: &[u8],
        stdout_cap: usize,
        timeout: Duration,
    ) -> Result<RemoteOutput, SshError> {
        let ip = self.ip;
        // Commands carry no secret (parameters and hashes travel on stdin), so they can be logged.
        tracing::debug!(%ip, what, program, ?args, stdin_bytes = stdin.len(), "remote command");
        let work = async {
            let mut cmd = self.session.command(program);
            cmd.args(args)
                .stdin(openssh::Stdio::piped())
                .stdout(openssh::Stdio::piped())
                .stderr(openssh::Stdio::piped());
            let mut child = cmd.spawn().await.map_err(|e| remote(ip, what, &e))?;
            let mut input = child.stdin().take();
            let mut out = child.stdout().take();
            let mut err = child.stderr().take();
            let feed = async {
                if let Some(mut input) = input.take() {
                    let _ = input.write_all(stdin).await;
                    let _ = input.shutdown().await;
                }
            };
            let read_out = read_capped(out.as_mut(), stdout_cap);
            let read_err = read_capped(err.as_mut(), STDERR_CAP);
            let ((), stdout, stderr) = tokio::join!(feed, read_out, read_err);
            let (stdout, overflow) = stdout;
            let (stderr, _) = stderr;
            if overflow {
                return Err(SshError::Remote {
                    ip,
                    what: what.to_string(),
                    detail: format!("output exceeds {stdout_cap} bytes"),
                });
            }
            drop((out, err));
            let status = child.wait().await.map_err(|e| remote(ip, what, &e))?;
            Ok(RemoteOutput {
                code: status.code(),
                stdout,
                stderr,
            })
        };
        super::within(ip, what, timeout, work).await?
    }

    /// Starts an SFTP session over this master (can run while other commands are in flight).
    pub async fn sftp(&self, timeout: Duration) -> Result<openssh_sftp_client::Sftp, SshError> {
        let ip = self.ip;
        let start = openssh_sftp_client::Sftp::from_clonable_session(
            Arc::clone(&self.session),
            Default::default(),
        );
        super::within(ip, "sftp", timeout, start)
            .await?
            .map_err(|e| sftp_error(ip, e))
    }

    /// Writes `bytes` to the new file `path` on the PC through `sftp`, then closes the SFTP session.
    pub async fn upload(
        &self,
        sftp: openssh_sftp_client::Sftp,
        path: &str,
        bytes: &[u8],
        timeout: Duration,
    ) -> Result<(), SshError> {
        let ip = self.ip;
        let work = async {
            let mut file = sftp
                .options()
                .write(true)
                .create_new(true)
                .open(path)
                .await
                .map_err(|e| sftp_error(ip, e))?;
            file.write_all(bytes).await.map_err(|e| sftp_error(ip, e))?;
            file.close().await.map_err(|e| sftp_error(ip, e))?;
            sftp.close().await.map_err(|e| sftp_error(ip, e))
        };
        super::within(ip, "sftp upload", timeout, work).await?
    }

    /// Closes the master (ends the ssh process and removes its socket).
    pub async fn close(self) {
        if let Ok(session) = Arc::try_unwrap(self.session) {
            let _ = session.close().await;
        }
    }
}

fn sftp_error(ip: Ipv4Addr, e: openssh_sftp_client::Error) -> SshError {
    SshError::Remote {
        ip,
        what: "sftp upload".into(),
        detail: crate::text::inert(&error_chain(&e), 300),
    }
}

fn remote(ip: Ipv4Addr, what: &str, e: &openssh::Error) -> SshError {
    SshError::Remote {
        ip,
        what: what.to_string(),
        detail: crate::text::inert(&error_chain(e), 300),
    }
}

/// The error and its sources in one line (ssh's own message is usually in a source).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Reads at most `cap` bytes; the flag says whether more was there.
async fn read_capped<R: tokio::io::AsyncRead + Unpin>(
    reader: Option<&mut R>,
    cap: usize,
) -> (Vec<u8>, bool) {
    let Some(reader) = reader else {
        return (Vec::new(), false);
    };
    let mut buf = Vec::new();
    let mut limited = reader.take(cap as u64 + 1);
    let _ = limited.read_to_end(&mut buf).await;
    let overflow = buf.len() > cap;
    buf.truncate(cap);
    (buf, overflow)
}
