//! The terminal transport: one message per line of standard input, replies
//! on standard output, and directives that switch who speaks where.

use std::io::{BufRead, Write};

use super::{ChatTransport, TransportError};
use crate::dialogue::{Incoming, Reply, ThreadId};
use crate::inventory::UserId;
use crate::normalise::ChannelId;

/// Channel of terminal messages when none is given.
pub const DEFAULT_CHANNEL: &str = "C0TERMINAL";

/// The sender of the next message, and the channel and thread it goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub user: UserId,
    pub channel: ChannelId,
    pub thread: Option<ThreadId>,
}

/// Reads messages from `input` and writes replies to `output`.
pub struct TerminalTransport<R, W> {
    input: R,
    output: W,
    identity: Identity,
    /// Whether a person types at a terminal: a prompt is shown and input
    /// is not echoed.
    interactive: bool,
    line_number: usize,
}

/// The kind of one input line.
enum Line {
    Message(Incoming),
    /// A directive that was applied, or a comment or blank line.
    Handled,
    /// A malformed directive, with what is wrong.
    Invalid(String),
}

/// Directives a line may start with, listed by `/help`.
pub const DIRECTIVES: &str = "\
/as USER TEXT     send TEXT as user USER (a Slack user id such as U024BE7LH), once
/user USER        send the following lines as user USER
/channel CHANNEL  send the following lines in channel CHANNEL (such as C0SECOPS)
/thread TS|none   send the following lines in thread TS, or outside any thread
/say TEXT         send TEXT as it is, even when it starts with `/`
/help             list these directives
# ...             a comment; blank lines are skipped too";

impl<R: BufRead, W: Write> TerminalTransport<R, W> {
    pub fn new(input: R, output: W, identity: Identity, interactive: bool) -> Self {
        Self {
            input,
            output,
            identity,
            interactive,
            line_number: 0,
        }
    }

    /// Returns the identity of the next line that is not a directive.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    fn parse(&mut self, line: &str) -> Line {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            return Line::Handled;
        }
        let Some(directive) = line.strip_prefix('/') else {
            return Line::Message(self.message(self.identity.user.clone(), line));
        };
        let (name, rest) = directive
            .split_once(char::is_whitespace)
            .unwrap_or((directive, ""));
        let rest = rest.trim();
        match name {
            "as" => {
                let (user, text) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
                let text = text.trim();
                if text.is_empty() {
                    return Line::Invalid(
                        "`/as` needs a user id and a message: `/as U0BOB yes`".to_string(),
                    );
                }
                match parse_user(user) {
                    Ok(user) => Line::Message(self.message(user, text)),
                    Err(problem) => Line::Invalid(problem),
                }
            }
            "user" => match parse_user(rest) {
                Ok(user) => {
                    self.identity.user = user;
                    Line::Handled
                }
                Err(problem) => Line::Invalid(problem),
            },
            "channel" => {
                if !ChannelId::is_valid(rest) {
                    return Line::Invalid(format!(
                        "invalid channel id `{rest}`: expected `C`, `G` or `D` and uppercase letters and digits, such as `C0SECOPS`"
                    ));
                }
                self.identity.channel = ChannelId::new(rest);
                Line::Handled
            }
            "thread" => match rest {
                "" => Line::Invalid("`/thread` needs a thread timestamp or `none`".to_string()),
                "none" => {
                    self.identity.thread = None;
                    Line::Handled
                }
                _ if rest.contains(char::is_whitespace) => Line::Invalid(format!(
                    "invalid thread `{rest}`: a thread timestamp has no spaces"
                )),
                _ => {
                    self.identity.thread = Some(ThreadId::new(rest));
                    Line::Handled
                }
            },
            "say" if !rest.is_empty() => {
                Line::Message(self.message(self.identity.user.clone(), rest))
            }
            "help" => match writeln!(self.output, "{DIRECTIVES}") {
                Ok(()) => Line::Handled,
                Err(error) => Line::Invalid(format!("failed to write the directives: {error}")),
            },
            _ => Line::Invalid(format!(
                "unknown directive `/{name}`; `/help` lists the directives"
            )),
        }
    }

    fn message(&self, user: UserId, text: &str) -> Incoming {
        Incoming::new(
            user,
            self.identity.channel.clone(),
            self.identity.thread.clone(),
            text,
        )
    }

    fn prompt(&mut self) -> std::io::Result<()> {
        let place = place(&self.identity.channel, self.identity.thread.as_ref());
        write!(self.output, "{}@{place}> ", self.identity.user)?;
        self.output.flush()
    }
}

impl<R: BufRead, W: Write> ChatTransport for TerminalTransport<R, W> {
    fn receive(&mut self) -> Result<Option<Incoming>, TransportError> {
        loop {
            if self.interactive {
                self.prompt()
                    .map_err(|source| TransportError::Write { source })?;
            }
            let mut line = String::new();
            let read = self
                .input
                .read_line(&mut line)
                .map_err(|source| TransportError::Read { source })?;
            if read == 0 {
                return Ok(None);
            }
            self.line_number += 1;

            match self.parse(&line) {
                Line::Message(incoming) => {
                    if !self.interactive {
                        let place = place(&incoming.channel, incoming.thread.as_ref());
                        writeln!(self.output, "[{} {place}] {}", incoming.user, incoming.text)
                            .map_err(|source| TransportError::Write { source })?;
                    }
                    return Ok(Some(incoming));
                }
                Line::Handled => {}
                Line::Invalid(problem) => {
                    writeln!(self.output, "error: line {}: {problem}", self.line_number)
                        .map_err(|source| TransportError::Write { source })?;
                }
            }
        }
    }

    fn send(&mut self, _to: &Incoming, reply: &Reply) -> Result<(), TransportError> {
        let text = reply.to_string();
        let mut lines = text.lines();
        let write = |output: &mut W| -> std::io::Result<()> {
            writeln!(output, "bot: {}", lines.next().unwrap_or(""))?;
            for line in lines {
                writeln!(output, "     {line}")?;
            }
            writeln!(output)?;
            output.flush()
        };
        write(&mut self.output).map_err(|source| TransportError::Write { source })
    }
}

fn parse_user(text: &str) -> Result<UserId, String> {
    if UserId::is_valid(text) {
        Ok(UserId::new(text))
    } else {
        Err(format!(
            "invalid user id `{text}`: expected `U` or `W` and uppercase letters and digits, such as `U024BE7LH`"
        ))
    }
}

/// Formats a channel and thread as `C0SECOPS` or `C0SECOPS/1700000000.000100`.
fn place(channel: &ChannelId, thread: Option<&ThreadId>) -> String {
    match thread {
        Some(thread) => format!("{channel}/{thread}"),
        None => channel.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transport(input: &str) -> TerminalTransport<&[u8], Vec<u8>> {
        let identity = Identity {
            user: UserId::new("U024BE7LH"),
            channel: ChannelId::new(DEFAULT_CHANNEL),
            thread: None,
        };
        TerminalTransport::new(input.as_bytes(), Vec::new(), identity, false)
    }

    fn messages(input: &str) -> (Vec<Incoming>, String) {
        let mut transport = transport(input);
        let mut received = Vec::new();
        while let Some(incoming) = transport.receive().unwrap() {
            received.push(incoming);
        }
        (received, String::from_utf8(transport.output).unwrap())
    }

    #[test]
    fn as_directive_changes_the_sender_once() {
        let (received, _) = messages("restart nginx\n/as U0BOB yes\nyes\n");
        let senders: Vec<&str> = received
            .iter()
            .map(|message| message.user.as_str())
            .collect();
        assert_eq!(senders, ["U024BE7LH", "U0BOB", "U024BE7LH"]);
        assert_eq!(received[1].text, "yes");
    }

    #[test]
    fn place_directives_last_until_changed() {
        let (received, _) =
            messages("/channel C0SECOPS\n/thread 17.1\na\n/thread none\nb\n/user U0BOB\nc\n");
        assert_eq!(received[0].channel.as_str(), "C0SECOPS");
        assert_eq!(
            received[0].thread.as_ref().map(ThreadId::as_str),
            Some("17.1")
        );
        assert_eq!(received[1].thread, None);
        assert_eq!(received[2].user.as_str(), "U0BOB");
    }

    #[test]
    fn comments_blank_lines_and_say_are_handled() {
        let (received, _) = messages("# setup\n\n/say /not a directive\n");
        assert_eq!(received.len(), 1);
        assert_eq!(received[0].text, "/not a directive");
    }

    #[test]
    fn bad_directives_are_reported_and_skipped() {
        let (received, output) =
            messages("/as bob yes\n/as U0BOB\n/channel general\n/frobnicate\nhello\n");
        assert_eq!(received.len(), 1);
        assert!(output.contains("line 1: invalid user id `bob`"), "{output}");
        assert!(output.contains("line 2: `/as` needs"), "{output}");
        assert!(
            output.contains("line 3: invalid channel id `general`"),
            "{output}"
        );
        assert!(
            output.contains("line 4: unknown directive `/frobnicate`"),
            "{output}"
        );
    }
}
