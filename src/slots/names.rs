//! Name extractors checked against the inventory: services, packages,
//! teams, users and environments; and severities.

use std::sync::LazyLock;

use regex::Regex;

use super::scan::{Candidate, Scan, check_name, closest, wrapped_in_shell};
use super::values::{EnvironmentName, PackageName, ServiceName, Severity, TeamName, UserRef};
use super::{Hint, SlotError, SlotKind, SlotValue};
use crate::inventory::{self, Inventory};

const NAME_EXPECTED: &str =
    "letters, digits, `.`, `_`, `-` and `+`, starting with a letter or digit";
const ACCOUNT_EXPECTED: &str =
    "an account name of letters, digits, `.`, `_`, `-` and `@`, or a Slack mention";
const SEVERITY_EXPECTED: &str = "critical, high, medium or low; sev1 to sev4; or p1 to p4";

/// Words after which an unknown name is read as a service: `the foo service`.
const SERVICE_NOUNS: [&str; 4] = ["service", "daemon", "process", "unit"];
/// Words before a package name: `package openssl`.
const PACKAGE_CUES: [&str; 3] = ["package", "pkg", "library"];
/// Words next to a team name: `the payments team`, `team payments`,
/// `the dba on-call`.
const TEAM_CUES: [&str; 5] = ["team", "on-call", "oncall", "rotation", "pager"];
/// Words before an account name: `user mchen`, `account svc-ci`.
const USER_CUES: [&str; 3] = ["user", "account", "username"];
/// Words that may precede an unknown team name before `on-call` or `pager`,
/// as in `the payments on-call`; without one, `who's covering on-call`
/// would name a team `covering`.
const TEAM_DETERMINERS: [&str; 5] = ["the", "our", "their", "your", "my"];

/// Words that sit next to a cue word but never name anything.
const FILLER_WORDS: [&str; 46] = [
    "the", "a", "an", "this", "that", "my", "our", "your", "their", "his", "her", "its", "whole",
    "entire", "same", "other", "on-call", "oncall", "which", "what", "whose", "every", "any",
    "for", "with", "to", "about", "is", "are", "please", "now", "and", "or", "in", "on", "of",
    "activity", "history", "session", "sessions", "access", "details", "info", "login", "logins",
    "name",
];

/// Environment aliases and the name each stands for.
const ENVIRONMENT_ALIASES: [(&str, &str); 9] = [
    ("prod", "production"),
    ("prd", "production"),
    ("production", "production"),
    ("stage", "staging"),
    ("stg", "staging"),
    ("staging", "staging"),
    ("dev", "development"),
    ("development", "development"),
    ("qa", "qa"),
];

// NOTE: the pattern is a literal that `severity_pattern_compiles` forces in
// the tests, so the `expect` cannot fail at run time.
static SEVERITY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:sev(?:erity)?[\s-]*(\d+)|p([0-9])|(critical|crit|high|medium|med|low))\b")
        .expect("valid severity pattern")
});

/// Finds services of the inventory (`nginx`, `nginx.service`), and unknown
/// names before a word such as `service` or `daemon`.
pub(super) fn services(scan: &Scan<'_>) -> Vec<Candidate> {
    let inventory = scan.inventory;
    scan.free_tokens()
        .filter_map(|(index, token)| {
            let lower = token.text.to_ascii_lowercase();
            let name = lower.strip_suffix(".service").unwrap_or(&lower);
            let before_noun = scan
                .word_after(index)
                .is_some_and(|next| SERVICE_NOUNS.contains(&next.as_str()));

            let value = if let Some(known) = inventory.service(name) {
                Ok(SlotValue::Service(ServiceName::new(known)))
            } else if let Some(found) =
                wrapped_in_shell(token.text, |part| inventory.service(part).is_some())
            {
                Err(SlotError::unsafe_characters(
                    SlotKind::Service,
                    token.text,
                    found,
                ))
            } else if (before_noun || lower.ends_with(".service"))
                && inventory::is_component_name(name)
                && !FILLER_WORDS.contains(&name)
            {
                Err(unknown(SlotKind::Service, name, inventory.services()))
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

pub(super) fn parse_service(text: &str, inventory: &Inventory) -> Result<SlotValue, SlotError> {
    let lower = text.to_ascii_lowercase();
    let name = lower.strip_suffix(".service").unwrap_or(&lower);
    check_name(
        SlotKind::Service,
        name,
        inventory::is_component_name,
        NAME_EXPECTED,
    )?;
    inventory
        .service(name)
        .map(|known| SlotValue::Service(ServiceName::new(known)))
        .ok_or_else(|| unknown(SlotKind::Service, name, inventory.services()))
}

/// Finds packages of the inventory anywhere, and any valid package name
/// after `package`: the packages a host can have are too many to list.
pub(super) fn packages(scan: &Scan<'_>) -> Vec<Candidate> {
    let inventory = scan.inventory;
    scan.free_tokens()
        .filter_map(|(index, token)| {
            let lower = token.text.to_ascii_lowercase();
            let after_cue = scan
                .word_before(index)
                .is_some_and(|previous| PACKAGE_CUES.contains(&previous.as_str()));

            let value = if let Some(known) = inventory.package(&lower) {
                Ok(SlotValue::Package(PackageName::new(known)))
            } else if after_cue && !FILLER_WORDS.contains(&lower.as_str()) {
                check_name(
                    SlotKind::Package,
                    &lower,
                    inventory::is_component_name,
                    NAME_EXPECTED,
                )
                .map(|()| SlotValue::Package(PackageName::new(lower)))
            } else if let Some(found) =
                wrapped_in_shell(token.text, |part| inventory.package(part).is_some())
            {
                Err(SlotError::unsafe_characters(
                    SlotKind::Package,
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

pub(super) fn parse_package(text: &str) -> Result<SlotValue, SlotError> {
    let lower = text.to_ascii_lowercase();
    check_name(
        SlotKind::Package,
        &lower,
        inventory::is_component_name,
        NAME_EXPECTED,
    )?;
    Ok(SlotValue::Package(PackageName::new(lower)))
}

/// Finds teams of the inventory, and unknown names next to `team`
/// (`the payments team`, `team payments`) or after a determiner before
/// `on-call` (`the payments on-call`), reported with the list of teams.
pub(super) fn teams(scan: &Scan<'_>) -> Vec<Candidate> {
    let inventory = scan.inventory;
    scan.free_tokens()
        .filter_map(|(index, token)| {
            let lower = token.text.to_ascii_lowercase();
            let next = scan.word_after(index);
            let previous = scan.word_before(index);
            let before_team = next.as_deref() == Some("team");
            let before_other_cue = next
                .as_deref()
                .is_some_and(|next| TEAM_CUES.contains(&next))
                && previous
                    .as_deref()
                    .is_some_and(|previous| TEAM_DETERMINERS.contains(&previous));
            let after_team = previous.as_deref() == Some("team");
            let next_to_cue = before_team || before_other_cue || after_team;

            let value = if let Some(team) = inventory.team(&lower) {
                Ok(SlotValue::Team(TeamName::new(team.name.clone())))
            } else if let Some(found) =
                wrapped_in_shell(token.text, |part| inventory.team(part).is_some())
            {
                Err(SlotError::unsafe_characters(
                    SlotKind::Team,
                    token.text,
                    found,
                ))
            } else if next_to_cue
                && !FILLER_WORDS.contains(&lower.as_str())
                && !TEAM_CUES.contains(&lower.as_str())
                && inventory::is_component_name(&lower)
            {
                Err(unknown_team(&lower, inventory))
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

pub(super) fn parse_team(text: &str, inventory: &Inventory) -> Result<SlotValue, SlotError> {
    let lower = text.to_ascii_lowercase();
    check_name(
        SlotKind::Team,
        &lower,
        inventory::is_component_name,
        NAME_EXPECTED,
    )?;
    inventory
        .team(&lower)
        .map(|team| SlotValue::Team(TeamName::new(team.name.clone())))
        .ok_or_else(|| unknown_team(&lower, inventory))
}

/// Finds users: Slack mentions first, resolved by id, then account names
/// of the inventory (`jdoe`, `@jdoe`, `kpatel's`), then unknown names after
/// `user` or `account` or shaped like an account (`first.last`,
/// `name@domain`, `svc-…`).
pub(super) fn users(scan: &Scan<'_>) -> Vec<Candidate> {
    let inventory = scan.inventory;
    let mut candidates: Vec<Candidate> = scan
        .message
        .mentions
        .iter()
        .filter(|mention| scan.is_unclaimed(&mention.span))
        .map(|mention| Candidate {
            span: mention.span.clone(),
            value: match inventory.user_by_id(mention.id.as_str()) {
                Some(user) => Ok(SlotValue::User(UserRef::from_inventory(user))),
                None => Err(SlotError::UnknownUserId {
                    id: mention.id.to_string(),
                }),
            },
        })
        .collect();

    // Unknown names found only through a cue word such as `user` are a
    // weaker guess than an account-shaped word, so they count only when
    // nothing else is found: `user activity for admin@example.com`.
    let mut cued = Vec::new();
    for (index, token) in scan.free_tokens() {
        let name = token
            .text
            .strip_prefix('@')
            .unwrap_or(token.text)
            .to_ascii_lowercase();
        let after_cue = scan
            .word_before(index)
            .is_some_and(|previous| USER_CUES.contains(&previous.as_str()));

        let value = if let Some(user) = inventory.user_by_name(&name) {
            Ok(SlotValue::User(UserRef::from_inventory(user)))
        } else if let Some(found) =
            wrapped_in_shell(token.text, |part| inventory.user_by_name(part).is_some())
        {
            Err(SlotError::unsafe_characters(
                SlotKind::User,
                token.text,
                found,
            ))
        } else if looks_like_account(&name) && inventory::is_account_name(&name) {
            Err(unknown_user(&name, inventory))
        } else if after_cue
            && !FILLER_WORDS.contains(&name.as_str())
            && inventory::is_account_name(&name)
        {
            cued.push(Candidate {
                span: token.span.clone(),
                value: Err(unknown_user(&name, inventory)),
            });
            continue;
        } else {
            continue;
        };
        candidates.push(Candidate {
            span: token.span.clone(),
            value,
        });
    }
    if candidates.is_empty() {
        candidates = cued;
    }
    candidates.sort_by_key(|candidate| candidate.span.start);
    candidates
}

/// Reads a whole answer as a user: a mention, or an account name.
pub(super) fn parse_user(
    text: &str,
    mentions: &[crate::normalise::UserMention],
    inventory: &Inventory,
) -> Result<SlotValue, SlotError> {
    if let [mention] = mentions {
        return match inventory.user_by_id(mention.id.as_str()) {
            Some(user) => Ok(SlotValue::User(UserRef::from_inventory(user))),
            None => Err(SlotError::UnknownUserId {
                id: mention.id.to_string(),
            }),
        };
    }
    let name = text.strip_prefix('@').unwrap_or(text).to_ascii_lowercase();
    check_name(
        SlotKind::User,
        &name,
        inventory::is_account_name,
        ACCOUNT_EXPECTED,
    )?;
    inventory
        .user_by_name(&name)
        .map(|user| SlotValue::User(UserRef::from_inventory(user)))
        .ok_or_else(|| unknown_user(&name, inventory))
}

/// Finds environments by name or alias (`prod`, `stage`, `dev`); an alias
/// whose environment the inventory lacks is reported.
pub(super) fn environments(scan: &Scan<'_>) -> Vec<Candidate> {
    scan.free_tokens()
        .filter_map(|(_, token)| {
            let value = environment_word(token.text, scan.inventory)?;
            Some(Candidate {
                span: token.span.clone(),
                value,
            })
        })
        .collect()
}

pub(super) fn parse_environment(text: &str, inventory: &Inventory) -> Result<SlotValue, SlotError> {
    let lower = text.to_ascii_lowercase();
    check_name(
        SlotKind::Environment,
        &lower,
        inventory::is_component_name,
        NAME_EXPECTED,
    )?;
    environment_word(&lower, inventory).unwrap_or_else(|| {
        Err(SlotError::unknown(
            SlotKind::Environment,
            &lower,
            Hint::OneOf(inventory.environments().to_vec()),
        ))
    })
}

fn environment_word(word: &str, inventory: &Inventory) -> Option<Result<SlotValue, SlotError>> {
    let lower = word.to_ascii_lowercase();
    let canonical = ENVIRONMENT_ALIASES
        .iter()
        .find(|(alias, _)| *alias == lower)
        .map(|(_, canonical)| *canonical)
        .or_else(|| inventory.environment(&lower))?;

    let known = inventory.environments().is_empty() || inventory.environment(canonical).is_some();
    Some(if known {
        Ok(SlotValue::Environment(EnvironmentName::new(canonical)))
    } else {
        Err(SlotError::unknown(
            SlotKind::Environment,
            canonical,
            Hint::OneOf(inventory.environments().to_vec()),
        ))
    })
}

/// Finds severities: `critical`, `high`, `medium`, `low`, `sev1`…`sev4`
/// (also `sev 2`, `sev-2`, `severity 2`) and `p1`…`p4`. `sev0`, `sev5` and
/// higher are reported; `p0` and `p5` and higher are left alone, because
/// `p` and a digit name many other things.
pub(super) fn severities(scan: &Scan<'_>) -> Vec<Candidate> {
    SEVERITY
        .captures_iter(scan.text)
        .filter_map(|captures| {
            let whole = captures.get(0)?;
            let span = whole.range();
            if !scan.is_free(&span) || !scan.is_whole_words(&span) {
                return None;
            }
            let value = if let Some(level) = captures.get(1) {
                severity_level(level.as_str(), whole.as_str())
            } else if let Some(level) = captures.get(2) {
                let level: u8 = level.as_str().parse().ok()?;
                Ok(SlotValue::Severity(Severity::from_level(level)?))
            } else {
                Ok(SlotValue::Severity(severity_word(
                    captures.get(3)?.as_str(),
                )?))
            };
            Some(Candidate { span, value })
        })
        .collect()
}

pub(super) fn parse_severity(text: &str) -> Result<SlotValue, SlotError> {
    let malformed = || SlotError::malformed(SlotKind::Severity, text, SEVERITY_EXPECTED);
    let captures = SEVERITY.captures(text).ok_or_else(malformed)?;
    if let Some(level) = captures.get(1) {
        return severity_level(level.as_str(), text);
    }
    if let Some(level) = captures.get(2) {
        let level: u8 = level.as_str().parse().map_err(|_| malformed())?;
        return Severity::from_level(level)
            .map(SlotValue::Severity)
            .ok_or_else(malformed);
    }
    captures
        .get(3)
        .and_then(|word| severity_word(word.as_str()))
        .map(SlotValue::Severity)
        .ok_or_else(malformed)
}

fn severity_level(level: &str, text: &str) -> Result<SlotValue, SlotError> {
    level
        .parse::<u8>()
        .ok()
        .and_then(Severity::from_level)
        .map(SlotValue::Severity)
        .ok_or_else(|| SlotError::malformed(SlotKind::Severity, text, SEVERITY_EXPECTED))
}

fn severity_word(word: &str) -> Option<Severity> {
    match word.to_ascii_lowercase().as_str() {
        "critical" | "crit" => Some(Severity::Critical),
        "high" => Some(Severity::High),
        "medium" | "med" => Some(Severity::Medium),
        "low" => Some(Severity::Low),
        _ => None,
    }
}

/// Checks whether an unknown word is shaped like an account name: `first.last`,
/// an e-mail address, or a `svc-` service account.
fn looks_like_account(name: &str) -> bool {
    let dotted = name.split_once('.').is_some_and(|(first, last)| {
        first.len() >= 2
            && !last.is_empty()
            && first.bytes().all(|b| b.is_ascii_lowercase())
            && last.bytes().all(|b| b.is_ascii_lowercase())
            && ![
                "log", "txt", "conf", "service", "json", "yaml", "yml", "sh", "py",
            ]
            .contains(&last)
    });
    let email = name
        .split_once('@')
        .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'));
    dotted || email || name.starts_with("svc-")
}

fn unknown(kind: SlotKind, name: &str, known: &[String]) -> SlotError {
    let hint = match closest(name, known.iter().map(String::as_str)) {
        Some(close) => Hint::DidYouMean(close.to_string()),
        None => Hint::NotInInventory,
    };
    SlotError::unknown(kind, name, hint)
}

fn unknown_team(name: &str, inventory: &Inventory) -> SlotError {
    let names: Vec<String> = inventory
        .teams()
        .iter()
        .map(|team| team.name.clone())
        .collect();
    let hint = match closest(name, names.iter().map(String::as_str)) {
        Some(close) => Hint::DidYouMean(close.to_string()),
        None => Hint::OneOf(names),
    };
    SlotError::unknown(SlotKind::Team, name, hint)
}

fn unknown_user(name: &str, inventory: &Inventory) -> SlotError {
    let names = inventory.users().iter().map(|user| user.name.as_str());
    let hint = match closest(name, names) {
        Some(close) => Hint::DidYouMean(close.to_string()),
        None => Hint::NotInInventory,
    };
    SlotError::unknown(SlotKind::User, name, hint)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_pattern_compiles() {
        LazyLock::force(&SEVERITY);
    }

    #[test]
    fn severities_are_normalised() {
        for (text, expected) in [
            ("critical", "critical"),
            ("SEV1", "critical"),
            ("sev 2", "high"),
            ("sev-3", "medium"),
            ("severity 4", "low"),
            ("p1", "critical"),
            ("P3", "medium"),
            ("med", "medium"),
        ] {
            assert_eq!(parse_severity(text).unwrap().to_arg(), expected, "{text}");
        }
    }

    #[test]
    fn out_of_range_severity_is_rejected() {
        assert!(parse_severity("sev5").is_err());
        assert!(parse_severity("sev0").is_err());
        assert!(parse_severity("p7").is_err());
        assert!(parse_severity("urgent").is_err());
    }

    #[test]
    fn account_shapes_are_recognised() {
        assert!(looks_like_account("bob.smith"));
        assert!(looks_like_account("admin@example.com"));
        assert!(looks_like_account("svc-backup"));
        assert!(!looks_like_account("auth.log"));
        assert!(!looks_like_account("jdoe"));
    }

    #[test]
    fn environment_aliases_are_normalised() {
        let inventory = Inventory::default();
        for (alias, expected) in [
            ("prod", "production"),
            ("STAGE", "staging"),
            ("dev", "development"),
        ] {
            assert_eq!(
                parse_environment(alias, &inventory).unwrap().to_arg(),
                expected
            );
        }
        assert!(parse_environment("prod;id", &inventory).is_err());
    }
}
