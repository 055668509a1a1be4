//! Archive (`account.archive`): before an old account is deleted, its home and the files it owns
//! elsewhere come from the PC as one compressed tar — the helper's read-only `archive` mode, its
//! standard output streamed over the PC's SSH connection — into a private directory on the
//! controller (`DIR/<MAC>/`, 0700; files 0600), one file per account named by account and time.
//!
//! The stream is written under a temporary name, capped at `max_size`, hashed (SHA-256) on the way,
//! synced, and renamed into place only once complete; the caller records it in the inventory and only
//! then lets exec delete the account. So a failed, oversized or interrupted archive leaves no archive
//! file (a killed run's temporary file is removed by the next archive of that PC) and deletes nothing.
//! A failure says why and only that; the caller says what follows (the account kept, or deleted
//! without its archive under `on_failure: delete`).
//! [`prune`] keeps the newest `keep` archives of a PC.

use super::sftp::Workdir;
use super::{StepError, StepKind};
use crate::inventory::Store;
use crate::mac::Mac;
use crate::playbook::Archive;
use crate::remote::Connection;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The suffix of an archive being written.
const PART: &str = ".part";

/// An archive written, synced and in place (not yet recorded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// The account archived.
    pub username: String,
    /// The archive file (absolute).
    pub path: PathBuf,
    /// Its size.
    pub bytes: u64,
    /// Its SHA-256, lower-case hex.
    pub sha256: String,
}

/// The directory of one PC's archives.
pub fn pc_dir(archive: &Archive, mac: &Mac) -> PathBuf {
    archive.dir.join(mac.bare())
}

/// Streams the archive of `account` (an account about to be deleted; `adopted` when `account.adopt`
/// chose it) from the PC into the PC's archive directory, through the helper uploaded in `workdir`.
#[allow(clippy::too_many_arguments)]
pub async fn fetch(
    conn: &impl Connection,
    workdir: &Workdir,
    mac: &Mac,
    account: &str,
    adopted: bool,
    archive: &Archive,
    timeout: Duration,
) -> Result<Fetched, StepError> {
    if let Some(why) = super::exec::refusal(account) {
        return Err(StepError::new(StepKind::Archive, why));
    }
    let local =
        |what: String| move |e: std::io::Error| StepError::caused(StepKind::Archive, what, e);
    let dir = pc_dir(archive, mac);
    crate::files::private_dir(&archive.dir)
        .and_then(|()| crate::files::private_dir(&dir))
        .map_err(local(format!("making {}", dir.display())))?;
    remove_partial(&dir);
    let stamp = jiff::Timestamp::now().strftime("%Y%m%d-%H%M%S").to_string();
    let path = (1..100)
        .map(|n| match n {
            1 => dir.join(format!("{account}-{stamp}.tar.gz")),
            n => dir.join(format!("{account}-{stamp}-{n}.tar.gz")),
        })
        .find(|p| !p.exists())
        .ok_or_else(|| StepError::new(StepKind::Archive, "no free archive name"))?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let part = dir.join(format!(".{}{PART}", name.unwrap_or_default()));
    let script = super::exec::helper_command(conn, workdir);
    let params = format!(
        "mode=archive\n{}={account}\n",
        if adopted { "adopt" } else { "delete" }
    );
    let streamed = conn
        .stream_to_file(
            "archive",
            "sh",
            &["-c", &script],
            params.as_bytes(),
            &part,
            archive.max_size,
            timeout,
        )
        .await;
    let failed = |why: String| {
        let _ = std::fs::remove_file(&part);
        StepError::new(StepKind::Archive, format!("archiving {account}: {why}"))
    };
    let out = match streamed {
        Ok(out) => out,
        Err(e) => return Err(failed(e.to_string())),
    };
    if out.over_cap {
        return Err(failed(format!(
            "the archive is larger than account.archive.max_size ({}, {} bytes); raise max_size or \
             make room in the home",
            crate::text::bytes(archive.max_size),
            archive.max_size
        )));
    }
    match out.code {
        Some(0) => {}
        // GNU tar: some files changed or vanished while they were read (the account's processes are
        // ended only by exec): what was read is archived.
        Some(1) => tracing::warn!(account, reason = %out.reason(), "files changed while archived"),
        Some(3) => return Err(failed(format!("the PC refused: {}", out.reason()))),
        Some(code) => return Err(failed(format!("exited with {code}: {}", out.reason()))),
        None => return Err(failed("the archive was killed by a signal".into())),
    }
    if out.bytes == 0 {
        return Err(failed("the PC sent an empty archive".into()));
    }
    if let Err(e) = std::fs::rename(&part, &path) {
        return Err(failed(format!("renaming {}: {e}", part.display())));
    }
    // The rename itself must survive a crash before the account is deleted.
    if let Err(e) = std::fs::File::open(&dir).and_then(|d| d.sync_all()) {
        let _ = std::fs::remove_file(&path);
        return Err(failed(format!("syncing {}: {e}", dir.display())));
    }
    Ok(Fetched {
        username: account.to_string(),
        path,
        bytes: out.bytes,
        sha256: out.sha256,
    })
}

/// Removes temporary files an interrupted archive left in `dir` (rdplay runs one at a time, and one
/// PC's work never runs twice at once).
fn remove_partial(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') && name.ends_with(PART) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Retention: keeps the newest `keep` archives of the PC, removing older files and recording their
/// removal. A file that cannot be removed stays recorded as kept (the next archive tries again); what
/// went wrong is returned for the log, never a reason to fail the PC. Only files in the PC's archive
/// directory are ever removed, whatever the inventory says (an archive made under another
/// `account.archive.dir` is left where it is).
pub async fn prune<S: Store>(store: &S, archive: &Archive, mac: &Mac) -> Vec<String> {
    let (dir, keep) = (pc_dir(archive, mac), archive.keep);
    let mut problems = Vec::new();
    let archives = match store.archives_of(mac) {
        Ok(a) => a,
        Err(e) => return vec![format!("reading the archives: {e}")],
    };
    let kept: Vec<_> = archives.iter().filter(|a| a.removed_at.is_none()).collect();
    let excess = kept.len().saturating_sub(keep as usize);
    for old in &kept[..excess] {
        let ours = old.path.parent() == Some(dir.as_path())
            && old.path.extension().is_some_and(|e| e == "gz");
        if !ours {
            problems.push(format!(
                "not removing {}: not an archive of {}",
                old.path.display(),
                dir.display()
            ));
            continue;
        }
        match std::fs::remove_file(&old.path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                problems.push(format!("removing {}: {e}", old.path.display()));
                continue;
            }
        }
        if let Err(e) = store.archive_removed(old.id).await {
            problems.push(format!(
                "recording the removal of {}: {e}",
                old.path.display()
            ));
        }
    }
    problems
}
