//! Slots: the typed parameters an intent takes (host, ip, cve, ...), and
//! their extraction from a normalised message.
//!
//! Extraction is span-based. Extractors run in a fixed priority order,
//! [`PRIORITY`], and each claims the spans of the values it uses. Later
//! extractors never read a claimed span again. So the `24` of
//! `198.51.100.0/24` is never a duration, and the `20` of `top 20` is
//! nothing, because no extractor claims a bare count.

mod error;
mod ids;
mod names;
mod network;
mod scan;
mod text;
mod time;
mod values;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Range;
use std::str::FromStr;

use jiff::ZonedDateTime;
use serde_json::Value;

pub use error::{Hint, SlotError};
pub use text::topic_names;
pub use values::{
    AlertId, Cidr, CveId, EnvironmentName, HashAlgorithm, HostName, IncidentId, PackageName,
    ServiceName, Severity, SlotValue, TeamName, TimeRange, Topic, UrlValue, UserRef, Version,
    VersionKind,
};

use crate::intent::{Intent, SlotSpec};
use crate::inventory::Inventory;
use crate::normalise::{Message, normalise, plain_text};
use scan::{Candidate, Scan};

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
                format!(
                    "unknown slot type `{s}`, expected one of: {}",
                    names.join(", ")
                )
            })
    }
}

/// The slots found in a message for one intent.
#[derive(Clone, PartialEq, Eq)]
pub struct Extraction {
    /// Valid values by slot name.
    pub values: BTreeMap<String, SlotValue>,
    /// Required slots with no value, in catalog order. A group of
    /// alternatives with no member present lists every member.
    pub missing: Vec<String>,
    /// Values found but rejected. The bot shows each message and requests the
    /// value again.
    pub invalid: Vec<SlotProblem>,
    /// Names of the slots whose values are masked.
    secret: BTreeSet<String>,
}

/// A rejected slot value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotProblem {
    pub slot: String,
    /// The text the value was read from, or [`MASK`] for a secret slot.
    pub value: String,
    pub message: String,
}

/// Shown in place of the value of a secret slot.
pub const MASK: &str = "••••";

/// The order in which extractors claim spans: the most specific shapes
/// first, so that a CIDR range is never read as an address, an address is
/// an IP before it is a host, and the number in `last 10 days` is never a
/// duration.
/// Free text comes first because a quoted or cued message is literal:
/// the `db-02` in `'disk full on db-02'` is not a host.
pub const PRIORITY: [SlotKind; 19] = [
    SlotKind::Text,
    SlotKind::Url,
    SlotKind::Cidr,
    SlotKind::Ip,
    SlotKind::Hash,
    SlotKind::Cve,
    SlotKind::IncidentId,
    SlotKind::AlertId,
    SlotKind::Host,
    SlotKind::TimeRange,
    SlotKind::Duration,
    SlotKind::Version,
    SlotKind::Severity,
    SlotKind::Environment,
    SlotKind::Service,
    SlotKind::Package,
    SlotKind::Team,
    SlotKind::User,
    SlotKind::Topic,
];

/// Extracts the slots that `intent` declares from a normalised message.
/// Slot types the intent does not declare are not looked for. `now` anchors
/// relative times such as `last 2 hours` and `yesterday`.
pub fn extract(
    intent: &Intent,
    message: &Message,
    inventory: &Inventory,
    now: &ZonedDateTime,
) -> Extraction {
    let mut scan = Scan::new(message, inventory, now);
    scan.bare_durations_are_ranges = !intent
        .slots
        .iter()
        .any(|slot| slot.kind == SlotKind::Duration);
    let mut extraction = Extraction {
        values: BTreeMap::new(),
        missing: Vec::new(),
        invalid: Vec::new(),
        secret: intent
            .slots
            .iter()
            .filter(|slot| slot.secret)
            .map(|slot| slot.name.clone())
            .collect(),
    };

    for kind in PRIORITY {
        let specs: Vec<&SlotSpec> = intent
            .slots
            .iter()
            .filter(|slot| slot.kind == kind)
            .collect();
        if specs.is_empty() {
            continue;
        }
        let candidates = find(kind, &scan);
        for span in extraction.assign(&specs, &candidates, message) {
            scan.claim(span);
        }
    }

    extraction.missing = missing_slots(intent, &extraction);
    extraction
}

/// Reads the answer to a question about one missing or invalid slot. The
/// whole answer is the value: a name with anything around it, such as
/// `web-01; reboot`, is rejected rather than searched. Durations, time
/// ranges, severities, topics and free text may take several words.
pub fn parse_answer(
    spec: &SlotSpec,
    answer: &str,
    inventory: &Inventory,
    now: &ZonedDateTime,
) -> Result<SlotValue, SlotError> {
    let message = normalise(answer);
    // An answer written as inline code, such as `web-01`, is the value.
    let text = match message.data.as_slice() {
        [code] if message.text.is_empty() => code.trim(),
        _ => message.text.trim(),
    };

    let kind = spec.kind;
    match kind {
        // Free text is taken whole, inline code and quotes included.
        SlotKind::Text => text::parse_text(&plain_text(answer)),
        SlotKind::Duration => time::parse_duration(text, now),
        SlotKind::TimeRange => time::parse_time_range(text, now),
        SlotKind::Topic => text::parse_topic(text),
        SlotKind::Severity => names::parse_severity(text),
        SlotKind::User if message.mentions.len() == 1 => {
            names::parse_user(text, &message.mentions, inventory)
        }
        SlotKind::User => names::parse_user(single_word(kind, text)?, &[], inventory),
        SlotKind::Url => match message.links.as_slice() {
            [link] if link.span == (0..message.text.len()) => network::link_value(link),
            _ => network::parse_url(single_word(kind, text)?),
        },
        SlotKind::Host => network::parse_host(single_word(kind, text)?, inventory),
        SlotKind::Ip => network::parse_ip(single_word(kind, text)?),
        SlotKind::Cidr => network::parse_cidr(single_word(kind, text)?),
        SlotKind::Cve => ids::parse_cve(single_word(kind, text)?),
        SlotKind::Hash => ids::parse_hash(single_word(kind, text)?),
        SlotKind::IncidentId => ids::parse_incident_id(single_word(kind, text)?),
        SlotKind::AlertId => ids::parse_alert_id(single_word(kind, text)?),
        SlotKind::Version => ids::parse_version(single_word(kind, text)?),
        SlotKind::Service => names::parse_service(single_word(kind, text)?, inventory),
        SlotKind::Team => names::parse_team(single_word(kind, text)?, inventory),
        SlotKind::Package => names::parse_package(single_word(kind, text)?),
        SlotKind::Environment => names::parse_environment(single_word(kind, text)?, inventory),
    }
}

impl Extraction {
    /// Checks whether every required slot has a valid value.
    pub fn is_complete(&self) -> bool {
        self.missing.is_empty() && self.invalid.is_empty()
    }

    pub fn is_secret(&self, slot: &str) -> bool {
        self.secret.contains(slot)
    }

    /// Returns a slot's argument for display: [`MASK`] for a secret slot.
    pub fn shown(&self, slot: &str) -> Option<String> {
        let value = self.values.get(slot)?;
        Some(if self.is_secret(slot) {
            MASK.to_string()
        } else {
            value.to_arg()
        })
    }

    /// Returns the values as a JSON object for logs and audit records, with
    /// secret values masked.
    pub fn to_masked_json(&self) -> Value {
        let map = self
            .values
            .iter()
            .map(|(slot, value)| {
                let json = if self.is_secret(slot) {
                    Value::String(MASK.to_string())
                } else {
                    value.to_json()
                };
                (slot.clone(), json)
            })
            .collect();
        Value::Object(map)
    }

    /// Gives each spec of one kind the next valid candidate, in text order,
    /// and reports the next rejected candidate for a spec left without a
    /// value. Returns the spans to claim: every valid candidate and each
    /// reported one. A rejected candidate that was not reported stays free
    /// for later extractors, so `libfoo-2` in `package libfoo-2 on db-01`
    /// is a package even though it also looks like an unknown host.
    fn assign(
        &mut self,
        specs: &[&SlotSpec],
        candidates: &[Candidate],
        message: &Message,
    ) -> Vec<Range<usize>> {
        let mut claimed: Vec<Range<usize>> = candidates
            .iter()
            .filter(|candidate| candidate.value.is_ok())
            .map(|candidate| candidate.span.clone())
            .collect();
        let mut valid = candidates
            .iter()
            .filter_map(|candidate| candidate.value.as_ref().ok());
        let mut rejected = candidates
            .iter()
            .filter_map(|candidate| Some((candidate, candidate.value.as_ref().err()?)));

        for spec in specs {
            if let Some(value) = valid.next() {
                self.values.insert(spec.name.clone(), value.clone());
            } else if let Some((candidate, error)) = rejected.next() {
                let value = message.span_text(&candidate.span);
                self.invalid.push(problem(spec, value, error));
                claimed.push(candidate.span.clone());
            }
        }
        claimed
    }
}

impl fmt::Display for Extraction {
    /// Writes `slot=value` pairs, secret values masked, then the missing
    /// and invalid slots.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = self
            .values
            .keys()
            .filter_map(|slot| Some(format!("{slot}={}", self.shown(slot)?)))
            .collect();
        if !self.missing.is_empty() {
            parts.push(format!("missing: {}", self.missing.join(", ")));
        }
        for problem in &self.invalid {
            parts.push(format!("invalid {}: {}", problem.slot, problem.message));
        }
        f.write_str(&parts.join("; "))
    }
}

impl fmt::Debug for Extraction {
    /// Like [`fmt::Display`], so a secret never reaches a debug log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Extraction {{ {self} }}")
    }
}

/// Runs the extractor of one slot type.
fn find(kind: SlotKind, scan: &Scan<'_>) -> Vec<Candidate> {
    match kind {
        SlotKind::Text => text::texts(scan),
        SlotKind::Url => network::urls(scan),
        SlotKind::Cidr => network::cidrs(scan),
        SlotKind::Ip => network::ips(scan),
        SlotKind::Hash => ids::hashes(scan),
        SlotKind::Cve => ids::cves(scan),
        SlotKind::IncidentId => ids::incident_ids(scan),
        SlotKind::AlertId => ids::alert_ids(scan),
        SlotKind::Host => network::hosts(scan),
        SlotKind::TimeRange => time::time_ranges(scan),
        SlotKind::Duration => time::durations(scan),
        SlotKind::Version => ids::versions(scan),
        SlotKind::Severity => names::severities(scan),
        SlotKind::Environment => names::environments(scan),
        SlotKind::Service => names::services(scan),
        SlotKind::Package => names::packages(scan),
        SlotKind::Team => names::teams(scan),
        SlotKind::User => names::users(scan),
        SlotKind::Topic => text::topics(scan),
    }
}

fn problem(spec: &SlotSpec, value: &str, error: &SlotError) -> SlotProblem {
    if spec.secret {
        let mut message = error.to_string();
        for shown in [error.value(), Some(error::shown(value))]
            .into_iter()
            .flatten()
        {
            if !shown.is_empty() {
                message = message.replace(&shown, MASK);
            }
        }
        return SlotProblem {
            slot: spec.name.clone(),
            value: MASK.to_string(),
            message,
        };
    }
    SlotProblem {
        slot: spec.name.clone(),
        value: value.to_string(),
        message: error.to_string(),
    }
}

/// Required slots without a value or a rejected value; a slot in a group
/// is missing only when no member of its group is present.
fn missing_slots(intent: &Intent, extraction: &Extraction) -> Vec<String> {
    let present = |slot: &SlotSpec| {
        extraction.values.contains_key(&slot.name)
            || extraction
                .invalid
                .iter()
                .any(|problem| problem.slot == slot.name)
    };
    intent
        .required_slots()
        .filter(|slot| !present(slot))
        .filter(|slot| match &slot.group {
            Some(group) => !intent
                .slots
                .iter()
                .filter(|member| member.group.as_ref() == Some(group))
                .any(present),
            None => true,
        })
        .map(|slot| slot.name.clone())
        .collect()
}

/// Checks that an answer is one word: names contain no spaces, so an
/// answer with more is rejected, naming the first shell sequence if any.
/// Sentence punctuation at the end and surrounding quotes are dropped.
fn single_word(kind: SlotKind, text: &str) -> Result<&str, SlotError> {
    let word = text
        .trim()
        .trim_end_matches(['.', '?', '!', ','])
        .trim_matches(['"', '\'', '`']);
    if word.is_empty() {
        return Err(SlotError::NotFound {
            kind,
            answer: error::shown(text),
            expected: "one value",
        });
    }
    if let Some(found) = scan::shell_sequence(word) {
        return Err(SlotError::unsafe_characters(kind, word, found));
    }
    Ok(word)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::intent::{CommandSpec, IntentName, Risk};

    fn spec(name: &str, kind: SlotKind, group: Option<&str>) -> SlotSpec {
        SlotSpec {
            name: name.to_string(),
            kind,
            required: true,
            group: group.map(str::to_string),
            secret: false,
        }
    }

    fn intent(slots: Vec<SlotSpec>) -> Intent {
        Intent {
            name: IntentName::new("test.slots"),
            description: "Test intent.".to_string(),
            risk: Risk::Read,
            command: CommandSpec {
                program: "true".to_string(),
                args: Vec::new(),
            },
            slots,
            exemplars: Vec::new(),
            negatives: Vec::new(),
            source: PathBuf::from("test.toml"),
        }
    }

    fn now() -> ZonedDateTime {
        "2024-03-10T14:30:00+00:00[UTC]".parse().unwrap()
    }

    fn run(intent: &Intent, raw: &str) -> Extraction {
        extract(intent, &normalise(raw), &Inventory::default(), &now())
    }

    #[test]
    fn priority_lists_every_kind_once() {
        for kind in SlotKind::ALL {
            let count = PRIORITY.iter().filter(|listed| **listed == kind).count();
            assert_eq!(count, 1, "{kind}");
        }
    }

    #[test]
    fn group_is_missing_only_without_any_member() {
        let intent = intent(vec![
            spec("ip", SlotKind::Ip, Some("target")),
            spec("cidr", SlotKind::Cidr, Some("target")),
            spec("duration", SlotKind::Duration, None),
        ]);
        assert_eq!(run(&intent, "block it").missing, ["ip", "cidr", "duration"]);
        assert_eq!(run(&intent, "block 192.0.2.1").missing, ["duration"]);
        assert_eq!(
            run(&intent, "block 192.0.2.0/33 for 1h").missing,
            Vec::<String>::new()
        );
    }

    #[test]
    fn invalid_slot_is_not_also_missing() {
        let intent = intent(vec![spec("cve", SlotKind::Cve, None)]);
        let extraction = run(&intent, "look up CVE-2019-123");
        assert!(extraction.missing.is_empty());
        assert_eq!(extraction.invalid[0].slot, "cve");
        assert_eq!(extraction.invalid[0].value, "CVE-2019-123");
    }

    #[test]
    fn same_kind_slots_fill_in_order() {
        let intent = intent(vec![
            spec("source", SlotKind::Ip, None),
            spec("target", SlotKind::Ip, None),
        ]);
        let extraction = run(&intent, "trace 192.0.2.1 to 192.0.2.2");
        assert_eq!(extraction.values["source"].to_arg(), "192.0.2.1");
        assert_eq!(extraction.values["target"].to_arg(), "192.0.2.2");
    }

    #[test]
    fn single_word_drops_end_punctuation_and_quotes() {
        assert_eq!(single_word(SlotKind::Host, "web-01."), Ok("web-01"));
        assert_eq!(single_word(SlotKind::Host, "\"web-01\"?"), Ok("web-01"));
        assert!(matches!(
            single_word(SlotKind::Host, "  "),
            Err(SlotError::NotFound { .. })
        ));
        assert!(matches!(
            single_word(SlotKind::Host, "a;b"),
            Err(SlotError::UnsafeCharacters { found: ";", .. })
        ));
    }

    #[test]
    fn secret_values_are_masked_in_every_rendering() {
        let mut token = spec("token", SlotKind::Text, None);
        token.secret = true;
        let intent = intent(vec![token, spec("ip", SlotKind::Ip, None)]);
        let extraction = run(&intent, "use 192.0.2.1 with token: s3cr3t-value");

        assert_eq!(extraction.values["token"].to_arg(), "s3cr3t-value");
        assert_eq!(extraction.shown("token").as_deref(), Some(MASK));
        assert_eq!(extraction.shown("ip").as_deref(), Some("192.0.2.1"));
        assert!(!extraction.to_string().contains("s3cr3t"));
        assert!(!format!("{extraction:?}").contains("s3cr3t"));
        assert!(!extraction.to_masked_json().to_string().contains("s3cr3t"));
    }
}
