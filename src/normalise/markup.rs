//! Slack markup: `<url|label>` links, `<@U…>` user and `<#C…>` channel
//! mentions, `<!here>`-style commands, and the `&amp;` `&lt;` `&gt;` escapes.
//!
//! Markup is parsed on the escaped text, and escapes are undone only in the
//! parts it yields, so `&lt;@U1&gt;` stays the literal text `<@U1>`.

use std::ops::Range;

use super::{ChannelId, ChannelMention, Link, Message, UserMention};
use crate::inventory::UserId;

/// One piece of a line of Slack text.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Inline {
    /// Plain text, unescaped.
    Text(String),
    User {
        id: UserId,
        name: Option<String>,
    },
    Channel {
        id: ChannelId,
        name: Option<String>,
    },
    Link {
        url: String,
        label: Option<String>,
    },
    /// A `<!…>` command, replaced by its label (`<!subteam^S1|@sre>` gives
    /// `@sre`) or by nothing (`<!here>`).
    Label(String),
}

/// Builds the request text, one line at a time, collapsing whitespace and
/// recording where each mention and link lands.
#[derive(Debug, Default)]
pub(super) struct Renderer {
    text: String,
    pending_space: bool,
    mentions: Vec<UserMention>,
    channels: Vec<ChannelMention>,
    links: Vec<Link>,
}

/// Model text for a user mention without a name, because an opaque id such
/// as `U024BE7LH` would pull the embedding towards nothing useful.
const UNNAMED_USER: &str = "someone";
const UNNAMED_CHANNEL: &str = "a channel";

impl Renderer {
    /// Appends one line of escaped Slack text, with a space in place of the
    /// line break.
    pub(super) fn push_line(&mut self, line: &str) {
        for inline in parse(line) {
            match inline {
                Inline::Text(text) | Inline::Label(text) => self.push_words(&text),
                Inline::User { id, name } => {
                    let display_text = name.clone().unwrap_or_else(|| UNNAMED_USER.to_string());
                    if let Some(span) = self.push_atom(&display_text) {
                        self.mentions.push(UserMention { id, name, span });
                    }
                }
                Inline::Channel { id, name } => {
                    let display_text = match &name {
                        Some(name) => format!("#{name}"),
                        None => UNNAMED_CHANNEL.to_string(),
                    };
                    if let Some(span) = self.push_atom(&display_text) {
                        self.channels.push(ChannelMention { id, name, span });
                    }
                }
                Inline::Link { url, label } => {
                    let display_text = label.clone().unwrap_or_else(|| url.clone());
                    if let Some(span) = self.push_atom(&display_text) {
                        self.links.push(Link { url, label, span });
                    }
                }
            }
        }
        self.pending_space = true;
    }

    /// Moves the text and the recorded markup into `message`.
    pub(super) fn finish_into(self, message: &mut Message) {
        message.text = self.text;
        message.mentions = self.mentions;
        message.channels = self.channels;
        message.links = self.links;
    }

    fn push_words(&mut self, text: &str) {
        for c in text.chars() {
            if c.is_whitespace() {
                self.pending_space = true;
            } else {
                self.push_char(c);
            }
        }
    }

    /// Appends text that must stay one unit and returns its byte range, or
    /// `None` when it is blank.
    fn push_atom(&mut self, text: &str) -> Option<Range<usize>> {
        let mut words = text.split_whitespace();
        let first = words.next()?;

        if self.pending_space && !self.text.is_empty() {
            self.text.push(' ');
        }
        self.pending_space = false;
        let start = self.text.len();
        self.text.push_str(first);
        for word in words {
            self.text.push(' ');
            self.text.push_str(word);
        }
        Some(start..self.text.len())
    }

    fn push_char(&mut self, c: char) {
        if self.pending_space && !self.text.is_empty() {
            self.text.push(' ');
        }
        self.pending_space = false;
        self.text.push(c);
    }
}

/// Renders escaped Slack text for [`Message::data`]: markup resolved,
/// mentions as `@name` (or `@id`), line breaks kept, blank edges trimmed.
pub(super) fn render_plain(text: &str) -> String {
    let lines: Vec<String> = text
        .split('\n')
        .map(|line| {
            let mut out = String::new();
            for inline in parse(line) {
                match inline {
                    Inline::Text(text) | Inline::Label(text) => out.push_str(&text),
                    Inline::User { id, name } => {
                        out.push('@');
                        out.push_str(name.as_deref().unwrap_or(id.as_str()));
                    }
                    Inline::Channel { id, name } => {
                        out.push('#');
                        out.push_str(name.as_deref().unwrap_or(id.as_str()));
                    }
                    Inline::Link { url, label } => out.push_str(label.as_deref().unwrap_or(&url)),
                }
            }
            out.trim_end().to_string()
        })
        .collect();
    lines.join("\n").trim_matches('\n').to_string()
}

/// Undoes exactly the three escapes Slack applies, in one pass, so that
/// `&amp;lt;` becomes `&lt;` and not `<`.
pub(crate) fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(index) = rest.find('&') {
        out.push_str(&rest[..index]);
        let tail = &rest[index..];
        let (replacement, length) = if tail.starts_with("&amp;") {
            ('&', 5)
        } else if tail.starts_with("&lt;") {
            ('<', 4)
        } else if tail.starts_with("&gt;") {
            ('>', 4)
        } else {
            ('&', 1)
        };
        out.push(replacement);
        rest = &tail[length..];
    }
    out.push_str(rest);
    out
}

/// Splits one line of escaped Slack text into its pieces. Text between `<`
/// and `>` that is not valid markup stays literal.
fn parse(line: &str) -> Vec<Inline> {
    let mut inlines = Vec::new();
    let mut literal = String::new();
    let mut rest = line;

    while let Some(open) = rest.find('<') {
        literal.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let markup = after
            .find(['<', '>'])
            .filter(|&close| after.as_bytes()[close] == b'>')
            .and_then(|close| classify(&after[..close]).map(|inline| (inline, close)));
        match markup {
            Some((inline, close)) => {
                if !literal.is_empty() {
                    inlines.push(Inline::Text(unescape(&literal)));
                    literal.clear();
                }
                inlines.push(inline);
                rest = &after[close + 1..];
            }
            None => {
                literal.push('<');
                rest = after;
            }
        }
    }
    literal.push_str(rest);
    if !literal.is_empty() {
        inlines.push(Inline::Text(unescape(&literal)));
    }
    inlines
}

/// Interprets the text between `<` and `>`, or returns `None` when it is
/// not Slack markup.
fn classify(content: &str) -> Option<Inline> {
    let (target, label) = match content.split_once('|') {
        Some((target, label)) => (target, Some(label)),
        None => (content, None),
    };
    let label = label
        .map(|label| unescape(label).trim().to_string())
        .filter(|label| !label.is_empty());

    if let Some(id) = target.strip_prefix('@') {
        return UserId::is_valid(id).then(|| Inline::User {
            id: UserId::new(id),
            name: label,
        });
    }
    if let Some(id) = target.strip_prefix('#') {
        return ChannelId::is_valid(id).then(|| Inline::Channel {
            id: ChannelId::new(id),
            name: label,
        });
    }
    if let Some(command) = target.strip_prefix('!') {
        let keyword = command.split('^').next().unwrap_or(command);
        let valid = !keyword.is_empty() && keyword.chars().all(|c| c.is_ascii_lowercase());
        return valid.then(|| Inline::Label(label.unwrap_or_default()));
    }
    has_scheme(target).then(|| Inline::Link {
        url: unescape(target),
        label,
    })
}

/// Checks whether `target` starts with a URI scheme (`https:`, `mailto:`, …) and
/// contains no whitespace.
fn has_scheme(target: &str) -> bool {
    let Some((scheme, rest)) = target.split_once(':') else {
        return false;
    };
    let mut scheme_chars = scheme.chars();
    scheme_chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && scheme_chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        && !rest.is_empty()
        && !target.chars().any(char::is_whitespace)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(line: &str) -> Message {
        let mut renderer = Renderer::default();
        renderer.push_line(line);
        let mut message = Message::default();
        renderer.finish_into(&mut message);
        message
    }

    #[test]
    fn labelled_link_shows_its_label() {
        let message = render("ping <http://web-01.example.internal|web-01.example.internal>");
        assert_eq!(message.text, "ping web-01.example.internal");
        assert_eq!(message.links[0].url, "http://web-01.example.internal");
        assert_eq!(
            message.span_text(&message.links[0].span),
            "web-01.example.internal"
        );
    }

    #[test]
    fn bare_link_shows_its_url_unescaped() {
        let message = render("see <https://x.example/a?b=c&amp;d=e>");
        assert_eq!(message.text, "see https://x.example/a?b=c&d=e");
        assert_eq!(message.links[0].label, None);
    }

    #[test]
    fn mailto_link_shows_the_address() {
        let message = render("mail <mailto:a@example.org|a@example.org>");
        assert_eq!(message.text, "mail a@example.org");
        assert_eq!(message.links[0].url, "mailto:a@example.org");
    }

    #[test]
    fn broadcast_commands_are_removed() {
        assert_eq!(
            render("<!here> db-02 is down <!channel>").text,
            "db-02 is down"
        );
        assert_eq!(render("<!everyone>").text, "");
    }

    #[test]
    fn user_group_mention_keeps_its_label() {
        assert_eq!(
            render("ping <!subteam^S0614TZR7|@sre-team>").text,
            "ping @sre-team"
        );
    }

    #[test]
    fn escaped_markup_stays_literal() {
        let message = render("&lt;@U024BE7LH&gt; and &lt;!here&gt;");
        assert_eq!(message.text, "<@U024BE7LH> and <!here>");
        assert!(message.mentions.is_empty());
    }

    #[test]
    fn unescape_handles_exactly_three_entities_once() {
        assert_eq!(unescape("MSc &amp; MBA"), "MSc & MBA");
        assert_eq!(unescape("&lt;a&gt;"), "<a>");
        assert_eq!(unescape("&amp;lt;"), "&lt;");
        assert_eq!(unescape("&quot; &nbsp; & &"), "&quot; &nbsp; & &");
    }

    #[test]
    fn invalid_markup_is_literal_text() {
        assert_eq!(render("a <b> c").text, "a <b> c");
        assert_eq!(render("<@not-an-id>").text, "<@not-an-id>");
        assert_eq!(render("x < y <@U024BE7LH>").text, "x < y someone");
        assert_eq!(render("unclosed <http://a").text, "unclosed <http://a");
    }

    #[test]
    fn render_plain_keeps_lines_and_names_mentions() {
        let text = "<@U024BE7LH> in <#C024BE7LR>\n  &gt; x  \n";
        assert_eq!(render_plain(text), "@U024BE7LH in #C024BE7LR\n  > x");
    }
}
