//! Parsing of argument values that name no inventory entity: ids,
//! severities, CVEs, file hashes and free text.

use std::fmt;

use crate::demo::DemoError;

/// Four severity levels shared by alerts and incidents; `Critical` is the
/// worst. Alerts show the names, incidents show `sev1` to `sev4`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

/// A file digest and the algorithm its length implies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileHash {
    /// Lowercase hex.
    pub hex: String,
    pub algorithm: &'static str,
}

/// Maximum digits of an id number, because ids are short counters.
const MAX_ID_DIGITS: usize = 8;

impl Severity {
    /// Parses `critical`, `high`, `medium` (or `warning`), `low` (or
    /// `info`), `sev1`-`sev4`, `p1`-`p4`, in any case.
    pub fn parse(text: &str) -> Result<Self, DemoError> {
        let lower = text.trim().to_ascii_lowercase();
        let compact = lower.replace([' ', '-'], "");
        let severity = match compact.as_str() {
            "critical" | "crit" | "sev1" | "p1" | "s1" => Self::Critical,
            "high" | "sev2" | "p2" | "s2" => Self::High,
            "medium" | "med" | "warning" | "sev3" | "p3" | "s3" => Self::Medium,
            "low" | "info" | "sev4" | "p4" | "s4" => Self::Low,
            _ => {
                return Err(DemoError::invalid(format!(
                    "invalid severity `{}`: expected critical, high, medium or low (or sev1-sev4, p1-p4)",
                    text.trim()
                )));
            }
        };
        Ok(severity)
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Critical => "critical",
            Self::High => "high",
            Self::Medium => "medium",
            Self::Low => "low",
        }
    }

    /// `sev1` for critical to `sev4` for low.
    pub fn sev(self) -> &'static str {
        match self {
            Self::Critical => "sev1",
            Self::High => "sev2",
            Self::Medium => "sev3",
            Self::Low => "sev4",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Parses an id with the given prefix, such as `ALRT-2210`, `alrt 2210`,
/// `#2210` or `2210`, into its canonical form `ALRT-2210`.
pub fn parse_id(text: &str, prefix: &str, what: &str) -> Result<String, DemoError> {
    let trimmed = text.trim();
    let upper = trimmed.to_ascii_uppercase();
    let rest = upper.strip_prefix(prefix).unwrap_or(&upper);
    let digits = rest.trim_start_matches(['-', ' ', '#']);
    let valid = !digits.is_empty()
        && digits.len() <= MAX_ID_DIGITS
        && digits.bytes().all(|byte| byte.is_ascii_digit());
    if !valid {
        return Err(DemoError::invalid(format!(
            "invalid {what} id `{trimmed}`: expected {prefix}- and up to {MAX_ID_DIGITS} digits, such as {prefix}-1234"
        )));
    }
    Ok(format!("{prefix}-{digits}"))
}

/// Parses a CVE id (`CVE-YYYY-NNNN`, four or more digits) into upper case.
pub fn parse_cve(text: &str) -> Result<String, DemoError> {
    let trimmed = text.trim();
    let upper = trimmed.to_ascii_uppercase();
    let parts: Vec<&str> = upper.split('-').collect();
    let valid = matches!(
        parts.as_slice(),
        ["CVE", year, number]
            if year.len() == 4
                && year.bytes().all(|b| b.is_ascii_digit())
                && (4..=7).contains(&number.len())
                && number.bytes().all(|b| b.is_ascii_digit())
    );
    if !valid {
        return Err(DemoError::invalid(format!(
            "invalid CVE id `{trimmed}`: expected CVE-YYYY-NNNN, such as CVE-2024-3094"
        )));
    }
    Ok(upper)
}

/// Parses an MD5, SHA-1 or SHA-256 digest in hex.
pub fn parse_hash(text: &str) -> Result<FileHash, DemoError> {
    let trimmed = text.trim();
    let hex = trimmed.to_ascii_lowercase();
    let algorithm = match hex.len() {
        32 => "MD5",
        40 => "SHA-1",
        64 => "SHA-256",
        _ => "",
    };
    if algorithm.is_empty() || !hex.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        return Err(DemoError::invalid(format!(
            "invalid file hash `{trimmed}`: expected 32 (MD5), 40 (SHA-1) or 64 (SHA-256) hex digits"
        )));
    }
    Ok(FileHash { hex, algorithm })
}

/// Checks free text: trimmed length in characters within bounds, and no
/// control characters other than newlines when `multiline`.
pub fn check_text(
    text: &str,
    what: &str,
    min: usize,
    max: usize,
    multiline: bool,
) -> Result<String, DemoError> {
    let trimmed = text.trim();
    let length = trimmed.chars().count();
    if length < min || length > max {
        return Err(DemoError::invalid(format!(
            "invalid {what}: {length} characters, expected {min} to {max}"
        )));
    }
    let bad = trimmed
        .chars()
        .find(|c| c.is_control() && !(multiline && *c == '\n'));
    if let Some(bad) = bad {
        return Err(DemoError::invalid(format!(
            "invalid {what}: contains the control character {:?}; remove it",
            bad
        )));
    }
    Ok(trimmed.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_accept_number_or_prefixed_form() {
        for text in ["ALRT-2210", "alrt-2210", "2210", "#2210", "ALRT 2210"] {
            assert_eq!(
                parse_id(text, "ALRT", "alert").unwrap(),
                "ALRT-2210",
                "{text}"
            );
        }
        for text in ["", "ALRT-", "INC-22", "22a", "123456789", "--2210x"] {
            assert!(parse_id(text, "ALRT", "alert").is_err(), "{text}");
        }
    }

    #[test]
    fn severities_parse_with_aliases() {
        assert_eq!(Severity::parse("P1").unwrap(), Severity::Critical);
        assert_eq!(Severity::parse("sev-2").unwrap(), Severity::High);
        assert_eq!(Severity::parse("warning").unwrap(), Severity::Medium);
        assert_eq!(Severity::Low.sev(), "sev4");
        assert!(Severity::parse("urgent").is_err());
        assert!(Severity::Critical > Severity::High);
    }

    #[test]
    fn cves_are_upper_cased_and_checked() {
        assert_eq!(parse_cve("cve-2024-3094").unwrap(), "CVE-2024-3094");
        assert_eq!(parse_cve("CVE-2021-44228").unwrap(), "CVE-2021-44228");
        for text in [
            "CVE-24-3094",
            "CVE-2024-309",
            "CVE-2024-3094-1",
            "2024-3094",
            "CVE-2024-30x4",
        ] {
            assert!(parse_cve(text).is_err(), "{text}");
        }
    }

    #[test]
    fn hashes_are_identified_by_length() {
        let md5 = parse_hash("44D88612FEA8A8F36DE82E1278ABB02F").unwrap();
        assert_eq!(md5.algorithm, "MD5");
        assert_eq!(md5.hex, "44d88612fea8a8f36de82e1278abb02f");
        assert!(parse_hash("44d88612fea8a8f36de82e1278abb02").is_err());
        assert!(parse_hash(&"g".repeat(64)).is_err());
    }

    #[test]
    fn text_checks_length_and_control_characters() {
        assert_eq!(
            check_text("  db down ", "title", 3, 200, false).unwrap(),
            "db down"
        );
        assert!(check_text("ab", "title", 3, 200, false).is_err());
        assert!(check_text("db\ndown", "title", 3, 200, false).is_err());
        assert!(check_text("db\ndown", "message", 1, 500, true).is_ok());
        assert!(check_text("db\u{7}down", "message", 1, 500, true).is_err());
    }
}
