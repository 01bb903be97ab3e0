//! Slot types: the typed parameters an intent takes (host, ip, cve, ...).

use std::fmt;
use std::str::FromStr;

/// The type of a slot, which decides how its value is extracted and validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SlotKind {
    Host,
    Ip,
    Cidr,
    Cve,
    Hash,
    Service,
    User,
    Duration,
    TimeRange,
    IncidentId,
    AlertId,
    Severity,
    Environment,
    Url,
    Text,
    Team,
    Version,
    Package,
    Topic,
}

impl SlotKind {
    pub const ALL: [SlotKind; 19] = [
        Self::Host,
        Self::Ip,
        Self::Cidr,
        Self::Cve,
        Self::Hash,
        Self::Service,
        Self::User,
        Self::Duration,
        Self::TimeRange,
        Self::IncidentId,
        Self::AlertId,
        Self::Severity,
        Self::Environment,
        Self::Url,
        Self::Text,
        Self::Team,
        Self::Version,
        Self::Package,
        Self::Topic,
    ];

    /// The name used in intent files.
    pub fn name(self) -> &'static str {
        match self {
            Self::Host => "host",
            Self::Ip => "ip",
            Self::Cidr => "cidr",
            Self::Cve => "cve",
            Self::Hash => "hash",
            Self::Service => "service",
            Self::User => "user",
            Self::Duration => "duration",
            Self::TimeRange => "time_range",
            Self::IncidentId => "incident_id",
            Self::AlertId => "alert_id",
            Self::Severity => "severity",
            Self::Environment => "environment",
            Self::Url => "url",
            Self::Text => "text",
            Self::Team => "team",
            Self::Version => "version",
            Self::Package => "package",
            Self::Topic => "topic",
        }
    }
}

impl fmt::Display for SlotKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for SlotKind {
    type Err = String;

    /// Parses a slot type name; the error lists the valid names.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|kind| kind.name()).collect();
                format!("unknown slot type `{s}`, expected one of: {}", names.join(", "))
            })
    }
}
