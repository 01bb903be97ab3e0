//! The Events API listener: Slack posts events and button clicks to the
//! bot's HTTP server, signed with the app's signing secret.
//!
//! A request is taken only when its `X-Slack-Signature` is the
//! HMAC-SHA256 of `v0:{timestamp}:{body}` (compared in constant time) and
//! its timestamp is within five minutes of now. Anything else gets 401.
//! Retries (`X-Slack-Retry-Num`) get 200 like first deliveries
//! and recognised by the bot's delivery store, so they never run twice.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::json;
use slack_morphism::prelude::*;
use slack_morphism::signature_verifier::SlackEventSignatureVerifier;
use tracing::{debug, warn};

use super::secret::Secret;
use crate::serve::Bot;

/// Shared state of the Slack routes.
#[derive(Clone)]
struct Listener {
    bot: Arc<Bot>,
    verifier: SlackEventSignatureVerifier,
}

/// Routes `/slack/events` and `/slack/interactions`.
pub fn routes(bot: Arc<Bot>, signing_secret: &Secret) -> Router {
    let verifier =
        SlackEventSignatureVerifier::new(&SlackSigningSecret::new(signing_secret.expose().into()));
    Router::new()
        .route("/slack/events", post(events))
        .route("/slack/interactions", post(interactions))
        .with_state(Listener { bot, verifier })
}

async fn events(State(listener): State<Listener>, headers: HeaderMap, body: Bytes) -> Response {
    let body = match listener.verify(&headers, &body) {
        Ok(body) => body,
        Err(reason) => return unauthorized(reason),
    };
    if let Some(retry) = header(&headers, "x-slack-retry-num") {
        debug!(
            retry,
            reason = header(&headers, "x-slack-retry-reason").unwrap_or("-"),
            "Slack retried a delivery"
        );
    }
    let event: SlackPushEvent = match serde_json::from_str(body) {
        Ok(event) => event,
        Err(error) => {
            // The request is signed, so it comes from Slack: a payload of a
            // kind this version does not read. An error status would only
            // make Slack deliver it again.
            warn!(error = %error, "skipped a signed Events API request of an unknown kind");
            return StatusCode::OK.into_response();
        }
    };
    match event {
        SlackPushEvent::UrlVerification(verification) => {
            Json(json!({"challenge": verification.challenge})).into_response()
        }
        SlackPushEvent::EventCallback(callback) => {
            if listener.bot.accept_event(callback) {
                StatusCode::OK.into_response()
            } else {
                // Slack retries a failed delivery, to this or the next instance.
                StatusCode::SERVICE_UNAVAILABLE.into_response()
            }
        }
        SlackPushEvent::AppRateLimited(limited) => {
            warn!(minute = ?limited.minute_rate_limited, "Slack rate-limited event deliveries to this app");
            StatusCode::OK.into_response()
        }
    }
}

async fn interactions(
    State(listener): State<Listener>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body = match listener.verify(&headers, &body) {
        Ok(body) => body,
        Err(reason) => return unauthorized(reason),
    };
    let payload = url::form_urlencoded::parse(body.as_bytes())
        .find(|(key, _)| key == "payload")
        .map(|(_, value)| value.into_owned());
    let Some(payload) = payload else {
        return bad_request("the body has no `payload` field");
    };
    let event: SlackInteractionEvent = match serde_json::from_str(&payload) {
        Ok(event) => event,
        Err(error) => {
            warn!(error = %error, "unreadable interaction payload");
            return bad_request("the payload is not an interaction");
        }
    };
    if listener.bot.accept_interaction(event) {
        StatusCode::OK.into_response()
    } else {
        StatusCode::SERVICE_UNAVAILABLE.into_response()
    }
}

impl Listener {
    /// Checks the request's signature and returns its body as text, or why
    /// it was rejected with 401.
    fn verify<'b>(&self, headers: &HeaderMap, body: &'b Bytes) -> Result<&'b str, &'static str> {
        let unauthorized = |reason: &'static str| {
            warn!(
                reason,
                "rejected a Slack request with a missing or invalid signature"
            );
            reason
        };
        let signature = header(
            headers,
            SlackEventSignatureVerifier::SLACK_SIGNED_HASH_HEADER,
        )
        .ok_or_else(|| unauthorized("missing X-Slack-Signature"))?;
        let timestamp = header(headers, SlackEventSignatureVerifier::SLACK_SIGNED_TIMESTAMP)
            .ok_or_else(|| unauthorized("missing X-Slack-Request-Timestamp"))?;
        let text = std::str::from_utf8(body).map_err(|_| unauthorized("body is not UTF-8"))?;
        self.verifier
            .verify(signature, text, timestamp)
            .map_err(|_| unauthorized("bad signature or timestamp more than 5 minutes off"))?;
        Ok(text)
    }
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

fn unauthorized(reason: &str) -> Response {
    (StatusCode::UNAUTHORIZED, format!("{reason}\n")).into_response()
}

fn bad_request(reason: &str) -> Response {
    (StatusCode::BAD_REQUEST, format!("{reason}\n")).into_response()
}
