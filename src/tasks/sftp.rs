//! Sftp: make a private work directory on the PC (`mktemp -d`, 0700) and upload the helper into it.

use super::{StepError, StepKind};
use crate::remote::Connection;
use std::time::Duration;

/// The PC's private work directory with the helper uploaded to `helper.sh`; exec consumes it and
/// removes the directory.
#[derive(Debug)]
pub struct Workdir(String);

impl Workdir {
    /// The directory's path on the PC.
    pub fn path(&self) -> &str {
        &self.0
    }
}

/// Creates the work directory and uploads `helper` into it; on failure removes what it made.
pub async fn upload(
    conn: &impl Connection,
    helper: &str,
    timeout: Duration,
) -> Result<Workdir, StepError> {
    let fail = |e: crate::remote::SshError| StepError::caused(StepKind::Sftp, "", e);
    // The work directory and the SFTP session are made at the same time.
    let (out, sftp) = tokio::join!(
        conn.run(
            "mktemp",
            "mktemp",
            &["-d", "/tmp/rdplay.XXXXXXXX"],
            b"",
            4096,
            timeout,
        ),
        conn.prepare_upload(timeout)
    );
    let out = out.map_err(fail)?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let dir = text.trim_end_matches('\n');
    if out.code != Some(0) || !valid_workdir(dir) {
        return Err(StepError::new(
            StepKind::Sftp,
            format!("could not make a private work directory: {}", out.reason()),
        ));
    }
    let workdir = Workdir(dir.to_string());
    let uploaded = match sftp {
        Ok(()) => conn
            .upload(&format!("{dir}/helper.sh"), helper.as_bytes(), timeout)
            .await
            .map_err(fail),
        Err(e) => Err(fail(e)),
    };
    if let Err(e) = uploaded {
        remove(conn, &workdir).await;
        return Err(e);
    }
    Ok(workdir)
}

/// Removes the work directory through a fresh channel (after a failure; exec removes it itself).
pub async fn remove(conn: &impl Connection, dir: &Workdir) {
    let cleanup = Duration::from_secs(10);
    let _ = conn
        .run("cleanup", "rm", &["-rf", dir.path()], b"", 1024, cleanup)
        .await;
}

/// Only a directory that `mktemp -d /tmp/rdplay.XXXXXXXX` can make is ever used or removed.
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
