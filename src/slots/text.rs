//! Free-text and topic extractors. Free text (incident titles, page
//! messages) is taken literally and never interpreted: it reaches the
//! command as one argument, never through a shell.

use std::ops::Range;

use super::scan::{Candidate, Scan, tokenize};
use super::values::Topic;
use super::{SlotError, SlotKind, SlotValue};
use crate::normalise::quoted_spans;

/// Words after which the rest of the message is the text:
/// `page sre with message disk full`, `open an incident called db down`.
const TEXT_CUES: [&str; 9] = [
    "with message",
    "with the message",
    "message",
    "saying",
    "titled",
    "called",
    "named",
    "with title",
    "with text",
];

/// Maximum length of free text given as an answer. Titles and page
/// messages are a line or two, and a longer answer is a paste; free text
/// found in a message is already limited by the message's own cut.
const MAX_ANSWER_CHARS: usize = 1_000;
const MAX_ANSWER_TEXT: &str = "1000 characters";

/// Help topics: the words that name each one, all of which must appear.
/// A topic is an intent name or an intent domain (the part of the name
/// before the dot). When several match, the one with more words wins, and
/// among equals the earlier one, so intents come before their domains.
const TOPICS: [(&[&str], &str); 36] = [
    (&["deploy", "history"], "deploy.history"),
    (&["alert", "explain"], "alert.explain"),
    (&["alert", "list"], "alerts.list"),
    (&["incident", "list"], "incident.list"),
    (&["incident", "status"], "incident.status"),
    (&["service", "status"], "service.status"),
    (&["ip", "lookup"], "ip.lookup"),
    (&["ip", "look"], "ip.lookup"),
    (&["hash", "lookup"], "hash.lookup"),
    (&["cve", "lookup"], "vuln.lookup"),
    (&["declare"], "incident.declare"),
    (&["resolve"], "incident.resolve"),
    (&["restart"], "service.restart"),
    (&["health"], "server.health"),
    (&["healthy"], "server.health"),
    (&["log"], "server.logs"),
    (&["block"], "ip.block"),
    (&["reputation"], "ip.lookup"),
    (&["whois"], "ip.lookup"),
    (&["hash"], "hash.lookup"),
    (&["quarantine"], "file.quarantine"),
    (&["isolate"], "host.isolate"),
    (&["exposure"], "vuln.exposure"),
    (&["exposed"], "vuln.exposure"),
    (&["cve"], "vuln.lookup"),
    (&["patch"], "patch.apply"),
    (&["silence"], "alert.silence"),
    (&["rollback"], "deploy.rollback"),
    (&["page"], "oncall.page"),
    (&["paging"], "oncall.page"),
    (&["disable"], "user.disable"),
    (&["activity"], "user.activity"),
    (&["alert"], "alert"),
    (&["incident"], "incident"),
    (&["deploy"], "deploy"),
    (&["oncall"], "oncall"),
];

/// Finds free text: a quoted span (`'disk full on db-02'`), else the rest
/// of the message after a cue such as `with message`, else after the
/// first `: `.
pub(super) fn texts(scan: &Scan<'_>) -> Vec<Candidate> {
    let text = scan.text;

    let quoted = quoted_spans(text)
        .into_iter()
        .find(|span| scan.is_unclaimed(span))
        .map(|span| (span.start + 1..span.end - 1, span));
    let rest = || {
        let start = after_cue(text).or_else(|| after_colon(text))?;
        let span = start..text.len();
        scan.is_unclaimed(&span).then(|| (span.clone(), span))
    };

    let Some((inner, span)) = quoted.or_else(rest) else {
        return Vec::new();
    };
    let value = text[inner].trim();
    if value.is_empty() {
        return Vec::new();
    }
    vec![Candidate {
        span,
        value: Ok(SlotValue::Text(value.to_string())),
    }]
}

/// Reads a whole answer as free text, without its surrounding quotes.
pub(super) fn parse_text(text: &str) -> Result<SlotValue, SlotError> {
    let trimmed = text.trim();
    if trimmed.chars().count() > MAX_ANSWER_CHARS {
        return Err(SlotError::TooLong {
            kind: SlotKind::Text,
            value: super::error::shown(trimmed),
            max: MAX_ANSWER_TEXT,
        });
    }
    let unquoted = match quoted_spans(trimmed).as_slice() {
        [span] if *span == (0..trimmed.len()) => &trimmed[1..trimmed.len() - 1],
        _ => trimmed,
    };
    if unquoted.trim().is_empty() {
        return Err(SlotError::NotFound {
            kind: SlotKind::Text,
            answer: String::new(),
            expected: "some text",
        });
    }
    Ok(SlotValue::Text(unquoted.trim().to_string()))
}

/// Finds what a help request is about.
pub(super) fn topics(scan: &Scan<'_>) -> Vec<Candidate> {
    let free: Vec<(Range<usize>, String)> = scan
        .free_tokens()
        .map(|(_, token)| (token.span.clone(), token.text.to_ascii_lowercase()))
        .collect();
    match best_topic(&free) {
        Some((topic, span)) => vec![Candidate {
            span,
            value: Ok(SlotValue::Topic(Topic::new(topic))),
        }],
        None => Vec::new(),
    }
}

pub(super) fn parse_topic(text: &str) -> Result<SlotValue, SlotError> {
    let words: Vec<(Range<usize>, String)> = tokenize(text)
        .into_iter()
        .map(|token| (token.span, token.text.to_ascii_lowercase()))
        .collect();
    best_topic(&words)
        .map(|(topic, _)| SlotValue::Topic(Topic::new(topic)))
        .ok_or_else(|| SlotError::NotFound {
            kind: SlotKind::Topic,
            answer: super::error::shown(text),
            expected: "a command or an area, such as `restart`, `block` or `alerts`",
        })
}

/// Returns the names of every help topic, for checks against the intent catalog.
pub fn topic_names() -> impl Iterator<Item = &'static str> {
    TOPICS.iter().map(|(_, topic)| *topic)
}

fn best_topic(words: &[(Range<usize>, String)]) -> Option<(&'static str, Range<usize>)> {
    let mut best: Option<(usize, &'static str, Range<usize>)> = None;
    for (keywords, topic) in TOPICS {
        let spans: Option<Vec<&Range<usize>>> = keywords
            .iter()
            .map(|keyword| {
                words
                    .iter()
                    .find(|(_, word)| is_form_of(word, keyword))
                    .map(|(span, _)| span)
            })
            .collect();
        let Some(spans) = spans else {
            continue;
        };
        let better = best
            .as_ref()
            .is_none_or(|(count, _, _)| keywords.len() > *count);
        if better && let Some(first) = spans.iter().min_by_key(|span| span.start) {
            best = Some((keywords.len(), topic, (*first).clone()));
        }
    }
    best.map(|(_, topic, span)| (topic, span))
}

/// Checks whether `word` is `keyword` or its plural, `-ed` or `-ing` form, or the
/// hyphenated or spaced spelling for `oncall`.
fn is_form_of(word: &str, keyword: &str) -> bool {
    if keyword == "oncall" && word == "on-call" {
        return true;
    }
    let Some(suffix) = word.strip_prefix(keyword) else {
        return false;
    };
    matches!(suffix, "" | "s" | "es" | "d" | "ed" | "ing")
}

/// Byte offset where the text after the first cue starts.
fn after_cue(text: &str) -> Option<usize> {
    let lower = text.to_ascii_lowercase();
    TEXT_CUES
        .iter()
        .filter_map(|cue| {
            let mut from = 0;
            while let Some(found) = lower[from..].find(cue) {
                let start = from + found;
                let end = start + cue.len();
                let before_ok = start == 0 || lower[..start].ends_with(' ');
                let after_ok = lower[end..].starts_with([' ', ':']);
                if before_ok && after_ok {
                    return Some((start, end));
                }
                from = end;
            }
            None
        })
        .min_by_key(|(start, _)| *start)
        .map(|(_, end)| skip_separators(text, end))
}

/// Byte offset after the first `: ` that follows a word, as in
/// `declare an incident: db down`.
fn after_colon(text: &str) -> Option<usize> {
    text.match_indices(": ")
        .find(|(index, _)| {
            text[..*index]
                .chars()
                .next_back()
                .is_some_and(|c| !c.is_whitespace())
        })
        .map(|(index, _)| skip_separators(text, index + 1))
}

fn skip_separators(text: &str, from: usize) -> usize {
    let rest = &text[from..];
    from + (rest.len() - rest.trim_start_matches([' ', ':']).len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topic(text: &str) -> Option<String> {
        parse_topic(text).ok().map(|value| value.to_arg())
    }

    #[test]
    fn topics_name_the_intent_asked_about() {
        assert_eq!(
            topic("how do I restart a service?").as_deref(),
            Some("service.restart")
        );
        assert_eq!(
            topic("how do i block an ip with you").as_deref(),
            Some("ip.block")
        );
        assert_eq!(
            topic("how do i silence an alert").as_deref(),
            Some("alert.silence")
        );
        assert_eq!(topic("help with alerts").as_deref(), Some("alert"));
        assert_eq!(
            topic("is there a command to see deploy history").as_deref(),
            Some("deploy.history")
        );
        assert_eq!(
            topic("what's the syntax for paging someone").as_deref(),
            Some("oncall.page")
        );
        assert_eq!(topic("help user disable").as_deref(), Some("user.disable"));
        assert_eq!(topic("what can you do"), None);
    }

    #[test]
    fn failed_logins_are_not_the_logs_topic() {
        assert_eq!(topic("how do i see failed logins"), None);
    }

    #[test]
    fn cue_and_colon_find_the_text_start() {
        let text = "page sre with message checkout 500s";
        assert_eq!(&text[after_cue(text).unwrap()..], "checkout 500s");
        let text = "declare an incident: db down in eu-west";
        assert_eq!(&text[after_colon(text).unwrap()..], "db down in eu-west");
        let text = "page the sre on-call with: disk full on log-01";
        assert_eq!(&text[after_colon(text).unwrap()..], "disk full on log-01");
        assert_eq!(after_colon("at 10:30 today"), None);
        assert_eq!(after_cue("messages are late"), None);
    }

    #[test]
    fn text_answer_drops_surrounding_quotes() {
        assert_eq!(parse_text("'db down'").unwrap().to_arg(), "db down");
        assert_eq!(parse_text("it's down").unwrap().to_arg(), "it's down");
        assert!(parse_text("  ").is_err());
        assert!(matches!(
            parse_text(&"x ".repeat(600)),
            Err(SlotError::TooLong { .. })
        ));
    }
}
