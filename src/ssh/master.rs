//! Managed sessions: one ControlMaster per PC (system `ssh`, driven through the `openssh` crate's
//! multiplexing client), commands with capped output and timeouts, and SFTP uploads over the same
//! master.

use super::{SshError, SshSettings, local};
use openssh::Session;
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Stdio;
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

/// What a command whose standard output went to a file returned.
#[derive(Debug)]
pub struct Streamed {
    /// Exit code (`None` when killed by a signal, or ended by rdplay past the cap).
    pub code: Option<i32>,
    /// Bytes written to the file.
    pub bytes: u64,
    /// Their SHA-256, lower-case hex.
    pub sha256: String,
    /// Whether the output went past the cap: the command was ended and the file holds the first
    /// `cap` bytes only.
    pub over_cap: bool,
    /// Standard error, at most 64 KiB.
    pub stderr: Vec<u8>,
}

impl Streamed {
    /// The last line of stderr, made inert, as a reason for an error.
    pub fn reason(&self) -> String {
        super::last_meaningful_line(&String::from_utf8_lossy(&self.stderr))
    }
}

impl Master {
    /// Opens the master to `ip` as the connection user with the controller's key, accepting only the
    /// host key in `known_hosts` (the key pinned for this PC).
    ///
    /// The master is `ssh -M -f -N`: it goes to the background once logged in, and its control socket
    /// and log live in a private directory under the run's directory. Its whole handshake gets
    /// [`SshSettings::handshake_limit`]; past that, or if this future is dropped, the `ssh` process is
    /// killed.
    pub async fn connect(
        settings: &SshSettings,
        ip: Ipv4Addr,
        known_hosts: &Path,
    ) -> Result<Master, SshError> {
        Self::connect_within(settings, ip, known_hosts, settings.handshake_limit()).await
    }

    /// [`Master::connect`] with the handshake bounded by `limit`.
    async fn connect_within(
        settings: &SshSettings,
        ip: Ipv4Addr,
        known_hosts: &Path,
        limit: Duration,
    ) -> Result<Master, SshError> {
        let config = settings
            .write_config_file()
            .map_err(local("writing ssh config"))?;
        let dir = tempfile::Builder::new()
            .prefix(".ssh-connection")
            .tempdir_in(&settings.run_dir)
            .map_err(local("creating the master's directory"))?;
        let log = dir.path().join("log");
        let persist = match settings.control_persist.as_secs() {
            0 => "ControlPersist=no".to_string(),
            secs => format!("ControlPersist={secs}s"),
        };
        let mut known_hosts_option = std::ffi::OsString::from("UserKnownHostsFile=");
        known_hosts_option.push(known_hosts);
        let mut ssh = crate::child::async_command("ssh");
        ssh.arg("-F")
            .arg(&config)
            .arg("-E")
            .arg(&log)
            .arg("-S")
            .arg(dir.path().join("master"))
            .args(["-M", "-f", "-N", "-o", &persist])
            .args(["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes"])
            // INFO, not the config's ERROR: ssh says at INFO that a server went silent.
            .args(["-o", "LogLevel=INFO"])
            .arg("-o")
            .arg(known_hosts_option)
            .args(settings.key_login_args(ip))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        let started = std::time::Instant::now();
        let mut child = ssh.spawn().map_err(local("starting ssh"))?;
        let status = match tokio::time::timeout(limit, child.wait()).await {
            Ok(status) => status.map_err(local("waiting for ssh"))?,
            Err(_) => {
                // Killed and reaped: nothing of it is left running.
                let _ = child.kill().await;
                // Had it logged in at the last moment, its background master would be listening.
                if dir.path().join("master").exists() {
                    let close = Session::new_native_mux(dir).close();
                    let _ = tokio::time::timeout(Duration::from_secs(2), close).await;
                }
                return Err(SshError::Handshake {
                    ip,
                    detail: format!(
                        "within {} s (the SSH server answers, but too slowly to log in)",
                        limit.as_secs()
                    ),
                });
            }
        };
        if !status.success() {
            let output = match std::fs::read_to_string(&log) {
                Ok(text) if !text.trim().is_empty() => text,
                Ok(_) => format!("ssh {status} and logged nothing"),
                Err(e) => format!("ssh {status}; its log {} is unreadable: {e}", log.display()),
            };
            return Err(SshError::from_ssh_output(
                ip,
                &settings.user,
                settings,
                &output,
            ));
        }
        tracing::debug!(%ip, ms = started.elapsed().as_millis() as u64, "master handshake done");
        Ok(Master {
            ip,
            session: Arc::new(Session::new_native_mux(dir)),
            sudo: settings.user != "root",
        })
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
        tracing::trace!(%ip, what, program, ?args, stdin_bytes = stdin.len(), "remote command");
        let work = async {
            let mut child = self.spawn(what, program, args).await?;
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

    /// Starts `program args...` on the PC with its three standard streams piped.
    async fn spawn(
        &self,
        what: &str,
        program: &str,
        args: &[&str],
    ) -> Result<openssh::Child<Arc<Session>>, SshError> {
        let mut cmd = self.session.clone().arc_command(program);
        cmd.args(args)
            .stdin(openssh::Stdio::piped())
            .stdout(openssh::Stdio::piped())
            .stderr(openssh::Stdio::piped());
        cmd.spawn().await.map_err(|e| remote(self.ip, what, &e))
    }

    /// Runs `program args...` like [`Master::run`], writing its standard output into the new file
    /// `file` (created 0600; it must not exist) as it comes, at most `cap` bytes, and computing its
    /// SHA-256 on the way; the file is synced to disk before this returns. Past the cap, the command's
    /// channel is closed (the remote command gets EPIPE) and the result says `over_cap`. The caller
    /// owns the file whatever happens (it removes it when it does not keep it).
    #[allow(clippy::too_many_arguments)]
    pub async fn stream(
        &self,
        what: &str,
        program: &str,
        args: &[&str],
        stdin: &[u8],
        file: &Path,
        cap: u64,
        timeout: Duration,
    ) -> Result<Streamed, SshError> {
        use sha2::Digest;
        use std::os::unix::fs::OpenOptionsExt;
        let ip = self.ip;
        tracing::trace!(%ip, what, program, ?args, stdin_bytes = stdin.len(), cap, "remote command to a file");
        let created = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(file)
            .map_err(local(&format!("creating {}", file.display())))?;
        let mut sink = tokio::fs::File::from_std(created);
        let work = async {
            let mut child = self.spawn(what, program, args).await?;
            let mut input = child.stdin().take();
            let mut out = child.stdout().take();
            let mut err = child.stderr().take();
            let file_text = file.display().to_string();
            let ((bytes, sha256, over_cap), stderr) = {
                let copy = async {
                    let mut hash = sha2::Sha256::new();
                    let (mut bytes, mut over) = (0u64, false);
                    if let Some(out) = out.as_mut() {
                        let mut buf = vec![0u8; 64 * 1024];
                        loop {
                            let n = match out.read(&mut buf).await {
                                Ok(0) => break,
                                Ok(n) => n,
                                Err(e) => {
                                    return Err(SshError::Remote {
                                        ip,
                                        what: what.to_string(),
                                        detail: format!("reading its output: {e}"),
                                    });
                                }
                            };
                            let room = usize::try_from(cap - bytes).unwrap_or(usize::MAX);
                            let keep = n.min(room);
                            sink.write_all(&buf[..keep]).await.map_err(|source| {
                                SshError::Local {
                                    what: format!("writing {file_text}"),
                                    source,
                                }
                            })?;
                            hash.update(&buf[..keep]);
                            bytes += keep as u64;
                            if keep < n {
                                over = true;
                                break;
                            }
                        }
                    }
                    sink.sync_all().await.map_err(|source| SshError::Local {
                        what: format!("syncing {file_text}"),
                        source,
                    })?;
                    let sha256: String =
                        hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
                    Ok::<_, SshError>((bytes, sha256, over))
                };
                // Standard input and error go on beside the copy; past the cap, the copy ends first
                // and the command is left behind (its channel closed) without waiting for its stderr.
                let side = async {
                    if let Some(mut input) = input.take() {
                        let _ = input.write_all(stdin).await;
                        let _ = input.shutdown().await;
                    }
                    read_capped(err.as_mut(), STDERR_CAP).await.0
                };
                tokio::pin!(copy, side);
                let mut stderr = None;
                let copied = loop {
                    tokio::select! {
                        copied = &mut copy => break copied?,
                        e = &mut side, if stderr.is_none() => stderr = Some(e),
                    }
                };
                let stderr = match stderr {
                    Some(e) => e,
                    None if copied.2 => Vec::new(),
                    None => side.await,
                };
                (copied, stderr)
            };
            drop((out, err));
            if over_cap {
                let _ = child.disconnect().await;
                return Ok(Streamed {
                    code: None,
                    bytes,
                    sha256,
                    over_cap,
                    stderr,
                });
            }
            let status = child.wait().await.map_err(|e| remote(ip, what, &e))?;
            Ok(Streamed {
                code: status.code(),
                bytes,
                sha256,
                over_cap,
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// A server on loopback that sends its banner, then one byte of a packet every 300 ms and never
    /// the whole packet: ssh's own timers never fire (it keeps hearing from the server), so only the
    /// handshake limit ends it, and its `ssh` must then be gone (the server sees the connection close).
    #[tokio::test]
    async fn a_handshake_past_its_limit_fails_clearly_and_its_ssh_is_killed() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("listen on loopback");
        let port = listener.local_addr().expect("local address").port();
        let server = tokio::spawn(async move {
            let (conn, _) = listener.accept().await.expect("ssh connects");
            let (mut read, mut write) = conn.into_split();
            let trickle = async move {
                // The start of a 256-byte packet (a 252-byte length: a whole number of blocks), then
                // one byte at a time.
                let mut bytes = b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u6\r\n".to_vec();
                bytes.extend_from_slice(&[0, 0, 0, 252, 4, 20]);
                write.write_all(&bytes).await.expect("banner");
                loop {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    if write.write_all(&[0]).await.is_err() {
                        return;
                    }
                }
            };
            let until_closed = async move {
                let mut buf = [0u8; 4096];
                while read.read(&mut buf).await.is_ok_and(|n| n > 0) {}
                Instant::now()
            };
            tokio::select! {
                closed = until_closed => closed,
                () = trickle => Instant::now(),
            }
        });
        let dir = tempfile::tempdir().expect("temp dir");
        let known_hosts = dir.path().join("known_hosts");
        std::fs::write(&known_hosts, "").expect("known_hosts");
        let settings = SshSettings {
            user: "nobody".into(),
            port,
            identity: dir.path().join("no-such-key"),
            connect_timeout: Duration::from_secs(1),
            control_persist: Duration::ZERO,
            kex_algorithms: Vec::new(),
            use_ssh_config: false,
            run_dir: dir.path().to_path_buf(),
        };
        let ip = Ipv4Addr::LOCALHOST;
        let started = Instant::now();
        let limit = Duration::from_secs(2);
        let result = Master::connect_within(&settings, ip, &known_hosts, limit).await;
        let failed_after = started.elapsed();
        match result {
            Err(e @ SshError::Handshake { .. }) => assert_eq!(
                e.to_string(),
                "on 127.0.0.1: SSH handshake did not complete within 2 s \
                 (the SSH server answers, but too slowly to log in)"
            ),
            Err(e) => panic!("expected a handshake error, got: {e}"),
            Ok(_) => panic!("a server that never finishes its handshake was accepted"),
        }
        assert!(
            failed_after < limit + Duration::from_secs(1),
            "{failed_after:?}"
        );
        let closed = tokio::time::timeout(Duration::from_secs(2), server)
            .await
            .expect("ssh still holds the connection: it was not killed")
            .expect("server task");
        assert!(
            closed.duration_since(started) >= limit,
            "ssh gave up by itself"
        );
    }
}
