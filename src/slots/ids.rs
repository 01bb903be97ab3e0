//! Identifier extractors: CVE ids, file hashes, incident and alert ids, and
//! versions.

use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;

use super::scan::{Candidate, Scan, wrapped_in_shell};
use super::values::{AlertId, CveId, HashAlgorithm, IncidentId, Version, VersionKind};
use super::{SlotError, SlotKind, SlotValue};

const CVE_EXPECTED: &str =
    "`CVE-YYYY-NNNN` with a year from 1999 and 4 or more sequence digits, such as `CVE-2019-11510`";
const INCIDENT_EXPECTED: &str = "`INC-` and a number, such as `INC-4821`";
const ALERT_EXPECTED: &str = "`ALRT-` and a number, such as `ALRT-1093`";
const VERSION_EXPECTED: &str =
    "a release such as `v1.4.2` or `1.4.2`, or a git commit id of 7 to 40 hex digits";

/// The first year of CVE ids.
const FIRST_CVE_YEAR: u32 = 1999;

/// Minimum length of a hex run read as a digest. Shorter runs are ids,
/// versions or words such as `deadbeef`. A run this long or longer whose
/// length fits no algorithm is reported.
const MIN_HASH_CHARS: usize = 32;

/// Maximum number of digits in an incident or alert id. More digits are a
/// paste, not an id.
const MAX_ID_DIGITS: usize = 9;

// NOTE: the patterns below are literals; `patterns_compile` in the tests
// forces each one, so the `expect` calls cannot fail at run time.
static CVE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)^cve-(\d{4})-(\d+)$").expect("valid CVE pattern"));
static INCIDENT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)^inc-?(\d+)$").expect("valid incident pattern"));
static ALERT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)^(?:alrt|alert)-?(\d+)$").expect("valid alert pattern"));
static RELEASE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^v?\d+(?:\.\d+){1,3}(?:[-+][0-9a-z][0-9a-z.-]*)?$")
        .expect("valid release pattern")
});
static COMMIT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[0-9a-f]{7,40}$").expect("valid commit pattern"));

/// Finds CVE ids in any case; words starting with `CVE-` that do not fit
/// the format are reported.
pub(super) fn cves(scan: &Scan<'_>) -> Vec<Candidate> {
    scan.free_tokens()
        .filter(|(_, token)| {
            token
                .text
                .get(..4)
                .is_some_and(|prefix| prefix.eq_ignore_ascii_case("cve-"))
        })
        .map(|(_, token)| Candidate {
            span: token.span.clone(),
            value: parse_cve(token.text),
        })
        .collect()
}

pub(super) fn parse_cve(text: &str) -> Result<SlotValue, SlotError> {
    let malformed = || SlotError::malformed(SlotKind::Cve, text, CVE_EXPECTED);
    let captures = CVE.captures(text).ok_or_else(malformed)?;
    let year: u32 = captures[1].parse().map_err(|_| malformed())?;
    let sequence = &captures[2];
    if year < FIRST_CVE_YEAR || sequence.len() < 4 || sequence.len() > 19 {
        return Err(malformed());
    }
    Ok(SlotValue::Cve(CveId::new(text.to_ascii_uppercase())))
}

/// Finds hex digests: runs of hex digits bounded by characters that are
/// not letters or digits. A run of 32 or more whose length fits no
/// algorithm, such as 70 characters, is reported rather than guessed at.
pub(super) fn hashes(scan: &Scan<'_>) -> Vec<Candidate> {
    hex_runs(scan.text)
        .into_iter()
        .filter(|span| span.len() >= MIN_HASH_CHARS && scan.is_free(span))
        .map(|span| Candidate {
            value: parse_hash(&scan.text[span.clone()]),
            span,
        })
        .collect()
}

pub(super) fn parse_hash(text: &str) -> Result<SlotValue, SlotError> {
    if !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(SlotError::malformed(
            SlotKind::Hash,
            text,
            "hex digits only: 32 (MD5), 40 (SHA-1) or 64 (SHA-256) of them",
        ));
    }
    match HashAlgorithm::from_hex_length(text.len()) {
        Some(algorithm) => Ok(SlotValue::Hash {
            algorithm,
            hex: text.to_ascii_lowercase(),
        }),
        None => Err(SlotError::NotAHash {
            value: super::error::shown(text),
            length: text.len(),
        }),
    }
}

/// Finds incident ids: `INC-4821`, `inc4821`, or `incident 4821` and
/// `incident #4821`.
pub(super) fn incident_ids(scan: &Scan<'_>) -> Vec<Candidate> {
    numbered_ids(
        scan,
        &INCIDENT,
        &["inc", "incident"],
        |number| SlotValue::IncidentId(IncidentId::new(format!("INC-{number}"))),
        SlotKind::IncidentId,
        INCIDENT_EXPECTED,
    )
}

/// Finds alert ids: `ALRT-1093`, `alert-1093`, or `alert 1093` and
/// `alert #1093`.
pub(super) fn alert_ids(scan: &Scan<'_>) -> Vec<Candidate> {
    numbered_ids(
        scan,
        &ALERT,
        &["alrt", "alert"],
        |number| SlotValue::AlertId(AlertId::new(format!("ALRT-{number}"))),
        SlotKind::AlertId,
        ALERT_EXPECTED,
    )
}

pub(super) fn parse_incident_id(text: &str) -> Result<SlotValue, SlotError> {
    parse_numbered_id(
        text,
        &INCIDENT,
        SlotKind::IncidentId,
        INCIDENT_EXPECTED,
        |number| SlotValue::IncidentId(IncidentId::new(format!("INC-{number}"))),
    )
}

pub(super) fn parse_alert_id(text: &str) -> Result<SlotValue, SlotError> {
    parse_numbered_id(text, &ALERT, SlotKind::AlertId, ALERT_EXPECTED, |number| {
        SlotValue::AlertId(AlertId::new(format!("ALRT-{number}")))
    })
}

/// Finds versions: releases anywhere, and commit ids (which need a digit,
/// so words such as `decade` are not taken). A version wrapped in shell
/// syntax, such as `v1.2;reboot`, is reported.
pub(super) fn versions(scan: &Scan<'_>) -> Vec<Candidate> {
    scan.free_tokens()
        .filter_map(|(_, token)| {
            let value = if let Some(version) = version_word(token.text) {
                Ok(version)
            } else if let Some(found) =
                wrapped_in_shell(token.text, |part| version_word(part).is_some())
            {
                Err(SlotError::unsafe_characters(
                    SlotKind::Version,
                    token.text,
                    found,
                ))
            } else {
                return None;
            };
            Some(Candidate {
                span: token.span.clone(),
                value,
            })
        })
        .collect()
}

pub(super) fn parse_version(text: &str) -> Result<SlotValue, SlotError> {
    super::scan::check_name(
        SlotKind::Version,
        text,
        |text| version_word(text).is_some(),
        VERSION_EXPECTED,
    )?;
    version_word(text)
        .ok_or_else(|| SlotError::malformed(SlotKind::Version, text, VERSION_EXPECTED))
}

fn version_word(text: &str) -> Option<SlotValue> {
    if RELEASE.is_match(text) {
        return Some(SlotValue::Version(Version::new(text, VersionKind::Release)));
    }
    let lower = text.to_ascii_lowercase();
    let has_digit = lower.bytes().any(|b| b.is_ascii_digit());
    (COMMIT.is_match(&lower) && has_digit)
        .then(|| SlotValue::Version(Version::new(lower, VersionKind::Commit)))
}

fn numbered_ids(
    scan: &Scan<'_>,
    pattern: &Regex,
    words: &[&str],
    build: impl Fn(u64) -> SlotValue,
    kind: SlotKind,
    expected: &'static str,
) -> Vec<Candidate> {
    let mut candidates = Vec::new();
    for (index, token) in scan.free_tokens() {
        let lower = token.text.to_ascii_lowercase();

        // `incident 4821` or `incident #4821`: the number is the next word.
        if words.contains(&lower.as_str())
            && let Some(next) = scan.tokens.get(index + 1)
            && scan.is_free(&next.span)
        {
            let digits = next.text.strip_prefix('#').unwrap_or(next.text);
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                let span = token.span.start..next.span.end;
                candidates.push(Candidate {
                    value: id_number(digits, next.text, kind, expected).map(&build),
                    span,
                });
                continue;
            }
        }

        let starts_like_id = words
            .iter()
            .any(|word| lower.starts_with(&format!("{word}-")));
        if let Some(captures) = pattern.captures(token.text) {
            candidates.push(Candidate {
                span: token.span.clone(),
                value: id_number(&captures[1], token.text, kind, expected).map(&build),
            });
        } else if starts_like_id {
            candidates.push(Candidate {
                span: token.span.clone(),
                value: Err(SlotError::malformed(kind, token.text, expected)),
            });
        }
    }
    candidates
}

fn parse_numbered_id(
    text: &str,
    pattern: &Regex,
    kind: SlotKind,
    expected: &'static str,
    build: impl Fn(u64) -> SlotValue,
) -> Result<SlotValue, SlotError> {
    let digits = text.strip_prefix('#').unwrap_or(text);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return id_number(digits, text, kind, expected).map(build);
    }
    let captures = pattern
        .captures(text)
        .ok_or_else(|| SlotError::malformed(kind, text, expected))?;
    id_number(&captures[1], text, kind, expected).map(build)
}

fn id_number(
    digits: &str,
    text: &str,
    kind: SlotKind,
    expected: &'static str,
) -> Result<u64, SlotError> {
    if digits.len() > MAX_ID_DIGITS {
        return Err(SlotError::malformed(kind, text, expected));
    }
    digits
        .parse()
        .map_err(|_| SlotError::malformed(kind, text, expected))
}

/// Byte ranges of the runs of hex digits bounded by non-alphanumeric
/// characters or the text edges.
fn hex_runs(text: &str) -> Vec<Range<usize>> {
    let bytes = text.as_bytes();
    let mut runs = Vec::new();
    let mut index = 0;
    while index < bytes.len() {
        if !bytes[index].is_ascii_alphanumeric() {
            index += 1;
            continue;
        }
        let start = index;
        while index < bytes.len() && bytes[index].is_ascii_alphanumeric() {
            index += 1;
        }
        if bytes[start..index].iter().all(u8::is_ascii_hexdigit) {
            runs.push(start..index);
        }
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_compile() {
        for pattern in [&CVE, &INCIDENT, &ALERT, &RELEASE, &COMMIT] {
            LazyLock::force(pattern);
        }
    }

    #[test]
    fn cve_accepts_long_sequences_and_any_case() {
        assert_eq!(
            parse_cve("CVE-2019-11510").unwrap().to_arg(),
            "CVE-2019-11510"
        );
        assert_eq!(
            parse_cve("cve-2019-11510").unwrap().to_arg(),
            "CVE-2019-11510"
        );
        assert_eq!(
            parse_cve("CVE-2017-1000117").unwrap().to_arg(),
            "CVE-2017-1000117"
        );
    }

    #[test]
    fn cve_rejects_short_sequence_and_bad_year() {
        assert!(parse_cve("CVE-2019-123").is_err());
        assert!(parse_cve("CVE-1998-1234").is_err());
        assert!(parse_cve("CVE-19-1234").is_err());
        assert!(parse_cve("CVE-2019-12a4").is_err());
    }

    #[test]
    fn hash_lengths_pick_the_algorithm() {
        let md5 = parse_hash(&"a".repeat(32)).unwrap();
        assert!(matches!(
            md5,
            SlotValue::Hash {
                algorithm: HashAlgorithm::Md5,
                ..
            }
        ));
        let sha1 = parse_hash(&"B".repeat(40)).unwrap();
        assert_eq!(sha1.to_arg(), "b".repeat(40));
        assert!(matches!(
            parse_hash(&"1".repeat(64)),
            Ok(SlotValue::Hash {
                algorithm: HashAlgorithm::Sha256,
                ..
            })
        ));
        assert!(matches!(
            parse_hash(&"1".repeat(70)),
            Err(SlotError::NotAHash { length: 70, .. })
        ));
        assert!(parse_hash("xyz").is_err());
    }

    #[test]
    fn hex_runs_need_non_alphanumeric_bounds() {
        assert_eq!(hex_runs("ab12 x-cd34 g00d"), [0..4, 7..11]);
        assert_eq!(hex_runs("sha256:abcd")[0], 7..11);
    }

    #[test]
    fn ids_are_normalised_to_upper_case() {
        assert_eq!(parse_incident_id("inc-4821").unwrap().to_arg(), "INC-4821");
        assert_eq!(parse_incident_id("INC4821").unwrap().to_arg(), "INC-4821");
        assert_eq!(parse_incident_id("#4821").unwrap().to_arg(), "INC-4821");
        assert_eq!(parse_alert_id("alert-1093").unwrap().to_arg(), "ALRT-1093");
        assert!(parse_incident_id("INC-48a1").is_err());
        assert!(parse_incident_id("INC-1234567890").is_err());
    }

    #[test]
    fn versions_are_releases_or_commits() {
        assert_eq!(version_word("v1.4.2").unwrap().to_arg(), "v1.4.2");
        assert_eq!(version_word("1.4.2").unwrap().to_arg(), "1.4.2");
        assert_eq!(version_word("2.0.0-rc1").unwrap().to_arg(), "2.0.0-rc1");
        assert_eq!(version_word("A1B2C3D").unwrap().to_arg(), "a1b2c3d");
        assert!(version_word("decade").is_none());
        assert!(version_word("a1b2c3").is_none());
        assert!(version_word("1").is_none());
        assert!(parse_version("v1.2;reboot").is_err());
        assert!(parse_version("-v1.2").is_err());
    }
}
