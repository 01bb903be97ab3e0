//! Builders for the Events API and interactivity payloads that Slack sends
//! over Socket Mode.

use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Value, json};

use super::{APP_ID, BOT_USER_ID, TEAM_ID};

/// Builds the `event_callback` payload of an `events_api` envelope around `event`.
fn event_callback(event_id: &str, event: Value) -> Value {
    let event_time = event["event_ts"]
        .as_str()
        .and_then(|ts| ts.split('.').next())
        .and_then(|seconds| seconds.parse::<i64>().ok())
        .unwrap_or(0);
    json!({
        "token": "fake-verification-token",
        "team_id": TEAM_ID,
        "api_app_id": APP_ID,
        "event": event,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": event_time,
        "authorizations": [{
            "enterprise_id": null,
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "is_bot": true,
            "is_enterprise_install": false,
        }],
        "is_ext_shared_channel": false,
        "event_context": format!("4-fake-{event_id}"),
    })
}

fn user_message(user: &str, channel: &str, channel_type: &str, ts: &str, text: &str) -> Value {
    json!({
        "type": "message",
        "channel": channel,
        "user": user,
        "text": text,
        "ts": ts,
        "event_ts": ts,
        "channel_type": channel_type,
    })
}

/// Builds a `message` event from a user in a public channel.
pub fn message_event(event_id: &str, user: &str, channel: &str, ts: &str, text: &str) -> Value {
    event_callback(event_id, user_message(user, channel, "channel", ts, text))
}

/// Builds a `message` event from a user in a direct message (`channel_type` `im`).
pub fn dm_event(event_id: &str, user: &str, channel: &str, ts: &str, text: &str) -> Value {
    event_callback(event_id, user_message(user, channel, "im", ts, text))
}

/// Builds an `app_mention` event. Slack sends it alongside the `message`
/// event for the same post, and `text` should contain `<@BOT_USER_ID>`.
pub fn app_mention_event(event_id: &str, user: &str, channel: &str, ts: &str, text: &str) -> Value {
    let event = json!({
        "type": "app_mention",
        "user": user,
        "text": text,
        "ts": ts,
        "channel": channel,
        "event_ts": ts,
    });
    event_callback(event_id, event)
}

/// Builds a `message` event posted by an app's bot user. Such messages carry
/// `bot_id` and the bot user as `user`, with no `subtype`. Slack uses the
/// `bot_message` subtype only for legacy integrations.
pub fn bot_message_event(
    event_id: &str,
    bot_id: &str,
    bot_user: &str,
    channel: &str,
    ts: &str,
    text: &str,
) -> Value {
    let mut event = user_message(bot_user, channel, "channel", ts, text);
    event["bot_id"] = json!(bot_id);
    event["app_id"] = json!(APP_ID);
    event["bot_profile"] = json!({
        "id": bot_id,
        "app_id": APP_ID,
        "name": "warroom",
        "deleted": false,
        "updated": 1_700_000_000,
        "team_id": TEAM_ID,
        "icons": { "image_36": "https://a.slack-edge.com/fake/bot_36.png" },
    });
    event_callback(event_id, event)
}

/// Builds a `message_changed` event: `user` edited the message `message_ts`
/// from `previous_text` to `text` at `edit_ts`.
pub fn message_changed_event(
    event_id: &str,
    user: &str,
    channel: &str,
    message_ts: &str,
    edit_ts: &str,
    previous_text: &str,
    text: &str,
) -> Value {
    let event = json!({
        "type": "message",
        "subtype": "message_changed",
        "hidden": true,
        "channel": channel,
        "channel_type": "channel",
        "ts": edit_ts,
        "event_ts": edit_ts,
        "message": {
            "type": "message",
            "user": user,
            "text": text,
            "ts": message_ts,
            "edited": { "user": user, "ts": edit_ts },
        },
        "previous_message": {
            "type": "message",
            "user": user,
            "text": previous_text,
            "ts": message_ts,
        },
    });
    event_callback(event_id, event)
}

/// Builds a `message` event that replies in the thread started by `thread_ts`.
pub fn thread_reply_event(
    event_id: &str,
    user: &str,
    channel: &str,
    ts: &str,
    thread_ts: &str,
    text: &str,
) -> Value {
    let mut event = user_message(user, channel, "channel", ts, text);
    event["thread_ts"] = json!(thread_ts);
    event_callback(event_id, event)
}

/// Builds a `file_share` message event with one plain-text file.
///
/// NOTE: `url_private` points at files.slack.com, which this fake does not
/// serve. A test of a bot that downloads shared files must replace the URL.
pub fn file_share_event(
    event_id: &str,
    user: &str,
    channel: &str,
    ts: &str,
    text: &str,
    file_id: &str,
    file_name: &str,
) -> Value {
    let file_url = format!("https://files.slack.com/files-pri/{TEAM_ID}-{file_id}/{file_name}");
    let mut event = user_message(user, channel, "channel", ts, text);
    event["subtype"] = json!("file_share");
    event["upload"] = json!(false);
    event["display_as_bot"] = json!(false);
    event["files"] = json!([{
        "id": file_id,
        "created": 1_700_000_000,
        "timestamp": 1_700_000_000,
        "name": file_name,
        "title": file_name,
        "mimetype": "text/plain",
        "filetype": "text",
        "pretty_type": "Plain Text",
        "user": user,
        "editable": true,
        "size": 64,
        "mode": "snippet",
        "is_external": false,
        "external_type": "",
        "is_public": true,
        "public_url_shared": false,
        "display_as_bot": false,
        "url_private": file_url,
        "url_private_download": format!("{file_url}?download=1"),
        "permalink": format!("https://warroom-fake.slack.com/files/{user}/{file_id}/{file_name}"),
    }]);
    event_callback(event_id, event)
}

/// Builds a `block_actions` payload for a click on a button of the bot's
/// message `message_ts`.
///
/// NOTE: `response_url` points at 127.0.0.1 port 1, where nothing listens, so
/// a bot that posts to it fails fast and sends no traffic off the machine.
///
/// Every call is a new click: its `trigger_id` and `action_ts` are unique,
/// as Slack makes them.
pub fn block_actions_payload(
    user: &str,
    channel: &str,
    message_ts: &str,
    thread_ts: Option<&str>,
    action_id: &str,
    value: &str,
) -> Value {
    static CLICKS: AtomicU64 = AtomicU64::new(1);
    let click = CLICKS.fetch_add(1, Ordering::Relaxed);
    let action_ts = format!("1700009999.{click:06}");
    let button_text = json!({ "type": "plain_text", "text": value, "emoji": true });
    let mut message = json!({
        "type": "message",
        "user": BOT_USER_ID,
        "bot_id": super::BOT_ID,
        "app_id": APP_ID,
        "team": TEAM_ID,
        "text": "",
        "ts": message_ts,
        "blocks": [{
            "type": "actions",
            "block_id": "warroom_actions",
            "elements": [{
                "type": "button",
                "action_id": action_id,
                "text": button_text,
                "value": value,
            }],
        }],
    });
    if let Some(thread_ts) = thread_ts {
        message["thread_ts"] = json!(thread_ts);
    }

    json!({
        "type": "block_actions",
        "user": { "id": user, "username": user, "name": user, "team_id": TEAM_ID },
        "api_app_id": APP_ID,
        "token": "fake-verification-token",
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel,
            "is_ephemeral": false,
        },
        "trigger_id": format!("1700000000.{click}.fake"),
        "team": { "id": TEAM_ID, "domain": "warroom-fake" },
        "enterprise": null,
        "is_enterprise_install": false,
        "channel": { "id": channel, "name": "warroom" },
        "message": message,
        "state": { "values": {} },
        "response_url": format!("http://127.0.0.1:1/actions/{TEAM_ID}/{message_ts}"),
        "actions": [{
            "action_id": action_id,
            "block_id": "warroom_actions",
            "text": button_text,
            "value": value,
            "type": "button",
            "action_ts": action_ts,
        }],
    })
}
