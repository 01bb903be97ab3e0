//! The Slack Web API methods the bot calls, through slack-morphism, with
//! rate limits honoured: a 429 waits `Retry-After` and tries again, so a
//! reply is delayed, never dropped.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use slack_morphism::errors::SlackClientError;
use slack_morphism::prelude::*;
use tracing::{debug, warn};

use super::render::{Attachment, SlackPost};
use super::secret::Secret;

/// The hyper connector the bot uses: HTTPS, or plain HTTP for a Slack
/// API URL on the loopback interface (a local test server or proxy).
pub type Connector = SlackClientHyperHttpsConnector;

/// Maximum attempts of one call while Slack returns 429 or the connection fails.
const MAX_ATTEMPTS: u32 = 8;

/// Wait before retrying a failed connection, doubled per attempt.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);

/// Maximum wait honoured from one `Retry-After`.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);

/// Errors of Web API calls.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("invalid Slack API URL `{url}`: {reason}")]
    BadUrl { url: String, reason: String },

    #[error("Slack method {method} failed")]
    Call {
        method: &'static str,
        #[source]
        source: Box<SlackClientError>,
    },

    #[error("Slack method {method} still failed after {attempts} attempts")]
    GaveUp {
        method: &'static str,
        attempts: u32,
        #[source]
        source: Box<SlackClientError>,
    },

    #[error("blocks for {method} do not match Slack's block format: {message}")]
    Blocks {
        method: &'static str,
        message: String,
    },
}

/// Identity of the bot in its workspace, from `auth.test`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotIdentity {
    pub user_id: String,
    pub bot_id: Option<String>,
    pub team: String,
}

/// A Web API client holding the bot token.
#[derive(Clone)]
pub struct SlackApi {
    client: Arc<SlackClient<Connector>>,
    token: SlackApiToken,
}

impl SlackApi {
    pub fn new(api_url: &str, bot_token: &Secret) -> Result<Self, ApiError> {
        let connector = connector(api_url)?;
        Ok(Self {
            client: Arc::new(SlackClient::new(connector)),
            token: SlackApiToken::new(bot_token.expose().into()),
        })
    }

    pub fn client(&self) -> Arc<SlackClient<Connector>> {
        self.client.clone()
    }

    pub async fn auth_test(&self) -> Result<BotIdentity, ApiError> {
        let response = call!(self, "auth.test", |session| session.auth_test().await)?;
        Ok(BotIdentity {
            user_id: response.user_id.to_string(),
            bot_id: response.bot_id.map(|id| id.to_string()),
            team: response.team,
        })
    }

    /// Posts a message, in `thread_ts` when given, attaches its full output
    /// when it has one, and returns the message's timestamp.
    pub async fn post(
        &self,
        channel: &str,
        thread_ts: Option<&str>,
        post: &SlackPost,
    ) -> Result<String, ApiError> {
        let ts = self.post_message(channel, thread_ts, post).await?;
        if let Some(attachment) = &post.attachment {
            let thread = thread_ts.unwrap_or(&ts);
            if let Err(error) = self.upload(channel, thread, attachment).await {
                warn!(channel, error = %crate::dialogue::error_chain(&error), "failed to attach the full output");
                let note = super::render::plain(
                    "The full output could not be attached; the part above is all this message holds.",
                );
                self.post_message(channel, Some(thread), &note).await?;
            }
        }
        Ok(ts)
    }

    async fn post_message(
        &self,
        channel: &str,
        thread_ts: Option<&str>,
        post: &SlackPost,
    ) -> Result<String, ApiError> {
        let content = content(post, "chat.postMessage")?;
        let mut request = SlackApiChatPostMessageRequest::new(channel.into(), content);
        if let Some(thread) = thread_ts {
            request = request.with_thread_ts(thread.into());
        }
        let response = call!(self, "chat.postMessage", |session| session
            .chat_post_message(&request)
            .await)?;
        Ok(response.ts.to_string())
    }

    /// Replaces the text and blocks of a posted message.
    pub async fn update(&self, channel: &str, ts: &str, post: &SlackPost) -> Result<(), ApiError> {
        let content = content(post, "chat.update")?;
        let request = SlackApiChatUpdateRequest::new(channel.into(), content, ts.into());
        call!(self, "chat.update", |session| session
            .chat_update(&request)
            .await)
        .map(|_| ())
    }

    /// Shows a message to one user only.
    pub async fn post_ephemeral(
        &self,
        channel: &str,
        user: &str,
        thread_ts: Option<&str>,
        text: &str,
    ) -> Result<(), ApiError> {
        let content = SlackMessageContent::new().with_text(super::render::escape(text));
        let mut request =
            SlackApiChatPostEphemeralRequest::new(channel.into(), user.into(), content);
        if let Some(thread) = thread_ts {
            request = request.with_thread_ts(thread.into());
        }
        call!(self, "chat.postEphemeral", |session| session
            .chat_post_ephemeral(&request)
            .await)
        .map(|_| ())
    }

    /// Uploads a text file into a thread.
    pub async fn upload(
        &self,
        channel: &str,
        thread_ts: &str,
        attachment: &Attachment,
    ) -> Result<(), ApiError> {
        let bytes = attachment.content.as_bytes().to_vec();
        let request =
            SlackApiFilesGetUploadUrlExternalRequest::new(attachment.filename.clone(), bytes.len());
        let target = call!(self, "files.getUploadURLExternal", |session| session
            .get_upload_url_external(&request)
            .await)?;
        let upload = SlackApiFilesUploadViaUrlRequest::new(
            target.upload_url.clone(),
            bytes,
            "text/plain".to_string(),
        );
        call!(self, "files.upload", |session| session
            .files_upload_via_url(&upload)
            .await)?;
        let complete = SlackApiFilesCompleteUploadExternalRequest::new(vec![
            SlackApiFilesComplete::new(target.file_id.clone())
                .with_title(attachment.filename.clone()),
        ])
        .with_channel_id(channel.into())
        .with_thread_ts(thread_ts.into());
        call!(self, "files.completeUploadExternal", |session| session
            .files_complete_upload_external(&complete)
            .await)
        .map(|_| ())
    }
}

/// Calls one Web API method: `$call` is evaluated with `$session` bound
/// to a fresh session for each attempt, until it succeeds or [`Retry`]
/// gives up.
macro_rules! call {
    ($api:expr, $method:literal, |$session:ident| $call:expr) => {{
        let mut retry = Retry::new($method);
        loop {
            let $session = $api.client.open_session(&$api.token);
            let result = $call;
            if let Some(outcome) = retry.after(result).await {
                break outcome;
            }
        }
    }};
}
use call;

/// The retry state of one call: waits out rate limits and retries dropped
/// connections; an error response from Slack ends the call at once.
struct Retry {
    method: &'static str,
    attempt: u32,
    backoff: Duration,
}

impl Retry {
    fn new(method: &'static str) -> Self {
        Self {
            method,
            attempt: 1,
            backoff: FIRST_BACKOFF,
        }
    }

    /// Returns the call's outcome, or `None` after waiting when the call
    /// should be made again.
    async fn after<T>(
        &mut self,
        result: Result<T, SlackClientError>,
    ) -> Option<Result<T, ApiError>> {
        let method = self.method;
        let error = match result {
            Ok(value) => return Some(Ok(value)),
            Err(error) => error,
        };
        let wait = match &error {
            SlackClientError::RateLimitError(limit) => {
                let wait = limit
                    .retry_after
                    .unwrap_or(Duration::from_secs(1))
                    .min(MAX_RETRY_AFTER);
                warn!(
                    method,
                    attempt = self.attempt,
                    wait_ms = wait.as_millis() as u64,
                    "Slack rate limit; waiting as asked"
                );
                wait
            }
            SlackClientError::HttpError(_)
            | SlackClientError::HttpProtocolError(_)
            | SlackClientError::SystemError(_) => {
                debug!(method, attempt = self.attempt, error = %error, "Slack call failed; retrying");
                let wait = self.backoff;
                self.backoff *= 2;
                wait
            }
            _ => {
                return Some(Err(ApiError::Call {
                    method,
                    source: Box::new(error),
                }));
            }
        };
        if self.attempt >= MAX_ATTEMPTS {
            return Some(Err(ApiError::GaveUp {
                method,
                attempts: self.attempt,
                source: Box::new(error),
            }));
        }
        tokio::time::sleep(wait).await;
        self.attempt += 1;
        None
    }
}

/// Builds the connector: HTTPS with the web PKI roots, and plain HTTP
/// only for a loopback address, so a token never crosses a network in
/// clear text.
fn connector(api_url: &str) -> Result<Connector, ApiError> {
    let bad = |reason: &str| ApiError::BadUrl {
        url: api_url.to_string(),
        reason: reason.to_string(),
    };
    let url = url::Url::parse(api_url).map_err(|error| bad(&error.to_string()))?;
    let builder = hyper_rustls::HttpsConnectorBuilder::new().with_webpki_roots();
    let https = match url.scheme() {
        "https" => builder.https_only().enable_http1().enable_http2().build(),
        "http" if is_loopback(&url) => builder.https_or_http().enable_http1().build(),
        "http" => {
            return Err(bad(
                "plain http is allowed only for 127.0.0.1, ::1 or localhost",
            ));
        }
        _ => return Err(bad("expected an https:// URL")),
    };
    Ok(SlackClientHyperConnector::with_connector(https).with_slack_api_url(api_url))
}

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name == "localhost",
        None => false,
    }
}

/// Builds message content from a post; blocks that slack-morphism cannot
/// read are a bug in the renderer, reported as such.
fn content(post: &SlackPost, method: &'static str) -> Result<SlackMessageContent, ApiError> {
    let blocks: Vec<SlackBlock> = serde_json::from_value(Value::Array(post.blocks.clone()))
        .map_err(|error| ApiError::Blocks {
            method,
            message: error.to_string(),
        })?;
    Ok(SlackMessageContent::new()
        .with_text(post.text.clone())
        .with_blocks(blocks))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_is_refused_off_loopback() {
        assert!(connector("https://slack.com/api/").is_ok());
        assert!(connector("http://127.0.0.1:9/api/").is_ok());
        assert!(connector("http://localhost:9/api/").is_ok());
        let error = connector("http://slack.example.com/api/").err().unwrap();
        assert!(error.to_string().contains("plain http"), "{error}");
        assert!(connector("ftp://x/").is_err());
    }

    #[test]
    fn rendered_blocks_are_valid_slack_blocks() {
        let post = super::super::render::plain("hello <world> & more");
        content(&post, "chat.postMessage").unwrap();
    }
}
