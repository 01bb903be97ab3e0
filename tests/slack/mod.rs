//! `warroom serve` against a fake Slack on 127.0.0.1: Socket Mode and the
//! Events API, buttons, redelivery, reconnects, rate limits and alerts, on
//! the real model and the demo commands.

mod fake;

use std::fs;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use warroom::audit::AuditLog;
use warroom::dialogue::{Dialogue, ManualClock};
use warroom::inventory::Inventory;
use warroom::policy::Policy;
use warroom::serve::{Secrets, ServeSettings, Server};
use warroom::slack::render::{Attachment, plain};
use warroom::slack::{Secret, SlackApi};

use crate::chat::{ALICE, SECOPS, TLEE, copy_dir, demo_runner, matcher, root, start_time};
use fake::{BOT_USER_ID, FakeSlack};

const SIGNING_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
const ALERT_TOKEN: &str = "alert-token-for-tests";
const ALERTS_CHANNEL: &str = "C0ALERTS";

/// Long enough for the real model and a demo command on a busy machine;
/// a liveness bound, not a speed check.
const WAIT: Duration = Duration::from_secs(60);

/// A server connected to a fake Slack, with its own demo data.
struct Harness {
    fake: FakeSlack,
    server: Option<Server>,
    clock: Arc<ManualClock>,
    dir: tempfile::TempDir,
    next_ts: u32,
}

impl Harness {
    async fn start() -> Self {
        let fake = FakeSlack::start().await;
        let dir = tempfile::tempdir().expect("temporary directory");
        let demo = dir.path().join("demo");
        copy_dir(&root().join("demo"), &demo);
        let parser = matcher();
        let policy = Policy::load(&root().join("policy.toml"), parser.catalog())
            .expect("shipped policy is valid");
        let inventory = Inventory::load(&demo.join("inventory.toml")).expect("inventory loads");
        let audit =
            Arc::new(AuditLog::open(&dir.path().join("audit.sqlite")).expect("audit log opens"));
        let clock = Arc::new(ManualClock::new(start_time()));
        let dialogue = Dialogue::new(parser, policy, inventory, demo_runner(&demo), audit)
            .with_clock(clock.clone())
            .with_confirmation_ttl(Duration::from_secs(300));

        let config = format!(
            r#"
[slack]
listen = "127.0.0.1:0"
api_url = "{api}"
state_db = "state.sqlite"
reconnect_delay_secs = 1
[alerts]
channel = "{ALERTS_CHANNEL}"
group_window_secs = 600
feed = "demo/state/alerts-received.jsonl"
"#,
            api = fake.api_url()
        );
        let settings = ServeSettings::from_toml(&config, Path::new("test.toml"), dir.path())
            .expect("settings parse");
        let secrets = Secrets {
            bot_token: Secret::new("xoxb-test-token"),
            app_token: Some(Secret::new("xapp-test-token")),
            signing_secret: Some(Secret::new(SIGNING_SECRET)),
            alert_token: Some(Secret::new(ALERT_TOKEN)),
        };
        let server = Server::start(dialogue, &settings, secrets)
            .await
            .expect("server starts");
        assert!(fake.wait_connected(WAIT).await, "Socket Mode connects");
        Self {
            fake,
            server: Some(server),
            clock,
            dir,
            next_ts: 100,
        }
    }

    fn server(&self) -> &Server {
        self.server.as_ref().expect("server running")
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.server().address())
    }

    /// Returns a new message timestamp.
    fn ts(&mut self) -> String {
        self.next_ts += 1;
        format!("1700000{:03}.000100", self.next_ts)
    }

    /// Sends a message mentioning the bot in the security channel and
    /// returns its timestamp after Slack got its acknowledgement.
    async fn mention(&mut self, event_id: &str, user: &str, text: &str) -> String {
        let ts = self.ts();
        let event = fake::message_event(
            event_id,
            user,
            SECOPS,
            &ts,
            &format!("<@{BOT_USER_ID}> {text}"),
        );
        self.deliver(event).await;
        ts
    }

    async fn deliver(&self, event: Value) {
        let envelope = self.fake.send_events_api(event).await;
        assert!(
            self.fake.wait_ack(&envelope, WAIT).await.is_some(),
            "envelope acknowledged"
        );
    }

    async fn click(&self, user: &str, thread: &str, action_id: &str, value: &str) {
        let payload = fake::block_actions_payload(
            user,
            SECOPS,
            "1700000999.000100",
            Some(thread),
            action_id,
            value,
        );
        let envelope = self.fake.send_interactive(payload).await;
        assert!(self.fake.wait_ack(&envelope, WAIT).await.is_some());
    }

    /// Waits until the `n`th `chat.postMessage` arrives and returns it.
    async fn post(&self, n: usize) -> Value {
        let calls = self.fake.wait_calls("chat.postMessage", n, WAIT).await;
        assert!(calls.len() >= n, "only {} posts: {calls:#?}", calls.len());
        calls[n - 1].clone()
    }

    /// Waits until the metrics count `line`.
    async fn wait_metric(&self, line: &str) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let text = self.server().bot().metrics().render();
            if text.contains(line) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "metric `{line}` never appeared:\n{text}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Service restarts the demo recorded.
    fn restarts(&self) -> usize {
        let path = self.dir.path().join("demo/state/restarts.json");
        fs::read_to_string(path).map_or(0, |text| {
            let state: Value = serde_json::from_str(&text).expect("state file is JSON");
            state["restarts"].as_array().map_or(0, Vec::len)
        })
    }

    async fn stop(mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await;
        }
    }
}

fn text_of(post: &Value) -> String {
    format!("{} {}", post["text"], post["blocks"])
}

/// Returns the value of the first button with `action_id` in a post's blocks.
fn button_value(post: &Value, action_id: &str) -> String {
    let blocks = match &post["blocks"] {
        Value::String(text) => serde_json::from_str(text).expect("blocks are JSON"),
        other => other.clone(),
    };
    blocks
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|block| block["elements"].as_array())
        .flatten()
        .find(|element| element["action_id"] == action_id)
        .and_then(|element| element["value"].as_str())
        .unwrap_or_else(|| panic!("no {action_id} button in {post}"))
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conversation_runs_each_action_once() {
    let mut harness = Harness::start().await;

    // A question is answered in its thread.
    let question = harness
        .mention("EvQ1", ALICE, "what's wrong with web-01?")
        .await;
    let answer = harness.post(1).await;
    assert_eq!(answer["thread_ts"], question.as_str());
    assert_eq!(answer["channel"], SECOPS);
    assert!(text_of(&answer).contains("ran"), "{answer}");

    // A restart is proposed with buttons.
    let request = harness
        .mention("EvR1", ALICE, "restart nginx on web-01")
        .await;
    let prompt = harness.post(2).await;
    assert_eq!(prompt["thread_ts"], request.as_str());
    let pending = button_value(&prompt, "warroom_confirm");
    button_value(&prompt, "warroom_cancel");

    // Someone else clicks Run: refused, ephemerally, and nothing runs.
    harness
        .click(TLEE, &request, "warroom_confirm", &pending)
        .await;
    let ephemeral = harness.fake.wait_calls("chat.postEphemeral", 1, WAIT).await;
    assert_eq!(ephemeral[0]["user"], TLEE);
    assert!(
        ephemeral[0]["text"].as_str().unwrap().contains("not yours"),
        "{ephemeral:?}"
    );
    assert_eq!(harness.restarts(), 0);

    // The requester clicks Run: it runs once and the buttons give way to
    // who ran it.
    harness
        .click(ALICE, &request, "warroom_confirm", &pending)
        .await;
    let result = harness.post(3).await;
    assert!(text_of(&result).contains("ran"), "{result}");
    assert_eq!(harness.restarts(), 1);
    let updates = harness.fake.wait_calls("chat.update", 1, WAIT).await;
    let settled = text_of(&updates[0]);
    assert!(settled.contains(&format!("Run by <@{ALICE}>")), "{settled}");
    assert!(!settled.contains("warroom_confirm"), "{settled}");

    // A second click runs nothing and reports that it was handled.
    harness
        .click(ALICE, &request, "warroom_confirm", &pending)
        .await;
    let ephemeral = harness.fake.wait_calls("chat.postEphemeral", 2, WAIT).await;
    assert_eq!(ephemeral[1]["user"], ALICE);
    assert_eq!(harness.restarts(), 1);

    // The restart request redelivered, under its own and another event id,
    // and again after a reconnect: no second prompt, no second run.
    let redelivered = fake::message_event(
        "EvR1",
        ALICE,
        SECOPS,
        &request,
        &format!("<@{BOT_USER_ID}> restart nginx on web-01"),
    );
    harness.deliver(redelivered.clone()).await;
    let mut renamed = redelivered.clone();
    renamed["event_id"] = json!("EvR1-again");
    harness.deliver(renamed).await;
    harness.fake.send_disconnect().await;
    assert!(harness.fake.wait_connections_accepted(2, WAIT).await);
    assert!(harness.fake.connections_opened() >= 2);
    harness.deliver(redelivered).await;
    harness
        .wait_metric("warroom_messages_total{result=\"duplicate\"} 3")
        .await;

    // A rate-limited post is retried after Retry-After, not dropped.
    harness.fake.rate_limit_next("chat.postMessage", 1);
    harness.mention("EvQ2", ALICE, "who is on call?").await;
    let answer = harness.post(4).await;
    assert!(text_of(&answer).contains("ran"), "{answer}");
    assert_eq!(harness.fake.attempts("chat.postMessage"), 5);
    assert_eq!(harness.restarts(), 1);

    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_api_checks_signatures_and_ignores_retries() {
    let mut harness = Harness::start().await;
    let ts = harness.ts();
    let body = fake::message_event(
        "EvH1",
        ALICE,
        SECOPS,
        &ts,
        &format!("<@{BOT_USER_ID}> what's wrong with web-02?"),
    )
    .to_string();
    let url = harness.url("/slack/events");
    let now = jiff::Timestamp::now().as_second();
    let send = |signature: String, timestamp: i64, retry: Option<&str>| {
        let mut request = ureq::post(&url)
            .set("Content-Type", "application/json")
            .set("X-Slack-Request-Timestamp", &timestamp.to_string())
            .set("X-Slack-Signature", &signature);
        if let Some(retry) = retry {
            request = request
                .set("X-Slack-Retry-Num", retry)
                .set("X-Slack-Retry-Reason", "http_timeout");
        }
        let body = body.clone();
        async move {
            tokio::task::spawn_blocking(move || match request.send_string(&body) {
                Ok(response) => response.status(),
                Err(ureq::Error::Status(status, _)) => status,
                Err(error) => panic!("request failed: {error}"),
            })
            .await
            .expect("request task")
        }
    };

    let bad = fake::sign_request("not-the-secret", now, &body);
    assert_eq!(send(bad, now, None).await, 401);
    let stale = now - 600;
    assert_eq!(
        send(
            fake::sign_request(SIGNING_SECRET, stale, &body),
            stale,
            None
        )
        .await,
        401
    );
    let good = fake::sign_request(SIGNING_SECRET, now, &body);
    assert_eq!(send(good.clone(), now, None).await, 200);
    assert_eq!(send(good, now, Some("1")).await, 200);

    let answer = harness.post(1).await;
    assert_eq!(answer["thread_ts"], ts.as_str());
    harness
        .wait_metric("warroom_messages_total{result=\"duplicate\"} 1")
        .await;
    assert_eq!(harness.fake.calls("chat.postMessage").len(), 1);

    let challenge =
        json!({"type": "url_verification", "token": "t", "challenge": "abc123"}).to_string();
    let signature = fake::sign_request(SIGNING_SECRET, now, &challenge);
    let url = harness.url("/slack/events");
    let reply = tokio::task::spawn_blocking(move || {
        ureq::post(&url)
            .set("X-Slack-Request-Timestamp", &now.to_string())
            .set("X-Slack-Signature", &signature)
            .send_string(&challenge)
            .expect("challenge answered")
            .into_json::<Value>()
            .expect("JSON")
    })
    .await
    .unwrap();
    assert_eq!(reply["challenge"], "abc123");
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bots_edits_and_unaddressed_messages_run_nothing() {
    let mut harness = Harness::start().await;
    let text = "restart nginx on web-01";

    // Another app's message: bot_id and no subtype.
    let ts = harness.ts();
    harness
        .deliver(fake::bot_message_event(
            "EvB1",
            "B999",
            "UB111",
            SECOPS,
            &ts,
            &format!("<@{BOT_USER_ID}> {text}"),
        ))
        .await;
    // An edit of a message into a command.
    let edit = harness.ts();
    harness
        .deliver(fake::message_changed_event(
            "EvE1",
            ALICE,
            SECOPS,
            &ts,
            &edit,
            "hello",
            &format!("<@{BOT_USER_ID}> {text}"),
        ))
        .await;
    // The app_mention twin of a message: the message event carries it.
    harness
        .deliver(fake::app_mention_event(
            "EvM1",
            ALICE,
            SECOPS,
            &ts,
            &format!("<@{BOT_USER_ID}> {text}"),
        ))
        .await;
    // A channel message that does not address the bot.
    let plain = harness.ts();
    harness
        .deliver(fake::message_event("EvP1", ALICE, SECOPS, &plain, text))
        .await;
    harness
        .wait_metric("warroom_messages_total{result=\"skipped\"} 3")
        .await;
    harness
        .wait_metric("warroom_messages_total{result=\"ignored\"} 1")
        .await;

    // A file share is read by its text; a direct message needs no mention.
    let shared = harness.ts();
    harness
        .deliver(fake::file_share_event(
            "EvF1",
            ALICE,
            SECOPS,
            &shared,
            &format!("<@{BOT_USER_ID}> what's wrong with db-01?"),
            "F111",
            "sample.bin",
        ))
        .await;
    let answer = harness.post(1).await;
    assert_eq!(answer["thread_ts"], shared.as_str());
    let direct = harness.ts();
    harness
        .deliver(fake::dm_event(
            "EvD1",
            ALICE,
            "D0ALICE",
            &direct,
            "what's wrong with web-01?",
        ))
        .await;
    let answer = harness.post(2).await;
    assert_eq!(answer["channel"], "D0ALICE");

    // A reply in a thread where the bot asked a question needs no mention.
    let ask = harness
        .mention("EvS1", ALICE, "restart the nginx service")
        .await;
    let question = harness.post(3).await;
    assert!(text_of(&question).contains("host"), "{question}");
    let reply_ts = harness.ts();
    harness
        .deliver(fake::thread_reply_event(
            "EvS2", ALICE, SECOPS, &reply_ts, &ask, "web-01",
        ))
        .await;
    let prompt = harness.post(4).await;
    button_value(&prompt, "warroom_confirm");

    assert_eq!(harness.restarts(), 0);
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alertmanager_alert_posted_once() {
    let mut harness = Harness::start().await;
    let payload = json!({
        "version": "4",
        "groupKey": "{}:{alertname=\"HighCPU\"}",
        "status": "firing",
        "receiver": "warroom",
        "groupLabels": {"alertname": "HighCPU"},
        "commonLabels": {"alertname": "HighCPU"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.example.internal:9093",
        "alerts": [{
            "status": "firing",
            "labels": {"alertname": "HighCPU", "instance": "web-01:9100", "severity": "critical"},
            "annotations": {"summary": "CPU above 95% for 10 minutes", "description": "nginx workers spin"},
            "startsAt": "2025-06-12T11:50:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus.example.internal:9090/graph",
            "fingerprint": "c0ffee0000000001"
        }]
    })
    .to_string();
    let url = harness.url("/alerts");
    let send_body = |token: Option<&'static str>, payload: String| {
        let url = url.clone();
        tokio::task::spawn_blocking(move || {
            let mut request = ureq::post(&url).set("Content-Type", "application/json");
            if let Some(token) = token {
                request = request.set("Authorization", &format!("Bearer {token}"));
            }
            match request.send_string(&payload) {
                Ok(response) => response.status(),
                Err(ureq::Error::Status(status, _)) => status,
                Err(error) => panic!("request failed: {error}"),
            }
        })
    };
    let send = |token: Option<&'static str>| send_body(token, payload.clone());
    assert_eq!(send(None).await.unwrap(), 401);
    assert_eq!(send(Some("wrong")).await.unwrap(), 401);
    // A repeat within the window updates the message, never posts again,
    // even when it arrives while the first post waits out a rate limit.
    harness.fake.rate_limit_next("chat.postMessage", 1);
    assert_eq!(send(Some(ALERT_TOKEN)).await.unwrap(), 202);
    assert_eq!(send(Some(ALERT_TOKEN)).await.unwrap(), 202);

    let alert = harness.post(1).await;
    assert_eq!(alert["channel"], ALERTS_CHANNEL);
    let alert_id = button_value(&alert, "warroom_alert_investigate");
    button_value(&alert, "warroom_alert_isolate");
    button_value(&alert, "warroom_alert_declare");
    let updates = harness.fake.wait_calls("chat.update", 1, WAIT).await;
    assert_eq!(updates[0]["channel"], ALERTS_CHANNEL);
    harness
        .wait_metric("warroom_alerts_total{result=\"grouped\"} 1")
        .await;
    assert_eq!(harness.fake.calls("chat.postMessage").len(), 1);

    // The alert commands read the stored alert.
    harness
        .mention("EvA1", ALICE, &format!("explain alert {alert_id}"))
        .await;
    let explained = harness.post(2).await;
    assert!(text_of(&explained).contains("HighCPU"), "{explained}");

    // Its Investigate button runs the host check in the alert's thread.
    let alert_ts = "1700000000.000100";
    let click = fake::block_actions_payload(
        ALICE,
        ALERTS_CHANNEL,
        alert_ts,
        None,
        "warroom_alert_investigate",
        &alert_id,
    );
    let envelope = harness.fake.send_interactive(click).await;
    assert!(harness.fake.wait_ack(&envelope, WAIT).await.is_some());
    let investigated = harness.post(3).await;
    assert_eq!(investigated["thread_ts"], alert_ts);
    assert!(text_of(&investigated).contains("web-01"), "{investigated}");

    // Resolved, the message is updated; firing again, it is posted anew,
    // because Slack sends no notification for an edit.
    let resolved = payload.replace("\"status\":\"firing\"", "\"status\":\"resolved\"");
    assert_eq!(send_body(Some(ALERT_TOKEN), resolved).await.unwrap(), 202);
    harness.fake.wait_calls("chat.update", 2, WAIT).await;
    assert_eq!(send(Some(ALERT_TOKEN)).await.unwrap(), 202);
    let refired = harness.post(4).await;
    assert_eq!(refired["channel"], ALERTS_CHANNEL);
    assert!(refired.get("thread_ts").is_none(), "{refired}");
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alert_slack_refused_is_posted_later() {
    let harness = Harness::start().await;
    let url = harness.url("/alerts");
    let send = |name: &str| {
        let url = url.clone();
        let body =
            json!({"name": name, "summary": "disk almost full", "host": "db-01"}).to_string();
        tokio::task::spawn_blocking(move || {
            ureq::post(&url)
                .set("Content-Type", "application/json")
                .set("Authorization", &format!("Bearer {ALERT_TOKEN}"))
                .send_string(&body)
                .map(|response| response.status())
                .unwrap_or_else(|error| panic!("request failed: {error}"))
        })
    };

    // Slack refuses the post and the sweep after it.
    harness.fake.fail_next("chat.postMessage", "internal_error");
    harness.fake.fail_next("chat.postMessage", "internal_error");
    assert_eq!(send("DiskSpaceLow").await.unwrap(), 202);
    harness
        .wait_metric("warroom_alerts_total{result=\"failed\"} 2")
        .await;
    assert!(harness.fake.calls("chat.postMessage").is_empty());

    // The next alert request also posts the one Slack refused.
    assert_eq!(send("InodesLow").await.unwrap(), 202);
    let posts = harness.fake.wait_calls("chat.postMessage", 2, WAIT).await;
    let texts: Vec<String> = posts.iter().map(text_of).collect();
    assert!(
        texts.iter().any(|text| text.contains("InodesLow")),
        "{texts:?}"
    );
    assert!(
        texts.iter().any(|text| text.contains("DiskSpaceLow")),
        "{texts:?}"
    );
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_prompt_says_so_and_runs_nothing() {
    let mut harness = Harness::start().await;
    let request = harness
        .mention("EvX1", ALICE, "restart nginx on web-01")
        .await;
    let pending = button_value(&harness.post(1).await, "warroom_confirm");
    harness.clock.advance(Duration::from_secs(301));
    harness
        .click(ALICE, &request, "warroom_confirm", &pending)
        .await;
    let updates = harness.fake.wait_calls("chat.update", 1, WAIT).await;
    let settled = text_of(&updates[0]);
    assert!(settled.contains("Expired"), "{settled}");
    assert!(!settled.contains("warroom_confirm"), "{settled}");
    let ephemeral = harness.fake.wait_calls("chat.postEphemeral", 1, WAIT).await;
    assert_eq!(ephemeral[0]["user"], ALICE);
    assert_eq!(harness.restarts(), 0);
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_output_is_attached_as_a_file() {
    let fake = FakeSlack::start().await;
    let api = SlackApi::new(&fake.api_url(), &Secret::new("xoxb-test-token")).unwrap();
    let output = "web-01 nginx: upstream timed out\n".repeat(5000);
    let mut post = plain("ran `warroom-demo logs`");
    post.attachment = Some(Attachment {
        filename: "server.logs-output.txt".to_string(),
        content: output.clone(),
    });
    fake.rate_limit_next("files.completeUploadExternal", 1);
    let ts = api
        .post(SECOPS, Some("1700000001.000100"), &post)
        .await
        .unwrap();
    assert!(!ts.is_empty());
    let uploads = fake.uploads();
    assert_eq!(uploads.len(), 1);
    assert_eq!(uploads[0].content, output.as_bytes());
    let completed = fake.calls("files.completeUploadExternal");
    assert_eq!(completed.len(), 1);
    assert_eq!(completed[0]["channel_id"], SECOPS);
    assert_eq!(completed[0]["thread_ts"], "1700000001.000100");
}
