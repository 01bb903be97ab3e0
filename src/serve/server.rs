//! Start-up and shutdown of `warroom serve`. Start-up checks the secrets,
//! learns the bot's identity, opens the stores, binds the HTTP listener and
//! connects to Slack. Shutdown stops taking work, finishes what is in
//! flight and closes.

use std::net::SocketAddr;
use std::sync::Arc;

use slack_morphism::errors::SlackClientError;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{error, info};

use super::alert_desk::{self, AlertDesk};
use super::{Bot, Delivery, Metrics, ServeSettings, http};
use crate::alerts::{AlertFeed, AlertStore};
use crate::dialogue::Dialogue;
use crate::slack::seen::SeenDeliveries;
use crate::slack::socket::SocketMode;
use crate::slack::{ApiError, Secret, SecretError, SecretKind, SlackApi, events_http};

/// Errors that stop the server from starting.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Secret(#[from] SecretError),

    #[error(
        "Slack did not accept the bot token (auth.test); check SLACK_BOT_TOKEN and that the app is installed"
    )]
    Identity(#[source] ApiError),

    #[error(
        "failed to reach Slack at {url} (auth.test) or to read its response; check `api_url` and the network"
    )]
    Unreachable {
        url: String,
        #[source]
        source: ApiError,
    },

    #[error(transparent)]
    Api(#[from] ApiError),

    #[error("failed to open the delivery store")]
    Seen(#[from] crate::slack::seen::SeenError),

    #[error("failed to open the alert store")]
    Alerts(#[from] crate::alerts::StoreError),

    #[error("failed to listen on {address}")]
    Bind {
        address: SocketAddr,
        #[source]
        source: std::io::Error,
    },

    #[error("failed to connect to Slack in Socket Mode")]
    Socket(#[source] Box<slack_morphism::errors::SlackClientError>),
}

/// The secrets of one server; those its settings do not need stay `None`.
pub struct Secrets {
    pub bot_token: Secret,
    pub app_token: Option<Secret>,
    pub signing_secret: Option<Secret>,
    pub alert_token: Option<Secret>,
}

impl Secrets {
    /// Reads the secrets the settings need, from files or the environment.
    pub fn load(settings: &ServeSettings) -> Result<Self, SecretError> {
        let bot_token = Secret::load(SecretKind::BotToken, settings.bot_token_file.as_deref())?;
        let app_token = match settings.delivery {
            Delivery::Socket => Some(Secret::load(
                SecretKind::AppToken,
                settings.app_token_file.as_deref(),
            )?),
            Delivery::Events => None,
        };
        let signing_secret = match settings.delivery {
            Delivery::Events => Some(Secret::load(
                SecretKind::SigningSecret,
                settings.signing_secret_file.as_deref(),
            )?),
            Delivery::Socket => None,
        };
        let alert_token = match &settings.alerts.channel {
            Some(_) => Some(Secret::load(
                SecretKind::AlertToken,
                settings.alerts.token_file.as_deref(),
            )?),
            None => None,
        };
        Ok(Self {
            bot_token,
            app_token,
            signing_secret,
            alert_token,
        })
    }
}

/// A running server.
pub struct Server {
    bot: Arc<Bot>,
    socket: Option<SocketMode>,
    http: JoinHandle<std::io::Result<()>>,
    stop_http: CancellationToken,
    address: SocketAddr,
}

impl Server {
    /// Starts the server; returns once it listens and, in Socket Mode, has
    /// begun connecting.
    pub async fn start(
        dialogue: Dialogue<'static>,
        settings: &ServeSettings,
        secrets: Secrets,
    ) -> Result<Self, ServeError> {
        let api = SlackApi::new(&settings.api_url, &secrets.bot_token)?;
        let identity = api.auth_test().await.map_err(|error| match &error {
            ApiError::Call { source, .. } if matches!(**source, SlackClientError::ApiError(_)) => {
                ServeError::Identity(error)
            }
            _ => ServeError::Unreachable {
                url: settings.api_url.clone(),
                source: error,
            },
        })?;
        info!(user = %identity.user_id, team = %identity.team, "signed in to Slack");
        let seen = SeenDeliveries::open(&settings.state_db)?;
        let metrics = Arc::new(Metrics::new());

        let desk = match (&settings.alerts.channel, secrets.alert_token) {
            (Some(channel), Some(token)) => {
                let store = AlertStore::open(&settings.state_db)?;
                let feed = settings.alerts.feed.as_ref().map(AlertFeed::new);
                Some(Arc::new(AlertDesk::new(
                    store,
                    feed,
                    channel.clone(),
                    settings.alerts.group_window,
                    token,
                )))
            }
            _ => None,
        };
        let mut bot = Bot::new(dialogue, api.clone(), seen, identity, metrics);
        if let Some(desk) = &desk {
            bot = bot.with_alert_actions(desk.clone());
        }
        let bot = Arc::new(bot);

        let mut router = http::base_routes(bot.clone());
        if let Some(desk) = desk {
            let (sweeper, swept) = (bot.clone(), desk.clone());
            bot.spawn(async move { swept.post_unposted(&sweeper).await });
            router = router.merge(alert_desk::routes(desk, bot.clone()));
        }
        if let Some(secret) = &secrets.signing_secret {
            router = router.merge(events_http::routes(bot.clone(), secret));
        }
        let listener =
            TcpListener::bind(settings.listen)
                .await
                .map_err(|source| ServeError::Bind {
                    address: settings.listen,
                    source,
                })?;
        let address = listener.local_addr().map_err(|source| ServeError::Bind {
            address: settings.listen,
            source,
        })?;
        let stop_http = CancellationToken::new();
        let stopped = stop_http.clone();
        let http = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async move { stopped.cancelled().await })
                .await
        });
        info!(%address, "HTTP listener ready: /healthz, /metrics{}", if settings.alerts.channel.is_some() { ", /alerts" } else { "" });

        let socket = match &secrets.app_token {
            Some(token) => Some(
                SocketMode::start(&api, token, bot.clone(), settings.reconnect_delay)
                    .await
                    .map_err(|error| ServeError::Socket(Box::new(error)))?,
            ),
            None => None,
        };
        Ok(Self {
            bot,
            socket,
            http,
            stop_http,
            address,
        })
    }

    /// Returns the address the HTTP listener is bound to.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn bot(&self) -> &Arc<Bot> {
        &self.bot
    }

    /// Stops taking deliveries, waits for the work in flight (commands
    /// included), then closes Slack and the HTTP listener.
    pub async fn shutdown(self) {
        info!("shutting down: no new work is taken");
        self.bot.shutdown().await;
        if let Some(socket) = &self.socket {
            socket.stop().await;
        }
        self.stop_http.cancel();
        match self.http.await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => error!(error = %error, "HTTP listener failed"),
            Err(error) => error!(error = %error, "HTTP listener stopped"),
        }
        info!("shut down");
    }
}
