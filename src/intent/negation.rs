//! Negated and deferred requests ("don't restart nginx", "block it
//! later"): such a message is declined rather than proposed as the action
//! it names, unless the intent itself is worded that way.
//!
//! NOTE: these are English word rules, and phrasings they miss ("isolate
//! web-01 tonight", "in an hour", a take-back in inline code) reach the
//! gates as requests, which still need confirmation.

use super::{Intent, Risk};

/// Kind of negation: the way a message takes a request back or puts it off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Negation {
    /// "don't restart nginx", "never isolate it", "restart nginx, no wait, don't".
    Refusal,
    /// "cancel the rollback", "stop blocking it", "no, not that one".
    Cancellation,
    /// "isolate web-01 later", "don't block it yet", "not now".
    Deferral,
    /// "not" or "n't", or "don't see" or "don't have", beside a deferring
    /// phrase, which may defer a request or describe unfinished work ("why
    /// has the patch not been applied yet", "I don't see the block yet").
    NotYet,
}

/// Openings that refuse a request ("don't restart nginx", "hold off on
/// blocking it"). Apostrophes are normalised before matching.
const REFUSING_OPENINGS: [&str; 12] = [
    "don't ",
    "dont ",
    "do not ",
    "no need to ",
    "no need for ",
    "let's not ",
    "lets not ",
    "never ",
    "hold off ",
    "better not ",
    "avoid ",
    "skip ",
];

/// Openings that call off a request ("cancel the rollback", "no, ...").
const CANCELLING_OPENINGS: [&str; 5] = ["cancel ", "abort ", "call off ", "no, ", "no. "];

/// Openings that make a request polite, skipped before the openings
/// above ("can you cancel the rollback").
const POLITE_OPENINGS: [&str; 8] = [
    "please ",
    "pls ",
    "can you ",
    "could you ",
    "can we ",
    "could we ",
    "would you ",
    "will you ",
];

/// Last words that only close a request politely ("restart it later,
/// thanks"), skipped before the closing words are read.
const POLITE_ENDINGS: [&str; 6] = [" please", " pls", " thanks", " thank you", " thx", " on"];

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
const DEFERRING_PHRASES: [&str; 8] = [
    " yet",
    "not now",
    "not right now",
    "not today",
    "later today",
    "tomorrow",
    "after the",
    "skip the ",
];

/// Phrases that take a request back after it was written ("restart nginx,
/// no wait, don't").
const TAKE_BACK_PHRASES: [&str; 11] = [
    "no wait",
    "never mind",
    "nevermind",
    "actually no",
    "actually, no",
    "scratch that",
    "forget it",
    "ignore that",
    "just kidding",
    "on second thought",
    "(not really)",
];

/// Short words that take a request back ("isolate web-01 nvm"), matched
/// as whole words between spaces, so a host named `jk-01` is not one.
const TAKE_BACK_WORDS: [&str; 2] = ["nvm", "jk"];

/// Refusals that take a request back after punctuation ("restart nginx,
/// don't", "isolate web-01 - don't").
const LATE_REFUSALS: [&str; 3] = ["don't", "dont", "do not"];

/// Returns whether the message takes its request back after writing it.
fn takes_back(lower: &str) -> bool {
    let late_refusal = LATE_REFUSALS.iter().any(|refusal| {
        lower.match_indices(refusal).any(|(at, _)| {
            lower[..at]
                .trim_end_matches(' ')
                .ends_with([',', '.', ';', ':', '-', '!', '?'])
        })
    });
    late_refusal
        || TAKE_BACK_PHRASES
            .iter()
            .any(|phrase| lower.contains(phrase))
        || lower.split_whitespace().any(|word| {
            let word = word.trim_matches(|c: char| !c.is_alphanumeric());
            TAKE_BACK_WORDS.contains(&word)
        })
}

/// Returns `text` without its polite openings.
fn strip_polite_openings(mut text: &str) -> &str {
    while let Some(rest) = POLITE_OPENINGS
        .iter()
        .find_map(|opening| text.strip_prefix(opening))
    {
        text = rest;
    }
    text
}

/// Returns `text` without its polite endings and trailing punctuation.
fn strip_polite_endings(mut text: &str) -> &str {
    loop {
        text = text.trim_end_matches(|c: char| !c.is_alphanumeric());
        match POLITE_ENDINGS
            .iter()
            .find_map(|ending| text.strip_suffix(ending))
        {
            Some(rest) => text = rest,
            None => return text,
        }
    }
}

/// Last words that put a request off ("restart nginx later").
const DEFERRING_ENDINGS: [&str; 3] = [" later", " not now", " tomorrow"];

/// Words that make a closing `tomorrow` or `later` the end of a duration
/// ("mute ALRT-1 until 8am tomorrow") rather than a deferral.
const UNTIL_WORDS: [&str; 4] = [" until ", " till ", " til ", " through "];

/// Returns `text` in lower case with its apostrophes normalised.
fn lowered(text: &str) -> String {
    text.to_lowercase()
        .replace(['\u{2019}', '\u{2018}', '\u{2bc}'], "'")
}

/// Returns whether any sentence of `text` refuses, calls off or outright
/// defers a request ("So not yet, wait for my go."). The part of a long
/// message that was cut away from its request is checked this way.
pub(crate) fn takes_back_anywhere(text: &str) -> bool {
    text.split(['.', '!', '?', ';', '\n']).any(|sentence| {
        let refused = negations(sentence)
            .into_iter()
            .any(|kind| matches!(kind, Negation::Refusal | Negation::Cancellation));
        let lower = lowered(sentence);
        let deferring = DEFERRING_PHRASES
            .iter()
            .any(|phrase| lower.contains(phrase));
        refused || (deferring && defers_outright(&lower))
    })
}

/// Returns how the message takes back or puts off its request, if it does:
/// the first of the kinds it shows.
#[cfg(test)]
fn negation(text: &str) -> Option<Negation> {
    negations(text).first().copied()
}

/// Returns every way the message takes back or puts off its request
/// ("abort the deploy later" both calls off and defers).
pub(super) fn negations(text: &str) -> Vec<Negation> {
    let mut kinds = Vec::new();
    let lower = lowered(text);
    let trimmed = strip_polite_openings(lower.trim_start_matches(|c: char| !c.is_alphanumeric()));
    let refused = REFUSING_OPENINGS
        .iter()
        .any(|opening| trimmed.starts_with(opening))
        || takes_back(&lower);
    if refused {
        kinds.push(Negation::Refusal);
    }

    let cancelled = CANCELLING_OPENINGS
        .iter()
        .any(|opening| trimmed.starts_with(opening))
        || stops_an_action(trimmed);
    if cancelled {
        kinds.push(Negation::Cancellation);
    }

    let deferring = DEFERRING_PHRASES
        .iter()
        .any(|phrase| lower.contains(phrase));
    let reported = reports_absence(&lower);
    let deferred = deferring && (defers_outright(&lower) || (!reported && refuses(&lower)));
    let ending = strip_polite_endings(&lower);
    let bounded = UNTIL_WORDS.iter().any(|word| lower.contains(word));
    let put_off = !bounded
        && DEFERRING_ENDINGS.iter().any(|word| {
            ending
                .strip_suffix(word)
                .is_some_and(|before| !is_deadline(before))
        });
    if deferred || put_off {
        kinds.push(Negation::Deferral);
    }
    let not = lower.contains("not ") || lower.contains("n't ");
    if !deferred && !put_off && deferring && (not || reported) {
        kinds.push(Negation::NotYet);
    }
    kinds
}

/// Words that, beside a deferring phrase, put a request off ("skip the
/// restart", "block it, but not now").
const DEFERRING_WORDS: [&str; 5] = [
    "skip",
    "not now",
    "not right now",
    "not today",
    "not just yet",
];

/// Words before "not yet" that make it describe unfinished work ("the
/// patch is not yet applied", "why have I not yet received it").
const REPORTING_WORDS: [&str; 16] = [
    "is", "are", "was", "were", "am", "be", "been", "has", "have", "had", "i", "it", "we", "they",
    "he", "she",
];

/// Words after "not yet" that describe a state ("alerts not yet
/// acknowledged", "not yet complete"), besides words ending in -ed or -en.
const STATE_WORDS: [&str; 6] = ["complete", "done", "live", "available", "ready", "in"];

/// Returns whether the message puts its request off outright: with a
/// deferring word, or with a "not yet" that neither follows a verb like
/// "is" or "has" or a subject nor precedes a state ("isolate db-02, not
/// yet", "look it up, not yet though").
fn defers_outright(lower: &str) -> bool {
    DEFERRING_WORDS.iter().any(|word| lower.contains(word))
        || lower.match_indices("not yet").any(|(at, phrase)| {
            let before = lower[..at].trim_end_matches(' ');
            let previous = before
                .rsplit(|c: char| !c.is_alphanumeric())
                .next()
                .unwrap_or_default();
            let reported = !before.ends_with(|c: char| !c.is_alphanumeric())
                && REPORTING_WORDS.contains(&previous);
            let after = &lower[at + phrase.len()..];
            let next = after
                .strip_prefix(' ')
                .and_then(|rest| rest.split(|c: char| !c.is_alphanumeric()).next())
                .unwrap_or_default();
            let state = next.ends_with("ed") || next.ends_with("en") || STATE_WORDS.contains(&next);
            !(reported || state)
        })
}

/// Returns whether the message refuses something ("don't block it yet").
fn refuses(lower: &str) -> bool {
    lower.contains("don't") || lower.contains("dont")
}

/// Verbs after "don't" that report a missing thing rather than refuse an
/// action ("I don't see my refund yet", "I don't have one yet").
const ABSENCE_VERBS: [&str; 2] = ["see", "have"];

/// Returns whether a "don't" reports that something is missing: "don't
/// see" or "don't have" not followed by "to" ("we don't have to block it
/// yet" puts a request off).
fn reports_absence(lower: &str) -> bool {
    ["don't ", "dont "].iter().any(|negation| {
        lower.match_indices(negation).any(|(at, phrase)| {
            let mut words = lower[at + phrase.len()..]
                .split(|c: char| !c.is_alphanumeric())
                .filter(|word| !word.is_empty());
            words
                .next()
                .is_some_and(|verb| ABSENCE_VERBS.contains(&verb))
                && words.next() != Some("to")
        })
    })
}

/// Words before a closing `tomorrow` or `later` that make it a deadline
/// ("I need it by tomorrow") rather than a deferral.
const DEADLINE_WORDS: [&str; 2] = [" by", " before"];

/// Words that put a request off before a closing deadline ("roll it back
/// after the freeze, before tomorrow").
const LATER_WORDS: [&str; 3] = [" later", "after ", " once "];

/// Returns whether the text before a closing `tomorrow` or `later` makes it
/// a deadline: it ends with "by" or "before", and nothing earlier defers
/// the request.
fn is_deadline(before: &str) -> bool {
    DEADLINE_WORDS.iter().any(|word| before.ends_with(word))
        && !DEFERRING_PHRASES
            .iter()
            .chain(&LATER_WORDS)
            .any(|phrase| before.contains(phrase))
}

/// Words that open a question ("why has the deploy not finished yet").
const QUESTION_OPENINGS: [&str; 17] = [
    "what", "when", "where", "which", "who", "why", "how", "is", "are", "was", "were", "will",
    "can", "could", "would", "should", "has",
];

/// Words that open a request phrased as a question ("can you look it up
/// later").
const REQUEST_OPENINGS: [&str; 4] = ["can", "could", "would", "should"];

/// Returns the first word of `lower`, empty when it has none.
fn first_word(lower: &str) -> &str {
    lower
        .split(|c: char| !c.is_alphanumeric())
        .find(|word| !word.is_empty())
        .unwrap_or_default()
}

/// Returns whether the message is a question: it ends with `?` or opens
/// with a question word.
pub(crate) fn is_question(text: &str) -> bool {
    let lower = text.trim().to_lowercase();
    lower.ends_with('?') || QUESTION_OPENINGS.contains(&first_word(&lower))
}

/// Returns whether the message opens with a question word other than one
/// that makes a polite request ("what will the weather be tomorrow", not
/// "can you look it up tomorrow").
fn opens_question(text: &str) -> bool {
    let lower = text.trim().to_lowercase();
    let first = first_word(&lower);
    QUESTION_OPENINGS.contains(&first) && !REQUEST_OPENINGS.contains(&first)
}

/// Share of an intent's exemplars that must be negated one way for that
/// way to be the intent's own phrasing ("cancel my card", "stop the
/// music"), and never fewer than [`OWN_PHRASING_MIN`] of them. A single
/// negated exemplar is an exception.
const OWN_PHRASING_SHARE: f64 = 0.05;

/// Minimum number of exemplars negated one way that make it the intent's own phrasing.
const OWN_PHRASING_MIN: f64 = 2.0;

/// Rule that decides, for one intent ranked first, whether a negated or
/// deferred message is declined.
#[derive(Debug, Clone)]
pub(super) struct NegationGuard {
    /// Whether the intent only reads state.
    read: bool,
    /// Kinds of negation that are the intent's own phrasing.
    own: Vec<Negation>,
}

impl NegationGuard {
    pub(super) fn new(intent: &Intent) -> Self {
        let kinds: Vec<Negation> = intent
            .exemplars
            .iter()
            .flat_map(|text| negations(text))
            .collect();
        let needed = (OWN_PHRASING_SHARE * intent.exemplars.len() as f64).max(OWN_PHRASING_MIN);
        let own = [
            Negation::Refusal,
            Negation::Cancellation,
            Negation::Deferral,
            Negation::NotYet,
        ]
        .into_iter()
        .filter(|kind| kinds.iter().filter(|found| *found == kind).count() as f64 >= needed)
        .collect();
        Self {
            read: intent.risk == Risk::Read,
            own,
        }
    }

    /// Returns whether `text` is declined as a negated or deferred request,
    /// which it is when one of its kinds of negation is neither the
    /// intent's own phrasing nor allowed for an intent that only reads state.
    pub(super) fn declines(&self, text: &str) -> bool {
        negations(text).into_iter().any(|kind| {
            // A report of unfinished work ("my transfer has not arrived
            // yet") or a question about a later time ("what's the weather
            // tomorrow") is answered by reading state. A refusal or
            // cancellation never is, even as a question ("don't look up
            // 203.0.113.7, ok?").
            let answered = match kind {
                Negation::NotYet => true,
                Negation::Deferral => opens_question(text),
                Negation::Refusal | Negation::Cancellation => false,
            };
            let allowed = self.own.contains(&kind) || (self.read && answered);
            !allowed
        })
    }
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
    fn negation_names_its_kind() {
        for (text, kind) in [
            ("don't restart nginx", Negation::Refusal),
            ("Please do not block 203.0.113.7", Negation::Refusal),
            ("restart nginx, no wait, don't", Negation::Refusal),
            ("hold off on the rollback", Negation::Refusal),
            ("cancel the rollback", Negation::Cancellation),
            ("stop blocking 203.0.113.7", Negation::Cancellation),
            ("isolate web-01 later", Negation::Deferral),
            ("block it, but not now", Negation::Deferral),
            ("don't isolate db-02 yet", Negation::Refusal),
            ("isolate db-02, not yet", Negation::Deferral),
            ("why is web-01 not isolated yet", Negation::NotYet),
            (
                "why hasn't the nginx restart finished yet?",
                Negation::NotYet,
            ),
            ("the patch is not yet applied on web-01", Negation::NotYet),
            ("I don't see the block on 203.0.113.7 yet", Negation::NotYet),
            ("we don't have to block it yet", Negation::Deferral),
            ("block it, but not yet.", Negation::Deferral),
            ("look up 203.0.113.7, not yet though", Negation::Deferral),
            (
                "roll back payments-api after the freeze, before tomorrow",
                Negation::Deferral,
            ),
            ("isolate web-01 later, by tomorrow", Negation::Deferral),
            ("isolate web-01 nevermind", Negation::Refusal),
            ("better not isolate web-01", Negation::Refusal),
            ("don\u{2bc}t isolate web-01", Negation::Refusal),
            ("isolate web-01, scratch that", Negation::Refusal),
            ("restart nginx on web-01 nvm", Negation::Refusal),
            ("isolate web-01 - don't", Negation::Refusal),
            ("isolate web-01 (not really)", Negation::Refusal),
            ("isolate web-01 jk", Negation::Refusal),
            ("avoid rolling back payments-api", Negation::Refusal),
            (
                "can you cancel the rollback of payments-api",
                Negation::Cancellation,
            ),
            ("abort the rollback", Negation::Cancellation),
            ("isolate web-01 later please", Negation::Deferral),
            ("block 203.0.113.7 later, thanks", Negation::Deferral),
            ("isolate web-01, not right now", Negation::Deferral),
            ("block 203.0.113.7 - not today", Negation::Deferral),
            ("look up 203.0.113.7, but not just yet", Negation::Deferral),
            ("show alerts not yet acknowledged", Negation::NotYet),
        ] {
            assert_eq!(negation(text), Some(kind), "{text}");
        }
        for text in [
            "restart nginx on web-01",
            "stop all traffic from 198.51.100.23",
            "silence ALRT-2231 until 9am tomorrow",
            "rotate the key, I need it done by tomorrow",
            "isolate web-01 before tomorrow",
            "isolate jk-01",
        ] {
            assert_eq!(negation(text), None, "{text}");
        }
    }

    #[test]
    fn take_back_found_in_any_sentence() {
        assert!(takes_back_anywhere(
            "web-01 beacons out. So not yet, wait for my go."
        ));
        assert!(takes_back_anywhere("context line\nActually, never mind."));
        assert!(takes_back_anywhere(
            "Some context. Hold off until tomorrow."
        ));
        assert!(!takes_back_anywhere(
            "Mar 10 14:00:11 web-01 nginx: upstream timed out\nthe patch is not yet applied"
        ));
        assert!(!takes_back_anywhere(
            "Mar 10 14:00:12 web-01 certbot: skipping renewal, not due"
        ));
    }

    #[test]
    fn guard_declines_actions_and_answers_questions() {
        let restart =
            NegationGuard::new(&intent(Risk::Change, &["restart nginx", "bounce the api"]));
        assert!(restart.declines("don't restart nginx"));
        assert!(restart.declines("why has the restart not finished yet?"));
        let isolate = NegationGuard::new(&intent(Risk::Critical, &["isolate web-01"]));
        assert!(isolate.declines("isolate web-01 later"));
        let lookup = NegationGuard::new(&intent(Risk::Read, &["look up 203.0.113.7"]));
        assert!(lookup.declines("don't look up 203.0.113.7"));
        assert!(lookup.declines("look up 203.0.113.7 later"));
        assert!(!lookup.declines("why is 203.0.113.7 not blocked yet?"));
        assert!(!lookup.declines("look up 203.0.113.7"));
        assert!(!lookup.declines("the lookup of 203.0.113.7 has not finished yet"));
        assert!(lookup.declines("don't look up 203.0.113.7, ok?"));
        assert!(lookup.declines("look up 203.0.113.7 later?"));
        assert!(lookup.declines("can you look up 203.0.113.7 tomorrow?"));
        assert!(!lookup.declines("what will 203.0.113.7 resolve to tomorrow?"));
    }

    #[test]
    fn guard_lifts_only_for_own_phrasing() {
        let abort = NegationGuard::new(&intent(
            Risk::Change,
            &[
                "cancel the deploy",
                "stop the rollout",
                "abort the deploy",
                "abort it",
            ],
        ));
        assert!(!abort.declines("cancel the auth deploy"));
        assert!(abort.declines("don't abort the auth deploy"));
        assert!(abort.declines("abort the auth deploy later"));
        let silence = NegationGuard::new(&intent(
            Risk::Change,
            &[
                "silence ALRT-1 for an hour",
                "mute the disk alert",
                "snooze alerts on build-03",
                "quiet the pager for 30m",
                "hush the cpu alert",
                "stop alerting on build-03 for 1h",
            ],
        ));
        assert!(silence.declines("stop the silence on build-03"));
        let mut exemplars = vec!["restart nginx"; 38];
        exemplars.push("cancel the restart");
        exemplars.push("cancel that restart");
        let restart = NegationGuard::new(&intent(Risk::Change, &exemplars));
        assert!(!restart.declines("cancel the nginx restart"));
        exemplars.pop();
        let restart = NegationGuard::new(&intent(Risk::Change, &exemplars));
        assert!(restart.declines("cancel the nginx restart"));
    }
}
