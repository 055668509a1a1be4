//! Where the first-contact admin password comes from: a file, an environment variable named in
//! the playbook, or the terminal. The playbook never holds the password itself.

use super::error::PlaybookError;
use crate::secret::Secret;
use std::path::PathBuf;

/// Where the admin password comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordSource {
    /// A file (absolute path) holding the password; it must not be accessible to group or others.
    File(PathBuf),
    /// The name of an environment variable holding the password. A playbook that names it withholds
    /// it from every program rdplay starts ([`crate::child`]).
    Env(String),
    /// Typed on the terminal, without echo.
    Prompt,
}

impl PasswordSource {
    /// Reads the password.
    ///
    /// - file: one trailing newline (`\n` or `\r\n`) is removed; a file that group or others
    ///   can read or write is refused, with the `chmod` that fixes it.
    /// - env: the named variable.
    /// - prompt: asks on `/dev/tty` without echo; an error when there is no terminal.
    ///
    /// An empty password is an error.
    pub fn read(&self) -> Result<Secret, PlaybookError> {
        let secret = match self {
            PasswordSource::File(path) => {
                self.check_permissions()?;
                let text = std::fs::read_to_string(path).map_err(|source| {
                    PlaybookError::PasswordFile {
                        path: path.clone(),
                        source,
                    }
                })?;
                let text = Secret::new(text);
                let trimmed = text.expose();
                let trimmed = trimmed.strip_suffix('\n').unwrap_or(trimmed);
                let trimmed = trimmed.strip_suffix('\r').unwrap_or(trimmed);
                Secret::new(trimmed)
            }
            PasswordSource::Env(name) => match std::env::var(name) {
                Ok(value) => Secret::new(value),
                Err(_) => return Err(PlaybookError::PasswordEnv { name: name.clone() }),
            },
            PasswordSource::Prompt => {
                let value = rpassword::prompt_password("Admin password for first contact: ")
                    .map_err(|e| PlaybookError::NoTerminal {
                        reason: e.to_string(),
                    })?;
                Secret::new(value)
            }
        };
        if secret.expose().is_empty() {
            return Err(PlaybookError::EmptyPassword {
                source_name: self.to_string(),
            });
        }
        Ok(secret)
    }

    /// For a file source, refuses a file that group or others can read or write.
    /// Other sources always pass.
    pub fn check_permissions(&self) -> Result<(), PlaybookError> {
        use std::os::unix::fs::PermissionsExt;
        let PasswordSource::File(path) = self else {
            return Ok(());
        };
        let meta = std::fs::metadata(path).map_err(|source| PlaybookError::PasswordFile {
            path: path.clone(),
            source,
        })?;
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o077 != 0 {
            return Err(PlaybookError::PasswordFileMode {
                path: path.clone(),
                mode,
            });
        }
        Ok(())
    }
}

impl std::fmt::Display for PasswordSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PasswordSource::File(p) => write!(f, "file {}", p.display()),
            PasswordSource::Env(name) => write!(f, "environment variable {name}"),
            PasswordSource::Prompt => f.write_str("a prompt on the terminal"),
        }
    }
}

/// Whether `name` can be an environment variable's name (so a password pasted in its place is
/// refused).
pub(crate) fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn file_with(content: &str, mode: u32) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("admin.secret");
        std::fs::write(&path, content).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        (dir, path)
    }

    #[test]
    fn file_trims_one_trailing_newline() {
        let (_d, path) = file_with("Lab-Tech-2026!\n\n", 0o600);
        assert_eq!(
            PasswordSource::File(path).read().unwrap().expose(),
            "Lab-Tech-2026!\n"
        );
        let (_d, path) = file_with("Lab-Tech-2026!\r\n", 0o400);
        assert_eq!(
            PasswordSource::File(path).read().unwrap().expose(),
            "Lab-Tech-2026!"
        );
    }

    #[test]
    fn file_readable_by_others_is_refused_with_the_fix() {
        let (_d, path) = file_with("Lab-Tech-2026!\n", 0o644);
        let err = PasswordSource::File(path.clone())
            .read()
            .unwrap_err()
            .to_string();
        assert!(err.contains("mode 0644"), "{err}");
        assert!(
            err.contains(&format!("chmod 600 {}", path.display())),
            "{err}"
        );
        assert!(!err.contains("Lab-Tech"), "{err}");
    }

    #[test]
    fn empty_and_missing_are_errors() {
        let (_d, path) = file_with("\n", 0o600);
        assert!(matches!(
            PasswordSource::File(path).read(),
            Err(PlaybookError::EmptyPassword { .. })
        ));
        let missing = PasswordSource::File("/nonexistent/rdplay/admin.secret".into()).read();
        assert!(matches!(missing, Err(PlaybookError::PasswordFile { .. })));
        let unset = PasswordSource::Env("RDPLAY_TEST_SURELY_UNSET_VARIABLE".into()).read();
        assert!(matches!(unset, Err(PlaybookError::PasswordEnv { .. })));
    }

    #[test]
    fn env_names_are_identifiers() {
        assert!(is_env_name("RDPLAY_ADMIN_PASSWORD"));
        assert!(is_env_name("_x1"));
        assert!(!is_env_name("Lab-Tech-2026!"));
        assert!(!is_env_name("1ABC"));
        assert!(!is_env_name(""));
    }
}
