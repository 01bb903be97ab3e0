//! Replies as Slack messages: Block Kit blocks with a plain-text fallback,
//! kept within Slack's limits. Output that does not fit is cut visibly and
//! attached whole as a file.

use serde_json::{Value, json};

use crate::dialogue::{PendingId, Proposal, Reply, RunReport};

/// Button that runs a proposed `change` command.
pub const ACTION_CONFIRM: &str = "warroom_confirm";
/// Button that cancels a proposed command.
pub const ACTION_CANCEL: &str = "warroom_cancel";
/// Button that approves a proposed `critical` command.
pub const ACTION_APPROVE: &str = "warroom_approve";
/// Button that rejects a proposed `critical` command.
pub const ACTION_REJECT: &str = "warroom_reject";

/// Maximum characters in one section's text.
pub const MAX_SECTION_CHARS: usize = 3000;
/// Maximum blocks in one message.
pub const MAX_BLOCKS: usize = 50;
/// Characters of output shown in one message at most, well inside the
/// 40,000 characters Slack accepts, so the surrounding text always fits.
pub const MAX_SHOWN_OUTPUT_CHARS: usize = 12_000;

/// One message to post.
#[derive(Debug, Clone, PartialEq)]
pub struct SlackPost {
    /// Fallback text for notifications and clients without blocks.
    pub text: String,
    pub blocks: Vec<Value>,
    /// The whole output, when the message shows only part of it.
    pub attachment: Option<Attachment>,
}

/// A file posted beside a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub filename: String,
    pub content: String,
}

/// Renders a reply for the channel.
pub fn render_reply(reply: &Reply) -> SlackPost {
    match reply {
        Reply::Ran(report) => render_run(report),
        Reply::NeedsConfirmation(proposal) => render_proposal(proposal, false),
        Reply::NeedsApproval(proposal) => render_proposal(proposal, true),
        other => plain(&other.to_string()),
    }
}

/// Renders a proposal whose buttons were used: the same text, and in
/// place of the buttons who did what.
pub fn render_closed_prompt(proposal: &Proposal, outcome: &str) -> SlackPost {
    let mut post = render_proposal(proposal, false);
    post.blocks
        .retain(|block| block.get("type").and_then(Value::as_str) != Some("actions"));
    post.blocks.push(json!({
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": escape(outcome)}]
    }));
    post.text = format!("{} {}: {outcome}", proposal.intent, proposal.pending);
    post
}

/// Renders plain text as sections, split at line ends to fit.
pub fn plain(text: &str) -> SlackPost {
    let escaped = escape(text);
    let mut blocks: Vec<Value> = split_text(&escaped, MAX_SECTION_CHARS)
        .into_iter()
        .map(section)
        .collect();
    blocks.truncate(MAX_BLOCKS);
    SlackPost {
        text: truncate_chars(text, MAX_SECTION_CHARS),
        blocks,
        attachment: None,
    }
}

fn render_proposal(proposal: &Proposal, approval: bool) -> SlackPost {
    let heading = if approval {
        format!(
            "*Approval needed:* `{}` is critical ({}). A second person with role {} approves it; the requester cannot.",
            proposal.intent,
            escape(&proposal.description),
            escape(&crate::dialogue::roles_text(&proposal.approvers)),
        )
    } else {
        format!(
            "*Confirm:* `{}` ({}). Only the requester can run it.",
            proposal.intent,
            escape(&proposal.description)
        )
    };
    let mut lines = vec![
        heading,
        format!("*Command:* `{}`", escape(&proposal.command)),
    ];
    if !proposal.targets.is_empty() {
        let targets: Vec<String> = proposal
            .targets
            .iter()
            .map(|(slot, value)| format!("{slot}={}", escape(value)))
            .collect();
        lines.push(format!("*Target:* {}", targets.join(", ")));
    }
    lines.push(format!(
        "*Pending:* {} · expires {} (in {} s)",
        proposal.pending,
        proposal.expires_at.strftime("%H:%M:%S UTC"),
        proposal.ttl.as_secs()
    ));
    let (yes, no) = if approval {
        (("Approve", ACTION_APPROVE), ("Reject", ACTION_REJECT))
    } else {
        (("Run", ACTION_CONFIRM), ("Cancel", ACTION_CANCEL))
    };
    let body = truncate_chars(&lines.join("\n"), MAX_SECTION_CHARS);
    SlackPost {
        text: format!(
            "{} `{}` waits: {}",
            if approval { "Approval" } else { "Confirmation" },
            proposal.intent,
            proposal.command
        ),
        blocks: vec![
            section(body),
            json!({
                "type": "actions",
                "block_id": format!("pending_{}", proposal.pending),
                "elements": [
                    button(yes.0, yes.1, &proposal.pending, Some("primary")),
                    button(no.0, no.1, &proposal.pending, None),
                ]
            }),
        ],
        attachment: None,
    }
}

fn render_run(report: &RunReport) -> SlackPost {
    let summary = report.to_string();
    let first_line = summary.lines().next().unwrap_or_default().to_string();
    let mut output = report.stdout.clone();
    if !report.stderr.is_empty() {
        if !output.is_empty() && !output.ends_with('\n') {
            output.push('\n');
        }
        output.push_str("stderr:\n");
        output.push_str(&report.stderr);
    }
    let mut blocks = vec![section(escape(&first_line))];
    let shown = truncate_chars(&output, MAX_SHOWN_OUTPUT_CHARS);
    let cut = shown.chars().count() < output.chars().count();
    // Each chunk is wrapped in a code fence; leave room for the fence.
    for chunk in split_text(&escape(&shown), MAX_SECTION_CHARS - 8) {
        if blocks.len() + 2 >= MAX_BLOCKS {
            break;
        }
        blocks.push(section(format!("```{chunk}```")));
    }
    let mut notes = Vec::new();
    if cut {
        notes.push(format!(
            "Output cut: {} of {} characters shown; the whole output is attached as a file.",
            shown.chars().count(),
            output.chars().count()
        ));
    }
    if report.truncated {
        notes
            .push("The command's output reached the runner's limit and was cut there.".to_string());
    }
    if !report.end_recorded {
        notes.push("Warning: the end of this command is missing from the audit log.".to_string());
    }
    if !notes.is_empty() {
        blocks.push(json!({
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": escape(&notes.join(" "))}]
        }));
    }
    SlackPost {
        text: truncate_chars(&first_line, MAX_SECTION_CHARS),
        blocks,
        attachment: cut.then(|| Attachment {
            filename: format!("{}-output.txt", report.intent),
            content: output,
        }),
    }
}

fn section(text: String) -> Value {
    json!({"type": "section", "text": {"type": "mrkdwn", "text": text}})
}

fn button(label: &str, action_id: &str, pending: &PendingId, style: Option<&str>) -> Value {
    let mut button = json!({
        "type": "button",
        "text": {"type": "plain_text", "text": label},
        "action_id": action_id,
        "value": pending.to_string(),
    });
    if let Some(style) = style {
        button["style"] = json!(style);
    }
    button
}

/// Escapes the three characters Slack reads as markup in message text.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Cuts text to at most `limit` characters, marking a cut with `…`.
pub fn truncate_chars(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(limit.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// Splits text into pieces of at most `limit` characters, at line ends
/// where it can, never inside a character or an `&amp;` entity.
fn split_text(text: &str, limit: usize) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut current = String::new();
    let mut current_len = 0;
    for line in text.split_inclusive('\n') {
        let line_len = line.chars().count();
        if current_len + line_len <= limit {
            current.push_str(line);
            current_len += line_len;
            continue;
        }
        if !current.is_empty() {
            pieces.push(std::mem::take(&mut current));
        }
        let mut rest = line;
        while rest.chars().count() > limit {
            let mut end = rest
                .char_indices()
                .nth(limit)
                .map_or(rest.len(), |(index, _)| index);
            // Do not split an entity such as `&amp;`.
            if let Some(amp) = rest[..end].rfind('&')
                && end - amp < 5
                && amp > 0
            {
                end = amp;
            }
            pieces.push(rest[..end].to_string());
            rest = &rest[end..];
        }
        current.push_str(rest);
        current_len = rest.chars().count();
    }
    if !current.is_empty() || pieces.is_empty() {
        pieces.push(current);
    }
    pieces
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::intent::IntentName;

    fn report(stdout: String) -> RunReport {
        RunReport {
            pending: None,
            intent: IntentName::new("server.logs"),
            command: "warroom-demo logs --host=web-01".to_string(),
            exit_code: Some(0),
            signal: None,
            duration: Duration::from_millis(12),
            timed_out: false,
            truncated: false,
            stdout,
            stderr: String::new(),
            end_recorded: true,
        }
    }

    fn block_text_len(block: &Value) -> usize {
        block["text"]["text"]
            .as_str()
            .map_or(0, |text| text.chars().count())
    }

    #[test]
    fn long_output_stays_within_limits_and_is_attached() {
        let line = "2026-12-04T10:00:00Z web-01 nginx: upstream timed out <a&b>\n";
        let post = render_reply(&Reply::Ran(report(line.repeat(2000))));
        assert!(post.blocks.len() <= MAX_BLOCKS);
        assert!(
            post.blocks
                .iter()
                .all(|block| block_text_len(block) <= MAX_SECTION_CHARS)
        );
        let total: usize = post.blocks.iter().map(block_text_len).sum();
        assert!(total < 40_000, "{total}");
        let attachment = post.attachment.expect("attachment");
        assert_eq!(attachment.content.len(), line.len() * 2000);
        let text = serde_json::to_string(&post.blocks).unwrap();
        assert!(text.contains("Output cut"));
        assert!(text.contains("&lt;a&amp;b&gt;"));
        assert!(!text.contains("<a&b>"));
    }

    #[test]
    fn short_output_is_shown_whole() {
        let post = render_reply(&Reply::Ran(report("ok\n".to_string())));
        assert!(post.attachment.is_none());
        assert!(
            serde_json::to_string(&post.blocks)
                .unwrap()
                .contains("```ok\\n```")
        );
    }

    #[test]
    fn split_never_breaks_characters_or_entities() {
        let text = format!("{}&amp;{}", "é".repeat(9), "x".repeat(3));
        for piece in split_text(&text, 10) {
            assert!(piece.chars().count() <= 10);
            assert!(
                !piece.ends_with("&am") && !piece.starts_with("p;"),
                "{piece}"
            );
        }
        assert_eq!(split_text(&text, 10).concat(), text);
    }
}
