//! Records of the demo data files, as written, and their loaders.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::clock::Time;
use crate::demo::{Demo, DemoError};
use crate::values::Severity;

/// Alerts received by `warroom serve`, relative to the demo directory;
/// `[alerts] feed` in warroom.toml points here.
pub const RECEIVED_ALERTS: &str = "state/alerts-received.jsonl";

/// One line of `alerts.jsonl`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Alert {
    /// `ALRT-` and digits.
    pub id: String,
    /// Alert rule name, such as `DiskSpaceLow`.
    pub name: String,
    /// critical, high, medium or low.
    pub severity: String,
    pub host: String,
    pub service: Option<String>,
    pub fired_at: Time,
    /// `None` while the alert fires.
    pub resolved_at: Option<Time>,
    pub summary: String,
    /// Condition the rule checks.
    pub check: String,
    /// Cause of the alert.
    pub cause: String,
    pub runbook: String,
}

/// One line of `deploys.jsonl`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deploy {
    pub service: String,
    pub environment: String,
    pub version: String,
    pub at: Time,
    /// Account name of who deployed.
    pub by: String,
    /// `succeeded` or `failed`.
    pub status: String,
    pub hosts: Vec<String>,
    pub change: String,
}

/// One line of `incidents.jsonl`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Incident {
    pub id: String,
    pub title: String,
    /// `sev1` to `sev4`.
    pub severity: String,
    /// `open`, `mitigated` or `resolved`.
    pub status: String,
    pub opened_at: Time,
    pub resolved_at: Option<Time>,
    /// Account name of the incident commander.
    pub commander: String,
    pub team: String,
    pub services: Vec<String>,
    pub updates: Vec<IncidentUpdate>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentUpdate {
    pub at: Time,
    pub by: String,
    pub text: String,
}

/// One line of `vulns.jsonl`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vuln {
    pub cve: String,
    pub title: String,
    pub severity: String,
    /// CVSS v3 base score.
    pub cvss: f32,
    /// Publication date, `YYYY-MM-DD`.
    pub published: String,
    /// Whether exploitation in the wild is known.
    pub exploited: bool,
    pub description: String,
    /// Affected products in words.
    pub affected: String,
    /// Affected packages of the inventory; empty when none of ours is.
    pub packages: Vec<AffectedPackage>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AffectedPackage {
    pub name: String,
    /// Exact package versions that are vulnerable.
    pub vulnerable: Vec<String>,
    /// First version with the fix.
    pub fixed: String,
}

/// `installed-packages.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstalledPackages {
    /// Package name to the newest version in the demo repository.
    pub available: BTreeMap<String, String>,
    /// Host name to package name to installed version.
    pub hosts: BTreeMap<String, BTreeMap<String, String>>,
}

/// One line of `ip-intel.jsonl`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IpIntel {
    pub ip: String,
    /// `malicious`, `suspicious` or `benign`.
    pub reputation: String,
    /// 0 (harmless) to 100 (certainly malicious).
    pub score: u8,
    pub categories: Vec<String>,
    pub asn: u32,
    pub org: String,
    /// ISO 3166 country code.
    pub country: String,
    /// Abuse contact from whois.
    pub whois: String,
    pub first_seen: Time,
    pub last_seen: Time,
    /// Abuse reports received.
    pub reports: u32,
}

/// One line of `hash-intel.jsonl`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HashIntel {
    pub sha256: String,
    pub sha1: String,
    pub md5: String,
    pub name: String,
    /// `malicious`, `benign` or `test file`.
    pub verdict: String,
    pub family: Option<String>,
    /// Engines that flag the file, such as `61/72`.
    pub detections: String,
    pub first_seen: Time,
    pub description: String,
    pub seen_on: Vec<Sighting>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sighting {
    pub host: String,
    pub path: String,
    pub at: Time,
}

/// One line of `activity.jsonl`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Activity {
    /// Account name.
    pub user: String,
    pub at: Time,
    /// `login` or `action`.
    pub kind: String,
    /// `success` or `failure`.
    pub outcome: String,
    pub source_ip: String,
    /// Host name, or a system such as `vpn`.
    pub target: String,
    pub detail: String,
    /// `active` for a session that is still open.
    pub session: Option<String>,
}

/// One line of `health.jsonl`: a host's health as of the data's now.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostHealth {
    pub host: String,
    pub cpus: u32,
    /// 1, 5 and 15 minute load averages.
    pub load: [f64; 3],
    pub memory_total_mib: u64,
    pub memory_used_mib: u64,
    pub disks: Vec<Disk>,
    pub booted_at: Time,
    pub failed_services: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Disk {
    pub mount: String,
    pub size_gib: u64,
    pub used_percent: u8,
}

/// `oncall.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Oncall {
    /// Team paged when none is named.
    pub default_team: String,
    pub schedules: Vec<Schedule>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    pub team: String,
    /// First handover of the rotation.
    pub start: Time,
    pub shift_hours: u32,
    /// Account names in rotation order.
    pub rotation: Vec<String>,
    /// Team paged when this one does not respond.
    pub escalation: Option<String>,
}

impl Demo {
    /// The data's alerts and those `warroom serve` received, which it
    /// appends with real times to [`RECEIVED_ALERTS`]. A received alert
    /// appears once per change, so its last line is its current state.
    pub fn alerts(&self) -> Result<Vec<Alert>, DemoError> {
        let mut alerts: Vec<Alert> = self.read_jsonl("alerts.jsonl")?;
        if !self.path(RECEIVED_ALERTS).exists() {
            return Ok(alerts);
        }
        let received: Vec<Alert> = self.read_jsonl(RECEIVED_ALERTS)?;
        for mut alert in received {
            alert.fired_at = self.clock.unshift(alert.fired_at.0);
            alert.resolved_at = alert.resolved_at.map(|time| self.clock.unshift(time.0));
            match alerts.iter_mut().find(|known| known.id == alert.id) {
                Some(known) => *known = alert,
                None => alerts.push(alert),
            }
        }
        Ok(alerts)
    }

    pub fn deploys(&self) -> Result<Vec<Deploy>, DemoError> {
        self.read_jsonl("deploys.jsonl")
    }

    pub fn incidents(&self) -> Result<Vec<Incident>, DemoError> {
        self.read_jsonl("incidents.jsonl")
    }

    pub fn vulns(&self) -> Result<Vec<Vuln>, DemoError> {
        self.read_jsonl("vulns.jsonl")
    }

    pub fn installed_packages(&self) -> Result<InstalledPackages, DemoError> {
        self.read_toml("installed-packages.toml")
    }

    pub fn ip_intel(&self) -> Result<Vec<IpIntel>, DemoError> {
        self.read_jsonl("ip-intel.jsonl")
    }

    pub fn hash_intel(&self) -> Result<Vec<HashIntel>, DemoError> {
        self.read_jsonl("hash-intel.jsonl")
    }

    pub fn activity(&self) -> Result<Vec<Activity>, DemoError> {
        self.read_jsonl("activity.jsonl")
    }

    pub fn health(&self) -> Result<Vec<HostHealth>, DemoError> {
        self.read_jsonl("health.jsonl")
    }

    pub fn oncall(&self) -> Result<Oncall, DemoError> {
        self.read_toml("oncall.toml")
    }

    /// Finds an alert by id, or fails with the list of known ids.
    pub fn alert(&self, id: &str) -> Result<Alert, DemoError> {
        let alerts = self.alerts()?;
        let known: Vec<String> = alerts.iter().map(|alert| alert.id.clone()).collect();
        alerts
            .into_iter()
            .find(|alert| alert.id == id)
            .ok_or_else(|| {
                DemoError::invalid(format!(
                    "unknown alert `{id}`; known alerts: {}",
                    known.join(", ")
                ))
            })
    }
}

impl Alert {
    pub fn severity(&self) -> Severity {
        Severity::parse(&self.severity).unwrap_or(Severity::Medium)
    }
}

#[cfg(test)]
mod tests {
    //! Consistency of the shipped demo data with the inventory and itself.

    use std::collections::BTreeSet;
    use std::path::PathBuf;

    use warroom::inventory::Inventory;

    use super::*;
    use crate::clock::Clock;
    use crate::values::{parse_cve, parse_hash, parse_id};

    fn demo() -> Demo {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("demo");
        Demo {
            inventory: Inventory::load(&dir.join("inventory.toml")).unwrap(),
            clock: Clock::at("2025-06-12T12:00:00Z".parse().unwrap()),
            dir,
        }
    }

    fn assert_host(demo: &Demo, host: &str, source: &str) {
        assert!(
            demo.inventory.host(host).is_some(),
            "{source}: unknown host `{host}`"
        );
    }

    fn assert_user(demo: &Demo, user: &str, source: &str) {
        assert!(
            demo.inventory.user_by_name(user).is_some(),
            "{source}: unknown user `{user}`"
        );
    }

    #[test]
    fn alerts_name_known_hosts_and_services() {
        let demo = demo();
        let mut ids = BTreeSet::new();
        for alert in demo.alerts().unwrap() {
            assert_eq!(parse_id(&alert.id, "ALRT", "alert").unwrap(), alert.id);
            assert!(ids.insert(alert.id.clone()), "duplicate {}", alert.id);
            assert!(
                Severity::parse(&alert.severity).is_ok(),
                "{}: severity",
                alert.id
            );
            assert_host(&demo, &alert.host, &alert.id);
            if let Some(service) = &alert.service {
                let host = demo.inventory.host(&alert.host).unwrap();
                assert!(
                    host.services.contains(service),
                    "{}: {service} not on {}",
                    alert.id,
                    alert.host
                );
            }
            if let Some(resolved) = alert.resolved_at {
                assert!(
                    resolved > alert.fired_at,
                    "{}: resolved before it fired",
                    alert.id
                );
            }
        }
    }

    #[test]
    fn deploys_name_known_entities() {
        let demo = demo();
        for deploy in demo.deploys().unwrap() {
            let source = format!("deploy {} {}", deploy.service, deploy.version);
            assert!(
                demo.inventory.service(&deploy.service).is_some(),
                "{source}"
            );
            assert!(
                demo.inventory.environment(&deploy.environment).is_some(),
                "{source}"
            );
            assert!(
                matches!(deploy.status.as_str(), "succeeded" | "failed"),
                "{source}"
            );
            assert!(
                demo.inventory.user_by_name(&deploy.by).is_some(),
                "{source}: unknown user {}",
                deploy.by
            );
            for host in &deploy.hosts {
                assert_host(&demo, host, &source);
            }
        }
    }

    #[test]
    fn incidents_name_known_people() {
        let demo = demo();
        for incident in demo.incidents().unwrap() {
            assert_eq!(
                parse_id(&incident.id, "INC", "incident").unwrap(),
                incident.id
            );
            assert!(
                Severity::parse(&incident.severity).is_ok(),
                "{}",
                incident.id
            );
            assert_user(&demo, &incident.commander, &incident.id);
            assert!(
                demo.inventory.team(&incident.team).is_some(),
                "{}",
                incident.id
            );
            assert_eq!(
                incident.resolved_at.is_some(),
                incident.status == "resolved",
                "{}",
                incident.id
            );
            for update in &incident.updates {
                assert_user(&demo, &update.by, &incident.id);
            }
        }
    }

    #[test]
    fn vulnerable_versions_are_fixed_by_available_ones() {
        let demo = demo();
        let installed = demo.installed_packages().unwrap();
        for vuln in demo.vulns().unwrap() {
            assert_eq!(parse_cve(&vuln.cve).unwrap(), vuln.cve);
            for package in &vuln.packages {
                assert!(
                    demo.inventory.package(&package.name).is_some(),
                    "{}: {}",
                    vuln.cve,
                    package.name
                );
                assert!(
                    !package.vulnerable.contains(&package.fixed),
                    "{}: fixed is vulnerable",
                    vuln.cve
                );
                let available = installed.available.get(&package.name);
                assert!(
                    available.is_some_and(|version| !package.vulnerable.contains(version)),
                    "{}: no fixed version of {} available",
                    vuln.cve,
                    package.name
                );
            }
        }
        for (host, packages) in &installed.hosts {
            assert_host(&demo, host, "installed-packages.toml");
            for package in packages.keys() {
                assert!(
                    demo.inventory.package(package).is_some(),
                    "{host}: {package}"
                );
            }
        }
    }

    #[test]
    fn intel_records_are_well_formed() {
        let demo = demo();
        for intel in demo.ip_intel().unwrap() {
            assert!(intel.ip.parse::<std::net::IpAddr>().is_ok(), "{}", intel.ip);
            assert!(intel.score <= 100, "{}", intel.ip);
        }
        for intel in demo.hash_intel().unwrap() {
            assert_eq!(parse_hash(&intel.sha256).unwrap().algorithm, "SHA-256");
            assert_eq!(parse_hash(&intel.sha1).unwrap().algorithm, "SHA-1");
            assert_eq!(parse_hash(&intel.md5).unwrap().algorithm, "MD5");
            for sighting in &intel.seen_on {
                assert_host(&demo, &sighting.host, &intel.name);
            }
        }
        for activity in demo.activity().unwrap() {
            assert_user(&demo, &activity.user, "activity.jsonl");
            assert!(activity.source_ip.parse::<std::net::IpAddr>().is_ok());
        }
    }

    #[test]
    fn every_remote_host_has_health_and_no_strangers() {
        let demo = demo();
        let health = demo.health().unwrap();
        for host in demo
            .inventory
            .hosts()
            .iter()
            .filter(|host| host.name != "localhost")
        {
            let record = health.iter().find(|record| record.host == host.name);
            let record = record.unwrap_or_else(|| panic!("no health record for {}", host.name));
            for service in &record.failed_services {
                assert!(host.services.contains(service), "{}: {service}", host.name);
            }
        }
        for record in &health {
            assert_host(&demo, &record.host, "health.jsonl");
        }
    }

    #[test]
    fn oncall_rotations_hold_team_members() {
        let demo = demo();
        let oncall = demo.oncall().unwrap();
        assert!(demo.inventory.team(&oncall.default_team).is_some());
        for schedule in &oncall.schedules {
            let team = demo.inventory.team(&schedule.team).unwrap();
            assert!(
                !schedule.rotation.is_empty(),
                "{}: empty rotation",
                schedule.team
            );
            assert!(schedule.shift_hours > 0, "{}: zero shift", schedule.team);
            for name in &schedule.rotation {
                let user = demo.inventory.user_by_name(name).unwrap();
                assert!(
                    team.members.contains(&user.id),
                    "{name} not in {}",
                    team.name
                );
            }
        }
    }

    #[test]
    fn log_files_belong_to_host_services() {
        let demo = demo();
        for host_dir in std::fs::read_dir(demo.path("logs")).unwrap() {
            let host_dir = host_dir.unwrap();
            let name = host_dir.file_name().to_string_lossy().into_owned();
            let host = demo
                .inventory
                .host(&name)
                .unwrap_or_else(|| panic!("logs of unknown {name}"));
            for file in std::fs::read_dir(host_dir.path()).unwrap() {
                let file = file.unwrap().path();
                let service = file.file_stem().unwrap().to_string_lossy().into_owned();
                assert!(host.services.contains(&service), "{name}: {service}");
                let text = std::fs::read_to_string(&file).unwrap();
                for line in text.lines() {
                    let time = line.split(' ').next().unwrap();
                    assert!(time.parse::<Time>().is_ok(), "{}: {line}", file.display());
                }
            }
        }
    }
}
