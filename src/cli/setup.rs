//! What a command sets up before it works: the controller's key, logging.

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
        let status = std::process::Command::new("ssh-keygen")
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

/// Sets up tracing: human lines on stderr at the chosen level and, when given, the run's log file and
/// its JSON audit log (`audit.jsonl` beside it, one event per line, for scripts), both 0600 at the same
/// level. Secrets never reach any of them: they are a type that prints as `********`.
pub fn init_logging(
    args: &super::LogArgs,
    playbook_level: crate::playbook::LogLevel,
    file: Option<&Path>,
) {
    use std::io::IsTerminal;
    use tracing_subscriber::prelude::*;
    let level = args.level(Some(playbook_level)).as_tracing();
    // Colours only on a terminal: piped or redirected, stderr carries no escape sequences.
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .without_time()
        .with_filter(tracing_subscriber::filter::LevelFilter::from_level(level));
    let open = |path: &Path| {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)
            .ok()
    };
    let file_layer = file.and_then(open).map(|f| {
        tracing_subscriber::fmt::layer()
            .with_writer(std::sync::Mutex::new(f))
            .with_ansi(false)
            .with_filter(tracing_subscriber::filter::LevelFilter::from_level(level))
    });
    let audit_layer = file
        .and_then(|path| open(&path.with_file_name("audit.jsonl")))
        .map(|f| {
            tracing_subscriber::fmt::layer()
                .json()
                .with_writer(std::sync::Mutex::new(f))
                .with_filter(tracing_subscriber::filter::LevelFilter::from_level(level))
        });
    let _ = tracing_subscriber::registry()
        .with(stderr)
        .with(file_layer)
        .with(audit_layer)
        .try_init();
}
