//! In-process fake of the Slack Web API and Socket Mode for integration tests.
//!
//! `FakeSlack::start` binds 127.0.0.1 on a free port and serves three routes:
//! `/api/{method}` for Web API calls, `/upload/{file_id}` for the upload URLs
//! that `files.getUploadURLExternal` hands out, and `/link/` for the Socket
//! Mode WebSocket that `apps.connections.open` points to. Tests drive Socket
//! Mode from here (`send_events_api`, `send_disconnect`, ...) and read back what
//! the bot did (`calls`, `wait_ack`, ...). The shapes follow slack-morphism
//! 2.31.1: it sends POST methods as JSON, GET methods as query strings and the
//! token as `Authorization: Bearer`.
#![allow(
    dead_code,
    reason = "test-support API: each test binary uses a different subset"
)]

mod fixtures;
mod socket;
mod web_api;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;

pub use fixtures::{
    app_mention_event, block_actions_payload, bot_message_event, dm_event, file_share_event,
    message_changed_event, message_event, thread_reply_event,
};

/// User id of the bot, returned by `auth.test` and used as the author of the
/// messages that `chat.postMessage` returns.
pub const BOT_USER_ID: &str = "UBOTWARROOM";
pub const BOT_ID: &str = "BBOTWARROOM";
pub const TEAM_ID: &str = "TFAKE";
pub const APP_ID: &str = "AFAKE";

/// A running fake Slack server. Dropping it stops the HTTP server and closes
/// every Socket Mode connection.
pub struct FakeSlack {
    shared: Arc<Shared>,
    server: JoinHandle<()>,
}

/// A file received on an upload URL.
#[derive(Clone, Debug)]
pub struct UploadedFile {
    pub file_id: String,
    pub filename: String,
    pub content: Vec<u8>,
}

/// State shared by the test-facing handle and the HTTP and WebSocket handlers.
struct Shared {
    /// `http://127.0.0.1:PORT`, with no trailing slash.
    base_url: String,
    state: Mutex<State>,
    /// Woken on every change to `state`, so waits need no polling.
    changed: Notify,
}

#[derive(Default)]
struct State {
    calls: HashMap<String, Vec<Value>>,
    attempts: HashMap<String, usize>,
    /// Pending 429 responses per method, as `Retry-After` seconds.
    rate_limits: HashMap<String, Vec<u64>>,
    /// Pending Slack error codes per method, returned with `ok: false`.
    failures: HashMap<String, Vec<&'static str>>,
    unknown_methods: Vec<String>,
    last_ts_counter: u64,
    last_file_counter: u64,
    /// File names announced by `files.getUploadURLExternal`, by file id.
    announced_files: HashMap<String, String>,
    uploads: Vec<UploadedFile>,
    connections_opened: usize,
    /// WebSocket tickets handed out by `apps.connections.open` and not used yet.
    open_tickets: Vec<String>,
    connections_accepted: usize,
    last_connection_id: u64,
    /// Live WebSocket connections, oldest first.
    connections: Vec<Connection>,
    last_envelope_counter: u64,
    envelope_sent_at: HashMap<String, Instant>,
    acks: HashMap<String, Ack>,
}

struct Connection {
    id: u64,
    commands: mpsc::UnboundedSender<SocketCommand>,
    /// Marks a connection that was sent `disconnect` or set to drop, so it
    /// gets no more envelopes while the client closes it.
    disconnect_sent: bool,
}

enum SocketCommand {
    Send(String),
    /// Close the TCP connection without a WebSocket close frame.
    Drop,
}

struct Ack {
    received_at: Instant,
    /// The whole acknowledgement frame, which carries `payload` for interactive responses.
    frame: Value,
}

impl FakeSlack {
    /// Starts the server on 127.0.0.1 with a port picked by the OS.
    ///
    /// # Panics
    /// Panics if the port cannot be bound.
    pub async fn start() -> FakeSlack {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("failed to bind the fake Slack server to 127.0.0.1:0");
        let address: SocketAddr = listener
            .local_addr()
            .expect("a bound listener has a local address");

        let shared = Arc::new(Shared {
            base_url: format!("http://{address}"),
            state: Mutex::new(State::default()),
            changed: Notify::new(),
        });

        let router = web_api::router(shared.clone()).merge(socket::router(shared.clone()));
        let server = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, router).await {
                eprintln!("fake Slack server on {address} stopped: {error}");
            }
        });

        FakeSlack { shared, server }
    }

    /// Returns the Web API base URL for `SlackClientHyperConnector::with_slack_api_url`.
    ///
    /// It has no trailing slash because slack-morphism 2.31.1 joins it as
    /// `format!("{url}/{method}")`.
    pub fn api_url(&self) -> String {
        format!("{}/api", self.shared.base_url)
    }

    pub fn bot_user_id(&self) -> &str {
        BOT_USER_ID
    }

    /// Returns the bodies of the successful calls of `method`, in order. JSON
    /// bodies, form bodies and query strings are all decoded into one JSON object.
    pub fn calls(&self, method: &str) -> Vec<Value> {
        let state = self.shared.lock();
        state.calls.get(method).cloned().unwrap_or_default()
    }

    /// Returns how many requests reached `method`, including rejected and rate-limited ones.
    pub fn attempts(&self, method: &str) -> usize {
        let state = self.shared.lock();
        state.attempts.get(method).copied().unwrap_or(0)
    }

    /// Returns the names of the called methods that this fake does not implement.
    pub fn unknown_methods(&self) -> Vec<String> {
        self.shared.lock().unknown_methods.clone()
    }

    /// Returns the files received on upload URLs, in upload order.
    pub fn uploads(&self) -> Vec<UploadedFile> {
        self.shared.lock().uploads.clone()
    }

    /// Makes the next call of `method` fail with HTTP 429, a `Retry-After`
    /// header and `{"ok":false,"error":"ratelimited"}`. Calling it twice
    /// limits the next two calls.
    pub fn rate_limit_next(&self, method: &str, retry_after_secs: u64) {
        let mut state = self.shared.lock();
        state
            .rate_limits
            .entry(method.to_string())
            .or_default()
            .push(retry_after_secs);
    }

    /// Makes the next call of `method` return `{"ok":false,"error":error}`.
    pub fn fail_next(&self, method: &str, error: &'static str) {
        let mut state = self.shared.lock();
        state
            .failures
            .entry(method.to_string())
            .or_default()
            .push(error);
    }

    /// Waits until `method` has at least `n` successful calls and returns all of
    /// them, or whatever arrived when `timeout` ran out.
    pub async fn wait_calls(&self, method: &str, n: usize, timeout: Duration) -> Vec<Value> {
        let reached = self
            .shared
            .wait_until(timeout, |state| {
                let count = state.calls.get(method).map_or(0, Vec::len);
                (count >= n).then_some(())
            })
            .await;
        if reached.is_none() {
            eprintln!("fake Slack: timed out after {timeout:?} waiting for {n} `{method}` calls");
        }
        self.calls(method)
    }

    /// Returns how many times `apps.connections.open` succeeded.
    pub fn connections_opened(&self) -> usize {
        self.shared.lock().connections_opened
    }

    /// Returns how many WebSocket connections received a `hello`.
    pub fn connections_accepted(&self) -> usize {
        self.shared.lock().connections_accepted
    }

    /// Waits until a WebSocket client that has received `hello` and no
    /// `disconnect` is connected. Returns false on timeout.
    pub async fn wait_connected(&self, timeout: Duration) -> bool {
        self.shared
            .wait_until(timeout, |state| {
                state
                    .connections
                    .iter()
                    .any(|connection| !connection.disconnect_sent)
                    .then_some(())
            })
            .await
            .is_some()
    }

    /// Waits until `n` WebSocket connections in total have received `hello`.
    pub async fn wait_connections_accepted(&self, n: usize, timeout: Duration) -> bool {
        self.shared
            .wait_until(timeout, |state| {
                (state.connections_accepted >= n).then_some(())
            })
            .await
            .is_some()
    }

    /// Sends an `events_api` envelope around `event_callback` and returns its envelope id.
    ///
    /// # Panics
    /// Panics if no Socket Mode client is connected.
    pub async fn send_events_api(&self, event_callback: Value) -> String {
        self.send_envelope("events_api", false, event_callback)
    }

    /// Sends an `interactive` envelope around `payload` and returns its envelope id.
    ///
    /// # Panics
    /// Panics if no Socket Mode client is connected.
    pub async fn send_interactive(&self, payload: Value) -> String {
        self.send_envelope("interactive", true, payload)
    }

    /// Waits for the client to acknowledge `envelope_id` and returns the time
    /// from sending the envelope to receiving the acknowledgement.
    pub async fn wait_ack(&self, envelope_id: &str, timeout: Duration) -> Option<Duration> {
        self.shared
            .wait_until(timeout, |state| {
                let ack = state.acks.get(envelope_id)?;
                let sent_at = state.envelope_sent_at.get(envelope_id)?;
                Some(ack.received_at.saturating_duration_since(*sent_at))
            })
            .await
    }

    /// Returns the acknowledgement frame of `envelope_id`, if one arrived.
    pub fn ack_frame(&self, envelope_id: &str) -> Option<Value> {
        let state = self.shared.lock();
        state.acks.get(envelope_id).map(|ack| ack.frame.clone())
    }

    /// Sends a `disconnect` frame with reason `refresh_requested` to the newest
    /// connection and leaves it to the client to close.
    ///
    /// # Panics
    /// Panics if no Socket Mode client is connected.
    pub async fn send_disconnect(&self) {
        let frame = json!({
            "type": "disconnect",
            "reason": "refresh_requested",
            "debug_info": { "host": "fake" },
        });
        self.shared.update(|state| {
            let connection = newest_connection(state);
            connection.disconnect_sent = true;
            let _ = connection
                .commands
                .send(SocketCommand::Send(frame.to_string()));
        });
    }

    /// Closes the newest connection's TCP stream without a WebSocket close frame.
    ///
    /// # Panics
    /// Panics if no Socket Mode client is connected.
    pub async fn drop_connection(&self) {
        self.shared.update(|state| {
            let connection = newest_connection(state);
            connection.disconnect_sent = true;
            let _ = connection.commands.send(SocketCommand::Drop);
        });
    }

    fn send_envelope(
        &self,
        envelope_type: &str,
        accepts_response_payload: bool,
        payload: Value,
    ) -> String {
        let mut guard = self.shared.lock();
        let state = &mut *guard;
        state.last_envelope_counter += 1;
        let envelope_id = format!("fake-envelope-{}", state.last_envelope_counter);
        let envelope = json!({
            "envelope_id": envelope_id,
            "type": envelope_type,
            "accepts_response_payload": accepts_response_payload,
            "retry_attempt": 0,
            "retry_reason": "",
            "payload": payload,
        });

        state
            .envelope_sent_at
            .insert(envelope_id.clone(), Instant::now());
        let connection = newest_connection(state);
        let _ = connection
            .commands
            .send(SocketCommand::Send(envelope.to_string()));
        drop(guard);
        self.shared.changed.notify_waiters();
        envelope_id
    }
}

impl Drop for FakeSlack {
    fn drop(&mut self) {
        self.server.abort();
        let state = self.shared.lock();
        for connection in &state.connections {
            let _ = connection.commands.send(SocketCommand::Drop);
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A handler that panicked while holding the lock leaves counters that
        // are still consistent, so the poison is ignored.
        self.state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// Applies `change` to the state and wakes every waiter.
    fn update<T>(&self, change: impl FnOnce(&mut State) -> T) -> T {
        let result = change(&mut self.lock());
        self.changed.notify_waiters();
        result
    }

    /// Waits until `check` returns `Some` or `timeout` runs out.
    async fn wait_until<T>(
        &self,
        timeout: Duration,
        mut check: impl FnMut(&State) -> Option<T>,
    ) -> Option<T> {
        let wait = async {
            loop {
                // Register for the wake-up before checking, so a change made
                // between the check and the await is not missed.
                let notified = self.changed.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                if let Some(result) = check(&self.lock()) {
                    return result;
                }
                notified.await;
            }
        };
        tokio::time::timeout(timeout, wait).await.ok()
    }
}

/// Returns the connection that gets new envelopes: the newest one that was sent no `disconnect`.
fn newest_connection(state: &mut State) -> &mut Connection {
    state
        .connections
        .iter_mut()
        .rev()
        .find(|connection| !connection.disconnect_sent)
        .expect("no Socket Mode client is connected to the fake Slack server; call wait_connected first")
}

/// Computes the `X-Slack-Signature` header value for a request body:
/// `v0=` followed by hex(HMAC-SHA256(secret, "v0:{timestamp}:{body}")).
pub fn sign_request(secret: &str, timestamp: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .expect("HMAC-SHA256 accepts keys of any length");
    mac.update(format!("v0:{timestamp}:{body}").as_bytes());
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}
