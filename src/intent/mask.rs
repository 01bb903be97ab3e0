//! Entity masking: identifiers such as host names, addresses and ids are
//! replaced by a word for their type before a message is embedded.
//!
//! Identifiers tokenise into many sub-word pieces that carry no meaning
//! (`pg-replica-2` is five tokens), and two messages asking the same thing
//! about different hosts then look less alike than they are. Replacing each
//! identifier with a plain word for its type lets the embedding reflect the
//! request. A leading address to the bot (`@warroom`) is removed for the
//! same reason. Slot extraction still reads the original text.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::Regex;

/// Patterns in the order they are applied. Earlier ones claim their text
/// first, so an address inside a URL is replaced as part of the URL.
static PATTERNS: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
    let rules: [(&str, &str); 11] = [
        (r"(?i)^\s*@?warroom\b[:,]?\s*", ""),
        (r"(?i)\b(?:https?|ftp)://[^\s<>]+", "link"),
        (r"(?i)\bCVE-\d{4}-\d{4,}\b", "cve"),
        (r"\b\d{1,3}(?:\.\d{1,3}){3}/\d{1,3}\b", "ip range"),
        (r"\b\d{1,3}(?:\.\d{1,3}){3}\b", "ip address"),
        (
            r"(?i)(?:\b[0-9a-f]{1,4})?(?::[0-9a-f]{0,4}){2,7}(?:/\d{1,3})?",
            "ip address",
        ),
        (
            r"(?i)\b(?:[0-9a-f]{64}|[0-9a-f]{40}|[0-9a-f]{32})\b",
            "file hash",
        ),
        (r"(?i)\bINC-\d+\b", "incident"),
        (r"(?i)\bALRT-\d+\b", "alert"),
        (
            r"(?i)\b[a-z0-9][a-z0-9_-]*(?:\.[a-z0-9][a-z0-9_-]*)*\.(?:internal|local|lan|corp|com|net|org|io|dev|cloud)\.?(?:\s|$)",
            "server ",
        ),
        (r"(?i)\b(?:[a-z][a-z0-9]*[-_])+\d+[a-z]?\b", "server"),
    ];
    rules
        .into_iter()
        // The patterns are fixed literals, and `every_pattern_compiles`
        // checks that none is dropped here.
        .filter_map(|(pattern, word)| Regex::new(pattern).ok().map(|regex| (regex, word)))
        .collect()
});

/// Severity and priority labels (`sev-1`, `p-2`) have the shape of a host
/// name but are words people use in requests.
const KEPT_PREFIXES: [&str; 4] = ["sev-", "sev_", "p-", "p_"];

/// Replaces identifiers in `text` with a word naming their type.
pub fn mask_entities(text: &str) -> Cow<'_, str> {
    let mut masked = Cow::Borrowed(text);
    for (regex, word) in PATTERNS.iter() {
        let replaced = regex.replace_all(&masked, |captures: &regex::Captures<'_>| {
            let found = &captures[0];
            let lower = found.to_ascii_lowercase();
            if KEPT_PREFIXES.iter().any(|prefix| lower.starts_with(prefix)) {
                found.to_string()
            } else {
                (*word).to_string()
            }
        });
        if let Cow::Owned(replaced) = replaced {
            masked = Cow::Owned(replaced);
        }
    }
    masked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pattern_compiles() {
        assert_eq!(PATTERNS.len(), 11);
    }

    #[test]
    fn identifiers_become_type_words() {
        let cases = [
            ("is pg-replica-2 running hot", "is server running hot"),
            ("block 203.0.113.7 for 24h", "block ip address for 24h"),
            ("block 198.51.100.0/24", "block ip range"),
            ("is 2001:db8::9c0:876a:130b bad", "is ip address bad"),
            ("status of INC-4821?", "status of incident?"),
            ("explain alrt-1093", "explain alert"),
            ("fixes for CVE-2024-3094", "fixes for cve"),
            ("check db-02.prod.example.internal now", "check server now"),
            ("open http://x.example/a?b=1 pls", "open link pls"),
            ("@warroom restart nginx", "restart nginx"),
            ("warroom: who is on call", "who is on call"),
        ];
        for (text, expected) in cases {
            assert_eq!(mask_entities(text), expected, "masking `{text}`");
        }
    }

    #[test]
    fn hashes_are_masked_by_length() {
        let sha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(mask_entities(&format!("hash {sha256}")), "hash file hash");
    }

    #[test]
    fn plain_words_are_kept() {
        for text in [
            "restart nginx please",
            "who is on call for sre",
            "rollback v1.4.2",
            "page sev-1",
        ] {
            assert_eq!(mask_entities(text), text);
        }
    }
}
