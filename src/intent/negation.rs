//! Negated and deferred requests ("don't restart nginx", "block it
//! later"): such a message must never be proposed as the action it names.

use super::{Intent, Risk};

/// Openings of a negated or deferred request ("don't restart nginx",
/// "hold off on blocking it"): such a message is never proposed as the
/// action it names. Apostrophes are normalised before matching.
const NEGATED_OPENINGS: [&str; 12] = [
    "don't ",
    "dont ",
    "do not ",
    "no need to ",
    "no need for ",
    "let's not ",
    "lets not ",
    "never ",
    "hold off ",
    "cancel ",
    "no, ",
    "no. ",
];

/// Words after an opening `stop` that make it call off an action ("stop
/// the restart", "stop it").
const STOPPED_OBJECTS: [&str; 6] = ["it", "that", "this", "the", "everything", "now"];

/// Returns whether a message opening with `stop` calls off an action
/// ("stop blocking it", "stop the rollback") rather than requests that
/// traffic or a process be stopped ("stop all traffic from 192.0.2.12").
fn stops_an_action(lower: &str) -> bool {
    let Some(rest) = lower.strip_prefix("stop ") else {
        return false;
    };
    let next = rest
        .split(|c: char| !c.is_alphanumeric())
        .find(|word| !word.is_empty())
        .unwrap_or_default();
    next.ends_with("ing") || STOPPED_OBJECTS.contains(&next)
}

/// Phrases that defer a request anywhere in the message.
const DEFERRING_PHRASES: [&str; 6] = [
    " yet",
    "not now",
    "later today",
    "tomorrow",
    "after the",
    "skip the ",
];

/// Phrases that take a request back after it was written ("restart nginx,
/// no wait, don't").
const TAKE_BACK_PHRASES: [&str; 5] = ["no wait", ", don't", ", dont", ", do not", "never mind"];

/// Last words that put a request off ("restart nginx later").
const DEFERRING_ENDINGS: [&str; 3] = [" later", " not now", " tomorrow"];

/// Words that make a closing `tomorrow` or `later` the end of a duration
/// ("mute ALRT-1 until 8am tomorrow") rather than a deferral.
const UNTIL_WORDS: [&str; 4] = [" until ", " till ", " til ", " through "];

/// Returns whether the message requests no action, or a later one.
pub(super) fn is_negated(text: &str) -> bool {
    let lower = text.to_lowercase().replace(['\u{2019}', '\u{2018}'], "'");
    let trimmed = lower
        .trim_start_matches(|c: char| !c.is_alphanumeric())
        .trim_start_matches("please ")
        .trim_start_matches("pls ");
    let opening = NEGATED_OPENINGS
        .iter()
        .any(|opening| trimmed.starts_with(opening))
        || stops_an_action(trimmed);
    let deferred = DEFERRING_PHRASES
        .iter()
        .any(|phrase| lower.contains(phrase))
        && (lower.contains("don't")
            || lower.contains("dont")
            || lower.contains("not ")
            || lower.contains("skip"));
    let ending = lower.trim_end_matches(|c: char| !c.is_alphanumeric());
    let bounded = UNTIL_WORDS.iter().any(|word| lower.contains(word));
    let taken_back = TAKE_BACK_PHRASES
        .iter()
        .any(|phrase| lower.contains(phrase))
        || (!bounded && DEFERRING_ENDINGS.iter().any(|word| ending.ends_with(word)));
    opening || deferred || taken_back
}

/// Share of an intent's exemplars that must be negated for the phrasing to
/// be the intent's own ("cancel my card", "stop the music"). One negated
/// exemplar among many is an exception and does not lift the guard.
const OWN_PHRASING_SHARE: f64 = 0.25;

/// Returns whether a negated or deferred message is declined when `intent`
/// ranks first: it is an action, and its exemplars are not mostly phrased
/// that way. Reading state is harmless however it is asked ("why has the
/// deploy not finished yet?").
pub(super) fn guards_negation(intent: &Intent) -> bool {
    if intent.risk == Risk::Read {
        return false;
    }
    let negated = intent
        .exemplars
        .iter()
        .filter(|text| is_negated(text))
        .count();
    (negated as f64) < OWN_PHRASING_SHARE * intent.exemplars.len() as f64
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::intent::{CommandSpec, IntentName};

    fn intent(risk: Risk, exemplars: &[&str]) -> Intent {
        Intent {
            name: IntentName::new("test.intent"),
            description: String::new(),
            risk,
            command: CommandSpec {
                program: String::new(),
                args: Vec::new(),
            },
            slots: Vec::new(),
            exemplars: exemplars.iter().map(|text| text.to_string()).collect(),
            negatives: Vec::new(),
            source: PathBuf::new(),
        }
    }

    #[test]
    fn negation_flags_negated_and_deferred() {
        for text in [
            "don't restart nginx",
            "Please do not block 203.0.113.7",
            "stop blocking 203.0.113.7",
            "restart nginx, no wait, don't",
            "isolate web-01 later",
            "hold off on the rollback",
        ] {
            assert!(is_negated(text), "{text}");
        }
        for text in [
            "restart nginx on web-01",
            "stop all traffic from 198.51.100.23",
            "silence ALRT-2231 until 9am tomorrow",
        ] {
            assert!(!is_negated(text), "{text}");
        }
    }

    #[test]
    fn guard_applies_to_actions_only() {
        let restart = intent(Risk::Change, &["restart nginx", "bounce the api"]);
        assert!(guards_negation(&restart));
        let isolate = intent(Risk::Critical, &["isolate web-01"]);
        assert!(guards_negation(&isolate));
        let health = intent(Risk::Read, &["what's wrong with web-01?"]);
        assert!(!guards_negation(&health));
    }

    #[test]
    fn guard_lifts_for_negated_phrasing() {
        let cancel = intent(
            Risk::Change,
            &[
                "cancel my card",
                "cancel the card ending 4242",
                "block my card",
            ],
        );
        assert!(!guards_negation(&cancel));
        let silence = intent(
            Risk::Change,
            &[
                "silence ALRT-1 for an hour",
                "mute the disk alert",
                "snooze alerts on build-03",
                "quiet the pager for 30m",
                "stop alerting on build-03 for 1h",
            ],
        );
        assert!(guards_negation(&silence));
    }
}
