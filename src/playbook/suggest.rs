//! "Did you mean ...?" for misspelt keys, values and variables.

/// The candidate closest to `word`, if one is close enough to be a likely misspelling.
pub(crate) fn closest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    let word_l = word.to_lowercase();
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(&word_l, &c.to_lowercase()), c))
        .filter(|(distance, c)| {
            let longest = word.chars().count().max(c.chars().count());
            *distance <= (longest / 3).max(2)
        })
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, c)| c.to_string())
}

/// Values rdplay accepted once and now refuses: the value, one of the values accepted in its place
/// today (so the same word elsewhere is not taken for it), and why, with what to write instead.
const RETIRED: [(&str, &str, &str); 1] = [(
    "prefer",
    "require",
    "`prefer` is no longer accepted: it fell back to a plain connection whenever the server (or \
     anyone in between) offered no TLS; write `require` (with `ca:` for your own CA), or `disable` \
     for a Unix socket",
)];

/// Why `word`, refused where `choices` are accepted, was retired, and what to write instead.
pub(crate) fn retired(word: &str, choices: &[String]) -> Option<&'static str> {
    RETIRED
        .iter()
        .find(|(old, today, _)| *old == word && choices.iter().any(|c| c == today))
        .map(|(_, _, why)| *why)
}

/// From serde's "unknown field `x`, expected one of `a`, `b`" (or "unknown variant"), the
/// misspelt word and the accepted ones.
pub(crate) fn parse_unknown(message: &str) -> Option<(String, Vec<String>)> {
    let at = message
        .find("unknown field `")
        .or_else(|| message.find("unknown variant `"))?;
    let rest = &message[at..];
    let open = rest.find('`')? + 1;
    let close = open + rest[open..].find('`')?;
    let word = rest[open..close].to_string();
    let expected = &rest[close + 1..];
    let choices = expected
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect();
    Some((word, choices))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_words_only() {
        let keys = ["network", "ranges", "exclude", "port"];
        assert_eq!(closest("rangs", keys).as_deref(), Some("ranges"));
        assert_eq!(closest("excludes", keys).as_deref(), Some("exclude"));
        assert_eq!(closest("Port", keys).as_deref(), Some("port"));
        assert_eq!(closest("forks", keys), None);
    }

    #[test]
    fn reads_serde_messages() {
        let (word, choices) = parse_unknown(
            "target: unknown field `rangs`, expected one of `network`, `ranges`, `exclude`, `port`",
        )
        .unwrap();
        assert_eq!(word, "rangs");
        assert_eq!(choices, ["network", "ranges", "exclude", "port"]);
        let (word, choices) =
            parse_unknown("unknown variant `pfd`, expected `pdf` or `png`").unwrap();
        assert_eq!((word.as_str(), choices.len()), ("pfd", 2));
        assert_eq!(parse_unknown("missing field `site`"), None);
    }

    #[test]
    fn retired_values_say_why_where_they_were_accepted_only() {
        let tls = ["require".to_string(), "disable".to_string()];
        assert!(retired("prefer", &tls).is_some_and(|why| why.contains("`require`")));
        assert_eq!(retired("prefer", &["pdf".to_string()]), None);
        assert_eq!(retired("requir", &tls), None);
    }
}
