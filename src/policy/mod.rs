//! Access policy: which users may run which intents, in which channels,
//! and who may approve a critical action. Everything not granted is denied.
//!
//! `policy.toml` maps immutable Slack user ids, directly or through groups,
//! to roles. Each intent is granted to roles by its name or, as a default,
//! by its risk tier. A channel may be limited to a list of intents. The
//! `approvers` roles may approve a critical action requested by someone
//! else; nobody approves their own request.

mod raw;
mod validate;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use crate::intent::{Catalog, Intent, IntentName, Risk};
use crate::inventory::UserId;
use crate::normalise::ChannelId;

/// The validated access policy.
#[derive(Debug, Clone)]
pub struct Policy {
    source: PathBuf,
    /// Defined roles and their descriptions.
    roles: BTreeMap<Role, String>,
    /// Roles of each user, direct and through groups.
    user_roles: HashMap<UserId, BTreeSet<Role>>,
    /// Default roles by risk tier; a tier without an entry is granted to nobody.
    tiers: HashMap<Risk, BTreeSet<Role>>,
    /// Roles of intents named in the policy, replacing their tier's roles.
    intents: HashMap<IntentName, BTreeSet<Role>>,
    /// Channels limited to a set of intents.
    channels: HashMap<ChannelId, BTreeSet<IntentName>>,
    /// Roles that may approve another person's critical action.
    approvers: BTreeSet<Role>,
}

/// The name of a role, such as `operator`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Role(String);

/// One problem found in a policy file, tied to the field it is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyProblem {
    pub file: PathBuf,
    /// Dotted path of the field, such as `users.alice`; `None` for a
    /// problem with the whole file.
    pub field: Option<String>,
    pub message: String,
}

/// Errors raised while loading the policy.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("failed to read policy file `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{} problem(s) in policy file `{}`; fix each one listed:\n{}", problems.len(), path.display(), format_problems(problems))]
    Invalid {
        path: PathBuf,
        problems: Vec<PolicyProblem>,
    },
}

/// A reason the policy denies an action to a user. Each message is
/// addressed to that user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denial {
    #[error(
        "user `{user}` has no role in the access policy, so every action is denied; ask an admin to add your user id"
    )]
    UnknownUser { user: UserId },

    #[error(
        "`{intent}` is not allowed in channel `{channel}`; {}",
        allowed_in_channel(allowed)
    )]
    ChannelRestricted {
        intent: IntentName,
        channel: ChannelId,
        /// The intents the channel allows.
        allowed: Vec<IntentName>,
    },

    #[error("nobody may run `{intent}`: the access policy grants it to no role")]
    NotGranted { intent: IntentName },

    #[error(
        "`{intent}` needs role {}; you have {}",
        one_of(needed),
        held_roles(held)
    )]
    MissingRole {
        intent: IntentName,
        needed: Vec<Role>,
        held: Vec<Role>,
    },

    #[error(
        "approving `{intent}` needs role {}; you have {}",
        one_of(needed),
        held_roles(held)
    )]
    NotApprover {
        intent: IntentName,
        needed: Vec<Role>,
        held: Vec<Role>,
    },

    #[error(
        "you requested this `{intent}` yourself; a critical action needs approval by a second person with role {}",
        one_of(approvers)
    )]
    SelfApproval {
        intent: IntentName,
        approvers: Vec<Role>,
    },
}

impl Policy {
    /// Reads and validates a policy file against the intent catalog,
    /// failing with every problem found.
    pub fn load(path: &Path, catalog: &Catalog) -> Result<Self, PolicyError> {
        let text = fs::read_to_string(path).map_err(|source| PolicyError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml(&text, path, catalog)
    }

    /// Parses and validates policy text; `origin` names the source in problems.
    pub fn from_toml(text: &str, origin: &Path, catalog: &Catalog) -> Result<Self, PolicyError> {
        let (policy, problems) = Self::check(text, origin, catalog);
        match policy {
            Some(policy) if problems.is_empty() => Ok(policy),
            _ => Err(PolicyError::Invalid {
                path: origin.to_path_buf(),
                problems,
            }),
        }
    }

    /// Validates policy text and returns the policy, when the text parsed,
    /// with every problem found.
    pub fn check(
        text: &str,
        origin: &Path,
        catalog: &Catalog,
    ) -> (Option<Self>, Vec<PolicyProblem>) {
        let raw: raw::RawPolicy = match toml::from_str(text) {
            Ok(raw) => raw,
            Err(error) => {
                let location = error
                    .span()
                    .map(|span| {
                        let line = text[..span.start].matches('\n').count() + 1;
                        format!("invalid TOML at line {line}: ")
                    })
                    .unwrap_or_else(|| "invalid TOML: ".to_string());
                let problem = PolicyProblem {
                    file: origin.to_path_buf(),
                    field: None,
                    message: format!("{location}{}", error.message().trim()),
                };
                return (None, vec![problem]);
            }
        };
        let (policy, problems) = validate::validate(raw, origin, catalog);
        (Some(policy), problems)
    }

    /// Returns the file the policy was read from.
    pub fn source(&self) -> &Path {
        &self.source
    }

    /// Defined roles with their descriptions, in name order.
    pub fn roles(&self) -> impl Iterator<Item = (&Role, &str)> {
        self.roles
            .iter()
            .map(|(role, description)| (role, description.as_str()))
    }

    /// Roles a user holds, directly or through groups, in name order.
    pub fn roles_of(&self, user: &UserId) -> Vec<Role> {
        self.user_roles
            .get(user)
            .map(|roles| roles.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Roles that may approve another person's critical action.
    pub fn approver_roles(&self) -> Vec<Role> {
        self.approvers.iter().cloned().collect()
    }

    /// Users holding an approver role, in id order.
    pub fn approvers(&self) -> Vec<UserId> {
        let mut users: Vec<UserId> = self
            .user_roles
            .iter()
            .filter(|(_, held)| !held.is_disjoint(&self.approvers))
            .map(|(user, _)| user.clone())
            .collect();
        users.sort();
        users
    }

    /// Roles that may run `intent`: those named for the intent, else those
    /// of its risk tier, else none.
    pub fn roles_for(&self, intent: &Intent) -> &BTreeSet<Role> {
        static NONE: BTreeSet<Role> = BTreeSet::new();
        self.intents
            .get(&intent.name)
            .or_else(|| self.tiers.get(&intent.risk))
            .unwrap_or(&NONE)
    }

    /// Checks whether `user` may request `intent` in `channel`.
    pub fn authorize(
        &self,
        user: &UserId,
        channel: &ChannelId,
        intent: &Intent,
    ) -> Result<(), Denial> {
        let held = self.held(user)?;
        self.check_channel(channel, &intent.name)?;

        let needed = self.roles_for(intent);
        if needed.is_empty() {
            return Err(Denial::NotGranted {
                intent: intent.name.clone(),
            });
        }
        if held.is_disjoint(needed) {
            return Err(Denial::MissingRole {
                intent: intent.name.clone(),
                needed: needed.iter().cloned().collect(),
                held: held.iter().cloned().collect(),
            });
        }
        Ok(())
    }

    /// Checks whether `approver` may approve the critical `intent` that
    /// `requester` asked for in `channel`. The requester never may.
    pub fn authorize_approval(
        &self,
        approver: &UserId,
        requester: &UserId,
        channel: &ChannelId,
        intent: &Intent,
    ) -> Result<(), Denial> {
        if approver == requester {
            return Err(Denial::SelfApproval {
                intent: intent.name.clone(),
                approvers: self.approver_roles(),
            });
        }
        let held = self.held(approver)?;
        self.check_channel(channel, &intent.name)?;
        if held.is_disjoint(&self.approvers) {
            return Err(Denial::NotApprover {
                intent: intent.name.clone(),
                needed: self.approver_roles(),
                held: held.iter().cloned().collect(),
            });
        }
        Ok(())
    }

    /// Intents of the catalog that `user` may request in `channel`, in
    /// catalog order.
    pub fn permitted<'c>(
        &self,
        user: &UserId,
        channel: &ChannelId,
        catalog: &'c Catalog,
    ) -> Vec<&'c Intent> {
        catalog
            .intents()
            .iter()
            .filter(|intent| self.authorize(user, channel, intent).is_ok())
            .collect()
    }

    fn held(&self, user: &UserId) -> Result<&BTreeSet<Role>, Denial> {
        self.user_roles
            .get(user)
            .filter(|held| !held.is_empty())
            .ok_or_else(|| Denial::UnknownUser { user: user.clone() })
    }

    fn check_channel(&self, channel: &ChannelId, intent: &IntentName) -> Result<(), Denial> {
        match self.channels.get(channel) {
            Some(allowed) if !allowed.contains(intent) => Err(Denial::ChannelRestricted {
                intent: intent.clone(),
                channel: channel.clone(),
                allowed: allowed.iter().cloned().collect(),
            }),
            _ => Ok(()),
        }
    }
}

impl Role {
    pub fn new(name: impl Into<String>) -> Self {
        Self(name.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for PolicyProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(field) = &self.field {
            write!(f, ": field `{field}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

fn format_problems(problems: &[PolicyProblem]) -> String {
    problems
        .iter()
        .map(|problem| format!("  {problem}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Formats roles as `a`, `a or b`, `a, b or c`.
fn one_of(roles: &[Role]) -> String {
    let names: Vec<&str> = roles.iter().map(Role::as_str).collect();
    match names.split_last() {
        None => "(none defined)".to_string(),
        Some((last, [])) => (*last).to_string(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

fn held_roles(held: &[Role]) -> String {
    if held.is_empty() {
        return "no role".to_string();
    }
    let names: Vec<&str> = held.iter().map(Role::as_str).collect();
    names.join(", ")
}

fn allowed_in_channel(allowed: &[IntentName]) -> String {
    if allowed.is_empty() {
        return "this channel allows no intent".to_string();
    }
    let names: Vec<&str> = allowed.iter().map(IntentName::as_str).collect();
    format!("this channel allows only {}", names.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_lists_read_as_alternatives() {
        let roles = |names: &[&str]| {
            names
                .iter()
                .map(|name| Role::new(*name))
                .collect::<Vec<_>>()
        };
        assert_eq!(one_of(&roles(&["admin"])), "admin");
        assert_eq!(one_of(&roles(&["admin", "operator"])), "admin or operator");
        assert_eq!(
            one_of(&roles(&["admin", "operator", "responder"])),
            "admin, operator or responder"
        );
        assert_eq!(held_roles(&[]), "no role");
    }
}
