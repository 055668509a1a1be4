//! The real connector: the system OpenSSH. First contact is one plain `ssh` as the admin (password
//! through askpass); managed connections are one ControlMaster per PC with channels opened through
//! its socket (see [`crate::ssh`]).

use super::{Connection, Connector, RemoteOutput, SshError, Streamed};
use crate::secret::Secret;
use crate::ssh::{Master, SshSettings, askpass::AskpassServer};
use std::net::Ipv4Addr;
use std::time::Duration;
use tokio::sync::Mutex;

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
    pub settings: SshSettings,
    /// `None` when this run needs no first contact (every PC in scope has a pinned key).
    pub first_contact: Option<FirstContactCreds>,
}

impl Connector for OpenSsh {
    type Conn = OpenSshConn;

    async fn first_contact(&self, ip: Ipv4Addr, timeout: Duration) -> Result<String, SshError> {
        let Some(creds) = &self.first_contact else {
            return Err(SshError::NoFirstContact { ip });
        };
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
        let master = Master::connect(&self.settings, ip, &known_hosts).await?;
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
