//! The MAC address: a PC's identity, end to end (scan, plan, inventory keys, file names).

use serde::{Serialize, Serializer};

/// A MAC address in lower-case colon form (`08:00:27:ea:fa:15`), never all zeros.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mac(String);

impl Mac {
    /// Parses `aa:bb:cc:dd:ee:ff` (any case, `:` or `-`); refuses anything else and the all-zero MAC.
    pub fn parse(s: &str) -> Option<Mac> {
        canonical(s)
            .filter(|mac| mac != "00:00:00:00:00:00")
            .map(Mac)
    }

    /// The colon form.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form used in file names: hex digits without colons.
    pub fn bare(&self) -> String {
        self.0.replace(':', "")
    }
}

impl std::fmt::Display for Mac {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for Mac {
    type Err = String;
    fn from_str(s: &str) -> Result<Mac, String> {
        Mac::parse(s).ok_or_else(|| format!("{s:?} is not a MAC address"))
    }
}

impl Serialize for Mac {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// Whether `value` is already in lower-case colon form.
pub fn is_canonical(value: &str) -> bool {
    let bytes = value.as_bytes();
    bytes.len() == 17
        && bytes.iter().enumerate().all(|(i, b)| {
            if i % 3 == 2 {
                *b == b':'
            } else {
                b.is_ascii_digit() || (b'a'..=b'f').contains(b)
            }
        })
}

/// What a user typed (any case, `-` or `:` separators) in lower-case colon form, if it is a MAC at all.
pub fn canonical(value: &str) -> Option<String> {
    let candidate = value.trim().to_ascii_lowercase().replace('-', ":");
    is_canonical(&candidate).then_some(candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        assert_eq!(
            Mac::parse("08-00-27-EA-FA-15").unwrap().as_str(),
            "08:00:27:ea:fa:15"
        );
        assert_eq!(
            Mac::parse("08:00:27:ea:fa:15").unwrap().bare(),
            "080027eafa15"
        );
        assert!(Mac::parse("00:00:00:00:00:00").is_none());
        assert!(Mac::parse("08:00:27:ea:fa").is_none());
        assert!(Mac::parse("08:00:27:ea:fa:1g").is_none());
    }
}
