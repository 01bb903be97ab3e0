//! The `[slack]` and `[alerts]` tables of `warroom.toml`: how `warroom
//! serve` reaches Slack, where it listens, and where alerts go.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::chat::SettingsError;

/// Transport by which Slack delivers events to the bot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Delivery {
    /// Socket Mode: the bot opens a WebSocket to Slack with an app-level
    /// token, so no public URL is needed.
    Socket,
    /// Events API: Slack posts signed requests to the bot's HTTP listener.
    Events,
}

/// Settings of `warroom serve`, with paths resolved against the config
/// file's directory.
#[derive(Debug, Clone, PartialEq)]
pub struct ServeSettings {
    pub delivery: Delivery,
    /// Address of the HTTP listener: alerts, health, metrics and, for the
    /// Events API, Slack's requests.
    pub listen: SocketAddr,
    /// Base URL of the Slack Web API, without a trailing `/`: methods are
    /// appended as `{api_url}/{method}`.
    pub api_url: String,
    /// Files holding the secrets; when unset, the environment variables
    /// named in [`crate::slack::secret`] are read.
    pub bot_token_file: Option<PathBuf>,
    pub app_token_file: Option<PathBuf>,
    pub signing_secret_file: Option<PathBuf>,
    /// SQLite file of delivered event ids and received alerts.
    pub state_db: PathBuf,
    /// Time a Socket Mode connection waits before it reconnects after a
    /// failed attempt.
    pub reconnect_delay: Duration,
    pub alerts: AlertSettings,
}

/// Settings of the alert endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertSettings {
    /// Channel id the alerts are posted into; alerts are refused without one.
    pub channel: Option<String>,
    /// File holding the bearer token; when unset, `WARROOM_ALERT_TOKEN`.
    pub token_file: Option<PathBuf>,
    /// Repeats of one alert within this time update its message instead of
    /// posting it again.
    pub group_window: Duration,
    /// JSON Lines file that the alert commands read; each new alert is
    /// appended to it.
    pub feed: Option<PathBuf>,
}

/// Default address of the HTTP listener: local only, so exposing it is a
/// deliberate choice.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8480";

/// The Slack Web API.
pub const DEFAULT_API_URL: &str = "https://slack.com/api";

/// Default state database, beside the config file.
pub const DEFAULT_STATE_DB: &str = "warroom-state.sqlite";

/// Default time in which repeats of an alert are grouped.
pub const DEFAULT_GROUP_WINDOW: Duration = Duration::from_secs(15 * 60);

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSlack {
    delivery: Option<Delivery>,
    listen: Option<String>,
    api_url: Option<String>,
    bot_token_file: Option<PathBuf>,
    app_token_file: Option<PathBuf>,
    signing_secret_file: Option<PathBuf>,
    state_db: Option<PathBuf>,
    reconnect_delay_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAlerts {
    channel: Option<String>,
    token_file: Option<PathBuf>,
    group_window_secs: Option<u64>,
    feed: Option<PathBuf>,
}

impl ServeSettings {
    /// Reads the `[slack]` and `[alerts]` tables of the config file at
    /// `path`, or the defaults without a file.
    pub fn load(path: Option<&Path>) -> Result<Self, SettingsError> {
        let Some(path) = path else {
            return Self::from_toml("", Path::new("(defaults)"), Path::new("."));
        };
        let (text, base) = crate::chat::read_config(path)?;
        Self::from_toml(&text, path, base)
    }

    /// Parses the tables from config text; `origin` names the file in
    /// errors and relative paths are resolved against `base`.
    pub fn from_toml(text: &str, origin: &Path, base: &Path) -> Result<Self, SettingsError> {
        let invalid = |table: &str, message: String| SettingsError::Invalid {
            path: origin.to_path_buf(),
            message: format!("[{table}]: {message}"),
        };
        let mut table: toml::Table = toml::from_str(text)
            .map_err(|error| invalid("config", error.message().trim().to_string()))?;
        let slack = match table.remove("slack") {
            Some(value) => RawSlack::deserialize(value)
                .map_err(|error| invalid("slack", error.message().trim().to_string()))?,
            None => RawSlack::default(),
        };
        let alerts = match table.remove("alerts") {
            Some(value) => RawAlerts::deserialize(value)
                .map_err(|error| invalid("alerts", error.message().trim().to_string()))?,
            None => RawAlerts::default(),
        };

        let listen_text = slack.listen.as_deref().unwrap_or(DEFAULT_LISTEN);
        let listen = listen_text.parse().map_err(|_| {
            invalid(
                "slack",
                format!("`listen` is `{listen_text}`, not an address; write an IP and a port such as 127.0.0.1:8480"),
            )
        })?;
        let api_url = slack.api_url.unwrap_or_else(|| DEFAULT_API_URL.to_string());
        if url::Url::parse(&api_url).is_err() {
            return Err(invalid(
                "slack",
                format!(
                    "`api_url` is `{api_url}`, not a URL; leave it out to use {DEFAULT_API_URL}"
                ),
            ));
        }
        let api_url = api_url.trim_end_matches('/').to_string();
        if let Some(channel) = &alerts.channel
            && !crate::normalise::ChannelId::is_valid(channel)
        {
            return Err(invalid(
                "alerts",
                format!(
                    "`channel` is `{channel}`, not a channel id; give the id such as C0ALERTS (in Slack: channel details, bottom of the About tab)"
                ),
            ));
        }
        if alerts.group_window_secs == Some(0) {
            return Err(invalid(
                "alerts",
                "`group_window_secs` is 0, so no repeat would be grouped; give a positive number of seconds".to_string(),
            ));
        }
        let resolve = |path: Option<PathBuf>| path.map(|path| base.join(path));
        Ok(Self {
            delivery: slack.delivery.unwrap_or(Delivery::Socket),
            listen,
            api_url,
            bot_token_file: resolve(slack.bot_token_file),
            app_token_file: resolve(slack.app_token_file),
            signing_secret_file: resolve(slack.signing_secret_file),
            state_db: base.join(
                slack
                    .state_db
                    .unwrap_or_else(|| PathBuf::from(DEFAULT_STATE_DB)),
            ),
            reconnect_delay: Duration::from_secs(slack.reconnect_delay_secs.unwrap_or(5).max(1)),
            alerts: AlertSettings {
                channel: alerts.channel,
                token_file: resolve(alerts.token_file),
                group_window: alerts
                    .group_window_secs
                    .map(Duration::from_secs)
                    .unwrap_or(DEFAULT_GROUP_WINDOW),
                feed: resolve(alerts.feed),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_read_beside_others() {
        let text = r#"
model = "m"
[chat]
policy = "p.toml"
[slack]
delivery = "events"
listen = "0.0.0.0:9000"
api_url = "http://127.0.0.1:1/api/"
bot_token_file = "secrets/bot"
[alerts]
channel = "C0ALERTS"
group_window_secs = 60
feed = "demo/state/alerts.jsonl"
"#;
        let settings =
            ServeSettings::from_toml(text, Path::new("w.toml"), Path::new("/etc/w")).unwrap();
        assert_eq!(settings.delivery, Delivery::Events);
        assert_eq!(settings.listen.port(), 9000);
        assert_eq!(settings.api_url, "http://127.0.0.1:1/api");
        assert_eq!(
            settings.bot_token_file.as_deref(),
            Some(Path::new("/etc/w/secrets/bot"))
        );
        assert_eq!(settings.alerts.channel.as_deref(), Some("C0ALERTS"));
        assert_eq!(settings.alerts.group_window, Duration::from_secs(60));
        assert_eq!(settings.state_db, Path::new("/etc/w/warroom-state.sqlite"));
    }

    #[test]
    fn defaults_use_socket_mode_on_localhost() {
        let settings = ServeSettings::load(None).unwrap();
        assert_eq!(settings.delivery, Delivery::Socket);
        assert!(settings.listen.ip().is_loopback());
        assert_eq!(settings.api_url, DEFAULT_API_URL);
        assert_eq!(settings.alerts.channel, None);
    }

    #[test]
    fn bad_values_name_their_table_and_key() {
        for (text, expected) in [
            ("[slack]\ndelivery = \"rtm\"", "[slack]"),
            ("[slack]\nlisten = \"localhost\"", "`listen`"),
            ("[slack]\napi_url = \"not a url\"", "`api_url`"),
            ("[alerts]\nchannel = \"#alerts\"", "`channel`"),
            ("[alerts]\ngroup_window_secs = 0", "`group_window_secs`"),
            ("[alerts]\nchanel = \"C1\"", "[alerts]"),
        ] {
            let error = ServeSettings::from_toml(text, Path::new("w.toml"), Path::new("."))
                .unwrap_err()
                .to_string();
            assert!(error.contains(expected), "{text}: {error}");
        }
    }
}
