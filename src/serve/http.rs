//! The HTTP server of `warroom serve`: `/healthz`, `/metrics`, the alert
//! endpoint and, with the Events API, Slack's routes.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::Bot;

/// Routes every server has: health and metrics.
pub fn base_routes(bot: Arc<Bot>) -> Router {
    Router::new()
        .route("/healthz", get(health))
        .route("/metrics", get(metrics))
        .with_state(bot)
}

/// 200 while the bot takes deliveries, 503 once it shuts down, so a load
/// balancer stops sending work before the process ends.
async fn health(State(bot): State<Arc<Bot>>) -> Response {
    if bot.is_accepting() {
        (StatusCode::OK, "ok\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response()
    }
}

async fn metrics(State(bot): State<Arc<Bot>>) -> Response {
    (
        [(
            CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        bot.metrics().render(),
    )
        .into_response()
}
