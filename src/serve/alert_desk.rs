//! The alert endpoint: `POST /alerts` takes alerts from detection systems
//! (generic JSON or the Alertmanager webhook), records them, and posts each
//! new one into the alert channel with its actions as buttons. A repeat
//! within the grouping window updates the alert's message instead.
//!
//! The response is sent once the alerts are stored. Posting happens in a
//! tracked task, so a slow or rate-limited Slack never makes the sender
//! retry. An alert whose message could not be posted is posted after the
//! next alert request, or at the next start.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use subtle::ConstantTimeEq;
use tracing::{error, info, warn};

use super::{AlertActions, Bot};
use crate::alerts::{
    Alert, AlertFeed, AlertId, AlertStore, MAX_BODY_BYTES, PayloadError, Recorded, Status,
    action_request, alert_message, parse_alerts,
};
use crate::slack::render::SlackPost;
use crate::slack::{Secret, error_chain};

/// Alert storage, announcement and the feed of the alert commands.
pub struct AlertDesk {
    store: AlertStore,
    feed: Option<AlertFeed>,
    channel: String,
    window: Duration,
    token: Secret,
    /// Held while one alert is posted or updated, so a repeat that arrives
    /// before the first post has returned updates that post instead of
    /// posting the alert twice.
    announcing: tokio::sync::Mutex<()>,
}

/// Most recently seen alerts checked for a missing post, at start-up and
/// after each alert request.
const UNPOSTED_SCAN: usize = 50;

/// Shared state of the alert route.
#[derive(Clone)]
struct Endpoint {
    desk: Arc<AlertDesk>,
    bot: Arc<Bot>,
}

impl AlertDesk {
    pub fn new(
        store: AlertStore,
        feed: Option<AlertFeed>,
        channel: String,
        window: Duration,
        token: Secret,
    ) -> Self {
        Self {
            store,
            feed,
            channel,
            window,
            token,
            announcing: tokio::sync::Mutex::new(()),
        }
    }

    /// Checks the `Authorization: Bearer` header in constant time.
    fn authorized(&self, headers: &HeaderMap) -> bool {
        let Some(presented) = headers
            .get(AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token)
        else {
            return false;
        };
        presented
            .trim()
            .as_bytes()
            .ct_eq(self.token.expose().as_bytes())
            .into()
    }

    /// Stores the alerts and appends them to the feed; returns what to post.
    fn record(&self, body: &[u8]) -> Result<Vec<Recorded>, Refusal> {
        let incoming = parse_alerts(body).map_err(|error| {
            let status = match error {
                PayloadError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
                _ => StatusCode::BAD_REQUEST,
            };
            Refusal {
                status,
                message: error.to_string(),
            }
        })?;
        let now = jiff::Timestamp::now();
        let mut recorded = Vec::with_capacity(incoming.len());
        for alert in &incoming {
            let entry = self
                .store
                .record(alert, now, self.window)
                .map_err(|error| {
                    error!(error = %error_chain(&error), "failed to store an alert");
                    Refusal {
                        status: StatusCode::INTERNAL_SERVER_ERROR,
                        message: "the alert store failed; send the alert again".to_string(),
                    }
                })?;
            if let Some(feed) = &self.feed
                && let Err(error) = feed.append_recorded(&entry)
            {
                warn!(error = %error_chain(&error), "failed to append an alert to the feed");
            }
            recorded.push(entry);
        }
        Ok(recorded)
    }

    /// Posts a new alert, or updates the message of a repeated one.
    async fn announce(&self, bot: &Bot, entry: Recorded) {
        let _turn = self.announcing.lock().await;
        let (alert, mut count, mut posted, refired) = match &entry {
            Recorded::New { alert } => (alert, 1, None, false),
            Recorded::Repeat {
                alert,
                count,
                message,
                status_changed,
            } => (
                alert,
                *count,
                message.clone(),
                *status_changed && alert.status == Status::Firing,
            ),
        };
        // Announcements of one alert may run in either order, so whichever
        // comes first posts and the others read from the store which
        // message to update.
        match self.store.get(alert.id) {
            Ok(Some(stored)) => {
                count = count.max(stored.count);
                posted = stored.message.or(posted);
            }
            Ok(None) => {}
            Err(error) => {
                warn!(alert = %alert.id, error = %error_chain(&error), "failed to read where an alert was posted");
            }
        }
        let rendered = alert_message(alert, count);
        let post = SlackPost {
            text: rendered.text,
            blocks: match rendered.blocks {
                Value::Array(blocks) => blocks,
                other => vec![other],
            },
            attachment: None,
        };
        // Slack sends no notification for an edit, so an alert that fires
        // again after it was resolved is posted anew.
        if refired {
            posted = None;
        }
        let result = match posted {
            Some(message) => bot
                .api()
                .update(&message.channel, &message.ts, &post)
                .await
                .map(|()| None),
            None => bot.api().post(&self.channel, None, &post).await.map(Some),
        };
        match result {
            Ok(Some(ts)) => {
                bot.metrics().alert("posted");
                info!(alert = %alert.id, channel = %self.channel, "alert posted");
                if let Err(error) = self.store.set_message(alert.id, &self.channel, &ts) {
                    error!(alert = %alert.id, error = %error_chain(&error), "failed to record where an alert was posted");
                }
            }
            Ok(None) => {
                bot.metrics().alert("grouped");
                info!(alert = %alert.id, count, "alert repeat grouped");
            }
            Err(error) => {
                bot.metrics().alert("failed");
                error!(alert = %alert.id, error = %error_chain(&error), "failed to post an alert; the next alert request or start posts it");
            }
        }
    }

    /// Posts the recent stored alerts that never reached Slack: their post
    /// failed after every retry, or the server stopped before posting.
    pub async fn post_unposted(&self, bot: &Bot) {
        let stored = match self.store.recent(UNPOSTED_SCAN) {
            Ok(stored) => stored,
            Err(error) => {
                error!(error = %error_chain(&error), "failed to list alerts that were not posted");
                return;
            }
        };
        for entry in stored.into_iter().filter(|entry| entry.message.is_none()) {
            info!(alert = %entry.alert.id, "posting an alert that was not posted before");
            let recorded = Recorded::Repeat {
                alert: entry.alert,
                count: entry.count,
                message: None,
                status_changed: false,
            };
            self.announce(bot, recorded).await;
        }
    }

    fn alert(&self, value: &str) -> Result<Alert, String> {
        let id: AlertId = value
            .parse()
            .map_err(|_| format!("This button names no alert ({value})."))?;
        match self.store.get(id) {
            Ok(Some(stored)) => Ok(stored.alert),
            Ok(None) => Err(format!("Alert {id} is no longer stored.")),
            Err(error) => {
                error!(error = %error_chain(&error), "failed to read an alert");
                Err("The alert store could not be read; try again.".to_string())
            }
        }
    }
}

impl AlertActions for AlertDesk {
    fn request_for(&self, action_id: &str, value: &str) -> Result<String, String> {
        let alert = self.alert(value)?;
        action_request(&alert, action_id)
            .ok_or_else(|| format!("This alert has no action {action_id}."))
    }
}

/// Routes `POST /alerts`.
pub fn routes(desk: Arc<AlertDesk>, bot: Arc<Bot>) -> Router {
    Router::new()
        .route("/alerts", post(receive))
        // Leave room above the payload limit so an oversize body gets the
        // payload's own message rather than a bare 413.
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES * 2))
        .with_state(Endpoint { desk, bot })
}

async fn receive(State(endpoint): State<Endpoint>, headers: HeaderMap, body: Bytes) -> Response {
    if !endpoint.desk.authorized(&headers) {
        endpoint.bot.metrics().alert("rejected");
        warn!("rejected an alert request with a missing or wrong bearer token");
        return refusal(
            StatusCode::UNAUTHORIZED,
            "missing or wrong bearer token: send `Authorization: Bearer <token>` with the alert token",
        );
    }
    if !endpoint.bot.is_accepting() {
        return refusal(
            StatusCode::SERVICE_UNAVAILABLE,
            "the bot is shutting down; send the alert again",
        );
    }
    let desk = endpoint.desk.clone();
    let recorded = match tokio::task::spawn_blocking(move || desk.record(&body)).await {
        Ok(Ok(recorded)) => recorded,
        Ok(Err(rejected)) => {
            endpoint.bot.metrics().alert("rejected");
            warn!(status = %rejected.status, reason = %rejected.message, "rejected an alert request");
            return refusal(rejected.status, &rejected.message);
        }
        Err(error) => {
            error!(error = %error, "alert handler stopped");
            return refusal(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the alert could not be stored; send it again",
            );
        }
    };
    let ids: Vec<String> = recorded
        .iter()
        .map(|entry| entry.alert().id.to_string())
        .collect();
    let grouped = recorded
        .iter()
        .filter(|entry| matches!(entry, Recorded::Repeat { .. }))
        .count();
    let body = json!({
        "accepted": recorded.len(),
        "new": recorded.len() - grouped,
        "grouped": grouped,
        "ids": ids,
    });
    let bot = endpoint.bot.clone();
    let desk = endpoint.desk.clone();
    endpoint.bot.spawn(async move {
        for entry in recorded {
            desk.announce(&bot, entry).await;
        }
        desk.post_unposted(&bot).await;
    });
    (StatusCode::ACCEPTED, axum::Json(body)).into_response()
}

/// Rejection of an alert request: the status and the reason sent back.
struct Refusal {
    status: StatusCode,
    message: String,
}

fn refusal(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({"error": message}))).into_response()
}
