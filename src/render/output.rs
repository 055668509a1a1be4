//! Sheet files on disk: directories 0700 (an existing one is tightened), files 0600 created with
//! their mode, files replaced atomically so a reader never sees half a sheet.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::RenderError;

/// Creates `dir` and its missing parents with mode 0700, or tightens an existing `dir` to 0700.
pub fn create_dir(dir: &Path) -> Result<(), RenderError> {
    crate::files::private_dir(dir).map_err(|source| RenderError::Write {
        path: dir.to_path_buf(),
        source,
    })
}

/// Writes `bytes` to `path` (mode 0600) through a temporary file renamed over it.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<(), RenderError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let err = |source| RenderError::Write {
        path: path.to_path_buf(),
        source,
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut file| {
            file.write_all(bytes)?;
            file.sync_all()
        })
        .and_then(|()| std::fs::rename(&tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(err)
}

/// Checks that a username can be a file name: not empty, no `/`, no NUL, not `.` or `..`,
/// no leading dot (hidden files, and our temporary files start with one).
pub fn check_username(username: &str) -> Result<(), RenderError> {
    let bad = |reason| RenderError::BadName {
        what: "username",
        value: username.to_string(),
        reason,
    };
    if username.is_empty() {
        return Err(bad("it is empty"));
    }
    if username.contains(['/', '\0']) {
        return Err(bad("it holds a `/` or a NUL byte"));
    }
    if username.starts_with('.') {
        return Err(bad("it starts with a dot"));
    }
    if username.len() > 200 {
        return Err(bad("it is longer than 200 bytes"));
    }
    Ok(())
}

/// The file stem of a PC sheet: the MAC without colons, lower-case (`08:00:27:ea:fa:15` →
/// `080027eafa15`).
pub fn mac_stem(mac: &str) -> Result<String, RenderError> {
    let stem: String = mac
        .chars()
        .filter(|c| *c != ':' && *c != '-')
        .collect::<String>()
        .to_ascii_lowercase();
    if stem.len() != 12 || !stem.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(RenderError::BadName {
            what: "MAC address",
            value: mac.to_string(),
            reason: "it is not six hexadecimal bytes such as 08:00:27:ea:fa:15",
        });
    }
    Ok(stem)
}

/// Deletes `<out>/users/<username>.<ext>` for every extension; returns the deleted paths.
pub fn remove_user_sheets(out_dir: &Path, username: &str) -> std::io::Result<Vec<PathBuf>> {
    check_username(username)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?;
    let dir = out_dir.join("users");
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let prefix = format!("{username}.");
    let mut removed = Vec::new();
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let is_sheet = name
            .strip_prefix(&prefix)
            .is_some_and(|ext| !ext.is_empty() && !ext.contains('.'));
        if is_sheet && entry.file_type()?.is_file() {
            std::fs::remove_file(entry.path())?;
            removed.push(entry.path());
        }
    }
    removed.sort();
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn modes_are_0700_and_0600_even_over_an_existing_file() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("a/b");
        create_dir(&sub).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&sub), 0o700);
        assert_eq!(mode(&dir.path().join("a")), 0o700);
        let file = sub.join("x.pdf");
        std::fs::write(&file, "old").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_file(&file, b"new").unwrap();
        assert_eq!(mode(&file), 0o600);
        assert_eq!(std::fs::read(&file).unwrap(), b"new");
        assert_eq!(
            std::fs::read_dir(&sub).unwrap().count(),
            1,
            "no temporary file left"
        );
    }

    #[test]
    fn names() {
        assert_eq!(mac_stem("08:00:27:EA:fa:15").unwrap(), "080027eafa15");
        assert!(mac_stem("08:00:27:ea:fa").is_err());
        assert!(mac_stem("../../etc/passwd").is_err());
        assert!(check_username("USERSS006-1291").is_ok());
        for bad in ["", "..", ".hidden", "a/b", "a\0b"] {
            assert!(check_username(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn removes_only_that_users_sheets() {
        let dir = tempfile::tempdir().unwrap();
        let users = dir.path().join("users");
        create_dir(&users).unwrap();
        for name in ["U1.pdf", "U1.png", "U10.pdf", "U1.old.pdf", "U2.pdf"] {
            std::fs::write(users.join(name), "x").unwrap();
        }
        let removed = remove_user_sheets(dir.path(), "U1").unwrap();
        assert_eq!(removed, vec![users.join("U1.pdf"), users.join("U1.png")]);
        let mut left: Vec<_> = std::fs::read_dir(&users)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, ["U1.old.pdf", "U10.pdf", "U2.pdf"]);
        assert!(remove_user_sheets(dir.path(), "../x").is_err());
        assert!(
            remove_user_sheets(&dir.path().join("none"), "U1")
                .unwrap()
                .is_empty()
        );
    }
}
