//! Durations as a sysadmin writes them: `30s`, `5m` (or `5min`), `2h`, `30d`, `1w`.

use std::time::Duration;

/// The accepted forms, for error messages and the schema.
pub(crate) const DURATION_HELP: &str = "write a whole number and a unit: `30s` (seconds), `5min` or `5m` (minutes), `2h` (hours), `30d` (days), `1w` (weeks)";

/// The pattern a duration string must match (used by the JSON Schema).
pub(crate) const DURATION_PATTERN: &str = r"^[0-9]+(s|min|m|h|d|w)$";

/// Splits a quantity as a sysadmin writes it (`30d`, `2GiB`) into its whole number and its unit;
/// `what` names the kind of quantity in errors. Durations and sizes both read through it.
pub(crate) fn split_quantity<'a>(text: &'a str, what: &str) -> Result<(u64, &'a str), String> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    if number.is_empty() {
        return Err(format!("`{text}` is not a {what}"));
    }
    let n = number
        .parse()
        .map_err(|_| format!("`{text}` is too large a {what}"))?;
    Ok((n, unit))
}

/// Parses `30s`, `5m` or `5min`, `2h`, `30d` or `1w`.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (n, unit) = split_quantity(text, "duration")?;
    let scale = match unit {
        "s" => 1,
        "m" | "min" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        "" => return Err(format!("`{text}` has no unit")),
        other => return Err(format!("`{other}` is not a unit of time")),
    };
    n.checked_mul(scale)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("`{text}` is too large a duration"))
}

/// Writes a duration back in the largest unit that divides it (`90s`, `5min`, `30d`).
pub(crate) fn format_duration(d: Duration) -> String {
    let s = d.as_secs();
    for (scale, unit) in [(604_800, "w"), (86_400, "d"), (3600, "h"), (60, "min")] {
        if s != 0 && s.is_multiple_of(scale) {
            return format!("{}{unit}", s / scale);
        }
    }
    format!("{s}s")
}

/// A duration in words, as `rdplay validate` states it: `12 hours`, `3 minutes`, `1 day`.
pub(crate) fn duration_words(d: Duration) -> String {
    let s = d.as_secs();
    for (scale, unit) in [
        (604_800, "week"),
        (86_400, "day"),
        (3600, "hour"),
        (60, "minute"),
    ] {
        if s != 0 && s.is_multiple_of(scale) {
            let n = s / scale;
            return format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
        }
    }
    format!("{s} second{}", if s == 1 { "" } else { "s" })
}

/// Whether `text` uses the unit `m`, which reads as minutes to rdplay and as months to many people.
pub(crate) fn ambiguous_unit(text: &str) -> bool {
    text.trim()
        .strip_suffix('m')
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_unit() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("5min"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("30d"), Ok(Duration::from_secs(30 * 86_400)));
        assert_eq!(parse_duration("1w"), Ok(Duration::from_secs(604_800)));
    }

    #[test]
    fn refuses_what_is_not_a_duration() {
        for bad in [
            "",
            "s",
            "30",
            "30 days",
            "3.5h",
            "-1s",
            "99999999999999999999s",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert!(parse_duration("99999999999999999d").is_err());
    }

    #[test]
    fn words_spell_the_unit_out() {
        assert_eq!(duration_words(Duration::from_secs(180)), "3 minutes");
        assert_eq!(duration_words(Duration::from_secs(12 * 3600)), "12 hours");
        assert_eq!(duration_words(Duration::from_secs(86_400)), "1 day");
        assert_eq!(duration_words(Duration::from_secs(90 * 86_400)), "90 days");
        assert_eq!(duration_words(Duration::from_secs(1)), "1 second");
        assert!(ambiguous_unit("3m") && ambiguous_unit(" 90m "));
        assert!(!ambiguous_unit("3min") && !ambiguous_unit("m") && !ambiguous_unit("3d"));
    }

    #[test]
    fn formats_back_in_the_largest_unit() {
        assert_eq!(format_duration(Duration::from_secs(90)), "90s");
        assert_eq!(format_duration(Duration::from_secs(300)), "5min");
        assert_eq!(format_duration(Duration::from_secs(30 * 86_400)), "30d");
        assert_eq!(format_duration(Duration::from_secs(0)), "0s");
    }
}
