//! Giving the admin password to `ssh` at first contact without argv or environment.
//!
//! `ssh` runs with `SSH_ASKPASS` pointing at the rdplay binary itself and `SSH_ASKPASS_REQUIRE=force`.
//! When ssh wants the password it starts `rdplay "user@host's password: "`; that process sees
//! `RDPLAY_ASKPASS_SOCKET` (a path, not a secret), connects to the [`AskpassServer`] listening on that
//! Unix socket inside the run's private 0700 directory, and copies the password it receives to its
//! stdout, which is a pipe to ssh. The password never appears in any process's argv or environment.

use crate::secret::Secret;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Environment variable naming the askpass socket (a path; never the password).
pub const SOCKET_VAR: &str = "RDPLAY_ASKPASS_SOCKET";

/// Serves the admin password to rdplay's own askpass processes for as long as it lives.
pub struct AskpassServer {
    socket: PathBuf,
    task: tokio::task::JoinHandle<()>,
}

impl AskpassServer {
    /// Listens on `dir/askpass.sock`; `dir` must be private (0700).
    pub fn start(dir: &Path, password: Secret) -> std::io::Result<AskpassServer> {
        let socket = dir.join("askpass.sock");
        let _ = std::fs::remove_file(&socket);
        let listener = tokio::net::UnixListener::bind(&socket)?;
        let password = Arc::new(password);
        let me = effective_uid();
        let task = tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            while let Ok((mut stream, _)) = listener.accept().await {
                // Only processes of our own user may ask (the socket's directory already restricts this).
                let same_user = stream.peer_cred().map(|c| c.uid() == me).unwrap_or(false);
                if !same_user {
                    continue;
                }
                let password = Arc::clone(&password);
                tokio::spawn(async move {
                    let mut line = password.expose().as_bytes().to_vec();
                    line.push(b'\n');
                    let _ = stream.write_all(&line).await;
                    line.fill(0);
                    let _ = stream.shutdown().await;
                });
            }
        });
        Ok(AskpassServer { socket, task })
    }

    /// Environment for an `ssh` process that must use this server for its password prompt.
    pub fn env(&self) -> std::io::Result<Vec<(&'static str, std::ffi::OsString)>> {
        Ok(vec![
            ("SSH_ASKPASS", std::env::current_exe()?.into_os_string()),
            ("SSH_ASKPASS_REQUIRE", "force".into()),
            (SOCKET_VAR, self.socket.clone().into_os_string()),
        ])
    }
}

impl Drop for AskpassServer {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.socket);
    }
}

fn effective_uid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    // The owner of a file we just created is our effective uid.
    std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(u32::MAX)
}

/// When rdplay was started by ssh as its askpass program, answers the prompt and returns the exit code.
/// Returns `None` for a normal start.
pub fn client_main() -> Option<std::process::ExitCode> {
    use std::io::{Read, Write};
    let socket = std::env::var_os(SOCKET_VAR)?;
    let prompt = std::env::args().nth(1).unwrap_or_default().to_lowercase();
    // Answer password prompts only: never a host-key confirmation or anything else.
    if !prompt.contains("password") {
        return Some(std::process::ExitCode::FAILURE);
    }
    let mut answer = Vec::new();
    let ok = std::os::unix::net::UnixStream::connect(socket)
        .and_then(|mut s| s.read_to_end(&mut answer))
        .and_then(|_| std::io::stdout().write_all(&answer))
        .is_ok();
    answer.fill(0);
    Some(if ok {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    })
}
