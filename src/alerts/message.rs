//! The Slack message of an alert, in Block Kit, and the chat requests its
//! buttons stand for.

use serde_json::{Value, json};

use super::{Alert, Severity, Status};

/// A Slack message: `text` is the fallback that notifications and screen
/// readers show, `blocks` the Block Kit array that clients render.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertMessage {
    pub text: String,
    pub blocks: Value,
}

/// `action_id` of the "Investigate host" button.
pub const ACTION_INVESTIGATE: &str = "warroom_alert_investigate";
/// `action_id` of the "Isolate host" button.
pub const ACTION_ISOLATE: &str = "warroom_alert_isolate";
/// `action_id` of the "Declare incident" button.
pub const ACTION_DECLARE: &str = "warroom_alert_declare";

/// Prefix of the actions block's `block_id`. The id ends in the alert id and
/// the sighting count, because Slack recommends a new `block_id` in every
/// update of a message, and each repeat increases the count.
const ACTIONS_BLOCK_PREFIX: &str = "warroom_alert_actions";

// Block Kit limits in characters from Slack's Block Kit reference, as the
// docs of the Rust crates slack-blocks and slack-messaging quote them.
const MAX_HEADER_CHARS: usize = 150;
const MAX_SECTION_CHARS: usize = 3_000;
const MAX_FIELD_CHARS: usize = 2_000;
const MAX_CONTEXT_CHARS: usize = 3_000;
const MAX_BUTTON_TEXT_CHARS: usize = 75;
const MAX_BUTTON_VALUE_CHARS: usize = 2_000;
/// Slack truncates `text` over 40,000 characters, but a notification shows
/// far less, so the fallback gets the section limit.
const MAX_FALLBACK_CHARS: usize = 3_000;

/// Maximum characters of the rule name in an incident title.
const MAX_TITLE_NAME_CHARS: usize = 80;

/// Builds the Slack message of `alert`, seen `count` times so far.
///
/// Every value that comes from the alert is escaped for Slack (`&`, `<`,
/// `>`), so it cannot form links or mentions such as `<!channel>`. The
/// mrkdwn texts are also `verbatim`, so Slack does not turn bare names into
/// links or mentions. Texts over a Block Kit limit end in `…`. Host
/// buttons appear only when the alert names a host.
pub fn alert_message(alert: &Alert, count: u32) -> AlertMessage {
    let blocks = vec![
        json!({
            "type": "header",
            "text": plain_text(&header_text(alert), MAX_HEADER_CHARS),
        }),
        json!({
            "type": "section",
            "text": mrkdwn(&body_text(alert), MAX_SECTION_CHARS),
        }),
        json!({
            "type": "section",
            "fields": detail_fields(alert),
        }),
        json!({
            "type": "context",
            "elements": [mrkdwn(&context_text(alert, count), MAX_CONTEXT_CHARS)],
        }),
        json!({
            "type": "actions",
            "block_id": format!("{ACTIONS_BLOCK_PREFIX}-{}-{count}", alert.id),
            "elements": buttons(alert),
        }),
    ];

    AlertMessage {
        text: fallback_text(alert, count),
        blocks: Value::Array(blocks),
    }
}

/// Returns the chat request that a click on button `action_id` of the
/// alert's message stands for, or `None` when the id is not one of ours or
/// the button needs a host that the alert does not name.
///
/// NOTE: the rule name comes from the alert sender. It is reduced to
/// letters, digits and `_-.:/`, but words in it still reach the intent
/// model, so the dialogue's confirmation is what keeps a crafted name from
/// turning into another command.
pub fn action_request(alert: &Alert, action_id: &str) -> Option<String> {
    match action_id {
        ACTION_INVESTIGATE => alert
            .host
            .as_ref()
            .map(|host| format!("what's wrong with {host}?")),
        ACTION_ISOLATE => alert.host.as_ref().map(|host| format!("isolate {host}")),
        ACTION_DECLARE => {
            let name = incident_title_name(&alert.name);
            let subject = match (&alert.host, &alert.service) {
                (Some(host), _) => format!("{name} on {host}"),
                (None, Some(service)) => format!("{name} in {}", incident_title_name(service)),
                (None, None) => name,
            };
            Some(format!(
                "declare a {} incident: {subject}",
                incident_severity(alert.severity)
            ))
        }
        _ => None,
    }
}

fn header_text(alert: &Alert) -> String {
    let (icon, state) = match alert.status {
        Status::Resolved => (":white_check_mark:", "Resolved".to_string()),
        Status::Firing => (
            severity_icon(alert.severity),
            capitalize(alert.severity.as_str()),
        ),
    };
    format!("{icon} {state}: {}", escape(&alert.name))
}

fn body_text(alert: &Alert) -> String {
    let mut text = format!("*{}*", escape(&alert.summary));
    if let Some(description) = &alert.description {
        text.push('\n');
        text.push_str(&escape(description));
    }
    text
}

fn detail_fields(alert: &Alert) -> Vec<Value> {
    let mut fields = vec![
        field("Severity", alert.severity.as_str()),
        field("Status", &status_text(alert)),
    ];
    if let Some(host) = &alert.host {
        fields.push(field("Host", &escape(host.as_str())));
    }
    if let Some(service) = &alert.service {
        fields.push(field("Service", &escape(service)));
    }
    if let Some(runbook) = &alert.runbook {
        fields.push(runbook_field(runbook));
    }
    fields
}

/// Builds the runbook link. The payload check rejects `<`, `>` and `|` in
/// runbook URLs, so the link markup cannot be broken, but `&` still needs
/// escaping. A link that escaping makes too long for the field is left out
/// with a note, because cutting it would break the markup.
fn runbook_field(url: &str) -> Value {
    let text = format!("*Runbook*\n<{}|Open runbook>", escape(url));
    if text.chars().count() <= MAX_FIELD_CHARS {
        return mrkdwn(&text, MAX_FIELD_CHARS);
    }
    field("Runbook", "URL too long for Slack, see the alert source")
}

fn status_text(alert: &Alert) -> String {
    let started = format_time(alert.started_at);
    match (alert.status, alert.resolved_at) {
        (Status::Resolved, Some(resolved)) => {
            format!("resolved at {}, fired at {started}", format_time(resolved))
        }
        (Status::Resolved, None) => format!("resolved, fired at {started}"),
        (Status::Firing, _) => format!("firing since {started}"),
    }
}

fn context_text(alert: &Alert, count: u32) -> String {
    let mut text = format!("{} from {}", alert.id, alert.source);
    if count > 1 {
        text.push_str(&format!(", seen {count} times"));
    }
    text
}

fn fallback_text(alert: &Alert, count: u32) -> String {
    let mut text = format!("[{}] {}", alert.severity, escape(&alert.name));
    if let Some(host) = &alert.host {
        text.push_str(&format!(" on {host}"));
    }
    text.push_str(&format!(": {}", escape(&alert.summary)));
    if alert.status == Status::Resolved {
        text.push_str(" (resolved)");
    }
    if count > 1 {
        text.push_str(&format!(" (seen {count} times)"));
    }
    truncate(&text, MAX_FALLBACK_CHARS)
}

fn buttons(alert: &Alert) -> Vec<Value> {
    let mut buttons = Vec::new();
    if alert.host.is_some() {
        buttons.push(button(alert, "Investigate host", ACTION_INVESTIGATE, None));
        buttons.push(button(
            alert,
            "Isolate host",
            ACTION_ISOLATE,
            Some("danger"),
        ));
    }
    buttons.push(button(
        alert,
        "Declare incident",
        ACTION_DECLARE,
        Some("primary"),
    ));
    buttons
}

fn button(alert: &Alert, label: &str, action_id: &str, style: Option<&str>) -> Value {
    let mut button = json!({
        "type": "button",
        "text": plain_text(label, MAX_BUTTON_TEXT_CHARS),
        "action_id": action_id,
        "value": truncate(&alert.id.to_string(), MAX_BUTTON_VALUE_CHARS),
    });
    if let Some(style) = style {
        button["style"] = json!(style);
    }
    button
}

fn field(title: &str, value: &str) -> Value {
    mrkdwn(&format!("*{title}*\n{value}"), MAX_FIELD_CHARS)
}

/// Builds a `plain_text` object of already escaped text.
fn plain_text(text: &str, max_chars: usize) -> Value {
    json!({
        "type": "plain_text",
        "text": truncate(text, max_chars),
        "emoji": true,
    })
}

/// Builds a `mrkdwn` object of already escaped text.
fn mrkdwn(text: &str, max_chars: usize) -> Value {
    json!({
        "type": "mrkdwn",
        "text": truncate(text, max_chars),
        "verbatim": true,
    })
}

/// Escapes the three characters that Slack reads as markup.
///
/// NOTE: header and button texts are `plain_text`, and the escaping there
/// assumes that Slack decodes these entities in plain text as it does in
/// mrkdwn. That has not been checked in a Slack workspace.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Cuts escaped text to at most `max_chars` characters, ending in `…` when
/// cut, and never inside an entity such as `&amp;`.
fn truncate(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max_chars.saturating_sub(1)).collect();
    // In escaped text every `&` starts an entity, so an `&` without a `;`
    // after it is an entity cut in half.
    if let Some(start) = cut.rfind('&')
        && !cut[start..].contains(';')
    {
        cut.truncate(start);
    }
    cut.push('…');
    cut
}

fn format_time(time: jiff::Timestamp) -> String {
    time.strftime("%Y-%m-%d %H:%M UTC").to_string()
}

fn severity_icon(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => ":red_circle:",
        Severity::High => ":large_orange_circle:",
        Severity::Medium => ":large_yellow_circle:",
        Severity::Low => ":white_circle:",
    }
}

fn capitalize(word: &str) -> String {
    let mut characters = word.chars();
    match characters.next() {
        Some(first) => first.to_uppercase().chain(characters).collect(),
        None => String::new(),
    }
}

/// Maps a severity to the incident severity that the `incident.declare`
/// intent expects.
fn incident_severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "sev1",
        Severity::High => "sev2",
        Severity::Medium => "sev3",
        Severity::Low => "sev4",
    }
}

/// Reduces a name to letters, digits, spaces and `_-.:/`, with runs of
/// anything else turned into one space, cut to [`MAX_TITLE_NAME_CHARS`].
fn incident_title_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ':' | '/') {
                c
            } else {
                ' '
            }
        })
        .collect();
    let words: Vec<&str> = cleaned.split_whitespace().collect();
    let joined = words.join(" ");
    joined.chars().take(MAX_TITLE_NAME_CHARS).collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::alerts::{AlertId, Host, Source};

    fn sample_alert() -> Alert {
        Alert {
            id: AlertId::new(5001),
            source: Source::Alertmanager,
            fingerprint: "c3a1b2".to_string(),
            name: "DiskSpaceLow".to_string(),
            severity: Severity::High,
            status: Status::Firing,
            host: Some(Host::parse("db-01").unwrap()),
            service: Some("postgres".to_string()),
            summary: "/var/lib/postgresql is 91% full".to_string(),
            description: Some("WAL segments pile up.".to_string()),
            runbook: Some("https://runbooks.example.internal/disk?a=1&b=2".to_string()),
            started_at: "2025-06-12T11:20:00Z".parse().unwrap(),
            resolved_at: None,
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
        }
    }

    fn block<'a>(message: &'a AlertMessage, kind: &str) -> &'a Value {
        message
            .blocks
            .as_array()
            .unwrap()
            .iter()
            .find(|block| block["type"] == kind)
            .unwrap_or_else(|| panic!("no {kind} block in {}", message.blocks))
    }

    fn button_ids(message: &AlertMessage) -> Vec<&str> {
        block(message, "actions")["elements"]
            .as_array()
            .unwrap()
            .iter()
            .map(|button| button["action_id"].as_str().unwrap())
            .collect()
    }

    /// Checks the Block Kit length limit of every text in `blocks`.
    fn assert_within_limits(blocks: &Value) {
        for block in blocks.as_array().unwrap() {
            let chars = |value: &Value| value.as_str().unwrap().chars().count();
            match block["type"].as_str().unwrap() {
                "header" => assert!(chars(&block["text"]["text"]) <= 150),
                "section" => {
                    if !block["text"].is_null() {
                        assert!(chars(&block["text"]["text"]) <= 3_000);
                    }
                    for field in block["fields"].as_array().into_iter().flatten() {
                        assert!(chars(&field["text"]) <= 2_000);
                    }
                }
                "context" => {
                    for element in block["elements"].as_array().unwrap() {
                        assert!(chars(&element["text"]) <= 3_000);
                    }
                }
                "actions" => {
                    for button in block["elements"].as_array().unwrap() {
                        assert!(chars(&button["text"]["text"]) <= 75);
                        assert!(chars(&button["value"]) <= 2_000);
                    }
                }
                other => panic!("unexpected block type {other}"),
            }
        }
    }

    #[test]
    fn message_shows_alert_details() {
        let message = alert_message(&sample_alert(), 1);

        assert_eq!(
            block(&message, "header")["text"]["text"],
            ":large_orange_circle: High: DiskSpaceLow"
        );
        let blocks = message.blocks.as_array().unwrap();
        assert_eq!(
            blocks[1]["text"]["text"],
            "*/var/lib/postgresql is 91% full*\nWAL segments pile up."
        );
        assert_eq!(blocks[1]["text"]["verbatim"], true);
        let fields: Vec<&str> = blocks[2]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|field| field["text"].as_str().unwrap())
            .collect();
        assert_eq!(
            fields,
            [
                "*Severity*\nhigh",
                "*Status*\nfiring since 2025-06-12 11:20 UTC",
                "*Host*\ndb-01",
                "*Service*\npostgres",
                "*Runbook*\n<https://runbooks.example.internal/disk?a=1&amp;b=2|Open runbook>",
            ]
        );
        assert_eq!(
            block(&message, "context")["elements"][0]["text"],
            "ALRT-5001 from alertmanager"
        );
        assert_eq!(
            message.text,
            "[high] DiskSpaceLow on db-01: /var/lib/postgresql is 91% full"
        );
        assert_within_limits(&message.blocks);
    }

    #[test]
    fn message_buttons_carry_alert_id() {
        let message = alert_message(&sample_alert(), 1);
        assert_eq!(
            button_ids(&message),
            [ACTION_INVESTIGATE, ACTION_ISOLATE, ACTION_DECLARE]
        );
        let actions = block(&message, "actions");
        assert_eq!(actions["block_id"], "warroom_alert_actions-ALRT-5001-1");
        for button in actions["elements"].as_array().unwrap() {
            assert_eq!(button["value"], "ALRT-5001");
        }
        let labels: Vec<&str> = actions["elements"]
            .as_array()
            .unwrap()
            .iter()
            .map(|button| button["text"]["text"].as_str().unwrap())
            .collect();
        assert_eq!(
            labels,
            ["Investigate host", "Isolate host", "Declare incident"]
        );
        assert_eq!(actions["elements"][1]["style"], "danger");
    }

    #[test]
    fn message_without_host_offers_only_declare() {
        let mut alert = sample_alert();
        alert.host = None;
        let message = alert_message(&alert, 1);
        assert_eq!(button_ids(&message), [ACTION_DECLARE]);
        assert_eq!(
            message.text,
            "[high] DiskSpaceLow: /var/lib/postgresql is 91% full"
        );
    }

    #[test]
    fn message_counts_repeats_and_resolution() {
        let mut alert = sample_alert();
        alert.status = Status::Resolved;
        alert.resolved_at = Some("2025-06-12T12:05:00Z".parse().unwrap());
        let message = alert_message(&alert, 3);

        assert_eq!(
            block(&message, "header")["text"]["text"],
            ":white_check_mark: Resolved: DiskSpaceLow"
        );
        assert_eq!(
            block(&message, "context")["elements"][0]["text"],
            "ALRT-5001 from alertmanager, seen 3 times"
        );
        assert_eq!(
            block(&message, "actions")["block_id"],
            "warroom_alert_actions-ALRT-5001-3"
        );
        assert_eq!(
            message.blocks[2]["fields"][1]["text"],
            "*Status*\nresolved at 2025-06-12 12:05 UTC, fired at 2025-06-12 11:20 UTC"
        );
        assert!(
            message.text.ends_with(" (resolved) (seen 3 times)"),
            "{}",
            message.text
        );
    }

    #[test]
    fn message_escapes_alert_values() {
        let mut alert = sample_alert();
        alert.name = "Rule<&>".to_string();
        alert.summary = "<!channel> look & see <https://evil.example|here>".to_string();
        alert.description = Some("a > b".to_string());
        alert.service = Some("svc<1>".to_string());
        let message = alert_message(&alert, 1);

        assert_eq!(
            block(&message, "header")["text"]["text"],
            ":large_orange_circle: High: Rule&lt;&amp;&gt;"
        );
        assert_eq!(
            message.blocks[1]["text"]["text"],
            "*&lt;!channel&gt; look &amp; see &lt;https://evil.example|here&gt;*\na &gt; b"
        );
        assert_eq!(
            message.blocks[2]["fields"][3]["text"],
            "*Service*\nsvc&lt;1&gt;"
        );
        assert_eq!(
            message.text,
            "[high] Rule&lt;&amp;&gt; on db-01: &lt;!channel&gt; look &amp; see &lt;https://evil.example|here&gt;"
        );
        let serialized = message.blocks.to_string();
        assert!(!serialized.contains("<!channel>"), "{serialized}");
    }

    #[test]
    fn message_truncates_long_values_visibly() {
        let mut alert = sample_alert();
        alert.name = "N".repeat(300);
        alert.summary = "S".repeat(1_000);
        alert.description = Some("D".repeat(10_000));
        let message = alert_message(&alert, 1);

        let header = block(&message, "header")["text"]["text"].as_str().unwrap();
        assert_eq!(header.chars().count(), 150);
        assert!(header.ends_with('…'));
        let body = message.blocks[1]["text"]["text"].as_str().unwrap();
        assert_eq!(body.chars().count(), 3_000);
        assert!(body.ends_with("DD…"));
        assert!(message.text.chars().count() <= 3_000);
        assert_within_limits(&message.blocks);
    }

    #[test]
    fn message_drops_runbook_link_too_long() {
        let mut alert = sample_alert();
        alert.runbook = Some(format!("https://x.example/?{}", "a=1&".repeat(400)));
        let message = alert_message(&alert, 1);
        assert_eq!(
            message.blocks[2]["fields"][4]["text"],
            "*Runbook*\nURL too long for Slack, see the alert source"
        );
        assert_within_limits(&message.blocks);
    }

    #[test]
    fn truncate_never_splits_entity() {
        let escaped = escape(&"&".repeat(10));
        // 10 × `&amp;` is 50 characters. A cut at 12 keeps 11, which ends
        // inside the third entity, so only two entities remain.
        assert_eq!(truncate(&escaped, 12), "&amp;&amp;…");
        assert_eq!(truncate(&escaped, 50), escaped);
        assert_eq!(truncate("abc", 3), "abc");
        assert_eq!(truncate("abcd", 3), "ab…");
    }

    #[test]
    fn action_request_for_each_button() {
        let alert = sample_alert();
        assert_eq!(
            action_request(&alert, ACTION_INVESTIGATE).as_deref(),
            Some("what's wrong with db-01?")
        );
        assert_eq!(
            action_request(&alert, ACTION_ISOLATE).as_deref(),
            Some("isolate db-01")
        );
        assert_eq!(
            action_request(&alert, ACTION_DECLARE).as_deref(),
            Some("declare a sev2 incident: DiskSpaceLow on db-01")
        );
        assert_eq!(action_request(&alert, "warroom_alert_reboot"), None);
    }

    #[test]
    fn action_request_without_host() {
        let mut alert = sample_alert();
        alert.host = None;
        alert.severity = Severity::Critical;
        assert_eq!(action_request(&alert, ACTION_INVESTIGATE), None);
        assert_eq!(action_request(&alert, ACTION_ISOLATE), None);
        assert_eq!(
            action_request(&alert, ACTION_DECLARE).as_deref(),
            Some("declare a sev1 incident: DiskSpaceLow in postgres")
        );
        alert.service = None;
        assert_eq!(
            action_request(&alert, ACTION_DECLARE).as_deref(),
            Some("declare a sev1 incident: DiskSpaceLow")
        );
    }

    #[test]
    fn action_request_cleans_rule_name() {
        let mut alert = sample_alert();
        alert.name = "Disk <full>; rm -rf / && `id`".to_string();
        assert_eq!(
            action_request(&alert, ACTION_DECLARE).as_deref(),
            Some("declare a sev2 incident: Disk full rm -rf / id on db-01")
        );
    }
}
