//! Message normalisation: turns a chat message as Slack sends it into the
//! text that the intent model and slot extraction read, and the data around it.
//!
//! The steps, in order:
//! 1. Characters: curly quotes become straight, dashes become `-`, unicode
//!    spaces become spaces, zero-width and control characters go.
//! 2. Blocks: ```` ``` ```` fences, `inline code` and `>` quote lines are data,
//!    never an instruction, so they move to [`Message::data`].
//! 3. Length: a long text is cut to its request line or sentence
//!    ([`Cut`]), with the rest moved to data.
//! 4. Markup: links, user and channel mentions are parsed and recorded with
//!    their span in the text, then `&amp;`, `&lt;` and `&gt;` are unescaped,
//!    and whitespace is collapsed.
//!
//! A mention of the bot itself arrives as an ordinary user mention: the
//! Slack adapter, which has the bot's id, removes it before this step.

mod blocks;
mod chars;
mod cut;
mod markup;

use std::fmt;
use std::ops::Range;

use serde::Serialize;

use crate::inventory::UserId;

pub(crate) use blocks::quoted_spans;

/// A normalised chat message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Message {
    /// The request, for the intent model and slot extraction: one line with
    /// single spaces, markup resolved, without code, quotes or pasted text.
    pub text: String,
    /// Code blocks, inline code and quotes in message order, then the text
    /// cut from a long paste, with markup resolved and line breaks kept.
    pub data: Vec<String>,
    /// User mentions in `text`, in order.
    pub mentions: Vec<UserMention>,
    /// Channel mentions in `text`, in order.
    pub channels: Vec<ChannelMention>,
    /// Links in `text`, in order.
    pub links: Vec<Link>,
    /// Set when the message was long and `text` is only part of it, or empty.
    pub cut: Option<Cut>,
}

/// A `<@U024BE7LH>` or `<@U024BE7LH|alice>` mention.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserMention {
    pub id: UserId,
    /// The name Slack sent with the mention, if any.
    pub name: Option<String>,
    /// Byte range in [`Message::text`] of the name, or of `someone` when
    /// Slack sent no name.
    pub span: Range<usize>,
}

/// An immutable Slack channel id, such as `C024BE7LR`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ChannelId(String);

/// A `<#C024BE7LR|ops>` channel mention.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelMention {
    pub id: ChannelId,
    /// Channel name without `#`, if Slack sent one.
    pub name: Option<String>,
    /// Byte range in [`Message::text`] of `#name`.
    pub span: Range<usize>,
}

/// A `<url>` or `<url|label>` link, `mailto:` links included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The link target, unescaped, such as `https://x.example/a?b=c`.
    pub url: String,
    /// The text shown for the link. Slack adds a label to a URL or domain
    /// that it linked itself, and the label is what the user typed.
    pub label: Option<String>,
    /// Byte range in [`Message::text`] of the label, or of the URL when
    /// there is no label.
    pub span: Range<usize>,
}

/// The shortening applied to a long message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// The request part was kept as `text` and the rest moved to `data`.
    RequestKept {
        part: RequestPart,
        /// Characters moved from the request text to `data`.
        moved_chars: usize,
    },
    /// No part could be identified as the request, so `text` is empty and
    /// the whole message is in `data`. The bot asks the user to put the
    /// request on its own line.
    RequestNotIsolated {
        /// Length of the request text before the cut, in characters.
        chars: usize,
    },
}

/// The part of a long message kept as the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestPart {
    FirstLine,
    LastLine,
    FirstSentence,
    LastSentence,
}

/// Normalises a raw chat message. Any input is accepted: the result may
/// have empty text, but this never panics.
pub fn normalise(raw: &str) -> Message {
    let cleaned = chars::clean(raw);
    let split = blocks::split(&cleaned);

    let mut message = Message::default();
    let mut data: Vec<String> = split
        .data
        .iter()
        .map(|block| markup::render_plain(block))
        .collect();

    let lines: Vec<&str> = split
        .request
        .lines()
        .filter(|line| !line.trim().is_empty())
        .collect();
    let shortened = cut::shorten(&lines);
    message.cut = shortened.cut;
    if !shortened.moved.is_empty() {
        data.push(markup::render_plain(&shortened.moved.join("\n")));
    }

    let mut renderer = markup::Renderer::default();
    for part in &shortened.kept {
        renderer.push_line(part);
    }
    renderer.finish_into(&mut message);

    data.retain(|text| !text.trim().is_empty());
    message.data = data;
    message
}

/// Returns the text of a raw message with characters cleaned, markup
/// resolved and whitespace collapsed, but with code and quotes kept: the
/// literal form of an answer that is free text.
pub fn plain_text(raw: &str) -> String {
    let rendered = markup::render_plain(&chars::clean(raw));
    rendered.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl Message {
    /// Returns the text of a span of [`Message::text`], or `""` when the
    /// span is out of range.
    pub fn span_text(&self, span: &Range<usize>) -> &str {
        self.text.get(span.clone()).unwrap_or("")
    }
}

impl ChannelId {
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Checks whether `id` has the form of a Slack channel id: `C`, `G` or `D`, then
    /// uppercase letters and digits.
    pub fn is_valid(id: &str) -> bool {
        let mut chars = id.chars();
        chars
            .next()
            .is_some_and(|first| matches!(first, 'C' | 'G' | 'D'))
            && id.len() >= 3
            && id.len() <= 21
            && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    }
}

impl fmt::Display for ChannelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_passes_through_collapsed() {
        let message = normalise("  restart   nginx\n on web-01  ");
        assert_eq!(message.text, "restart nginx on web-01");
        assert!(message.data.is_empty());
        assert_eq!(message.cut, None);
    }

    #[test]
    fn mention_spans_point_into_text() {
        let message = normalise("ask <@U024BE7LH|alice> and <@U01JDOE42> in <#C024BE7LR|ops>");
        assert_eq!(message.text, "ask alice and someone in #ops");
        assert_eq!(message.span_text(&message.mentions[0].span), "alice");
        assert_eq!(message.span_text(&message.mentions[1].span), "someone");
        assert_eq!(message.span_text(&message.channels[0].span), "#ops");
    }

    #[test]
    fn code_and_quotes_keep_message_order_in_data() {
        let message = normalise("> first\nlook at `second` and\n```third```");
        assert_eq!(message.text, "look at and");
        assert_eq!(message.data, ["first", "second", "third"]);
    }

    #[test]
    fn data_resolves_markup_but_keeps_lines() {
        let message = normalise("```a &amp; b\n<@U024BE7LH|alice> at <https://x.example>```");
        assert_eq!(message.data, ["a & b\n@alice at https://x.example"]);
    }

    #[test]
    fn plain_text_keeps_code_and_quotes() {
        assert_eq!(
            plain_text("`uptime` &amp; <@U024BE7LH|alice>\n&gt; quoted"),
            "`uptime` & @alice > quoted"
        );
    }

    #[test]
    fn channel_ids_have_slack_form() {
        assert!(ChannelId::is_valid("C024BE7LR"));
        assert!(ChannelId::is_valid("G0123ABC"));
        assert!(!ChannelId::is_valid("U024BE7LH"));
        assert!(!ChannelId::is_valid("c024"));
    }

    #[test]
    fn arbitrary_bytes_do_not_panic() {
        let mut state: u32 = 12345;
        for _ in 0..200 {
            let text: String = (0..300)
                .map(|_| {
                    // A linear congruential generator gives repeatable noise
                    // biased towards the characters the parser treats specially.
                    state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                    let pick = (state >> 16) as usize;
                    let special = [
                        '<', '>', '|', '@', '#', '!', '`', '&', ';', '\n', ' ', '\'', '"', '.',
                    ];
                    if pick.is_multiple_of(3) {
                        special[pick % special.len()]
                    } else {
                        char::from_u32((pick % 0x3000) as u32).unwrap_or('x')
                    }
                })
                .collect();
            let message = normalise(&text);
            for mention in &message.mentions {
                assert!(message.text.get(mention.span.clone()).is_some());
            }
        }
    }
}
