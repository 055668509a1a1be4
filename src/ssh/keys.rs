//! The controller's own key pair.

use std::path::{Path, PathBuf};

/// Returns the controller's public key line, generating an ed25519 key pair at `identity` (0600, no
/// passphrase, in a 0700 directory) when there is none yet.
pub fn controller_key(identity: &Path) -> std::io::Result<String> {
    let public = PathBuf::from(format!("{}.pub", identity.display()));
    if !identity.exists() {
        if let Some(dir) = identity.parent() {
            crate::files::private_dir(dir)?;
        }
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
        let status = crate::child::command("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C"])
            .arg(format!("rdplay@{}", host.trim()))
            .arg("-f")
            .arg(identity)
            .stdin(std::process::Stdio::null())
            .status()?;
        if !status.success() {
            return Err(std::io::Error::other(format!(
                "ssh-keygen exited with {status}"
            )));
        }
        // ssh-keygen makes the public half 0644: every file rdplay writes is 0600.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&public, std::fs::Permissions::from_mode(0o600))?;
    }
    let key = std::fs::read_to_string(&public)?;
    let key = key.trim().to_string();
    if !key.starts_with("ssh-") {
        return Err(std::io::Error::other(format!(
            "{} is not an OpenSSH public key",
            public.display()
        )));
    }
    Ok(key)
}
