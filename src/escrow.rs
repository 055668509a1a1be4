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
    /// The fingerprint of the public key, for the audit of reads, derived from the identity itself
    /// (`SHA256:…` as `ssh-keygen -l` shows it; an age file's keys, comma-separated).
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
        // The key names itself in the audit: never a `.pub` file beside it, which anyone may have
        // put there.
        let blob = ssh_public_blob(&text).map_err(|why| EscrowError::Identity {
            path: path.to_owned(),
            why,
        })?;
        let fingerprint = fingerprint_of_blob(&blob);
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
    let text = text.trim();
    let blob = match text.split_whitespace().nth(1) {
        Some(b64) if text.starts_with("ssh-") || text.starts_with("ecdsa-") => {
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .unwrap_or_else(|_| b64.as_bytes().to_vec())
        }
        _ => text.as_bytes().to_vec(),
    };
    fingerprint_of_blob(&blob)
}

/// `SHA256:…` of a public key in SSH wire format (the base64 field of a `.pub` line, decoded).
fn fingerprint_of_blob(blob: &[u8]) -> String {
    use base64::Engine;
    use sha2::Digest;
    let digest = sha2::Sha256::digest(blob);
    format!(
        "SHA256:{}",
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(digest)
    )
}

/// The public key (SSH wire format) of an SSH private key file's `text`, read from the key itself —
/// the clear public section of an `openssh-key-v1` file (no passphrase needed), or the modulus and
/// exponent of a PEM RSA key — never from a `.pub` file.
///
/// An `openssh-key-v1` file whose public section names another key than its private one reads
/// nothing under that name: age picks a password's stanza by that public key and opens it with the
/// private one, and a stanza made for another key does not open (so no read is recorded).
fn ssh_public_blob(text: &str) -> Result<Vec<u8>, String> {
    if text.contains("-----BEGIN RSA PRIVATE KEY-----") {
        pkcs1_public_blob(text)
    } else {
        openssh_public_blob(text)
    }
}

/// The public key of an `openssh-key-v1` private key file (PROTOCOL.key): after the magic, the
/// cipher, KDF and KDF options, one key's public half, in clear even when the private half is
/// encrypted.
fn openssh_public_blob(text: &str) -> Result<Vec<u8>, String> {
    let bytes = pem_body(text, "OPENSSH PRIVATE KEY")?;
    let mut rest = bytes
        .strip_prefix(b"openssh-key-v1\0")
        .ok_or("not an openssh-key-v1 private key")?;
    let truncated = "the OpenSSH private key is truncated";
    // Cipher, KDF, KDF options.
    for _ in 0..3 {
        ssh_string(&mut rest).ok_or(truncated)?;
    }
    if take(&mut rest, 4).ok_or(truncated)? != [0, 0, 0, 1] {
        return Err("the OpenSSH private key file does not hold exactly one key".into());
    }
    Ok(ssh_string(&mut rest).ok_or(truncated)?.to_vec())
}

/// The public key of a PEM `RSA PRIVATE KEY` (PKCS #1: a DER sequence of the version, the modulus,
/// the public exponent, then the private parts), as `ssh-rsa` in SSH wire format. A DER integer is
/// already an SSH `mpint` (big-endian two's complement, minimal).
fn pkcs1_public_blob(text: &str) -> Result<Vec<u8>, String> {
    let der = pem_body(text, "RSA PRIVATE KEY")?;
    let bad = "the RSA private key is not PKCS #1";
    let mut rest = der.as_slice();
    let mut key = der_item(&mut rest, 0x30).ok_or(bad)?;
    let mut integer = || der_item(&mut key, 0x02).ok_or(bad);
    let (_version, n, e) = (integer()?, integer()?, integer()?);
    let mut blob = Vec::new();
    for field in [b"ssh-rsa".as_slice(), e, n] {
        let len = u32::try_from(field.len()).map_err(|_| bad)?;
        blob.extend_from_slice(&len.to_be_bytes());
        blob.extend_from_slice(field);
    }
    Ok(blob)
}

/// The bytes between `-----BEGIN {label}-----` and `-----END {label}-----`, base64-decoded.
fn pem_body(text: &str, label: &str) -> Result<Vec<u8>, String> {
    use base64::Engine;
    let body = text
        .split_once(&format!("-----BEGIN {label}-----"))
        .and_then(|(_, rest)| rest.split_once(&format!("-----END {label}-----")))
        .map(|(body, _)| body)
        .ok_or_else(|| format!("no {label} in the file"))?;
    let body: String = body.split_whitespace().collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|e| format!("the {label} is not base64: {e}"))
}

/// The first `n` bytes of `rest`, which then starts after them.
fn take<'a>(rest: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    let (head, tail) = rest.split_at_checked(n)?;
    *rest = tail;
    Some(head)
}

/// The SSH `string` (a big-endian 32-bit length, then as many bytes) at the start of `rest`.
fn ssh_string<'a>(rest: &mut &'a [u8]) -> Option<&'a [u8]> {
    let len = u32::from_be_bytes(take(rest, 4)?.try_into().ok()?);
    take(rest, usize::try_from(len).ok()?)
}

/// The contents of the DER item of type `tag` at the start of `rest` (its length in the short form,
/// or the long form in up to 4 bytes).
fn der_item<'a>(rest: &mut &'a [u8], tag: u8) -> Option<&'a [u8]> {
    let [found, first] = take(rest, 2)?.try_into().ok()?;
    if found != tag {
        return None;
    }
    let len = match first {
        0..=0x7f => usize::from(first),
        0x81..=0x84 => take(rest, usize::from(first & 0x7f))?
            .iter()
            .try_fold(0usize, |len, b| {
                len.checked_mul(256)?.checked_add(usize::from(*b))
            })?,
        _ => return None,
    };
    take(rest, len)
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

    /// Test keys made with `ssh-keygen -t ed25519`: their fingerprints as `ssh-keygen -lf` shows them.
    const ALICE: &str = "-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW
QyNTUxOQAAACAE44V87HTcfDQoJdHOeMx1keTalNJItTuuM0JYHGmIWAAAAJBQr7y8UK+8
vAAAAAtzc2gtZWQyNTUxOQAAACAE44V87HTcfDQoJdHOeMx1keTalNJItTuuM0JYHGmIWA
AAAEA1AV5S4ceZu4PBr9L47AfTDtzlD4xhp5QwvxGFYqfGJgTjhXzsdNx8NCgl0c54zHWR
5NqU0ki1O64zQlgcaYhYAAAACmFsaWNlQHRlc3QBAgM=
-----END OPENSSH PRIVATE KEY-----
";
    const ALICE_FINGERPRINT: &str = "SHA256:oscxHft2GqMcAfoIlTLRHBrYm+tCnc0+8bWZrSP2MF4";
    const BOB_PUB: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFvuJ8VdpUO3xXj+bfoo4c8I7Az6b7blRkYCIQAx11BI bob@test";
    const BOB_FINGERPRINT: &str = "SHA256:yjmhuJSoETml0h8DyMs7nRLBUymakLtg5pRi2s0jS1A";
    /// Protected by the passphrase `correct horse`.
    const CAROL: &str = "-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAACmFlczI1Ni1jdHIAAAAGYmNyeXB0AAAAGAAAABCug63G9H
02kgDKdZhArRQKAAAAEAAAAAEAAAAzAAAAC3NzaC1lZDI1NTE5AAAAIIl6r9spr45DfvQ1
tRq2XjIIZWnXxWO9Uxj96Hy0Yr32AAAAkJaeZXmAlDFlOdm1zoFadr68c9tak4BOzLcfWA
Tky1WHsIXJmokDC+Uo/g8DSNk8m9S1y82whH9t2f9kXhN8+aBn3cOZGuT94lfUqiMC+xlN
Sac983xkDBEHZFTC/LJTpzjuvbmb8JBFQ+LzIXKpc2sXXD0JFetMWEr6n2ztL1YrHK5xsU
cB7CkU6WIx2mTcZQ==
-----END OPENSSH PRIVATE KEY-----
";
    const CAROL_FINGERPRINT: &str = "SHA256:Co7eXNCWsSWQBJN7m+TbspupTbtYmfR6j3YEbWG5NAg";
    /// An RSA key in the older PEM format (`ssh-keygen -m PEM`).
    const DAVE: &str = "-----BEGIN RSA PRIVATE KEY-----
MIICXQIBAAKBgQCpUQMTWR0zToEtAXUDMwBLiZ6msEcPUb0X11EQrvw/XcAqi8cq
ZAPOeSM1omefng5AMWpqhPDiWtao6S3Q11ZuSI8Dq6NxJsh8QiXnfULwpvZMddxm
ppLxUqFWd3zsUoOfpJq+u+7iw+vHqB/vtajDhn9iLVAAsdHdpaebeTXW1wIDAQAB
AoGAOnu2ET/Nu0QZkF8ZeNJr/qt5dmAbG2qDYzHHWXjnvkd2sft3/udu/SmQhN0k
59hjWb733/UtczInRU7NuX435u4WAJ/WMP7AltM+FsavZgUqVSzKS4sEYoTYHdP2
s3g03bcgBwARbZmKROmE9nKzAlhHg9j4eCQx+YlUjxd49dECQQDXcdiOrm6mjrWy
phWf76DBDdJ/zPizc2eKAYetr/Yj93YYGgJ8aWB7D0l9aK6HeHA5KBp9+QdwqT5a
1pJTHmY5AkEAyTBFv1gLO2SbdtL/JeSOTj1+NkF01VMz3gN3Ngsqx9jwftVTG6f1
q3zkt/FqsB+CL4VZ4wSWP60HtDy5zhiljwJAO0V43JgknPH6DvIeVOfqA/K3jK1p
ZoVDYPZWy3PzdaWo+ax+LpgXEQP9peDc0yxRQ4hC8ZFHeLk3DGqnyvI8EQJBAKm6
kMz5QRiNKt7W6KwWIrv9AtJQ7Hjf5Z0CPXsZdrD84v+NhryJOSfAiNBp2gDVxCXF
EW0FPKBhoGM869/kSR8CQQCrFHbBgDZmx4hyVQSwmxBy9QuGQcA4kRHJ9Ml67kgO
u52uyymNJ+/CfMmH4CqHkWuru82zCb/ezExzbBbM9rGB
-----END RSA PRIVATE KEY-----
";
    const DAVE_FINGERPRINT: &str = "SHA256:orSMI0FcBzLrjFRdVg81pu9dzUHrKz/qjcF2VgIInLU";

    /// Writes `key` as `dir/name` and `public` beside it as `dir/name.pub`.
    fn key_with_pub(dir: &Path, name: &str, key: &str, public: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, key).unwrap();
        std::fs::write(dir.join(format!("{name}.pub")), public).unwrap();
        path
    }

    #[test]
    fn an_ssh_identity_is_named_by_its_own_key_not_by_the_pub_beside_it() {
        let dir = tempfile::tempdir().unwrap();
        // Bob's public key beside Alice's private one: the audit must still say Alice.
        let alice = key_with_pub(dir.path(), "alice", ALICE, BOB_PUB);
        assert_eq!(fingerprint_of_public(BOB_PUB), BOB_FINGERPRINT);
        assert_eq!(
            Identity::load(&alice).unwrap().fingerprint,
            ALICE_FINGERPRINT
        );
        // A passphrase-protected key, with the same lie beside it: named without its passphrase.
        let carol = key_with_pub(dir.path(), "carol", CAROL, BOB_PUB);
        assert_eq!(
            Identity::load(&carol).unwrap().fingerprint,
            CAROL_FINGERPRINT
        );
        // And with nothing beside it.
        std::fs::remove_file(dir.path().join("carol.pub")).unwrap();
        assert_eq!(
            Identity::load(&carol).unwrap().fingerprint,
            CAROL_FINGERPRINT
        );
        let dave = key_with_pub(dir.path(), "dave", DAVE, BOB_PUB);
        assert_eq!(Identity::load(&dave).unwrap().fingerprint, DAVE_FINGERPRINT);
    }

    #[test]
    fn an_age_identity_is_named_by_its_own_public_key() {
        use age::secrecy::ExposeSecret;
        let key = age::x25519::Identity::generate();
        let other = age::x25519::Identity::generate();
        let dir = tempfile::tempdir().unwrap();
        let path = key_with_pub(
            dir.path(),
            "admin.txt",
            key.to_string().expose_secret(),
            &other.to_public().to_string(),
        );
        let named = Identity::load(&path).unwrap().fingerprint;
        assert_eq!(named, fingerprint_of_public(&key.to_public().to_string()));
        assert_ne!(named, fingerprint_of_public(&other.to_public().to_string()));
    }

    /// Alice's key file with its clear public section replaced by Bob's public key: it would be
    /// named Bob in the audit, but it opens nothing escrowed to Bob.
    #[test]
    fn a_key_file_claiming_another_key_reads_nothing_under_its_name() {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD;
        let body: String = ALICE.lines().filter(|l| !l.starts_with("-----")).collect();
        let mut bytes = b64.decode(body).unwrap();
        let alice_blob = openssh_public_blob(ALICE).unwrap();
        let bob_blob = b64.decode(BOB_PUB.split(' ').nth(1).unwrap()).unwrap();
        assert_eq!(alice_blob.len(), bob_blob.len());
        let at = bytes
            .windows(alice_blob.len())
            .position(|w| w == alice_blob)
            .unwrap();
        bytes[at..at + bob_blob.len()].copy_from_slice(&bob_blob);
        let forged = format!(
            "-----BEGIN OPENSSH PRIVATE KEY-----\n{}\n-----END OPENSSH PRIVATE KEY-----\n",
            b64.encode(&bytes)
        );
        let dir = tempfile::tempdir().unwrap();
        let path = key_with_pub(dir.path(), "forged", &forged, BOB_PUB);
        let forged = Identity::load(&path).unwrap();
        assert_eq!(forged.fingerprint, BOB_FINGERPRINT);
        let sealed = encrypt(
            &Secret::new("Tq7m-Kx4pW9zR"),
            &[Recipient::parse(BOB_PUB).unwrap()],
        )
        .unwrap();
        assert!(forged.decrypt(&sealed).is_err());
    }

    #[test]
    fn bad_recipients_are_refused_by_name() {
        for bad in ["age1notakey", "ssh-ed25519 AAAA", "hunter2"] {
            assert!(Recipient::parse(bad).is_err(), "{bad}");
        }
    }
}
