//! MAC addresses: the identity of a PC in the inventory.

use super::InventoryError;

/// Checks that `value` is a MAC address in lower-case colon form (`52:54:00:12:34:56`) and returns it.
pub fn validate_mac(value: &str) -> Result<&str, InventoryError> {
    if crate::mac::is_canonical(value) {
        Ok(value)
    } else {
        Err(InventoryError::InvalidMac {
            value: value.to_owned(),
        })
    }
}

/// Turns what a user typed (any case, `-` or `:` separators) into the stored form, if it is a MAC at all.
pub fn normalize_mac(value: &str) -> Option<String> {
    crate::mac::canonical(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_only_lower_case_colon_form() {
        assert!(validate_mac("52:54:00:ab:cd:ef").is_ok());
        for bad in [
            "52:54:00:AB:CD:EF",
            "52-54-00-ab-cd-ef",
            "525400abcdef",
            "52:54:00:ab:cd",
            "52:54:00:ab:cd:ef:",
            "52:54:00:ab:cd:eg",
            "",
            "52:54:00:ab:cd:e\u{1b}",
        ] {
            let err = validate_mac(bad).unwrap_err();
            assert!(err.to_string().contains("lower-case colon form"), "{err}");
        }
    }

    #[test]
    fn normalizes_user_input() {
        assert_eq!(
            normalize_mac("52-54-00-AB-CD-EF").as_deref(),
            Some("52:54:00:ab:cd:ef")
        );
        assert_eq!(normalize_mac("pc01"), None);
        assert_eq!(normalize_mac("10.0.0.1"), None);
    }
}
