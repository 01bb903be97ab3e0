//! Slot value errors, worded for the person who typed the value.

use std::fmt;
use std::net::IpAddr;

use super::SlotKind;

/// A rejected slot value. Each message names the value, what was expected
/// and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlotError {
    #[error("unknown {} `{value}`{hint}", noun(*.kind))]
    Unknown {
        kind: SlotKind,
        value: String,
        hint: Hint,
    },

    #[error("no host in the inventory has address `{address}`; give the host name instead")]
    UnknownAddress { address: IpAddr },

    #[error(
        "unknown user `{id}`: the mentioned user is not in the inventory; mention a listed user or ask an admin to add them"
    )]
    UnknownUserId { id: String },

    #[error("invalid {} `{value}`: contains {}, which no {} contains; give the {} alone", noun(*.kind), describe(.found), noun(*.kind), noun(*.kind))]
    UnsafeCharacters {
        kind: SlotKind,
        value: String,
        found: &'static str,
    },

    #[error("invalid {} `{value}`: expected {expected}", noun(*.kind))]
    Malformed {
        kind: SlotKind,
        value: String,
        expected: &'static str,
    },

    #[error(
        "invalid CIDR range `{value}`: prefix /{prefix} is longer than /{max}, the maximum for this address family"
    )]
    PrefixTooLong { value: String, prefix: u32, max: u8 },

    #[error("invalid CIDR range `{value}`: host bits are set, did you mean `{network}`?")]
    HostBitsSet { value: String, network: String },

    #[error(
        "invalid hash `{value}` ({length} hex characters): expected 32 (MD5), 40 (SHA-1) or 64 (SHA-256); paste the whole digest"
    )]
    NotAHash { value: String, length: usize },

    #[error("invalid {} `{value}`: expected a positive amount of time, such as `30m` or `2 hours`", noun(*.kind))]
    Zero { kind: SlotKind, value: String },

    #[error("invalid {} `{value}`: longer than the maximum of {max}; give a shorter one", noun(*.kind))]
    TooLong {
        kind: SlotKind,
        value: String,
        max: &'static str,
    },

    #[error("no {} found in `{answer}`: expected {expected}", noun(*.kind))]
    NotFound {
        kind: SlotKind,
        answer: String,
        expected: &'static str,
    },
}

/// Advice for the user about an unknown name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hint {
    /// The closest known name.
    DidYouMean(String),
    /// Every known name, for short lists such as teams.
    OneOf(Vec<String>),
    /// Nothing close is known.
    NotInInventory,
}

/// Maximum number of characters of a value quoted in a message, so that a
/// pasted blob is shortened.
const MAX_SHOWN_CHARS: usize = 80;

impl SlotError {
    pub(crate) fn unknown(kind: SlotKind, value: &str, hint: Hint) -> Self {
        Self::Unknown {
            kind,
            value: shown(value),
            hint,
        }
    }

    pub(crate) fn malformed(kind: SlotKind, value: &str, expected: &'static str) -> Self {
        Self::Malformed {
            kind,
            value: shown(value),
            expected,
        }
    }

    pub(crate) fn unsafe_characters(kind: SlotKind, value: &str, found: &'static str) -> Self {
        Self::UnsafeCharacters {
            kind,
            value: shown(value),
            found,
        }
    }
}

impl SlotError {
    /// Returns the rejected value as the message quotes it, for masking secrets.
    pub fn value(&self) -> Option<String> {
        match self {
            Self::Unknown { value, .. }
            | Self::UnsafeCharacters { value, .. }
            | Self::Malformed { value, .. }
            | Self::PrefixTooLong { value, .. }
            | Self::HostBitsSet { value, .. }
            | Self::NotAHash { value, .. }
            | Self::Zero { value, .. }
            | Self::TooLong { value, .. } => Some(value.clone()),
            Self::UnknownAddress { address } => Some(address.to_string()),
            Self::UnknownUserId { id } => Some(id.clone()),
            Self::NotFound { answer, .. } => Some(answer.clone()),
        }
    }
}

impl fmt::Display for Hint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::DidYouMean(name) => write!(f, ", did you mean `{name}`?"),
            Self::OneOf(names) if names.is_empty() => {
                f.write_str(": the inventory lists none; ask an admin to add it")
            }
            Self::OneOf(names) => write!(f, ": expected one of {}", names.join(", ")),
            Self::NotInInventory => {
                f.write_str(": not in the inventory; check the spelling or ask an admin to add it")
            }
        }
    }
}

/// Returns the words for a slot type in messages.
pub(crate) fn noun(kind: SlotKind) -> &'static str {
    match kind {
        SlotKind::Host => "host",
        SlotKind::Ip => "IP address",
        SlotKind::Cidr => "CIDR range",
        SlotKind::Cve => "CVE id",
        SlotKind::Hash => "hash",
        SlotKind::Service => "service",
        SlotKind::User => "user",
        SlotKind::Duration => "duration",
        SlotKind::TimeRange => "time range",
        SlotKind::IncidentId => "incident id",
        SlotKind::AlertId => "alert id",
        SlotKind::Severity => "severity",
        SlotKind::Environment => "environment",
        SlotKind::Url => "URL",
        SlotKind::Text => "text",
        SlotKind::Team => "team",
        SlotKind::Version => "version",
        SlotKind::Package => "package",
        SlotKind::Topic => "topic",
    }
}

/// Quotes a value for a message: control characters escaped, long values
/// shortened with `…`.
pub(crate) fn shown(value: &str) -> String {
    let mut out: String = value
        .chars()
        .take(MAX_SHOWN_CHARS)
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect();
    if value.chars().count() > MAX_SHOWN_CHARS {
        out.push('…');
    }
    out
}

fn describe(found: &str) -> String {
    match found {
        " " => "a space".to_string(),
        "\n" => "a line break".to_string(),
        "-" => "a leading `-`".to_string(),
        other => format!("`{other}`"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_host_suggests_the_closest_name() {
        let error = SlotError::unknown(SlotKind::Host, "web-99", Hint::DidYouMean("web-09".into()));
        assert_eq!(
            error.to_string(),
            "unknown host `web-99`, did you mean `web-09`?"
        );
    }

    #[test]
    fn unknown_team_lists_the_teams() {
        let hint = Hint::OneOf(vec!["sre".into(), "dba".into()]);
        let error = SlotError::unknown(SlotKind::Team, "payments", hint);
        assert_eq!(
            error.to_string(),
            "unknown team `payments`: expected one of sre, dba"
        );
    }

    #[test]
    fn unsafe_characters_are_named() {
        let error = SlotError::unsafe_characters(SlotKind::Host, "web-01;id", ";");
        assert_eq!(
            error.to_string(),
            "invalid host `web-01;id`: contains `;`, which no host contains; give the host alone"
        );
        let error = SlotError::unsafe_characters(SlotKind::User, "jdoe x", " ");
        assert!(error.to_string().contains("contains a space"));
    }

    #[test]
    fn long_and_control_values_are_shortened_and_escaped() {
        assert_eq!(shown("a\nb"), "a\\nb");
        let long = "f".repeat(200);
        assert_eq!(shown(&long).chars().count(), MAX_SHOWN_CHARS + 1);
    }
}
