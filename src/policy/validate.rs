//! Turns the raw policy into the runtime [`Policy`], collecting every
//! problem with the field it is in.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use super::raw::{RawGroup, RawPolicy};
use super::{Policy, PolicyProblem, Role};
use crate::intent::{Catalog, IntentName, Risk};
use crate::inventory::UserId;
use crate::normalise::ChannelId;

/// The furthest edit distance at which an unknown intent name is shown
/// with a suggestion; further names are more likely another word than a typo.
const MAX_SUGGESTION_DISTANCE: usize = 3;

/// Collects the problems of one file.
struct Problems<'a> {
    file: &'a Path,
    list: Vec<PolicyProblem>,
}

/// Validates `raw` against the intent catalog and returns the policy with
/// every problem found. The policy is usable only when the list is empty.
pub(super) fn validate(
    raw: RawPolicy,
    file: &Path,
    catalog: &Catalog,
) -> (Policy, Vec<PolicyProblem>) {
    let mut problems = Problems {
        file,
        list: Vec::new(),
    };

    let roles = check_roles(&raw.roles, &mut problems);
    let known: BTreeSet<&str> = roles.keys().map(Role::as_str).collect();

    let mut user_roles: HashMap<UserId, BTreeSet<Role>> = HashMap::new();
    for (id, names) in &raw.users {
        let field = format!("users.{}", key(id));
        if !check_user_id(id, &field, &mut problems) {
            continue;
        }
        if names.is_empty() {
            problems.push(&field, "no roles: give the user a role or remove the entry");
        }
        let held = resolve_roles(names, &known, &field, &mut problems);
        user_roles.entry(UserId::new(id)).or_default().extend(held);
    }
    for (name, group) in &raw.groups {
        check_group(name, group, &known, &mut user_roles, &mut problems);
    }

    let mut tiers: HashMap<Risk, BTreeSet<Role>> = HashMap::new();
    let tier_lists = [
        (Risk::Read, &raw.risk.read),
        (Risk::Change, &raw.risk.change),
        (Risk::Critical, &raw.risk.critical),
    ];
    for (risk, names) in tier_lists {
        if let Some(names) = names {
            let field = format!("risk.{risk}");
            tiers.insert(risk, resolve_roles(names, &known, &field, &mut problems));
        }
    }

    let mut intents: HashMap<IntentName, BTreeSet<Role>> = HashMap::new();
    for (name, names) in &raw.intents {
        let field = format!("intents.{}", key(name));
        if let Some(intent) = check_intent_name(name, catalog, &field, &mut problems) {
            intents.insert(intent, resolve_roles(names, &known, &field, &mut problems));
        }
    }

    let mut channels: HashMap<ChannelId, BTreeSet<IntentName>> = HashMap::new();
    for (id, names) in &raw.channels {
        let field = format!("channels.{}", key(id));
        if !ChannelId::is_valid(id) {
            problems.push(
                &field,
                format!(
                    "`{id}` is not a Slack channel id; use the id (`C` and uppercase letters and digits, such as `C024BE7LR`), because channel names can be renamed"
                ),
            );
            continue;
        }
        let mut allowed = BTreeSet::new();
        for name in names {
            if let Some(intent) = check_intent_name(name, catalog, &field, &mut problems)
                && !allowed.insert(intent)
            {
                problems.push(&field, format!("intent `{name}` is listed twice"));
            }
        }
        channels.insert(ChannelId::new(id), allowed);
    }

    let approvers = resolve_roles(&raw.approvers, &known, "approvers", &mut problems);

    let policy = Policy {
        source: file.to_path_buf(),
        roles,
        user_roles,
        tiers,
        intents,
        channels,
        approvers,
    };
    check_approval_possible(&policy, catalog, &mut problems);
    (policy, problems.list)
}

impl Problems<'_> {
    fn push(&mut self, field: &str, message: impl Into<String>) {
        self.list.push(PolicyProblem {
            file: self.file.to_path_buf(),
            field: Some(field.to_string()),
            message: message.into(),
        });
    }
}

/// Checks the role names of the `roles` table and returns the defined roles.
fn check_roles(
    raw: &BTreeMap<String, String>,
    problems: &mut Problems<'_>,
) -> BTreeMap<Role, String> {
    if raw.is_empty() {
        problems.push(
            "roles",
            "no roles defined: add a `[roles]` table naming each role, such as `viewer = \"Reads state.\"`",
        );
    }
    let mut roles = BTreeMap::new();
    for (name, description) in raw {
        if !is_valid_name(name) {
            problems.push(
                &format!("roles.{}", key(name)),
                format!(
                    "invalid role name `{name}`: use lowercase letters, digits, `-` and `_`, starting with a letter"
                ),
            );
            continue;
        }
        roles.insert(Role::new(name), description.clone());
    }
    roles
}

/// Checks that `id` has the form of a Slack user id, and explains why
/// display names are not accepted when it does not.
fn check_user_id(id: &str, field: &str, problems: &mut Problems<'_>) -> bool {
    if UserId::is_valid(id) {
        return true;
    }
    problems.push(
        field,
        format!(
            "`{id}` is not a Slack user id; use the immutable id (`U` or `W` and uppercase letters and digits, such as `U024BE7LH`), never a display name, because display names can be changed by their owner"
        ),
    );
    false
}

fn check_group(
    name: &str,
    group: &RawGroup,
    known: &BTreeSet<&str>,
    user_roles: &mut HashMap<UserId, BTreeSet<Role>>,
    problems: &mut Problems<'_>,
) {
    let field = format!("groups.{}", key(name));
    if !is_valid_name(name) {
        problems.push(
            &field,
            format!(
                "invalid group name `{name}`: use lowercase letters, digits, `-` and `_`, starting with a letter"
            ),
        );
    }
    if group.members.is_empty() {
        problems.push(
            &field,
            "no members: list Slack user ids in `members` or remove the group",
        );
    }
    if group.roles.is_empty() {
        problems.push(
            &field,
            "no roles: give the group a role in `roles` or remove it",
        );
    }
    let roles = resolve_roles(&group.roles, known, &format!("{field}.roles"), problems);

    let members_field = format!("{field}.members");
    let mut seen = BTreeSet::new();
    for member in &group.members {
        if !check_user_id(member, &members_field, problems) {
            continue;
        }
        if !seen.insert(member.as_str()) {
            problems.push(&members_field, format!("member `{member}` is listed twice"));
            continue;
        }
        user_roles
            .entry(UserId::new(member))
            .or_default()
            .extend(roles.iter().cloned());
    }
}

/// Resolves role names against the defined roles, reporting unknown and
/// repeated names.
fn resolve_roles(
    names: &[String],
    known: &BTreeSet<&str>,
    field: &str,
    problems: &mut Problems<'_>,
) -> BTreeSet<Role> {
    let mut roles = BTreeSet::new();
    for name in names {
        if !known.contains(name.as_str()) {
            let expected: Vec<&str> = known.iter().copied().collect();
            let expected = if expected.is_empty() {
                "none is defined in `[roles]`".to_string()
            } else {
                format!("expected one of {}", expected.join(", "))
            };
            problems.push(field, format!("unknown role `{name}`; {expected}"));
            continue;
        }
        if !roles.insert(Role::new(name)) {
            problems.push(field, format!("role `{name}` is listed twice"));
        }
    }
    roles
}

/// Looks an intent name up in the catalog, suggesting the closest name
/// when it is not there.
fn check_intent_name(
    name: &str,
    catalog: &Catalog,
    field: &str,
    problems: &mut Problems<'_>,
) -> Option<IntentName> {
    if let Some(intent) = catalog.get(name) {
        return Some(intent.name.clone());
    }
    let closest = catalog
        .intents()
        .iter()
        .map(|intent| {
            (
                strsim::levenshtein(name, intent.name.as_str()),
                &intent.name,
            )
        })
        .filter(|(distance, _)| *distance <= MAX_SUGGESTION_DISTANCE)
        .min_by_key(|(distance, _)| *distance);
    let hint = match closest {
        Some((_, suggestion)) => format!(", did you mean `{suggestion}`?"),
        None => "; run `warroom check` to list the intents".to_string(),
    };
    problems.push(field, format!("unknown intent `{name}`{hint}"));
    None
}

/// Reports a policy in which some critical intent may be requested but
/// nobody could approve it.
fn check_approval_possible(policy: &Policy, catalog: &Catalog, problems: &mut Problems<'_>) {
    let requestable: Vec<&str> = catalog
        .intents()
        .iter()
        .filter(|intent| intent.risk == Risk::Critical)
        .filter(|intent| {
            let roles = policy.roles_for(intent);
            policy
                .user_roles
                .values()
                .any(|held| !held.is_disjoint(roles))
        })
        .map(|intent| intent.name.as_str())
        .collect();
    if requestable.is_empty() {
        return;
    }
    let names = requestable.join("`, `");
    if policy.approvers.is_empty() {
        problems.push(
            "approvers",
            format!(
                "no approver role, so the critical intents `{names}` could be requested but never approved; name at least one role"
            ),
        );
        return;
    }
    let approving = policy
        .user_roles
        .values()
        .filter(|held| !held.is_disjoint(&policy.approvers))
        .count();
    if approving == 0 {
        problems.push(
            "approvers",
            format!(
                "no user holds an approver role, so the critical intents `{names}` could be requested but never approved; give an approver role to at least one user"
            ),
        );
    }
}

/// Checks a role or group name: lowercase letters, digits, `-` and `_`,
/// starting with a letter.
fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|first| first.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// Formats a table key as TOML writes it in a dotted path: bare when it
/// can be, else quoted, so `intents."service.restart"` reads unambiguously.
fn key(name: &str) -> String {
    let bare = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if bare {
        name.to_string()
    } else {
        format!("{name:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_keys_are_quoted() {
        assert_eq!(key("U024BE7LH"), "U024BE7LH");
        assert_eq!(key("service.restart"), "\"service.restart\"");
        assert_eq!(key("Alice Ng"), "\"Alice Ng\"");
    }

    #[test]
    fn names_start_with_a_lowercase_letter() {
        assert!(is_valid_name("on-call_2"));
        assert!(!is_valid_name("Admin"));
        assert!(!is_valid_name("2nd"));
        assert!(!is_valid_name(""));
    }
}
