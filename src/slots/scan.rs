//! The scanning state shared by the extractors: tokens with their spans,
//! the spans already claimed, and helpers for names and suggestions.

use std::ops::Range;

use jiff::ZonedDateTime;

use super::{SlotError, SlotKind, SlotValue};
use crate::inventory::Inventory;
use crate::normalise::Message;

/// A whitespace-separated word of the text with surrounding punctuation,
/// Slack emphasis (`*bold*`, `_italic_`, `~strike~`) and a possessive `'s`
/// trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Token<'a> {
    pub text: &'a str,
    pub span: Range<usize>,
}

/// One value an extractor found, valid or not, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Candidate {
    pub span: Range<usize>,
    pub value: Result<SlotValue, SlotError>,
}

/// The text being scanned and the spans already taken by an extractor.
pub(super) struct Scan<'a> {
    pub text: &'a str,
    pub tokens: Vec<Token<'a>>,
    pub message: &'a Message,
    pub inventory: &'a Inventory,
    pub now: &'a ZonedDateTime,
    /// Set when the intent takes no duration, so that a bare amount such
    /// as `15m` can be read as a time range ending now.
    pub bare_durations_are_ranges: bool,
    claimed: Vec<Range<usize>>,
    /// Spans of user and channel mentions: only the user extractor reads
    /// them, so a display name is never taken for a host or a team.
    reserved: Vec<Range<usize>>,
}

const LEADING_PUNCTUATION: &[char] = &['(', '[', '{', '"', '\'', '<', '*', '_', '~'];
const TRAILING_PUNCTUATION: &[char] = &[
    ')', ']', '}', '"', '\'', '>', ',', ';', '!', '?', '.', ':', '*', '_', '~',
];

/// Character sequences that start shell syntax. None can occur in a host,
/// user, service, team, package, version or environment name, so a value
/// containing one is rejected with a message naming it.
const SHELL_SEQUENCES: [&str; 11] = ["`", "$(", ";", "&&", "|", "\n", " ", "$", "&", ">", "<"];

impl<'a> Scan<'a> {
    pub(super) fn new(
        message: &'a Message,
        inventory: &'a Inventory,
        now: &'a ZonedDateTime,
    ) -> Self {
        let text = message.text.as_str();
        let reserved = message
            .mentions
            .iter()
            .map(|mention| mention.span.clone())
            .chain(message.channels.iter().map(|channel| channel.span.clone()))
            .collect();
        Self {
            text,
            tokens: tokenize(text),
            message,
            inventory,
            now,
            bare_durations_are_ranges: false,
            claimed: Vec::new(),
            reserved,
        }
    }

    /// Checks whether no extractor has claimed any part of `span`, and it is not
    /// part of a mention.
    pub(super) fn is_free(&self, span: &Range<usize>) -> bool {
        self.is_unclaimed(span) && !self.reserved.iter().any(|taken| overlaps(taken, span))
    }

    /// Checks whether no extractor has claimed any part of `span`.
    pub(super) fn is_unclaimed(&self, span: &Range<usize>) -> bool {
        !self.claimed.iter().any(|taken| overlaps(taken, span))
    }

    pub(super) fn claim(&mut self, span: Range<usize>) {
        self.claimed.push(span);
    }

    /// Tokens no extractor has claimed, with their index in `tokens`.
    pub(super) fn free_tokens(&self) -> impl Iterator<Item = (usize, &Token<'a>)> {
        self.tokens
            .iter()
            .enumerate()
            .filter(|(_, token)| self.is_free(&token.span))
    }

    /// Returns the lowercase text of the token before `index`, if any.
    pub(super) fn word_before(&self, index: usize) -> Option<String> {
        let previous = self.tokens.get(index.checked_sub(1)?)?;
        Some(previous.text.to_ascii_lowercase())
    }

    /// Returns the lowercase text of the token after `index`, if any.
    pub(super) fn word_after(&self, index: usize) -> Option<String> {
        Some(self.tokens.get(index + 1)?.text.to_ascii_lowercase())
    }

    /// Checks whether a regex match at `span` covers whole words: it starts and
    /// ends at a token edge or at punctuation.
    pub(super) fn is_whole_words(&self, span: &Range<usize>) -> bool {
        let before = self.text[..span.start].chars().next_back();
        let after = self.text[span.end..].chars().next();
        before.is_none_or(|c| c.is_whitespace() || LEADING_PUNCTUATION.contains(&c))
            && after.is_none_or(|c| c.is_whitespace() || TRAILING_PUNCTUATION.contains(&c))
    }
}

/// Splits text into tokens, skipping words without a letter or digit.
pub(super) fn tokenize(text: &str) -> Vec<Token<'_>> {
    let mut tokens = Vec::new();
    let mut start = None;
    for (index, c) in text.char_indices().chain([(text.len(), ' ')]) {
        match (c.is_whitespace(), start) {
            (false, None) => start = Some(index),
            (true, Some(word_start)) => {
                let span = trim_word(text, word_start..index);
                if text[span.clone()].chars().any(char::is_alphanumeric) {
                    tokens.push(Token {
                        text: &text[span.clone()],
                        span,
                    });
                }
                start = None;
            }
            _ => {}
        }
    }
    tokens
}

/// Trims punctuation and a possessive `'s` from a word. A trailing `::`
/// stays, because it ends IPv6 addresses such as `2001:db8::`.
fn trim_word(text: &str, span: Range<usize>) -> Range<usize> {
    let word = &text[span.clone()];
    let leading = word.len() - word.trim_start_matches(LEADING_PUNCTUATION).len();
    let mut core = &word[leading..];

    loop {
        let before = core.len();
        if let Some(stripped) = core.strip_suffix("'s") {
            core = stripped;
        }
        while let Some(last) = core.chars().next_back() {
            let keep_colons = last == ':' && core.ends_with("::");
            if keep_colons || !TRAILING_PUNCTUATION.contains(&last) {
                break;
            }
            core = &core[..core.len() - last.len_utf8()];
        }
        if core.len() == before {
            break;
        }
    }

    let start = span.start + leading;
    start..start + core.len()
}

pub(super) fn overlaps(a: &Range<usize>, b: &Range<usize>) -> bool {
    a.start < b.end && b.start < a.end
}

/// Returns the first shell sequence in `value`, or `-` when the value
/// starts with one and would read as a command-line option.
pub(super) fn shell_sequence(value: &str) -> Option<&'static str> {
    if let Some(found) = SHELL_SEQUENCES
        .iter()
        .find(|sequence| value.contains(**sequence))
    {
        return Some(found);
    }
    value.starts_with('-').then_some("-")
}

/// Checks a name for shell syntax, then for its own syntax.
pub(super) fn check_name(
    kind: SlotKind,
    value: &str,
    is_valid: impl Fn(&str) -> bool,
    expected: &'static str,
) -> Result<(), SlotError> {
    if let Some(found) = shell_sequence(value) {
        return Err(SlotError::unsafe_characters(kind, value, found));
    }
    if !is_valid(value) {
        return Err(SlotError::malformed(kind, value, expected));
    }
    Ok(())
}

/// Returns the shell sequence of a token that wraps a name in shell syntax,
/// such as `web-01;reboot` or `$(nginx)`, where `is_name` accepts a part.
pub(super) fn wrapped_in_shell(
    token: &str,
    is_name: impl Fn(&str) -> bool,
) -> Option<&'static str> {
    let found = shell_sequence(token)?;
    let has_name = token
        .split(|c: char| !(c.is_ascii_alphanumeric() || "-_.@+".contains(c)))
        .map(|part| part.trim_matches(['-', '.']))
        .any(|part| !part.is_empty() && is_name(part));
    has_name.then_some(found)
}

/// Returns the known name closest to `value` by edit distance (adjacent
/// swaps count as one edit), when it is close enough to be a typo: at most
/// two edits, and fewer than half the characters of `value`.
pub(super) fn closest<'n>(
    value: &str,
    names: impl IntoIterator<Item = &'n str>,
) -> Option<&'n str> {
    let value = value.to_ascii_lowercase();
    let length = value.chars().count();
    names
        .into_iter()
        .map(|name| (strsim::osa_distance(&value, name), name))
        .filter(|(distance, _)| *distance <= 2 && distance * 2 < length)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, name)| name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<&str> {
        tokenize(text).into_iter().map(|token| token.text).collect()
    }

    #[test]
    fn tokens_drop_surrounding_punctuation() {
        assert_eq!(words("is (web-01) ok?"), ["is", "web-01", "ok"]);
        assert_eq!(words("check *db-02*, _now_"), ["check", "db-02", "now"]);
        assert_eq!(
            words("srv_01.example.internal."),
            ["srv_01.example.internal"]
        );
    }

    #[test]
    fn tokens_keep_inner_hyphens_underscores_and_ipv6_colons() {
        assert_eq!(
            words("k8s-node-09 srv_01 2001:db8::"),
            ["k8s-node-09", "srv_01", "2001:db8::"]
        );
        assert_eq!(words("on 2001:db8::1:"), ["on", "2001:db8::1"]);
    }

    #[test]
    fn possessive_is_trimmed() {
        assert_eq!(words("kpatel's account"), ["kpatel", "account"]);
        assert_eq!(words("db-02's disk."), ["db-02", "disk"]);
    }

    #[test]
    fn punctuation_only_words_are_skipped() {
        assert_eq!(words("a - b ... ?"), ["a", "b"]);
    }

    #[test]
    fn token_spans_match_their_text() {
        let text = "  restart (nginx) on web-01. ";
        for token in tokenize(text) {
            assert_eq!(&text[token.span.clone()], token.text);
        }
    }

    #[test]
    fn shell_sequences_are_found() {
        assert_eq!(shell_sequence("web-01"), None);
        assert_eq!(shell_sequence("`id`"), Some("`"));
        assert_eq!(shell_sequence("$(id)"), Some("$("));
        assert_eq!(shell_sequence("a;b"), Some(";"));
        assert_eq!(shell_sequence("a&&b"), Some("&&"));
        assert_eq!(shell_sequence("a|b"), Some("|"));
        assert_eq!(shell_sequence("a\nb"), Some("\n"));
        assert_eq!(shell_sequence("a b"), Some(" "));
        assert_eq!(shell_sequence("-oProxyCommand"), Some("-"));
    }

    #[test]
    fn closest_name_needs_a_small_distance() {
        let names = ["web-01", "web-09", "db-02"];
        assert_eq!(closest("web-99", names), Some("web-09"));
        assert_eq!(closest("WEB-10", names), Some("web-01"));
        assert_eq!(closest("mail-07", names), None);
        assert_eq!(closest("ngnix", ["nginx", "redis"]), Some("nginx"));
    }
}
