//! Slack deliveries reduced to the two the bot acts on: a person's
//! message and a button click. Everything else is skipped with a reason.
//!
//! Messages from any bot are skipped: an event with a `bot_id` or the
//! subtype `bot_message`, or from the bot's own user. Filtering on the
//! subtype alone would let another app's messages, which carry a `bot_id`
//! and no subtype, trigger commands. Edited and deleted messages never run
//! anything.

use std::fmt;

use slack_morphism::prelude::*;

/// A message from a person, addressed to the bot or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlackMessage {
    pub event_id: String,
    pub channel: String,
    pub ts: String,
    /// The thread the message was posted in, if any.
    pub thread_ts: Option<String>,
    pub user: String,
    /// The text with the bot's own mentions removed.
    pub text: String,
    /// Whether the message was sent in a direct-message channel.
    pub direct: bool,
    /// Whether the message mentions the bot.
    pub mentions_bot: bool,
}

/// A button click on one of the bot's messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlackAction {
    pub user: String,
    pub channel: String,
    /// The message holding the button.
    pub message_ts: String,
    /// The thread of that message, if it is a reply.
    pub thread_ts: Option<String>,
    pub action_id: String,
    pub value: String,
    /// Identifies this click, so a redelivered click is seen as one.
    pub click_id: String,
}

/// Reason an event is not acted on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skip {
    FromBot,
    OwnMessage,
    Edited,
    Deleted,
    Subtype(String),
    NotAMessage,
    MissingField(&'static str),
    NoAction,
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::FromBot => f.write_str("sent by a bot"),
            Self::OwnMessage => f.write_str("sent by this bot"),
            Self::Edited => f.write_str("an edit of an earlier message"),
            Self::Deleted => f.write_str("a deletion"),
            Self::Subtype(subtype) => write!(f, "message subtype {subtype}"),
            Self::NotAMessage => f.write_str("not a message"),
            Self::MissingField(field) => write!(f, "no `{field}` field"),
            Self::NoAction => f.write_str("no button action"),
        }
    }
}

/// Reduces an Events API callback to a person's message.
pub fn message_from_event(
    callback: &SlackPushEventCallback,
    bot_user: &str,
) -> Result<SlackMessage, Skip> {
    let SlackEventCallbackBody::Message(event) = &callback.event else {
        return Err(Skip::NotAMessage);
    };
    match &event.subtype {
        None | Some(SlackMessageEventType::FileShare) => {}
        Some(SlackMessageEventType::ThreadBroadcast) => {}
        Some(SlackMessageEventType::BotMessage) => return Err(Skip::FromBot),
        Some(SlackMessageEventType::MessageChanged) => return Err(Skip::Edited),
        Some(SlackMessageEventType::MessageDeleted) => return Err(Skip::Deleted),
        Some(other) => return Err(Skip::Subtype(format!("{other:?}"))),
    }
    if event.sender.bot_id.is_some() || event.sender.bot_profile.is_some() {
        return Err(Skip::FromBot);
    }
    let user = event
        .sender
        .user
        .as_ref()
        .ok_or(Skip::MissingField("user"))?
        .to_string();
    if user == bot_user {
        return Err(Skip::OwnMessage);
    }
    let channel = event
        .origin
        .channel
        .as_ref()
        .ok_or(Skip::MissingField("channel"))?
        .to_string();
    let raw_text = event
        .content
        .as_ref()
        .and_then(|content| content.text.as_deref())
        .unwrap_or("");
    let (text, mentions_bot) = strip_mentions(raw_text, bot_user);
    let direct = matches!(event.origin.channel_type, Some(SlackChannelType(ref kind)) if kind == "im")
        || channel.starts_with('D');
    Ok(SlackMessage {
        event_id: callback.event_id.to_string(),
        channel,
        ts: event.origin.ts.to_string(),
        thread_ts: event.origin.thread_ts.as_ref().map(ToString::to_string),
        user,
        text,
        direct,
        mentions_bot,
    })
}

/// Reduces an interaction to a button click on a message.
pub fn action_from_interaction(event: &SlackInteractionEvent) -> Result<SlackAction, Skip> {
    let SlackInteractionEvent::BlockActions(event) = event else {
        return Err(Skip::NoAction);
    };
    let action = event
        .actions
        .as_ref()
        .and_then(|actions| actions.first())
        .ok_or(Skip::NoAction)?;
    let user = event
        .user
        .as_ref()
        .ok_or(Skip::MissingField("user"))?
        .id
        .to_string();
    let (message_ts, container_channel) = match &event.container {
        SlackInteractionActionContainer::Message(container) => (
            container.message_ts.to_string(),
            container.channel_id.as_ref().map(ToString::to_string),
        ),
        _ => return Err(Skip::MissingField("container.message_ts")),
    };
    let channel = event
        .channel
        .as_ref()
        .map(|channel| channel.id.to_string())
        .or(container_channel)
        .ok_or(Skip::MissingField("channel"))?;
    let thread_ts = event
        .message
        .as_ref()
        .and_then(|message| message.origin.thread_ts.as_ref())
        .map(ToString::to_string)
        .filter(|thread| *thread != message_ts);
    let click_id = action
        .action_ts
        .as_ref()
        .map(|ts| format!("{user}:{ts}"))
        .unwrap_or_else(|| event.trigger_id.to_string());
    Ok(SlackAction {
        user,
        channel,
        message_ts,
        thread_ts,
        action_id: action.action_id.to_string(),
        value: action.value.clone().unwrap_or_default(),
        click_id,
    })
}

/// Removes mentions of the bot (`<@U123>` or `<@U123|name>`) and reports
/// whether there was one. Other mentions stay for the slot parser.
fn strip_mentions(text: &str, bot_user: &str) -> (String, bool) {
    let mut rest = text;
    let mut out = String::with_capacity(text.len());
    let mut found = false;
    let opening = format!("<@{bot_user}");
    while let Some(start) = rest.find(&opening) {
        let after = &rest[start + opening.len()..];
        let Some(end) = after.find('>') else { break };
        // `<@U1>` and `<@U1|name>`, but not `<@U12>` when the bot is U1.
        if !(end == 0 || after.starts_with('|')) {
            out.push_str(&rest[..start + opening.len()]);
            rest = after;
            continue;
        }
        out.push_str(&rest[..start]);
        rest = &after[end + 1..];
        found = true;
    }
    out.push_str(rest);
    (out.trim().to_string(), found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn callback(event: serde_json::Value) -> SlackPushEventCallback {
        serde_json::from_value(json!({
            "team_id": "T1", "api_app_id": "A1", "event_id": "Ev1", "event_time": 1700000000,
            "event": event
        }))
        .unwrap()
    }

    #[test]
    fn mention_is_stripped_and_fields_kept() {
        let event = callback(json!({
            "type": "message", "channel": "C1", "channel_type": "channel", "user": "U1",
            "text": "<@UBOT> restart nginx on web-01", "ts": "1.2", "thread_ts": "1.0"
        }));
        let message = message_from_event(&event, "UBOT").unwrap();
        assert_eq!(message.text, "restart nginx on web-01");
        assert!(message.mentions_bot);
        assert!(!message.direct);
        assert_eq!(message.thread_ts.as_deref(), Some("1.0"));
        assert_eq!(message.event_id, "Ev1");
    }

    #[test]
    fn bots_edits_and_own_messages_are_skipped() {
        for (event, skip) in [
            (
                json!({"type": "message", "channel": "C1", "user": "UB1", "bot_id": "B9", "text": "restart web-01", "ts": "1.1"}),
                Skip::FromBot,
            ),
            (
                json!({"type": "message", "subtype": "bot_message", "channel": "C1", "text": "restart web-01", "ts": "1.1"}),
                Skip::FromBot,
            ),
            (
                json!({"type": "message", "channel": "C1", "user": "UBOT", "text": "hi", "ts": "1.1"}),
                Skip::OwnMessage,
            ),
            (
                json!({"type": "message", "subtype": "message_changed", "channel": "C1", "hidden": true, "ts": "1.3",
                       "message": {"user": "U1", "text": "restart web-02", "ts": "1.1", "edited": {"user": "U1", "ts": "1.3"}},
                       "previous_message": {"user": "U2", "text": "restart web-01", "ts": "1.1"}}),
                Skip::Edited,
            ),
        ] {
            assert_eq!(
                message_from_event(&callback(event.clone()), "UBOT"),
                Err(skip),
                "{event}"
            );
        }
    }

    #[test]
    fn file_share_and_direct_message_read() {
        let event = callback(json!({
            "type": "message", "subtype": "file_share", "channel": "D1", "channel_type": "im",
            "user": "U1", "text": "scan this file", "ts": "1.1",
            "files": [{"id": "F1", "name": "sample.bin", "mimetype": "application/octet-stream"}]
        }));
        let message = message_from_event(&event, "UBOT").unwrap();
        assert_eq!(message.text, "scan this file");
        assert!(message.direct);
        assert!(!message.mentions_bot);
    }

    #[test]
    fn only_the_bots_own_mention_is_removed() {
        assert_eq!(
            strip_mentions("<@U1|warroom> ask <@U12>", "U1"),
            ("ask <@U12>".to_string(), true)
        );
        assert_eq!(
            strip_mentions("<@U12> hi", "U1"),
            ("<@U12> hi".to_string(), false)
        );
        assert_eq!(strip_mentions("<@U1", "U1"), ("<@U1".to_string(), false));
    }
}
