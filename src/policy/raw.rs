//! The policy file as written, before validation.

use std::collections::BTreeMap;

use serde::Deserialize;

/// `policy.toml`. Keys of `users`, `groups`, `intents` and `channels` are
/// checked by the validation step, which reports each one it rejects.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPolicy {
    /// Every role, by name, with one sentence on what it is for.
    #[serde(default)]
    pub roles: BTreeMap<String, String>,
    /// Roles whose holders may approve a critical action that another
    /// person requested.
    #[serde(default)]
    pub approvers: Vec<String>,
    /// Roles of each user, keyed by immutable Slack user id.
    #[serde(default)]
    pub users: BTreeMap<String, Vec<String>>,
    /// Named groups of users that share roles.
    #[serde(default)]
    pub groups: BTreeMap<String, RawGroup>,
    /// Roles that may run the intents of each risk tier, unless `intents`
    /// names the intent.
    #[serde(default)]
    pub risk: RawTiers,
    /// Roles that may run one intent, keyed by intent name; they replace
    /// the roles of the intent's tier.
    #[serde(default)]
    pub intents: BTreeMap<String, Vec<String>>,
    /// Channels limited to a list of intents, keyed by Slack channel id.
    /// A channel not listed allows every intent.
    #[serde(default)]
    pub channels: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGroup {
    /// Slack user ids of the members.
    #[serde(default)]
    pub members: Vec<String>,
    /// Roles every member holds.
    #[serde(default)]
    pub roles: Vec<String>,
}

/// Default roles by risk tier; a tier left out is granted to nobody.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTiers {
    pub read: Option<Vec<String>>,
    pub change: Option<Vec<String>>,
    pub critical: Option<Vec<String>>,
}
