//! Tokens and the signing secret: read from a file or the environment,
//! checked for their expected shape, and never printed.

use std::fmt;
use std::path::{Path, PathBuf};

/// A secret value. Its `Debug` and `Display` forms hide the value, so a
/// secret logged by mistake shows as `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

/// Kind of secret: its purpose, where it is looked up and its expected form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretKind {
    /// Bot token (`xoxb-`), for the Web API.
    BotToken,
    /// App-level token (`xapp-`) with `connections:write`, for Socket Mode.
    AppToken,
    /// Signing secret of the Slack app, for the Events API.
    SigningSecret,
    /// Bearer token that alert senders present.
    AlertToken,
}

/// Errors raised while reading a secret.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("{what} is missing: set the environment variable {env} or `{key}` in the config file")]
    Missing {
        what: &'static str,
        env: &'static str,
        key: &'static str,
    },

    #[error("failed to read {what} from `{}`", path.display())]
    Read {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{what} from {origin} is empty")]
    Empty { what: &'static str, origin: String },

    #[error("{what} from {origin} does not start with `{prefix}`: {hint}")]
    WrongPrefix {
        what: &'static str,
        origin: String,
        prefix: &'static str,
        hint: &'static str,
    },

    #[error(
        "{what} from {origin} contains whitespace or control characters; store the value alone"
    )]
    BadCharacters { what: &'static str, origin: String },

    #[error(
        "{what} from {origin} has {length} characters, fewer than {MIN_SHARED_SECRET_CHARS}: use a random value such as the output of `openssl rand -hex 32`"
    )]
    TooShort {
        what: &'static str,
        origin: String,
        length: usize,
    },

    #[error("{what} in the environment variable {env} is not valid UTF-8")]
    NotUnicode {
        what: &'static str,
        env: &'static str,
    },
}

/// Minimum length of a secret that authenticates requests to the bot (the
/// signing secret and the alert token), so it cannot be guessed in a
/// feasible number of requests. Slack's signing secrets have 32.
pub const MIN_SHARED_SECRET_CHARS: usize = 16;

impl SecretKind {
    pub fn describe(self) -> &'static str {
        match self {
            Self::BotToken => "the Slack bot token",
            Self::AppToken => "the Slack app-level token",
            Self::SigningSecret => "the Slack signing secret",
            Self::AlertToken => "the alert endpoint token",
        }
    }

    /// Environment variable read when no file is configured.
    pub fn env_var(self) -> &'static str {
        match self {
            Self::BotToken => "SLACK_BOT_TOKEN",
            Self::AppToken => "SLACK_APP_TOKEN",
            Self::SigningSecret => "SLACK_SIGNING_SECRET",
            Self::AlertToken => "WARROOM_ALERT_TOKEN",
        }
    }

    /// Config key naming a file that contains the secret.
    pub fn config_key(self) -> &'static str {
        match self {
            Self::BotToken => "bot_token_file",
            Self::AppToken => "app_token_file",
            Self::SigningSecret => "signing_secret_file",
            Self::AlertToken => "token_file",
        }
    }

    fn prefix(self) -> Option<(&'static str, &'static str)> {
        match self {
            Self::BotToken => Some((
                "xoxb-",
                "copy the Bot User OAuth Token from OAuth & Permissions",
            )),
            Self::AppToken => Some((
                "xapp-",
                "create an app-level token with connections:write under Basic Information",
            )),
            Self::SigningSecret | Self::AlertToken => None,
        }
    }
}

impl Secret {
    /// Wraps a value without checks; for tests and values from trusted code.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Reads the secret from `file` when given, else from its environment
    /// variable, and checks its shape.
    pub fn load(kind: SecretKind, file: Option<&Path>) -> Result<Self, SecretError> {
        let what = kind.describe();
        let (value, origin) = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| SecretError::Read {
                    what,
                    path: path.to_path_buf(),
                    source,
                })?;
                (text, format!("`{}`", path.display()))
            }
            None => match std::env::var(kind.env_var()) {
                Ok(value) => (value, kind.env_var().to_string()),
                Err(std::env::VarError::NotUnicode(_)) => {
                    return Err(SecretError::NotUnicode {
                        what,
                        env: kind.env_var(),
                    });
                }
                Err(std::env::VarError::NotPresent) => {
                    return Err(SecretError::Missing {
                        what,
                        env: kind.env_var(),
                        key: kind.config_key(),
                    });
                }
            },
        };
        Self::check(kind, value.trim(), origin)
    }

    fn check(kind: SecretKind, value: &str, origin: String) -> Result<Self, SecretError> {
        let what = kind.describe();
        if value.is_empty() {
            return Err(SecretError::Empty { what, origin });
        }
        if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(SecretError::BadCharacters { what, origin });
        }
        if let Some((prefix, hint)) = kind.prefix()
            && !value.starts_with(prefix)
        {
            return Err(SecretError::WrongPrefix {
                what,
                origin,
                prefix,
                hint,
            });
        }
        let length = value.chars().count();
        if matches!(kind, SecretKind::SigningSecret | SecretKind::AlertToken)
            && length < MIN_SHARED_SECRET_CHARS
        {
            return Err(SecretError::TooShort {
                what,
                origin,
                length,
            });
        }
        Ok(Self(value.to_string()))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_value_is_trimmed_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bot");
        std::fs::write(&path, "xoxb-123-abc\n").unwrap();
        let secret = Secret::load(SecretKind::BotToken, Some(&path)).unwrap();
        assert_eq!(secret.expose(), "xoxb-123-abc");
        assert_eq!(
            format!("{secret:?} {secret}"),
            "Secret([redacted]) [redacted]"
        );

        std::fs::write(&path, "xapp-1-abc").unwrap();
        let error = Secret::load(SecretKind::BotToken, Some(&path)).unwrap_err();
        assert!(error.to_string().contains("does not start with `xoxb-`"));
        assert!(!error.to_string().contains("xapp-1-abc"));

        std::fs::write(&path, "  \n").unwrap();
        let error = Secret::load(SecretKind::SigningSecret, Some(&path)).unwrap_err();
        assert!(matches!(error, SecretError::Empty { .. }), "{error}");

        std::fs::write(&path, "abc def").unwrap();
        let error = Secret::load(SecretKind::AlertToken, Some(&path)).unwrap_err();
        assert!(
            matches!(error, SecretError::BadCharacters { .. }),
            "{error}"
        );
    }

    #[test]
    fn short_shared_secret_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("alert");
        std::fs::write(&path, "a").unwrap();
        let error = Secret::load(SecretKind::AlertToken, Some(&path)).unwrap_err();
        assert!(
            matches!(error, SecretError::TooShort { length: 1, .. }),
            "{error}"
        );
        assert!(error.to_string().contains("openssl rand"), "{error}");

        std::fs::write(&path, "0123456789abcdef").unwrap();
        assert!(Secret::load(SecretKind::SigningSecret, Some(&path)).is_ok());
    }

    #[test]
    fn missing_file_is_an_error_with_the_path() {
        let error =
            Secret::load(SecretKind::AppToken, Some(Path::new("/nonexistent/app"))).unwrap_err();
        assert!(error.to_string().contains("/nonexistent/app"), "{error}");
    }
}
