//! Sizes as a sysadmin writes them: `2GiB`, `500MB`, `1KiB`, `4096`.

/// The accepted forms, for error messages.
pub(crate) const SIZE_HELP: &str = "write a whole number and a unit: `1KiB`, `500MiB`, `2GiB`, `1TiB` (powers of 1024) or `500MB`, `2GB` (powers of 1000); a plain number is bytes";

/// The pattern a size string must match (used by the JSON Schema).
pub(crate) const SIZE_PATTERN: &str = r"^[0-9]+ ?([kKMGT]i?B|B)?$";

/// Parses a size into bytes.
pub(crate) fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (n, unit) = super::duration::split_quantity(text, "size")?;
    let scale: u64 = match unit.trim_start() {
        "" | "B" => 1,
        "kB" | "KB" => 1000,
        "MB" => 1000_u64.pow(2),
        "GB" => 1000_u64.pow(3),
        "TB" => 1000_u64.pow(4),
        "KiB" | "kiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "TiB" => 1 << 40,
        other => return Err(format!("`{other}` is not a unit of size")),
    };
    n.checked_mul(scale)
        .ok_or_else(|| format!("`{text}` is too large a size"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_unit() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("1KiB"), Ok(1024));
        assert_eq!(parse_size("2GiB"), Ok(2 << 30));
        assert_eq!(parse_size("500 MB"), Ok(500_000_000));
        assert_eq!(parse_size("1TiB"), Ok(1 << 40));
        assert_eq!(parse_size("12B"), Ok(12));
    }

    #[test]
    fn refuses_what_is_not_a_size() {
        for bad in [
            "",
            "GiB",
            "2 gigs",
            "1.5GiB",
            "-1",
            "99999999999999999999",
            "20000000TiB",
        ] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }
}
