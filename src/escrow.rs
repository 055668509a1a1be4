//! Password escrow with age: each new password is encrypted on the controller to the playbook's
//! recipients — age X25519 keys (`age1…`) and SSH public keys (`ssh-ed25519 …`, `ssh-rsa …`) — so the
//! controller holds only public keys and can never read a password back on its own. Decrypting needs
//! an admin's identity: an age identity file or an SSH private key (a passphrase-protected one asks on
//! the terminal).

use crate::secret::Secret;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// One recipient, parsed.
pub struct Recipient {
    /// As written in the playbook (a public key: safe to show).
    pub text: String,
    key: RecipientKey,
}

enum RecipientKey {
    X25519(age::x25519::Recipient),
    Ssh(age::ssh::Recipient),
}

impl Recipient {
    /// Parses an `age1…` key or an SSH public key line (`ssh-ed25519 AAAA… comment`).
    pub fn parse(text: &str) -> Result<Recipient, EscrowError> {
        let text = text.trim();
        let key = if text.starts_with("age1") {
            RecipientKey::X25519(text.parse().map_err(|e: &str| EscrowError::Recipient {
                recipient: short(text),
                why: e.to_string(),
            })?)
        } else if text.starts_with("ssh-") {
            RecipientKey::Ssh(text.parse().map_err(|e| EscrowError::Recipient {
                recipient: short(text),
                why: format!("{e:?}"),
            })?)
        } else {
            return Err(EscrowError::Recipient {
                recipient: short(text),
                why: "neither an age key (age1…) nor an SSH public key (ssh-ed25519 …, ssh-rsa …)"
                    .into(),
            });
        };
        Ok(Recipient {
            text: text.to_string(),
            key,
        })
    }

    fn as_dyn(&self) -> &dyn age::Recipient {
        match &self.key {
            RecipientKey::X25519(r) => r,
            RecipientKey::Ssh(r) => r,
        }
    }

    /// A short, stable name for logs and the inventory: the key's SHA-256 fingerprint.
    pub fn fingerprint(&self) -> String {
        fingerprint_of_public(&self.text)
    }
}

/// Encrypts `password` to every recipient; the ciphertext is binary age.
pub fn encrypt(password: &Secret, recipients: &[Recipient]) -> Result<Vec<u8>, EscrowError> {
    let encryptor = age::Encryptor::with_recipients(recipients.iter().map(Recipient::as_dyn))
        .map_err(|e| EscrowError::Encrypt(e.to_string()))?;
    let mut out = Vec::new();
    let mut writer = encryptor
        .wrap_output(&mut out)
        .map_err(|e| EscrowError::Encrypt(e.to_string()))?;
    writer
        .write_all(password.expose().as_bytes())
        .and_then(|()| writer.finish().map(drop))
        .map_err(|e| EscrowError::Encrypt(e.to_string()))?;
    Ok(out)
}

/// An admin's identity, loaded from a file.
pub struct Identity {
    pub path: PathBuf,
    /// The public key's fingerprint, for the audit of reads.
    pub fingerprint: String,
    keys: Vec<Box<dyn age::Identity>>,
}

impl Identity {
    /// Loads an age identity file (`AGE-SECRET-KEY-1…` lines) or an SSH private key. An encrypted
    /// SSH key asks for its passphrase on the terminal when it is first used.
    pub fn load(path: &Path) -> Result<Identity, EscrowError> {
        let bytes = std::fs::read(path).map_err(|source| EscrowError::Io {
            what: format!("reading the identity {}", path.display()),
            source,
        })?;
        let text = String::from_utf8_lossy(&bytes);
        if text.contains("AGE-SECRET-KEY-") {
            let mut fingerprints = Vec::new();
            let mut keys: Vec<Box<dyn age::Identity>> = Vec::new();
            for line in text.lines().map(str::trim) {
                if line.starts_with("AGE-SECRET-KEY-") {
                    let key: age::x25519::Identity =
                        line.parse().map_err(|e: &str| EscrowError::Identity {
                            path: path.to_owned(),
                            why: e.to_string(),
                        })?;
                    fingerprints.push(fingerprint_of_public(&key.to_public().to_string()));
                    keys.push(Box::new(key));
                }
            }
            return Ok(Identity {
                path: path.to_owned(),
                fingerprint: fingerprints.join(","),
                keys,
            });
        }
        let ssh = age::ssh::Identity::from_buffer(
            std::io::BufReader::new(&bytes[..]),
            Some(path.display().to_string()),
        )
        .map_err(|e| EscrowError::Identity {
            path: path.to_owned(),
            why: format!("neither an age identity file nor an SSH private key ({e})"),
        })?;
        if let age::ssh::Identity::Unsupported(k) = &ssh {
            return Err(EscrowError::Identity {
                path: path.to_owned(),
                why: format!("unsupported SSH key ({k:?})"),
            });
        }
        // The public half beside it names the key in the audit; without it, the file's path does.
        let public = PathBuf::from(format!("{}.pub", path.display()));
        let fingerprint = std::fs::read_to_string(&public)
            .map(|p| fingerprint_of_public(&p))
            .unwrap_or_else(|_| {
                format!(
                    "ssh key {} (no {} to fingerprint)",
                    path.display(),
                    public.display()
                )
            });
        Ok(Identity {
            path: path.to_owned(),
            fingerprint,
            keys: vec![Box::new(ssh.with_callbacks(Terminal))],
        })
    }

    /// Decrypts a ciphertext made by [`encrypt`]; an error when this identity is not a recipient.
    pub fn decrypt(&self, ciphertext: &[u8]) -> Result<Secret, EscrowError> {
        let decryptor = age::Decryptor::new_buffered(ciphertext)
            .map_err(|e| EscrowError::Decrypt(e.to_string()))?;
        let mut reader = decryptor
            .decrypt(self.keys.iter().map(|k| k.as_ref() as &dyn age::Identity))
            .map_err(|e| match e {
                age::DecryptError::NoMatchingKeys => EscrowError::NotARecipient {
                    path: self.path.clone(),
                },
                e => EscrowError::Decrypt(e.to_string()),
            })?;
        let mut bytes = zeroize::Zeroizing::new(Vec::new());
        reader
            .read_to_end(&mut bytes)
            .map_err(|e| EscrowError::Decrypt(e.to_string()))?;
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| EscrowError::Decrypt("the escrowed password is not text".into()))?;
        Ok(Secret::new(text))
    }
}

/// Asks for an SSH key's passphrase on the terminal (never echoed), when there is one.
#[derive(Clone)]
struct Terminal;

impl age::Callbacks for Terminal {
    fn display_message(&self, message: &str) {
        eprintln!("{message}");
    }

    fn confirm(&self, _message: &str, _yes: &str, _no: Option<&str>) -> Option<bool> {
        None
    }

    fn request_public_string(&self, _description: &str) -> Option<String> {
        None
    }

    fn request_passphrase(&self, description: &str) -> Option<age::secrecy::SecretString> {
        rpassword::prompt_password(format!("{description}: "))
            .ok()
            .map(age::secrecy::SecretString::from)
    }
}

/// `SHA256:…` of an OpenSSH public key line (as `ssh-keygen -l` shows it), or of an age key's text.
pub fn fingerprint_of_public(text: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    let text = text.trim();
    let blob = match text.split_whitespace().nth(1) {
        Some(b64) if text.starts_with("ssh-") || text.starts_with("ecdsa-") => {
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .unwrap_or_else(|_| b64.as_bytes().to_vec())
        }
        _ => text.as_bytes().to_vec(),
    };
    let digest = sha2::Sha256::digest(&blob);
    format!(
        "SHA256:{}",
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(digest)
    )
}

fn short(text: &str) -> String {
    crate::text::inert(text, 40)
}

/// What escrow could not do. Never holds a password.
#[derive(Debug, thiserror::Error)]
pub enum EscrowError {
    #[error("escrow recipient {recipient:?}: {why}")]
    Recipient { recipient: String, why: String },
    #[error("encrypting the password for escrow: {0}")]
    Encrypt(String),
    #[error("identity {}: {why}", path.display())]
    Identity { path: PathBuf, why: String },
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error(
        "{} is not one of the recipients this password was escrowed to (wrong key, or removed by a rekey)",
        path.display()
    )]
    NotARecipient { path: PathBuf },
    #[error("decrypting the escrowed password: {0}")]
    Decrypt(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_round_trips_to_an_age_recipient_and_only_to_it() {
        let key = age::x25519::Identity::generate();
        let other = age::x25519::Identity::generate();
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, k: &age::x25519::Identity| {
            use age::secrecy::ExposeSecret;
            let path = dir.path().join(name);
            std::fs::write(&path, k.to_string().expose_secret()).unwrap();
            path
        };
        let (mine, theirs) = (write("mine.txt", &key), write("theirs.txt", &other));
        let recipient = Recipient::parse(&key.to_public().to_string()).unwrap();
        let sealed = encrypt(&Secret::new("Tq7m-Kx4pW9zR"), &[recipient]).unwrap();
        assert!(!String::from_utf8_lossy(&sealed).contains("Tq7m"));
        let opened = Identity::load(&mine).unwrap().decrypt(&sealed).unwrap();
        assert_eq!(opened.expose(), "Tq7m-Kx4pW9zR");
        let wrong = Identity::load(&theirs).unwrap().decrypt(&sealed);
        assert!(matches!(wrong, Err(EscrowError::NotARecipient { .. })));
    }

    #[test]
    fn bad_recipients_are_refused_by_name() {
        for bad in ["age1notakey", "ssh-ed25519 AAAA", "hunter2"] {
            assert!(Recipient::parse(bad).is_err(), "{bad}");
        }
    }
}
