//! Changes the demo records, as JSON files under `$WARROOM_DEMO_DIR/state/`.
//! One exclusive lock covers a whole command, and each file is replaced
//! atomically (written to a temporary file, synced, renamed).

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::clock::Time;
use crate::demo::DemoError;

/// The state folder, locked while this value lives.
#[derive(Debug)]
pub struct State {
    dir: PathBuf,
    _lock: Flock<File>,
}

/// A typed state file and its name in the state folder.
pub trait StateFile: Serialize + DeserializeOwned + Default {
    const NAME: &'static str;
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Blocklist {
    pub entries: Vec<Block>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Block {
    /// An address, or a network in CIDR notation.
    pub target: String,
    pub blocked_at: Time,
    /// `None` blocks until someone unblocks.
    pub until: Option<Time>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Silences {
    pub entries: Vec<Silence>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Silence {
    /// Every alert of this host, or only `alert_id` when set.
    pub host: Option<String>,
    pub alert_id: Option<String>,
    pub created_at: Time,
    pub until: Time,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IsolatedHosts {
    /// Host name to the time it was isolated.
    pub hosts: BTreeMap<String, Time>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentChanges {
    pub declared: Vec<DeclaredIncident>,
    /// Incident id to the time it was resolved.
    pub resolved: BTreeMap<String, Time>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeclaredIncident {
    pub id: String,
    pub title: String,
    /// `sev1` to `sev4`.
    pub severity: String,
    pub opened_at: Time,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DisabledUsers {
    /// Account name to the time it was disabled.
    pub users: BTreeMap<String, Time>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quarantine {
    pub files: Vec<QuarantinedFile>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuarantinedFile {
    pub sha256: String,
    pub host: String,
    pub path: String,
    pub at: Time,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Restarts {
    pub restarts: Vec<Restart>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Restart {
    pub host: String,
    pub service: String,
    pub at: Time,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rollbacks {
    pub rollbacks: Vec<Rollback>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rollback {
    pub service: String,
    pub environment: String,
    pub from: String,
    pub to: String,
    pub at: Time,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Patches {
    /// Host name to package name to the version installed by `patch-apply`.
    pub hosts: BTreeMap<String, BTreeMap<String, String>>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pages {
    pub pages: Vec<Page>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Page {
    pub team: String,
    pub user: String,
    pub message: Option<String>,
    pub at: Time,
}

impl StateFile for Blocklist {
    const NAME: &'static str = "blocklist.json";
}
impl StateFile for Silences {
    const NAME: &'static str = "silences.json";
}
impl StateFile for IsolatedHosts {
    const NAME: &'static str = "isolated-hosts.json";
}
impl StateFile for IncidentChanges {
    const NAME: &'static str = "incidents.json";
}
impl StateFile for DisabledUsers {
    const NAME: &'static str = "disabled-users.json";
}
impl StateFile for Quarantine {
    const NAME: &'static str = "quarantine.json";
}
impl StateFile for Restarts {
    const NAME: &'static str = "restarts.json";
}
impl StateFile for Rollbacks {
    const NAME: &'static str = "rollbacks.json";
}
impl StateFile for Patches {
    const NAME: &'static str = "patches.json";
}
impl StateFile for Pages {
    const NAME: &'static str = "pages.json";
}

impl State {
    /// Creates the folder when missing and takes its exclusive lock,
    /// waiting for another command that holds it.
    pub fn open(dir: &Path) -> Result<Self, DemoError> {
        let write_error = |path: &Path| {
            let path = path.to_path_buf();
            move |source| DemoError::Write { path, source }
        };
        fs::create_dir_all(dir).map_err(write_error(dir))?;
        let lock_path = dir.join(".lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(write_error(&lock_path))?;
        let lock =
            Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, errno)| DemoError::Write {
                path: lock_path.clone(),
                source: errno.into(),
            })?;
        Ok(Self {
            dir: dir.to_path_buf(),
            _lock: lock,
        })
    }

    /// Reads a state file; a missing file is the empty state.
    pub fn read<T: StateFile>(&self) -> Result<T, DemoError> {
        read_unlocked(&self.dir)
    }

    /// Replaces a state file atomically.
    pub fn write<T: StateFile>(&self, value: &T) -> Result<(), DemoError> {
        let path = self.dir.join(T::NAME);
        let temporary = self.dir.join(format!(".{}.tmp", T::NAME));
        let write_error = |source| DemoError::Write {
            path: path.clone(),
            source,
        };
        let mut text =
            serde_json::to_string_pretty(value).map_err(|error| write_error(error.into()))?;
        text.push('\n');

        let mut file = File::create(&temporary).map_err(write_error)?;
        file.write_all(text.as_bytes()).map_err(write_error)?;
        file.sync_all().map_err(write_error)?;
        fs::rename(&temporary, &path).map_err(write_error)?;
        Ok(())
    }
}

/// Reads a state file without taking the lock, as read-only commands do.
/// Files are replaced by rename, so a reader never sees a half-written one.
pub fn read_unlocked<T: StateFile>(dir: &Path) -> Result<T, DemoError> {
    let path = dir.join(T::NAME);
    match fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text).map_err(|error| DemoError::Data {
            path,
            line: Some(error.line()),
            message: error.to_string(),
        }),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(T::default()),
        Err(source) => Err(DemoError::Read { path, source }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_file_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let state = State::open(&dir.path().join("state")).unwrap();
        let empty: IsolatedHosts = state.read().unwrap();
        assert!(empty.hosts.is_empty());

        let mut hosts = IsolatedHosts::default();
        hosts.hosts.insert(
            "web-01".to_string(),
            "2025-06-12T12:00:00Z".parse().unwrap(),
        );
        state.write(&hosts).unwrap();
        let read: IsolatedHosts = state.read().unwrap();
        assert_eq!(read.hosts, hosts.hosts);
        assert!(!dir.path().join("state/.isolated-hosts.json.tmp").exists());
    }

    #[test]
    fn corrupt_file_is_a_data_error() {
        let dir = tempfile::tempdir().unwrap();
        let state = State::open(dir.path()).unwrap();
        fs::write(dir.path().join("pages.json"), "{not json").unwrap();
        let error = state.read::<Pages>().unwrap_err();
        assert!(matches!(error, DemoError::Data { .. }), "{error}");
    }
}
