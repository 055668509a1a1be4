//! Secrets: a type that cannot be printed or logged by accident, and password hashing.
//!
//! A [`Secret`] prints as `********` through `Debug` and `Display`; the only way to
//! its text is [`Secret::expose`], which is easy to grep for. Its memory is wiped on drop.

use std::fmt;

/// A string that redacts itself in `Debug`, `Display` and serialization.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret text. Every call is a place where a secret leaves its box: keep them few.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The masked form shown in plans and logs: one `*` per character.
    pub fn masked(&self) -> String {
        "*".repeat(self.0.chars().count())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(********)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("********")
    }
}

impl serde::Serialize for Secret {
    /// Serializes as the mask, so a secret inside a serialized struct never leaks.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("********")
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

/// Hashes a password for `chpasswd -e` with sha512-crypt (`$6$`), salted from the OS CSPRNG.
pub fn hash_password(password: &Secret) -> Result<Secret, HashError> {
    use rand::TryRngCore;
    use sha_crypt::PasswordHasher;
    let mut salt = [0u8; 12];
    rand::rngs::OsRng
        .try_fill_bytes(&mut salt)
        .map_err(|e| HashError(e.to_string()))?;
    let hash = sha_crypt::ShaCrypt::SHA512
        .hash_password_with_salt(password.expose().as_bytes(), &salt)
        .map_err(|e| HashError(e.to_string()))?;
    Ok(Secret::new(hash.as_str()))
}

/// Hashing failed: the OS random source is unavailable (the message never holds the password).
#[derive(Debug, thiserror::Error)]
#[error("could not hash a password: {0}")]
pub struct HashError(String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_its_value() {
        let s = Secret::new("hunter2-Correct");
        assert_eq!(format!("{s}"), "********");
        assert_eq!(format!("{s:?}"), "Secret(********)");
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"********\"");
        assert_eq!(s.masked(), "***************");
    }

    #[test]
    fn hash_is_sha512_crypt_and_verifies() {
        let s = Secret::new("Xy7#pq-LmN2!vR");
        let h = hash_password(&s).unwrap();
        assert!(h.expose().starts_with("$6$"), "{}", h.expose());
        use sha_crypt::PasswordVerifier;
        let parsed = sha_crypt::PasswordHash::new(h.expose()).unwrap();
        assert!(
            sha_crypt::ShaCrypt::SHA512
                .verify_password(s.expose().as_bytes(), &parsed)
                .is_ok()
        );
        assert_ne!(h, hash_password(&s).unwrap(), "salts differ");
    }
}
