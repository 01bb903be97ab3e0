//! The demo context: data directory, clock and inventory, reading the data
//! files, and turning argument values into inventory entities.

use std::fmt::{self, Write as _};
use std::fs;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use warroom::intent::CatalogError;
use warroom::inventory::{Host, Inventory, InventoryError, Team, User};

use crate::clock::Clock;
use crate::local;
use crate::state::{self, State, StateFile};

/// Everything a subcommand reads: where the data is, the current time and
/// the inventory.
#[derive(Debug)]
pub struct Demo {
    pub dir: PathBuf,
    pub clock: Clock,
    pub inventory: Inventory,
}

/// A host an argument names.
#[derive(Debug, Clone)]
pub struct Target<'a> {
    /// Name reports use.
    pub name: String,
    /// The inventory entry, when there is one.
    pub host: Option<&'a Host>,
    /// Whether the host is the machine the demo runs on, which reports
    /// real data.
    pub local: bool,
}

/// The text a subcommand prints on success.
#[derive(Debug, Default)]
pub struct Report {
    text: String,
}

/// Failures of a subcommand. `Invalid` exits with status 2, the rest with 1.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("{message}")]
    Invalid { message: String },

    #[error("failed to read `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("invalid data in `{}`{}: {message}; fix the file", path.display(), line.map(|line| format!(" line {line}")).unwrap_or_default())]
    Data {
        path: PathBuf,
        line: Option<usize>,
        message: String,
    },

    #[error("failed to write `{}`", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("failed to load the demo inventory")]
    Inventory {
        #[source]
        source: InventoryError,
    },

    #[error("failed to load the intent files for help")]
    Catalog {
        #[source]
        source: CatalogError,
    },
}

/// Aliases people use for the inventory's environment names.
const ENVIRONMENT_ALIASES: [(&str, &str); 5] = [
    ("prod", "production"),
    ("stage", "staging"),
    ("stg", "staging"),
    ("dev", "development"),
    ("test", "qa"),
];

impl Demo {
    /// Loads the inventory from `$WARROOM_DEMO_DIR` (default `demo` in the
    /// working directory) and reads the clock.
    pub fn load() -> Result<Self, DemoError> {
        let dir = std::env::var_os("WARROOM_DEMO_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("demo"));
        let clock = Clock::from_env()?;
        let inventory = Inventory::load(&dir.join("inventory.toml"))
            .map_err(|source| DemoError::Inventory { source })?;
        Ok(Self {
            dir,
            clock,
            inventory,
        })
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Reads a JSON Lines file of the data directory; blank lines are skipped.
    pub fn read_jsonl<T: DeserializeOwned>(&self, name: &str) -> Result<Vec<T>, DemoError> {
        let path = self.path(name);
        let text = read_text(&path)?;
        let mut records = Vec::new();
        for (index, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let record = serde_json::from_str(line).map_err(|error| DemoError::Data {
                path: path.clone(),
                line: Some(index + 1),
                message: error.to_string(),
            })?;
            records.push(record);
        }
        Ok(records)
    }

    /// Reads a TOML file of the data directory.
    pub fn read_toml<T: DeserializeOwned>(&self, name: &str) -> Result<T, DemoError> {
        let path = self.path(name);
        let text = read_text(&path)?;
        toml::from_str(&text).map_err(|error| DemoError::Data {
            line: error
                .span()
                .map(|span| text[..span.start].matches('\n').count() + 1),
            path,
            message: error.message().trim().to_string(),
        })
    }

    /// Opens the state folder, holding its lock until the result is dropped.
    pub fn state(&self) -> Result<State, DemoError> {
        State::open(&self.path("state"))
    }

    /// Reads a state file without locking, for commands that change nothing.
    pub fn current<T: StateFile>(&self) -> Result<T, DemoError> {
        state::read_unlocked(&self.path("state"))
    }

    /// Finds the host an argument names: an inventory name, FQDN or address,
    /// or the local machine.
    pub fn host(&self, text: &str) -> Result<Target<'_>, DemoError> {
        let text = text.trim();
        let local_entry = self.inventory.host("localhost");
        if let Some(host) = self.inventory.host(text) {
            return Ok(Target {
                name: host.name.clone(),
                host: Some(host),
                local: host.name == "localhost",
            });
        }
        if let Ok(address) = text.parse::<IpAddr>() {
            if address.is_loopback() {
                return Ok(Target {
                    name: "localhost".to_string(),
                    host: local_entry,
                    local: true,
                });
            }
            if let Some(host) = self.inventory.host_by_address(address) {
                return Ok(Target {
                    name: host.name.clone(),
                    host: Some(host),
                    local: false,
                });
            }
        }
        if local::is_own_hostname(text) {
            return Ok(Target {
                name: text.to_ascii_lowercase(),
                host: local_entry,
                local: true,
            });
        }
        let names = self.inventory.hosts().iter().map(|host| host.name.as_str());
        Err(DemoError::invalid(format!(
            "unknown host `{text}`: not in the demo inventory{}",
            suggestion(text, names)
        )))
    }

    /// Finds a user by account name or Slack user id; a leading `@` is ignored.
    pub fn user(&self, text: &str) -> Result<&User, DemoError> {
        let text = text.trim();
        let name = text.strip_prefix('@').unwrap_or(text);
        self.inventory
            .user_by_name(name)
            .or_else(|| self.inventory.user_by_id(name))
            .ok_or_else(|| {
                let names = self.inventory.users().iter().map(|user| user.name.as_str());
                DemoError::invalid(format!(
                    "unknown user `{text}`: not in the demo inventory{}",
                    suggestion(name, names)
                ))
            })
    }

    pub fn team(&self, text: &str) -> Result<&Team, DemoError> {
        let text = text.trim();
        self.inventory.team(text).ok_or_else(|| {
            let names = self.inventory.teams().iter().map(|team| team.name.as_str());
            DemoError::invalid(format!(
                "unknown team `{text}`; teams: {}",
                join_names(names)
            ))
        })
    }

    /// Returns the inventory's spelling of a service name.
    pub fn service(&self, text: &str) -> Result<&str, DemoError> {
        let text = text.trim();
        self.inventory.service(text).ok_or_else(|| {
            let names = self.inventory.services().iter().map(String::as_str);
            DemoError::invalid(format!(
                "unknown service `{text}`: not in the demo inventory{}",
                suggestion(text, names)
            ))
        })
    }

    /// Returns the inventory's spelling of an environment name, accepting
    /// short forms such as `prod`.
    pub fn environment(&self, text: &str) -> Result<&str, DemoError> {
        let text = text.trim();
        let full = ENVIRONMENT_ALIASES
            .iter()
            .find(|(alias, _)| alias.eq_ignore_ascii_case(text))
            .map_or(text, |(_, full)| full);
        self.inventory.environment(full).ok_or_else(|| {
            let names = self.inventory.environments().iter().map(String::as_str);
            DemoError::invalid(format!(
                "unknown environment `{text}`; environments: {}",
                join_names(names)
            ))
        })
    }

    /// Returns the inventory's spelling of a package name.
    pub fn package(&self, text: &str) -> Result<&str, DemoError> {
        let text = text.trim();
        self.inventory.package(text).ok_or_else(|| {
            let names = self.inventory.packages().iter().map(String::as_str);
            DemoError::invalid(format!(
                "unknown package `{text}`: not in the demo inventory{}",
                suggestion(text, names)
            ))
        })
    }

    /// Formats a user for reports: `name (Display Name)`.
    pub fn user_label(&self, name: &str) -> String {
        match self
            .inventory
            .user_by_name(name)
            .and_then(|user| user.display_name.as_deref())
        {
            Some(display) => format!("{name} ({display})"),
            None => name.to_string(),
        }
    }
}

impl DemoError {
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::Invalid {
            message: message.into(),
        }
    }

    pub fn data(path: &Path, message: impl Into<String>) -> Self {
        Self::Data {
            path: path.to_path_buf(),
            line: None,
            message: message.into(),
        }
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Invalid { .. } => 2,
            _ => 1,
        }
    }
}

impl Report {
    pub fn line(&mut self, line: impl fmt::Display) {
        // Writing to a String cannot fail.
        let _ = writeln!(self.text, "{line}");
    }

    pub fn text(&self) -> &str {
        &self.text
    }
}

fn read_text(path: &Path) -> Result<String, DemoError> {
    fs::read_to_string(path).map_err(|source| DemoError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// "; did you mean `x`?" for the closest name within two edits, else "".
pub fn suggestion<'a>(text: &str, names: impl Iterator<Item = &'a str>) -> String {
    let text = text.to_ascii_lowercase();
    names
        .map(|name| (strsim::levenshtein(&text, &name.to_ascii_lowercase()), name))
        .filter(|(distance, _)| *distance <= 2)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, name)| format!("; did you mean `{name}`?"))
        .unwrap_or_default()
}

/// Names in backticks, separated by commas.
pub fn join_names<'a>(names: impl Iterator<Item = &'a str>) -> String {
    names
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Builds the error for a service the inventory does not list on a host.
pub fn not_on_host(service: &str, target: &Target<'_>) -> DemoError {
    let services = target
        .host
        .map(|host| join_names(host.services.iter().map(String::as_str)))
        .unwrap_or_default();
    DemoError::invalid(format!(
        "service `{service}` does not run on host `{}`; services there: {services}",
        target.name
    ))
}
