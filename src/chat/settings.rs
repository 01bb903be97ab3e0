//! The `[chat]` table of `warroom.toml`: the policy file, the audit
//! database, the demo directory and the confirmation time.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::audit::DEFAULT_DB_FILE;
use crate::dialogue::DEFAULT_CONFIRMATION_TTL;

/// Settings of the chat bot, with paths resolved against the config
/// file's directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatSettings {
    pub policy: PathBuf,
    pub audit_db: PathBuf,
    /// Directory of the demo data, passed to commands as `WARROOM_DEMO_DIR`;
    /// its `inventory.toml` is the inventory slot values are checked against.
    pub demo_dir: PathBuf,
    pub confirmation_ttl: Duration,
}

/// Errors raised while reading a table of the config file.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("failed to read config file `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// `message` starts with the table, such as `[chat]: `.
    #[error("invalid config file `{}`: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
}

/// The `[chat]` table as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChatSettings {
    /// Access policy file (relative to the config file).
    policy: Option<PathBuf>,
    /// SQLite audit log (relative to the config file).
    audit_db: Option<PathBuf>,
    /// Demo data directory (relative to the config file).
    demo_dir: Option<PathBuf>,
    /// Seconds a pending action waits for confirmation or approval.
    confirmation_ttl_secs: Option<u64>,
}

/// Default policy file, beside the config file.
pub const DEFAULT_POLICY_FILE: &str = "policy.toml";

/// Default demo data directory, beside the config file.
pub const DEFAULT_DEMO_DIR: &str = "demo";

impl Default for ChatSettings {
    fn default() -> Self {
        Self::from_raw(RawChatSettings::default(), Path::new("."))
    }
}

impl ChatSettings {
    /// Reads the `[chat]` table of the config file at `path`; a file
    /// without one gives the defaults. Other tables are left to
    /// [`crate::config::Config`].
    pub fn load(path: &Path) -> Result<Self, SettingsError> {
        let (text, base) = read_config(path)?;
        Self::from_toml(&text, path, base)
    }

    /// Parses the `[chat]` table of config text; `origin` names the file in
    /// errors and relative paths are resolved against `base`.
    pub fn from_toml(text: &str, origin: &Path, base: &Path) -> Result<Self, SettingsError> {
        let invalid = |message: String| SettingsError::Invalid {
            path: origin.to_path_buf(),
            message: format!("[chat]: {message}"),
        };
        let mut table: toml::Table =
            toml::from_str(text).map_err(|error| invalid(error.message().trim().to_string()))?;
        let raw = match table.remove("chat") {
            Some(value) => RawChatSettings::deserialize(value)
                .map_err(|error| invalid(error.message().trim().to_string()))?,
            None => RawChatSettings::default(),
        };
        if raw.confirmation_ttl_secs == Some(0) {
            return Err(invalid(
                "`confirmation_ttl_secs` is 0, so every pending action would expire at once; give a positive number of seconds".to_string(),
            ));
        }
        Ok(Self::from_raw(raw, base))
    }

    fn from_raw(raw: RawChatSettings, base: &Path) -> Self {
        Self {
            policy: base.join(
                raw.policy
                    .unwrap_or_else(|| PathBuf::from(DEFAULT_POLICY_FILE)),
            ),
            audit_db: base.join(
                raw.audit_db
                    .unwrap_or_else(|| PathBuf::from(DEFAULT_DB_FILE)),
            ),
            demo_dir: base.join(
                raw.demo_dir
                    .unwrap_or_else(|| PathBuf::from(DEFAULT_DEMO_DIR)),
            ),
            confirmation_ttl: raw
                .confirmation_ttl_secs
                .map(Duration::from_secs)
                .unwrap_or(DEFAULT_CONFIRMATION_TTL),
        }
    }
}

/// Reads the config file at `path` and returns its text and the directory
/// its relative paths are resolved against.
pub(crate) fn read_config(path: &Path) -> Result<(String, &Path), SettingsError> {
    let text = std::fs::read_to_string(path).map_err(|source| SettingsError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let base = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    Ok((text, base))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_table_is_read_beside_other_tables() {
        let text = r#"
model = "models/x"

[matcher]
top_k = 1

[chat]
policy = "conf/policy.toml"
confirmation_ttl_secs = 60
"#;
        let settings =
            ChatSettings::from_toml(text, Path::new("w.toml"), Path::new("/etc/warroom")).unwrap();
        assert_eq!(settings.policy, Path::new("/etc/warroom/conf/policy.toml"));
        assert_eq!(
            settings.audit_db,
            Path::new("/etc/warroom").join(DEFAULT_DB_FILE)
        );
        assert_eq!(settings.demo_dir, Path::new("/etc/warroom/demo"));
        assert_eq!(settings.confirmation_ttl, Duration::from_secs(60));
    }

    #[test]
    fn missing_chat_table_gives_defaults() {
        let settings =
            ChatSettings::from_toml("model = \"m\"", Path::new("w.toml"), Path::new(".")).unwrap();
        assert_eq!(settings.confirmation_ttl, DEFAULT_CONFIRMATION_TTL);
        assert_eq!(settings.policy, Path::new("./policy.toml"));
    }

    #[test]
    fn unknown_chat_key_and_zero_ttl_are_rejected() {
        for text in [
            "[chat]\npolicyy = \"p\"",
            "[chat]\nconfirmation_ttl_secs = 0",
        ] {
            let error =
                ChatSettings::from_toml(text, Path::new("w.toml"), Path::new(".")).unwrap_err();
            assert!(
                matches!(error, SettingsError::Invalid { .. }),
                "{text}: {error}"
            );
        }
    }
}
