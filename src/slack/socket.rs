//! Socket Mode: slack-morphism keeps a WebSocket open to Slack with the
//! app-level token, and reconnects with a fresh `apps.connections.open`
//! URL after a `disconnect` envelope or a dropped connection.
//!
//! slack-morphism acknowledges an envelope only after its callback
//! returns, and a slow callback holds back every later envelope on that
//! connection. The callbacks here only hand the event to the bot, which
//! handles it in a task of its own, so the acknowledgement goes at once.

use std::sync::Arc;
use std::time::Duration;

use slack_morphism::errors::SlackClientError;
use slack_morphism::prelude::*;
use tracing::warn;

use super::api::{Connector, SlackApi};
use super::secret::Secret;
use crate::serve::Bot;

/// A running Socket Mode connection.
pub struct SocketMode {
    listener: SlackClientSocketModeListener<Connector>,
}

impl SocketMode {
    /// Connects with the app-level token and starts delivering to `bot`.
    pub async fn start(
        api: &SlackApi,
        app_token: &Secret,
        bot: Arc<Bot>,
        reconnect_delay: Duration,
    ) -> Result<Self, SlackClientError> {
        let environment = Arc::new(
            SlackClientEventsListenerEnvironment::new(api.client())
                .with_error_handler(on_error)
                .with_user_state(bot),
        );
        let callbacks = SlackSocketModeListenerCallbacks::new()
            .with_push_events(on_push_event)
            .with_interaction_events(on_interaction);
        let config = SlackClientSocketModeConfig::new()
            .with_max_connections_count(1)
            .with_initial_backoff_in_seconds(0)
            .with_reconnect_timeout_in_seconds(reconnect_delay.as_secs().max(1));
        let listener = SlackClientSocketModeListener::new(&config, environment, callbacks);
        let token = SlackApiToken::new(app_token.expose().into());
        listener.listen_for(&token).await?;
        listener.start().await;
        Ok(Self { listener })
    }

    /// Closes the connection; envelopes sent after this are redelivered by
    /// Slack to the next connection.
    pub async fn stop(&self) {
        self.listener.shutdown().await;
    }
}

async fn on_push_event(
    callback: SlackPushEventCallback,
    _client: Arc<SlackHyperClient>,
    state: SlackClientEventsUserState,
) -> UserCallbackResult<()> {
    if let Some(bot) = bot(&state).await
        && !bot.accept_event(callback)
    {
        warn!("event arrived during shutdown; Slack will deliver it again");
        return Err(Box::new(ShuttingDown));
    }
    Ok(())
}

async fn on_interaction(
    event: SlackInteractionEvent,
    _client: Arc<SlackHyperClient>,
    state: SlackClientEventsUserState,
) -> UserCallbackResult<()> {
    if let Some(bot) = bot(&state).await
        && !bot.accept_interaction(event)
    {
        return Err(Box::new(ShuttingDown));
    }
    Ok(())
}

async fn bot(state: &SlackClientEventsUserState) -> Option<Arc<Bot>> {
    state.read().await.get_user_state::<Arc<Bot>>().cloned()
}

/// Refusal of a delivery that arrives while the bot shuts down.
#[derive(Debug, thiserror::Error)]
#[error("the bot is shutting down")]
struct ShuttingDown;

/// Logs a listener error. A delivery rejected during shutdown is left
/// unacknowledged, so Slack delivers it again to the next connection. Any
/// other is acknowledged, because an envelope that failed once fails again.
fn on_error(
    error: Box<dyn std::error::Error + Send + Sync>,
    _client: Arc<SlackHyperClient>,
    _state: SlackClientEventsUserState,
) -> HttpStatusCode {
    if error.is::<ShuttingDown>() {
        return HttpStatusCode::SERVICE_UNAVAILABLE;
    }
    warn!(error = %error, "Socket Mode error");
    HttpStatusCode::OK
}
