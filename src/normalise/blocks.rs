//! Code and quote blocks: the parts of a message that are data, never an
//! instruction, so that a pasted log saying "systemctl restart nginx"
//! cannot trigger a restart.

use std::ops::Range;

/// A message split into its request lines and its data blocks.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Split {
    /// Request lines, still with Slack markup and escapes.
    pub request: String,
    /// Code and quote blocks in message order, still with markup and escapes.
    pub data: Vec<String>,
}

/// Slack sends `>` escaped, so a quote line starts with `&gt;`; a `>>>`
/// marker quotes the rest of the message.
const QUOTE_MARKERS: [&str; 2] = ["&gt;", ">"];
const QUOTE_REST_MARKERS: [&str; 2] = ["&gt;&gt;&gt;", ">>>"];

const FENCE: &str = "```";

/// Splits a cleaned message into request lines and data blocks. An
/// unclosed fence makes the rest of the message code.
pub(super) fn split(text: &str) -> Split {
    let mut state = State::default();

    for (index, part) in text.split(FENCE).enumerate() {
        let inside_fence = index % 2 == 1;
        if inside_fence {
            state.flush_quote();
            state.split.data.push(part.trim_matches('\n').to_string());
            // The code block separates the text before it from the text after it.
            state.split.request.push('\n');
        } else {
            for line in part.split('\n') {
                state.line(line);
            }
            state.flush_quote();
        }
    }
    state.split
}

/// Returns the byte ranges, quotes included, of the `'...'` and `"..."`
/// spans of a line. A quote opens a span after whitespace, `(`, `[`, `:`,
/// `=` or `,` or at the line start, and closes it before whitespace,
/// punctuation or the line end, so the apostrophes of `don't` and `it's`
/// open and close nothing.
pub(crate) fn quoted_spans(line: &str) -> Vec<Range<usize>> {
    let mut spans = Vec::new();
    let mut position = 0;

    while let Some((open, quote)) = find_opening_quote(line, position) {
        match find_closing_quote(line, open + 1, quote) {
            Some(close) => {
                spans.push(open..close + 1);
                position = close + 1;
            }
            None => position = open + 1,
        }
    }
    spans
}

#[derive(Default)]
struct State {
    split: Split,
    quote: Option<String>,
    /// Set by a `>>>` marker: every later line outside fences is a quote.
    quote_rest: bool,
}

impl State {
    fn line(&mut self, line: &str) {
        let trimmed = line.trim_start();

        if !self.quote_rest
            && let Some(rest) = strip_any_prefix(trimmed, &QUOTE_REST_MARKERS)
        {
            self.quote_rest = true;
            self.quote_line(rest);
            return;
        }
        if self.quote_rest {
            self.quote_line(line);
            return;
        }
        if let Some(rest) = strip_any_prefix(trimmed, &QUOTE_MARKERS) {
            self.quote_line(rest);
            return;
        }

        self.flush_quote();
        let request = strip_inline_code(line, &mut self.split.data);
        self.split.request.push_str(&request);
        self.split.request.push('\n');
    }

    fn quote_line(&mut self, line: &str) {
        let line = line.strip_prefix(' ').unwrap_or(line);
        match &mut self.quote {
            Some(quote) => {
                quote.push('\n');
                quote.push_str(line);
            }
            None => self.quote = Some(line.to_string()),
        }
    }

    fn flush_quote(&mut self) {
        if let Some(quote) = self.quote.take() {
            self.split.data.push(quote);
        }
    }
}

fn strip_any_prefix<'a>(text: &'a str, prefixes: &[&str]) -> Option<&'a str> {
    prefixes.iter().find_map(|prefix| text.strip_prefix(prefix))
}

/// Moves each `` `inline code` `` of a line to `data` and returns the line
/// with a space in its place. Backticks inside a quoted span are literal,
/// so a quoted page message keeps its backticks.
fn strip_inline_code(line: &str, data: &mut Vec<String>) -> String {
    let quoted = quoted_spans(line);
    let backticks: Vec<usize> = line
        .match_indices('`')
        .map(|(index, _)| index)
        .filter(|index| !quoted.iter().any(|span| span.contains(index)))
        .collect();

    let mut out = String::with_capacity(line.len());
    let mut position = 0;
    for pair in backticks.chunks_exact(2) {
        let (open, close) = (pair[0], pair[1]);
        out.push_str(&line[position..open]);
        out.push(' ');
        let code = &line[open + 1..close];
        if !code.trim().is_empty() {
            data.push(code.to_string());
        }
        position = close + 1;
    }
    out.push_str(&line[position..]);
    out
}

fn find_opening_quote(line: &str, from: usize) -> Option<(usize, char)> {
    let mut previous = line[..from].chars().next_back();
    for (offset, c) in line[from..].char_indices() {
        let index = from + offset;
        let after_separator = previous.is_none_or(|p| p.is_whitespace() || "([:=,".contains(p));
        let next = line[index + c.len_utf8()..].chars().next();
        if (c == '\'' || c == '"') && after_separator && next.is_some_and(|n| !n.is_whitespace()) {
            return Some((index, c));
        }
        previous = Some(c);
    }
    None
}

fn find_closing_quote(line: &str, from: usize, quote: char) -> Option<usize> {
    let mut previous = line[..from].chars().next_back();
    for (offset, c) in line[from..].char_indices() {
        let index = from + offset;
        let next = line[index + c.len_utf8()..].chars().next();
        let before_separator = next.is_none_or(|n| n.is_whitespace() || ")]},.;:!?".contains(n));
        if c == quote
            && before_separator
            && previous.is_some_and(|p| !p.is_whitespace())
            && index > from
        {
            return Some(index);
        }
        previous = Some(c);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request_lines(split: &Split) -> Vec<&str> {
        split
            .request
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .collect()
    }

    #[test]
    fn fenced_code_is_data() {
        let split = split("can you check this? ```kernel: oom-killer on db-02```");
        assert_eq!(request_lines(&split), ["can you check this?"]);
        assert_eq!(split.data, ["kernel: oom-killer on db-02"]);
    }

    #[test]
    fn multi_line_fence_keeps_its_lines() {
        let split = split("look:\n```\nline one\nline two\n```\nthanks");
        assert_eq!(request_lines(&split), ["look:", "thanks"]);
        assert_eq!(split.data, ["line one\nline two"]);
    }

    #[test]
    fn unclosed_fence_makes_the_rest_code() {
        let split = split("check ```systemctl restart nginx");
        assert_eq!(request_lines(&split), ["check"]);
        assert_eq!(split.data, ["systemctl restart nginx"]);
    }

    #[test]
    fn escaped_and_plain_quote_lines_are_data() {
        let split = split("&gt; restart nginx\n> on web-01\nwhat does this mean?");
        assert_eq!(request_lines(&split), ["what does this mean?"]);
        assert_eq!(split.data, ["restart nginx\non web-01"]);
    }

    #[test]
    fn block_quote_marker_quotes_the_rest() {
        let split = split("see below\n&gt;&gt;&gt; restart nginx\nand web-01");
        assert_eq!(request_lines(&split), ["see below"]);
        assert_eq!(split.data, ["restart nginx\nand web-01"]);
    }

    #[test]
    fn inline_code_is_data() {
        let split = split("why did `systemctl restart nginx` fail");
        assert_eq!(request_lines(&split), ["why did   fail"]);
        assert_eq!(split.data, ["systemctl restart nginx"]);
    }

    #[test]
    fn backticks_inside_quotes_are_literal() {
        let line = "page sre with message '`uptime` $(id)'";
        let split = split(line);
        assert_eq!(request_lines(&split), [line]);
        assert!(split.data.is_empty());
    }

    #[test]
    fn lone_backtick_is_literal() {
        let split = split("what is ` for");
        assert_eq!(request_lines(&split), ["what is ` for"]);
    }

    #[test]
    fn quoted_spans_skip_apostrophes() {
        let line = "don't page 'sre' with \"it's down\" now";
        let spans: Vec<&str> = quoted_spans(line).into_iter().map(|s| &line[s]).collect();
        assert_eq!(spans, ["'sre'", "\"it's down\""]);
    }

    #[test]
    fn unclosed_quote_is_no_span() {
        assert!(quoted_spans("page 'sre now").is_empty());
    }
}
