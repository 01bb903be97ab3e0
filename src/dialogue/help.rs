//! Help, written from the intent descriptions of the catalog, and the
//! out-of-scope fallback; both list only what the asker may run here.

use super::reply::{HelpEntry, Reply};
use super::request::HELP_INTENT;
use super::{Dialogue, Turn};
use crate::intent::Intent;
use crate::normalise::Message;
use crate::slots;

impl Dialogue<'_> {
    /// Lists the intents the asker may run in this channel, or those of
    /// the topic asked about when any matches it.
    pub(super) fn help(&self, turn: &Turn<'_>, help: &Intent, message: &Message) -> Reply {
        let permitted = self.policy.permitted(
            &turn.incoming.user,
            &turn.incoming.channel,
            self.parser.catalog(),
        );
        let topic = slots::extract(help, message, &self.inventory, &turn.now)
            .values
            .get("topic")
            .map(|value| value.to_arg());

        let about_topic: Vec<&Intent> = match &topic {
            Some(topic) => permitted
                .iter()
                .copied()
                .filter(|intent| is_about(intent, topic))
                .collect(),
            None => Vec::new(),
        };
        let shown = if about_topic.is_empty() {
            permitted
        } else {
            about_topic
        };
        Reply::Help {
            entries: shown
                .into_iter()
                .map(|intent| HelpEntry {
                    intent: intent.name.clone(),
                    risk: intent.risk,
                    description: intent.description.clone(),
                })
                .collect(),
        }
    }

    /// Builds a fallback answer: `opening`, then the domains of the intents
    /// the asker may run here, such as `incident` or `server`. Domains keep
    /// it one short line where a list of every intent would not be.
    pub(super) fn fallback_text(&self, turn: &Turn<'_>, opening: &str) -> String {
        let permitted = self.policy.permitted(
            &turn.incoming.user,
            &turn.incoming.channel,
            self.parser.catalog(),
        );
        let mut domains: Vec<&str> = Vec::new();
        for intent in &permitted {
            let domain = domain(intent);
            if intent.name.as_str() != HELP_INTENT && !domains.contains(&domain) {
                domains.push(domain);
            }
        }
        if domains.is_empty() {
            return format!("{opening} You may not run any action here; ask an admin for a role.");
        }
        format!(
            "{opening} I can help with: {}. Ask `help` for the actions you may request.",
            domains.join(", ")
        )
    }
}

/// Returns the part of an intent name before the dot, in singular:
/// `alert` for `alerts.list` and `alert.explain`.
fn domain(intent: &Intent) -> &str {
    let name = intent.name.as_str();
    let domain = name.split('.').next().unwrap_or(name);
    domain.strip_suffix('s').unwrap_or(domain)
}

/// Checks whether an intent belongs to a help topic: the topic is its name
/// or its domain, the part before the dot, in singular or plural.
fn is_about(intent: &Intent, topic: &str) -> bool {
    let name = intent.name.as_str();
    if name == topic {
        return true;
    }
    domain(intent) == topic.strip_suffix('s').unwrap_or(topic)
}
