//! Reading the words of short replies: yes and no, a pending id, negated
//! or deferred requests, and references such as "it" or "that host".

use std::ops::Range;

use super::pending::PendingId;
use super::state::Memory;
use crate::slots::SlotKind;

/// The reading of a message as an answer to a pending confirmation or a question.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Answer {
    /// Only clear affirmatives, such as `yes`, `confirm` or `go ahead`.
    Yes,
    /// Only refusals, such as `no`, `cancel` or `don't`.
    No,
    /// Anything else, which is read as a new request.
    Other,
}

/// Phrases that confirm or approve, as lowercase words.
const YES_PHRASES: [&[&str]; 16] = [
    &["go", "ahead"],
    &["do", "it"],
    &["run", "it"],
    &["ship", "it"],
    &["yes"],
    &["y"],
    &["yep"],
    &["yeah"],
    &["yup"],
    &["sure"],
    &["confirm"],
    &["confirmed"],
    &["approve"],
    &["approved"],
    &["proceed"],
    &["lgtm"],
];

/// Words that may surround a yes without changing it.
const POLITE_WORDS: [&str; 7] = ["please", "pls", "ok", "okay", "thanks", "thank", "you"];

/// Words that make a message a refusal. Any one of them keeps a message
/// from counting as yes, whatever else it says.
const NO_WORDS: [&str; 19] = [
    "no",
    "n",
    "nope",
    "nah",
    "cancel",
    "cancelled",
    "canceled",
    "stop",
    "abort",
    "don't",
    "dont",
    "do-not",
    "never",
    "not",
    "deny",
    "denied",
    "reject",
    "rejected",
    "nevermind",
];

/// Words that may surround a refusal: `don't do it`, `no thanks`, `never
/// mind`, `cancel that`.
const NO_FILLER: [&str; 16] = [
    "do", "it", "that", "this", "one", "the", "request", "please", "pls", "thanks", "thank", "you",
    "mind", "ok", "okay", "i",
];

/// Word sequences that negate or defer a request ("don't restart nginx
/// yet", "hold off on blocking it", "restart it later"). [`words`] joins
/// `do not` into one word.
const NEGATING_PHRASES: [&[&str]; 14] = [
    &["don't"],
    &["dont"],
    &["do-not"],
    &["never"],
    &["not", "yet"],
    &["not", "now"],
    &["no", "need"],
    &["hold", "off"],
    &["wait"],
    &["later"],
    &["shouldn't"],
    &["should", "not"],
    &["cancel"],
    &["stop"],
];

/// Nouns after `that`, `this` or `same` that refer to one remembered value.
const REFERENCE_NOUNS: [(&str, SlotKind); 13] = [
    ("host", SlotKind::Host),
    ("server", SlotKind::Host),
    ("box", SlotKind::Host),
    ("machine", SlotKind::Host),
    ("node", SlotKind::Host),
    ("ip", SlotKind::Ip),
    ("address", SlotKind::Ip),
    ("user", SlotKind::User),
    ("account", SlotKind::User),
    ("incident", SlotKind::IncidentId),
    ("service", SlotKind::Service),
    ("daemon", SlotKind::Service),
    ("process", SlotKind::Service),
];

/// The kinds of value a conversation remembers for later references.
pub(crate) const REMEMBERED: [SlotKind; 5] = [
    SlotKind::Host,
    SlotKind::Service,
    SlotKind::Ip,
    SlotKind::User,
    SlotKind::IncidentId,
];

/// Reads a message as an answer, with the pending id it names, if any.
pub(crate) fn read_answer(text: &str) -> (Answer, Option<PendingId>) {
    let mut pending = None;
    let words: Vec<String> = words(text)
        .into_iter()
        .filter(|word| match PendingId::parse(word) {
            Some(id) => {
                pending.get_or_insert(id);
                false
            }
            None => true,
        })
        .collect();
    (classify(&words), pending)
}

/// Checks whether a request is negated or deferred, so it must not be
/// proposed as the action it names.
pub(crate) fn is_negated(text: &str) -> bool {
    let words = words(text);
    NEGATING_PHRASES
        .iter()
        .any(|phrase| words.windows(phrase.len()).any(|window| window == *phrase))
}

/// Returns the kinds of remembered value a message refers to: `there` is a
/// host, `that host` or `the same ip` one kind, and `it` or `that one` any.
pub(crate) fn referenced_kinds(text: &str) -> Vec<SlotKind> {
    let words = words(text);
    let mut kinds = Vec::new();
    for (index, word) in words.iter().enumerate() {
        let next = words.get(index + 1).map(String::as_str);
        match word.as_str() {
            "it" | "its" | "it's" | "them" => return REMEMBERED.to_vec(),
            "that" | "this" | "same" if next == Some("one") => return REMEMBERED.to_vec(),
            "there" => kinds.push(SlotKind::Host),
            "that" | "this" | "same" => {
                let noun = next.map(|noun| noun.trim_end_matches('s'));
                if let Some((_, kind)) =
                    REFERENCE_NOUNS.iter().find(|(name, _)| Some(*name) == noun)
                {
                    kinds.push(*kind);
                }
            }
            _ => {}
        }
    }
    kinds.dedup();
    kinds
}

/// Words before `it` that make it a place, so `on it` is the last host.
const PREPOSITIONS: [&str; 6] = ["on", "in", "at", "from", "to", "onto"];

/// Words around `there` that make it existential, as in `is there an
/// alert`, rather than a place.
const EXISTENTIAL: [&str; 10] = [
    "is", "are", "was", "were", "any", "a", "an", "been", "no", "some",
];

/// Rewrites references to remembered values with the values themselves,
/// so that the matcher and the slot extractors read `restart nginx on it`
/// as `restart nginx on web-01`. Returns `None` when nothing was replaced.
///
/// `that host`, `this ip` or `the same user` take the last value of that
/// kind, `there` and `on it` the last host, and `it`, `its` or `them` the
/// value remembered last.
pub(crate) fn resolve_references(text: &str, memory: &Memory) -> Option<String> {
    let words = spanned_words(text);
    let mut replacements: Vec<(Range<usize>, String)> = Vec::new();
    let mut index = 0;
    while index < words.len() {
        let (span, word) = &words[index];
        let previous = index.checked_sub(1).map(|before| words[before].1.as_str());
        let next = words.get(index + 1).map(|(_, word)| word.as_str());
        let host = memory.get(SlotKind::Host);

        match word.as_str() {
            "that" | "this" | "same" => {
                let noun = next.map(|noun| noun.trim_end_matches('s'));
                let kind = REFERENCE_NOUNS
                    .iter()
                    .find(|(name, _)| Some(*name) == noun)
                    .map(|(_, kind)| *kind);
                if let Some(value) = kind.and_then(|kind| memory.get(kind)) {
                    let start = if word == "same" && previous == Some("the") {
                        words[index - 1].0.start
                    } else {
                        span.start
                    };
                    replacements.push((start..words[index + 1].0.end, value.to_arg()));
                    index += 2;
                    continue;
                }
            }
            "it" | "them" => {
                let value = match (previous, host) {
                    (Some(before), Some(host)) if PREPOSITIONS.contains(&before) => Some(host),
                    _ => memory.most_recent(),
                };
                if let Some(value) = value {
                    replacements.push((span.clone(), value.to_arg()));
                }
            }
            "its" => {
                if let Some(value) = memory.most_recent() {
                    replacements.push((span.clone(), value.to_arg()));
                }
            }
            "it's" => {
                if let Some(value) = memory.most_recent() {
                    replacements.push((span.clone(), format!("{} is", value.to_arg())));
                }
            }
            "there" => {
                let existential = previous.is_some_and(|before| EXISTENTIAL.contains(&before))
                    || next.is_some_and(|after| EXISTENTIAL.contains(&after) || after == "'s");
                if let (false, Some(host)) = (existential, host) {
                    let start = match previous {
                        Some(before) if PREPOSITIONS.contains(&before) || before == "over" => {
                            words[index - 1].0.start
                        }
                        _ => span.start,
                    };
                    replacements.push((start..span.end, format!("on {}", host.to_arg())));
                }
            }
            _ => {}
        }
        index += 1;
    }

    if replacements.is_empty() {
        return None;
    }
    let mut rewritten = String::with_capacity(text.len());
    let mut copied = 0;
    for (span, value) in replacements {
        rewritten.push_str(&text[copied..span.start]);
        rewritten.push_str(&value);
        copied = span.end;
    }
    rewritten.push_str(&text[copied..]);
    Some(rewritten)
}

/// Splits text at whitespace into words with their byte spans, each word
/// lowercased and its span trimmed of surrounding punctuation.
fn spanned_words(text: &str) -> Vec<(Range<usize>, String)> {
    let mut words = Vec::new();
    let mut start = None;
    for (offset, c) in text.char_indices().chain([(text.len(), ' ')]) {
        match (c.is_whitespace(), start) {
            (false, None) => start = Some(offset),
            (true, Some(begin)) => {
                let raw = &text[begin..offset];
                let core = raw
                    .trim_matches(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '\u{2019}'));
                let core = core.trim_matches(['\'', '\u{2019}']);
                if !core.is_empty() {
                    let core_start = begin + (core.as_ptr() as usize - raw.as_ptr() as usize);
                    let word = core.to_lowercase().replace('\u{2019}', "'");
                    words.push((core_start..core_start + core.len(), word));
                }
                start = None;
            }
            _ => {}
        }
    }
    words
}

/// Splits a message into lowercase words, keeping apostrophes and `-`
/// inside words; `do not` becomes one word so it reads as a refusal.
fn words(text: &str) -> Vec<String> {
    let lower = text.to_lowercase().replace(['\u{2019}', '\u{2018}'], "'");
    let mut words: Vec<String> = lower
        .split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '-'))
        .map(|word| word.trim_matches(['\'', '-']))
        .filter(|word| !word.is_empty())
        .map(str::to_string)
        .collect();
    if let Some(index) = words.windows(2).position(|pair| pair == ["do", "not"]) {
        words.splice(index..index + 2, ["do-not".to_string()]);
    }
    words
}

fn classify(words: &[String]) -> Answer {
    if words.is_empty() {
        return Answer::Other;
    }
    if words.iter().any(|word| NO_WORDS.contains(&word.as_str())) {
        let only_refusal = words
            .iter()
            .all(|word| NO_WORDS.contains(&word.as_str()) || NO_FILLER.contains(&word.as_str()));
        return if only_refusal {
            Answer::No
        } else {
            Answer::Other
        };
    }

    let mut rest = words;
    let mut affirmed = false;
    while let Some(first) = rest.first() {
        if POLITE_WORDS.contains(&first.as_str()) {
            rest = &rest[1..];
            continue;
        }
        let phrase = YES_PHRASES.iter().find(|phrase| {
            rest.len() >= phrase.len()
                && rest
                    .iter()
                    .zip(phrase.iter())
                    .all(|(word, expected)| word == expected)
        });
        match phrase {
            Some(phrase) => {
                affirmed = true;
                rest = &rest[phrase.len()..];
            }
            None => return Answer::Other,
        }
    }
    if affirmed { Answer::Yes } else { Answer::Other }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slots::SlotValue;

    fn answer(text: &str) -> Answer {
        read_answer(text).0
    }

    #[test]
    fn clear_affirmatives_are_yes() {
        for text in [
            "yes",
            "y",
            "Yes!",
            "yes please",
            "confirm",
            "approve",
            "go ahead",
            "do it",
            "ok, do it",
            "yes, go ahead",
            "Approved.",
            "lgtm",
        ] {
            assert_eq!(answer(text), Answer::Yes, "{text}");
        }
    }

    #[test]
    fn refusals_are_never_yes() {
        for text in [
            "no",
            "cancel",
            "don't",
            "dont",
            "do not",
            "nope",
            "stop",
            "Don’t do it",
            "no thanks",
            "never mind",
            "n",
            "cancel that",
        ] {
            assert_eq!(answer(text), Answer::No, "{text}");
        }
        for text in ["yes don't", "do not do it yes", "yes, stop", "not yet"] {
            assert_ne!(answer(text), Answer::Yes, "{text}");
        }
    }

    #[test]
    fn other_text_is_neither() {
        for text in [
            "ok",
            "yes restart nginx on web-02",
            "sure thing buddy",
            "",
            "what?",
        ] {
            assert_eq!(answer(text), Answer::Other, "{text}");
        }
    }

    #[test]
    fn pending_id_is_read_beside_the_answer() {
        let (answer, pending) = read_answer("approve P-3fa9c1");
        assert_eq!(answer, Answer::Yes);
        assert_eq!(
            pending.map(|id| id.to_string()).as_deref(),
            Some("P-3fa9c1")
        );
        let (answer, pending) = read_answer("no p-3FA9C1");
        assert_eq!(answer, Answer::No);
        assert!(pending.is_some());
    }

    #[test]
    fn negated_and_deferred_requests_are_found() {
        for text in [
            "don't restart nginx yet",
            "dont restart nginx",
            "do not block that ip",
            "hold off on isolating web-01",
            "restart nginx on web-01 later",
            "never disable jdoe",
        ] {
            assert!(is_negated(text), "{text}");
        }
        for text in ["restart nginx on web-01", "what's not working on web-01?"] {
            assert!(!is_negated(text), "{text}");
        }
    }

    fn memory(values: &[&str]) -> Memory {
        let inventory = crate::inventory::Inventory::from_toml(
            "services = [\"nginx\"]\n[[hosts]]\nname = \"web-01\"\nservices = [\"nginx\"]\n",
            std::path::Path::new("test.toml"),
        )
        .unwrap();
        let now = "2025-06-12T12:00:00+00:00[UTC]".parse().unwrap();
        let mut memory = Memory::default();
        for text in values {
            let kind = if text.starts_with("INC") {
                SlotKind::IncidentId
            } else if *text == "nginx" {
                SlotKind::Service
            } else {
                SlotKind::Host
            };
            let spec = crate::intent::SlotSpec {
                name: "slot".to_string(),
                kind,
                required: true,
                group: None,
                secret: false,
            };
            let value: SlotValue =
                crate::slots::parse_answer(&spec, text, &inventory, &now).unwrap();
            memory.remember([&value]);
        }
        memory
    }

    #[test]
    fn references_are_replaced_with_remembered_values() {
        let memory = memory(&["INC-4821", "web-01"]);
        let resolve = |text: &str| resolve_references(text, &memory);
        assert_eq!(
            resolve("restart nginx on it").as_deref(),
            Some("restart nginx on web-01")
        );
        assert_eq!(resolve("is it down?").as_deref(), Some("is web-01 down?"));
        assert_eq!(
            resolve("logs of that incident.").as_deref(),
            Some("logs of INC-4821.")
        );
        assert_eq!(
            resolve("check the same server").as_deref(),
            Some("check web-01")
        );
        assert_eq!(
            resolve("is nginx up over there?").as_deref(),
            Some("is nginx up on web-01?")
        );
        assert_eq!(resolve("is there an alert"), None);
        assert_eq!(resolve("restart nginx on web-02"), None);
    }

    #[test]
    fn bare_it_takes_the_value_named_last() {
        let memory = memory(&["web-01", "INC-4821"]);
        assert_eq!(
            resolve_references("resolve it", &memory).as_deref(),
            Some("resolve INC-4821")
        );
        assert_eq!(
            resolve_references("restart nginx on it", &memory).as_deref(),
            Some("restart nginx on web-01")
        );
        assert_eq!(resolve_references("restart it", &Memory::default()), None);
    }

    #[test]
    fn references_name_the_kinds_they_mean() {
        assert_eq!(referenced_kinds("restart nginx on it"), REMEMBERED.to_vec());
        assert_eq!(
            referenced_kinds("is nginx running there?"),
            [SlotKind::Host]
        );
        assert_eq!(referenced_kinds("block that ip"), [SlotKind::Ip]);
        assert_eq!(
            referenced_kinds("logs of the same servers"),
            [SlotKind::Host]
        );
        assert!(referenced_kinds("check that nginx runs on web-01").is_empty());
    }
}
