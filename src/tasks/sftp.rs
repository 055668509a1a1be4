//! Sftp: open the PC's master, make a private work directory (`mktemp -d`, 0700) and upload the helper.

use super::exchange::Trusted;
use super::{StepError, StepKind};
use crate::ssh::{Master, SshSettings};
use std::time::Duration;

/// A PC with its master open and the helper uploaded to `workdir/helper.sh`.
pub struct Uploaded {
    pub trusted: Trusted,
    pub master: Master,
    /// The PC's hostname, as `uname -n` says.
    pub hostname: String,
    /// The private work directory (`/tmp/rdplay.XXXXXXXX`), removed by exec.
    pub workdir: String,
}

/// Connects with the pinned key, creates the work directory and uploads `helper`.
pub async fn upload(
    settings: &SshSettings,
    trusted: Trusted,
    helper: &str,
    timeout: Duration,
) -> Result<Uploaded, StepError> {
    let ip = trusted.pc.ip;
    let fail = |e: crate::ssh::SshError| StepError::new(StepKind::Sftp, e.to_string());
    let known_hosts = settings
        .pinned_known_hosts(ip, &trusted.host_keys)
        .map_err(|e| StepError::new(StepKind::Sftp, format!("writing known_hosts: {e}")))?;
    let master = Master::connect(settings, ip, &known_hosts)
        .await
        .map_err(fail)?;
    // The work directory and the SFTP session are made at the same time.
    let (out, sftp) = tokio::join!(
        master.run(
            "mktemp",
            "sh",
            &["-c", "uname -n && mktemp -d /tmp/rdplay.XXXXXXXX"],
            b"",
            4096,
            timeout,
        ),
        master.sftp(timeout)
    );
    let (out, sftp) = match (out, sftp) {
        (Ok(out), Ok(sftp)) => (out, sftp),
        (Ok(out), Err(e)) => {
            // The directory exists but nothing can be uploaded into it: remove it.
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            if let Some(dir) = text.lines().nth(1).filter(|d| valid_workdir(d)) {
                remove_workdir(&master, dir).await;
            }
            master.close().await;
            return Err(fail(e));
        }
        (Err(e), _) => {
            master.close().await;
            return Err(fail(e));
        }
    };
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut lines = text.lines();
    let (hostname, workdir) = (lines.next().unwrap_or(""), lines.next().unwrap_or(""));
    if out.code != Some(0) || !valid_workdir(workdir) || hostname.is_empty() {
        master.close().await;
        return Err(StepError::new(
            StepKind::Sftp,
            format!("could not make a private work directory: {}", out.reason()),
        ));
    }
    let hostname = crate::text::inert(hostname, 64);
    let workdir = workdir.to_string();
    if let Err(e) = master
        .upload(
            sftp,
            &format!("{workdir}/helper.sh"),
            helper.as_bytes(),
            timeout,
        )
        .await
    {
        remove_workdir(&master, &workdir).await;
        master.close().await;
        return Err(fail(e));
    }
    Ok(Uploaded {
        trusted,
        master,
        hostname,
        workdir,
    })
}

impl Uploaded {
    /// Removes the work directory through a fresh channel (after a failure; exec removes it itself).
    pub async fn cleanup(&self) {
        remove_workdir(&self.master, &self.workdir).await;
    }
}

async fn remove_workdir(master: &Master, dir: &str) {
    let cleanup = Duration::from_secs(10);
    let _ = master
        .run("cleanup", "rm", &["-rf", dir], b"", 1024, cleanup)
        .await;
}

/// Only a directory that `mktemp -d /tmp/rdplay.XXXXXXXX` can make is ever removed.
fn valid_workdir(dir: &str) -> bool {
    dir.strip_prefix("/tmp/rdplay.")
        .is_some_and(|rest| rest.len() == 8 && rest.chars().all(|c| c.is_ascii_alphanumeric()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_mktemp_dirs_are_accepted() {
        assert!(super::valid_workdir("/tmp/rdplay.Ab3dE5gH"));
        assert!(!super::valid_workdir("/"));
        assert!(!super::valid_workdir("/tmp/rdplay.Ab3dE5gH/../../etc"));
        assert!(!super::valid_workdir("/tmp/rdplay.a b"));
    }
}
