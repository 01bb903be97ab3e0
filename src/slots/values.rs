//! Typed slot values, each with the one argument it passes to a command
//! and its JSON form.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use jiff::Timestamp;
use serde_json::{Value, json};

use crate::inventory::{Host, User, UserId};

/// A validated, normalised slot value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlotValue {
    Host(HostName),
    Ip(IpAddr),
    Cidr(Cidr),
    Cve(CveId),
    Hash {
        algorithm: HashAlgorithm,
        hex: String,
    },
    Service(ServiceName),
    User(UserRef),
    Duration(Duration),
    TimeRange(TimeRange),
    IncidentId(IncidentId),
    AlertId(AlertId),
    Severity(Severity),
    Environment(EnvironmentName),
    Url(UrlValue),
    /// Free text, passed literally.
    Text(String),
    Team(TeamName),
    Version(Version),
    Package(PackageName),
    Topic(Topic),
}

/// A host of the inventory, as the user named it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostName {
    /// Text the user wrote, lowercased and without a trailing dot: a short
    /// name, an FQDN or an address.
    pub given: String,
    /// The inventory's short name, passed to commands.
    pub name: String,
    pub fqdn: Option<String>,
    pub address: Option<IpAddr>,
}

/// A network in CIDR notation whose host bits are all zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

/// Digest algorithms, identified by the length of the hex digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashAlgorithm {
    Md5,
    Sha1,
    Sha256,
}

/// A user of the inventory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRef {
    pub id: UserId,
    /// Account name, passed to commands.
    pub name: String,
}

/// A span of time between two instants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeRange {
    pub start: Timestamp,
    pub end: Timestamp,
    /// The phrase it was read from, normalised, such as `last 10 days`.
    pub phrase: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Critical,
    High,
    Medium,
    Low,
}

/// A release version such as `v1.4.2`, or a git commit id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    text: String,
    kind: VersionKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionKind {
    /// Dotted numbers with an optional `v` and suffix: `1.4.2`, `v2.0.0-rc1`.
    Release,
    /// 7 to 40 lowercase hex digits.
    Commit,
}

/// Defines a validated string value with `as_str`, `Display` and a
/// constructor visible to the slot extractors only.
macro_rules! string_value {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub(crate) fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

string_value!(
    /// A CVE id in upper case, such as `CVE-2019-11510`.
    CveId
);
string_value!(
    /// A service of the inventory, without a `.service` suffix.
    ServiceName
);
string_value!(
    /// An incident id in upper case, such as `INC-4821`.
    IncidentId
);
string_value!(
    /// An alert id in upper case, such as `ALRT-1093`.
    AlertId
);
string_value!(
    /// An environment of the inventory, such as `production`.
    EnvironmentName
);
string_value!(
    /// A URL, or a domain with an optional path, as the user wrote it.
    UrlValue
);
string_value!(
    /// A team of the inventory.
    TeamName
);
string_value!(
    /// A package name, such as `log4j-core`.
    PackageName
);
string_value!(
    /// Subject of a help request: an intent name such as
    /// `service.restart`, or a domain such as `alerts`.
    Topic
);

impl SlotValue {
    /// Returns the value as one command argument.
    pub fn to_arg(&self) -> String {
        match self {
            Self::Host(host) => host.name.clone(),
            Self::Ip(ip) => ip.to_string(),
            Self::Cidr(cidr) => cidr.to_string(),
            Self::Cve(cve) => cve.to_string(),
            Self::Hash { hex, .. } => hex.clone(),
            Self::Service(service) => service.to_string(),
            Self::User(user) => user.name.clone(),
            Self::Duration(duration) => duration.as_secs().to_string(),
            Self::TimeRange(range) => range.to_string(),
            Self::IncidentId(id) => id.to_string(),
            Self::AlertId(id) => id.to_string(),
            Self::Severity(severity) => severity.name().to_string(),
            Self::Environment(environment) => environment.to_string(),
            Self::Url(url) => url.to_string(),
            Self::Text(text) => text.clone(),
            Self::Team(team) => team.to_string(),
            Self::Version(version) => version.as_str().to_string(),
            Self::Package(package) => package.to_string(),
            Self::Topic(topic) => topic.to_string(),
        }
    }

    /// Returns the value as JSON: a string for simple values, an object for
    /// values with parts. A duration is `{"seconds": n}`.
    pub fn to_json(&self) -> Value {
        match self {
            Self::Host(host) => json!({
                "name": host.name,
                "given": host.given,
                "fqdn": host.fqdn,
                "address": host.address.map(|address| address.to_string()),
            }),
            Self::Cidr(cidr) => json!({
                "network": cidr.network.to_string(),
                "prefix": cidr.prefix,
            }),
            Self::Hash { algorithm, hex } => json!({
                "algorithm": algorithm.name(),
                "hex": hex,
            }),
            Self::User(user) => json!({ "id": user.id.as_str(), "name": user.name }),
            Self::Duration(duration) => json!({ "seconds": duration.as_secs() }),
            Self::TimeRange(range) => json!({
                "start": range.start.to_string(),
                "end": range.end.to_string(),
                "phrase": range.phrase,
            }),
            Self::Version(version) => json!({
                "version": version.text,
                "kind": match version.kind {
                    VersionKind::Release => "release",
                    VersionKind::Commit => "commit",
                },
            }),
            _ => Value::String(self.to_arg()),
        }
    }
}

impl HostName {
    pub(crate) fn from_inventory(given: impl Into<String>, host: &Host) -> Self {
        Self {
            given: given.into(),
            name: host.name.clone(),
            fqdn: host.fqdn.clone(),
            address: host.address,
        }
    }
}

impl UserRef {
    pub(crate) fn from_inventory(user: &User) -> Self {
        Self {
            id: user.id.clone(),
            name: user.name.clone(),
        }
    }
}

impl Cidr {
    /// Builds a network; fails with the network address when `address` has
    /// host bits set, and with `None` when the prefix is too long.
    pub(crate) fn new(address: IpAddr, prefix: u8) -> Result<Self, Option<IpAddr>> {
        let network = match address {
            IpAddr::V4(v4) => {
                if prefix > 32 {
                    return Err(None);
                }
                let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
                IpAddr::V4((u32::from(v4) & mask).into())
            }
            IpAddr::V6(v6) => {
                if prefix > 128 {
                    return Err(None);
                }
                let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
                IpAddr::V6((u128::from(v6) & mask).into())
            }
        };
        if network == address {
            Ok(Self { network, prefix })
        } else {
            Err(Some(network))
        }
    }

    pub fn network(&self) -> IpAddr {
        self.network
    }

    pub fn prefix(&self) -> u8 {
        self.prefix
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl HashAlgorithm {
    /// Returns the algorithm whose hex digest has `length` characters.
    pub fn from_hex_length(length: usize) -> Option<Self> {
        match length {
            32 => Some(Self::Md5),
            40 => Some(Self::Sha1),
            64 => Some(Self::Sha256),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Md5 => "md5",
            Self::Sha1 => "sha1",
            Self::Sha256 => "sha256",
        }
    }
}

impl fmt::Display for TimeRange {
    /// Writes an ISO 8601 interval of two UTC instants: `start/end`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.start, self.end)
    }
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Self::Critical => "critical",
            Self::High => "high",
            Self::Medium => "medium",
            Self::Low => "low",
        }
    }

    /// Maps `sev1`…`sev4` and `p1`…`p4` levels: 1 is critical.
    pub fn from_level(level: u8) -> Option<Self> {
        match level {
            1 => Some(Self::Critical),
            2 => Some(Self::High),
            3 => Some(Self::Medium),
            4 => Some(Self::Low),
            _ => None,
        }
    }
}

impl Version {
    pub(crate) fn new(text: impl Into<String>, kind: VersionKind) -> Self {
        Self {
            text: text.into(),
            kind,
        }
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn kind(&self) -> VersionKind {
        self.kind
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_rejects_host_bits_with_network() {
        let address: IpAddr = "198.51.100.7".parse().unwrap();
        let network: IpAddr = "198.51.100.0".parse().unwrap();
        assert_eq!(Cidr::new(address, 24), Err(Some(network)));
        assert!(Cidr::new(network, 24).is_ok());
    }

    #[test]
    fn cidr_prefix_limits() {
        let v4: IpAddr = "0.0.0.0".parse().unwrap();
        let v6: IpAddr = "::".parse().unwrap();
        assert!(Cidr::new(v4, 0).is_ok());
        assert!(Cidr::new(v4, 32).is_ok());
        assert_eq!(Cidr::new(v4, 33), Err(None));
        assert!(Cidr::new(v6, 128).is_ok());
        assert_eq!(Cidr::new(v6, 129), Err(None));
    }

    #[test]
    fn duration_argument_is_seconds() {
        let value = SlotValue::Duration(Duration::from_secs(86_400));
        assert_eq!(value.to_arg(), "86400");
        assert_eq!(value.to_json(), json!({ "seconds": 86_400 }));
    }

    #[test]
    fn ipv6_argument_is_compressed() {
        let ip: IpAddr = "2001:0db8:0000:0000:0000:09c0:876a:130b".parse().unwrap();
        assert_eq!(SlotValue::Ip(ip).to_arg(), "2001:db8::9c0:876a:130b");
    }

    #[test]
    fn hash_json_names_the_algorithm() {
        let value = SlotValue::Hash {
            algorithm: HashAlgorithm::Md5,
            hex: "43493ab9e2b105ed58d657b433a0d728".to_string(),
        };
        assert_eq!(value.to_json()["algorithm"], "md5");
    }
}
