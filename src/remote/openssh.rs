//! The real connector: the system OpenSSH. First contact is one plain `ssh` as the admin (password
//! through askpass); managed connections are one ControlMaster per PC with channels opened through
//! its socket (see [`crate::ssh`]).

use super::{Connection, Connector, RemoteOutput, SshError, Streamed};
use crate::secret::Secret;
use crate::ssh::{Master, SshSettings, askpass::AskpassServer};
use std::net::Ipv4Addr;
use std::time::Duration;
use tokio::sync::{Mutex, Semaphore};

/// What first contact needs: the admin account, its password (served by askpass) and the key to install.
pub struct FirstContactCreds {
    pub admin: String,
    pub password: Secret,
    pub askpass: AskpassServer,
    /// The controller's public key line.
    pub controller_key: String,
}

/// Reaches PCs over the system OpenSSH.
pub struct OpenSsh {
    settings: SshSettings,
    /// `None` when this run needs no first contact (every PC in scope has a pinned key).
    first_contact: Option<FirstContactCreds>,
    /// Handshakes under way at once, whatever `forks` says: see [`handshakes_at_once`].
    handshakes: Semaphore,
}

/// How many SSH handshakes run at once: 16 per core of the controller. A handshake is the one
/// CPU-heavy part of a connection for the controller (the key exchange: about 10 ms of CPU with
/// curve25519, 75 ms with OpenSSH 9.x's post-quantum default); a thousand at once share the
/// cores until each is slower than ssh's own limits and fails. 16 per core keeps the cores busy
/// while each handshake waits on the network (5 round trips: 150 ms at 30 ms away), and the
/// channels of connections already made are never held back.
pub fn handshakes_at_once() -> usize {
    16 * std::thread::available_parallelism().map_or(1, usize::from)
}

impl OpenSsh {
    /// A connector with `settings`, and `first_contact` when some PC in scope has no pinned key.
    pub fn new(settings: SshSettings, first_contact: Option<FirstContactCreds>) -> OpenSsh {
        OpenSsh {
            settings,
            first_contact,
            handshakes: Semaphore::new(handshakes_at_once()),
        }
    }

    /// Waits for a handshake's turn (the permit is held until the handshake is over).
    async fn turn(&self) -> Result<tokio::sync::SemaphorePermit<'_>, SshError> {
        self.handshakes
            .acquire()
            .await
            .map_err(|_| SshError::Local {
                what: "waiting for a handshake slot".into(),
                source: std::io::Error::other("the connector is closing"),
            })
    }
}

impl OpenSsh {
    /// For `--check`: why first contact as `admin` with the PC at `ip` would fail before any password
    /// is sent (it allows no password login, and rdplay's key is not installed there), or `None`.
    pub async fn first_contact_refused(&self, ip: Ipv4Addr, admin: &str) -> Option<SshError> {
        let _turn = self.turn().await.ok()?;
        crate::ssh::first_contact_refused(&self.settings, ip, admin)
            .await
            .ok()
            .flatten()
    }
}

impl Connector for OpenSsh {
    type Conn = OpenSshConn;

    async fn first_contact(&self, ip: Ipv4Addr, timeout: Duration) -> Result<String, SshError> {
        let Some(creds) = &self.first_contact else {
            return Err(SshError::NoFirstContact { ip });
        };
        let _turn = self.turn().await?;
        let contact = crate::ssh::first_contact(
            &self.settings,
            &creds.askpass,
            ip,
            &creds.admin,
            &creds.password,
            &self.settings.user,
            &creds.controller_key,
            timeout,
        )
        .await?;
        Ok(contact.host_keys)
    }

    async fn password_login(
        &self,
        ip: Ipv4Addr,
        host_keys: &str,
        user: &str,
        password: &Secret,
        timeout: Duration,
    ) -> Result<crate::ssh::Login, SshError> {
        let _turn = self.turn().await?;
        crate::ssh::password_login(&self.settings, ip, host_keys, user, password, timeout).await
    }

    async fn connect(&self, ip: Ipv4Addr, host_keys: &str) -> Result<OpenSshConn, SshError> {
        if !self.settings.identity.exists() {
            return Err(SshError::NoControllerKey { ip });
        }
        let known_hosts = self
            .settings
            .pinned_known_hosts(ip, host_keys)
            .map_err(|source| SshError::Local {
                what: "writing known_hosts".into(),
                source,
            })?;
        let master = {
            let _turn = self.turn().await?;
            Master::connect(&self.settings, ip, &known_hosts).await?
        };
        Ok(OpenSshConn {
            master,
            sftp: Mutex::new(None),
        })
    }
}

/// A PC's ControlMaster, with the SFTP session prepared for an upload.
pub struct OpenSshConn {
    master: Master,
    sftp: Mutex<Option<openssh_sftp_client::Sftp>>,
}

impl Connection for OpenSshConn {
    async fn run(
        &self,
        what: &str,
        program: &str,
        args: &[&str],
        stdin: &[u8],
        stdout_cap: usize,
        timeout: Duration,
    ) -> Result<RemoteOutput, SshError> {
        self.master
            .run(what, program, args, stdin, stdout_cap, timeout)
            .await
    }

    async fn stream_to_file(
        &self,
        what: &str,
        program: &str,
        args: &[&str],
        stdin: &[u8],
        file: &std::path::Path,
        cap: u64,
        timeout: Duration,
    ) -> Result<Streamed, SshError> {
        self.master
            .stream(what, program, args, stdin, file, cap, timeout)
            .await
    }

    async fn prepare_upload(&self, timeout: Duration) -> Result<(), SshError> {
        let sftp = self.master.sftp(timeout).await?;
        *self.sftp.lock().await = Some(sftp);
        Ok(())
    }

    async fn upload(&self, path: &str, bytes: &[u8], timeout: Duration) -> Result<(), SshError> {
        let prepared = self.sftp.lock().await.take();
        let sftp = match prepared {
            Some(sftp) => sftp,
            None => self.master.sftp(timeout).await?,
        };
        self.master.upload(sftp, path, bytes, timeout).await
    }

    fn as_root(&self) -> &'static [&'static str] {
        self.master.as_root()
    }

    async fn close(self) {
        if let Some(sftp) = self.sftp.into_inner() {
            let _ = sftp.close().await;
        }
        self.master.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn handshakes_wait_their_turn_beyond_the_cap() {
        let settings = SshSettings {
            user: "root".into(),
            port: 22,
            identity: "id".into(),
            connect_timeout: Duration::from_secs(3),
            control_persist: Duration::ZERO,
            kex_algorithms: Vec::new(),
            use_ssh_config: false,
            run_dir: "/nonexistent".into(),
        };
        let ssh = Arc::new(OpenSsh::new(settings, None));
        let (now, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let tasks: Vec<_> = (0..2 * handshakes_at_once())
            .map(|_| {
                let (ssh, now, most) = (Arc::clone(&ssh), Arc::clone(&now), Arc::clone(&most));
                tokio::spawn(async move {
                    let _turn = ssh.turn().await.unwrap();
                    let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(n, Ordering::SeqCst);
                    // Held until the cap is reached (or 2 s went by), so that reaching it is certain.
                    for _ in 0..2000 {
                        if now.load(Ordering::SeqCst) >= handshakes_at_once() {
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                    now.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(most.load(Ordering::SeqCst), handshakes_at_once());
    }
}
