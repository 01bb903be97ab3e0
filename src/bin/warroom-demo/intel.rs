//! Read-only security lookups: CVEs and exposure, IP and file-hash
//! reputation, and user activity.

use std::net::IpAddr;

use crate::clock::{format_relative, format_time};
use crate::data::{Activity, HashIntel, InstalledPackages, Vuln};
use crate::demo::{Demo, DemoError, Report};
use crate::net::{Cidr, parse_ip, parse_target, range_kind};
use crate::observe::count;
use crate::state::{Blocklist, DisabledUsers, Patches, Quarantine};
use crate::values::{parse_cve, parse_hash};
use crate::{UserActivityArgs, VulnExposureArgs};

/// A host with a vulnerable version of a package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exposure {
    pub host: String,
    pub package: String,
    pub installed: String,
    pub fixed: String,
}

/// Entries of activity a lookup lists at most.
const MAX_ACTIVITY: usize = 5;

pub fn vuln_lookup(demo: &Demo, cve: &str, out: &mut Report) -> Result<(), DemoError> {
    let vuln = find_vuln(demo, cve)?;
    let exploited = if vuln.exploited { "known" } else { "not known" };
    out.line(format!("{}: {}", vuln.cve, vuln.title));
    out.line(format!(
        "Severity: {} (CVSS {:.1}), published {}; exploitation in the wild: {exploited}",
        vuln.severity, vuln.cvss, vuln.published
    ));
    out.line(&vuln.description);
    out.line(format!("Affected: {}", vuln.affected));
    if vuln.packages.is_empty() {
        out.line("Fix: no package of our inventory is affected");
        return Ok(());
    }
    let fixes: Vec<String> = vuln
        .packages
        .iter()
        .map(|package| format!("{} {}", package.name, package.fixed))
        .collect();
    out.line(format!("Fixed in: {}", fixes.join(", ")));

    let exposures = exposures(demo, &vuln)?;
    let mut hosts: Vec<&str> = exposures
        .iter()
        .map(|exposure| exposure.host.as_str())
        .collect();
    hosts.dedup();
    if hosts.is_empty() {
        out.line("Our exposure: no host runs a vulnerable version");
    } else {
        out.line(format!(
            "Our exposure: {}: {}",
            count(hosts.len(), "host"),
            hosts.join(", ")
        ));
    }
    Ok(())
}

pub fn vuln_exposure(
    demo: &Demo,
    args: &VulnExposureArgs,
    out: &mut Report,
) -> Result<(), DemoError> {
    let vuln = find_vuln(demo, &args.cve)?;
    let installed = demo.installed_packages()?;
    let patches: Patches = demo.current()?;

    if let Some(host) = &args.host {
        let target = demo.host(host)?;
        if !installed.hosts.contains_key(&target.name) {
            out.line(format!(
                "No package data for {} in the demo, so its exposure to {} is unknown.",
                target.name, vuln.cve
            ));
            return Ok(());
        }
        if vuln.packages.is_empty() {
            out.line(format!(
                "{} is not exposed to {}: no package of our inventory is affected ({}).",
                target.name, vuln.cve, vuln.affected
            ));
            return Ok(());
        }
        let mut exposed = false;
        let mut details = Vec::new();
        for package in &vuln.packages {
            match installed_version(&installed, &patches, &target.name, &package.name) {
                Some(version) if package.vulnerable.contains(&version) => {
                    exposed = true;
                    details.push(format!(
                        "{} {version} is vulnerable; fixed in {}",
                        package.name, package.fixed
                    ));
                }
                Some(version) => details.push(format!(
                    "{} {version} is not a vulnerable version",
                    package.name
                )),
                None => details.push(format!("{} is not installed", package.name)),
            }
        }
        let verdict = if exposed {
            "is EXPOSED to"
        } else {
            "is not exposed to"
        };
        out.line(format!(
            "{} {verdict} {} ({}): {}",
            target.name,
            vuln.cve,
            vuln.title,
            details.join("; ")
        ));
        return Ok(());
    }

    if vuln.packages.is_empty() {
        out.line(format!(
            "No host is exposed to {} ({}): it affects {}, which our inventory does not run.",
            vuln.cve, vuln.title, vuln.affected
        ));
        return Ok(());
    }
    let exposures = exposures(demo, &vuln)?;
    let mut hosts: Vec<&str> = exposures
        .iter()
        .map(|exposure| exposure.host.as_str())
        .collect();
    hosts.dedup();
    if hosts.is_empty() {
        out.line(format!(
            "No host is exposed to {} ({}) among the {} hosts with package data.",
            vuln.cve,
            vuln.title,
            installed.hosts.len()
        ));
        return Ok(());
    }
    out.line(format!(
        "{} of {} with package data exposed to {} ({}):",
        count(hosts.len(), "host"),
        installed.hosts.len(),
        vuln.cve,
        vuln.title
    ));
    for exposure in &exposures {
        out.line(format!(
            "  {}: {} {} (fixed in {})",
            exposure.host, exposure.package, exposure.installed, exposure.fixed
        ));
    }
    Ok(())
}

pub fn ip_lookup(demo: &Demo, ip: &str, out: &mut Report) -> Result<(), DemoError> {
    let address = parse_ip(ip).map_err(DemoError::invalid)?;
    let now = demo.clock.now();
    let intel = demo
        .ip_intel()?
        .into_iter()
        .find(|entry| entry.ip.parse::<IpAddr>().ok() == Some(address));

    match &intel {
        Some(intel) => {
            out.line(format!(
                "{address}: {} (score {}/100): {}",
                intel.reputation,
                intel.score,
                intel.categories.join(", ")
            ));
            out.line(format!(
                "Owner: AS{} {} ({}); abuse contact {}",
                intel.asn, intel.org, intel.country, intel.whois
            ));
            out.line(format!(
                "Seen: first {}, last {}; {} abuse reports",
                format_time(demo.clock.shift(intel.first_seen)),
                format_relative(demo.clock.shift(intel.last_seen), now),
                intel.reports
            ));
        }
        None => out.line(format!(
            "{address}: no threat intelligence for this address"
        )),
    }
    if let Some(kind) = range_kind(address) {
        out.line(format!("Range: {kind}"));
    }
    if let Some(host) = demo.inventory.host_by_address(address) {
        out.line(format!("Our host: {}", host.name));
    }

    let blocklist: Blocklist = demo.current()?;
    match block_covering(&blocklist, Cidr::host(address), now) {
        Some((rule, None)) => out.line(format!("Blocklist: blocked until unblocked (rule {rule})")),
        Some((rule, Some(until))) => out.line(format!(
            "Blocklist: blocked until {} (rule {rule})",
            format_time(until)
        )),
        None => out.line("Blocklist: not blocked"),
    }

    let seen: Vec<Activity> = demo
        .activity()?
        .into_iter()
        .filter(|activity| activity.source_ip.parse::<IpAddr>().ok() == Some(address))
        .collect();
    if !seen.is_empty() {
        out.line(format!(
            "In our activity logs: {}",
            count(seen.len(), "event")
        ));
        for activity in seen.iter().take(MAX_ACTIVITY) {
            out.line(format!("  {}", activity_line(demo, activity)));
        }
    }
    Ok(())
}

pub fn hash_lookup(demo: &Demo, hash: &str, out: &mut Report) -> Result<(), DemoError> {
    let hash = parse_hash(hash)?;
    let Some(intel) = find_hash(demo, &hash.hex)? else {
        out.line(format!(
            "No threat intelligence for {} {}.",
            hash.algorithm, hash.hex
        ));
        return Ok(());
    };
    let family = intel
        .family
        .as_deref()
        .map(|family| format!(", {family}"))
        .unwrap_or_default();
    out.line(format!(
        "{}: {}{family} ({} engines flag it)",
        intel.name,
        intel.verdict.to_uppercase(),
        intel.detections
    ));
    out.line(&intel.description);
    out.line(format!(
        "SHA-256 {}, SHA-1 {}, MD5 {}",
        intel.sha256, intel.sha1, intel.md5
    ));
    out.line(format!(
        "First seen: {}",
        format_time(demo.clock.shift(intel.first_seen))
    ));
    let quarantine: Quarantine = demo.current()?;
    out.line(format!("Seen on {}:", count(intel.seen_on.len(), "host")));
    for sighting in &intel.seen_on {
        let quarantined = quarantine
            .files
            .iter()
            .find(|file| file.sha256 == intel.sha256 && file.host == sighting.host)
            .map(|file| format!(" [quarantined {}]", format_time(file.at.0)))
            .unwrap_or_default();
        out.line(format!(
            "  {} {} ({}){quarantined}",
            sighting.host,
            sighting.path,
            format_time(demo.clock.shift(sighting.at))
        ));
    }
    Ok(())
}

pub fn user_activity(
    demo: &Demo,
    args: &UserActivityArgs,
    out: &mut Report,
) -> Result<(), DemoError> {
    let user = demo.user(&args.user)?;
    let range = demo.clock.range(args.time_range.as_deref(), 24)?;
    let disabled: DisabledUsers = demo.current()?;
    let mut events: Vec<Activity> = demo
        .activity()?
        .into_iter()
        .filter(|activity| {
            activity.user == user.name && range.contains(demo.clock.shift(activity.at))
        })
        .collect();
    events.sort_by_key(|activity| std::cmp::Reverse(activity.at));

    let logins = events.iter().filter(|event| event.kind == "login").count();
    let failed = events
        .iter()
        .filter(|event| event.kind == "login" && event.outcome == "failure")
        .count();
    out.line(format!(
        "{}: {} {}: {} ({failed} failed), {}",
        demo.user_label(&user.name),
        count(events.len(), "event"),
        range.label,
        count(logins, "login"),
        count(events.len() - logins, "action")
    ));
    match disabled.users.get(&user.name) {
        Some(at) => out.line(format!("Account: DISABLED since {}", format_time(at.0))),
        None => {
            let sessions = active_sessions(demo, &user.name)?;
            if !sessions.is_empty() {
                let list: Vec<String> = sessions
                    .iter()
                    .map(|session| {
                        format!(
                            "{} from {} since {}",
                            session.target,
                            session.source_ip,
                            format_time(demo.clock.shift(session.at))
                        )
                    })
                    .collect();
                out.line(format!("Active sessions: {}", list.join("; ")));
            }
        }
    }
    for event in &events {
        out.line(format!("  {}", activity_line(demo, event)));
    }
    Ok(())
}

/// Hosts with a vulnerable version of a package that `vuln` affects, in
/// host order, taking versions installed by `patch-apply` into account.
pub fn exposures(demo: &Demo, vuln: &Vuln) -> Result<Vec<Exposure>, DemoError> {
    let installed = demo.installed_packages()?;
    let patches: Patches = demo.current()?;
    let mut found = Vec::new();
    for host in installed.hosts.keys() {
        for package in &vuln.packages {
            if let Some(version) = installed_version(&installed, &patches, host, &package.name)
                && package.vulnerable.contains(&version)
            {
                found.push(Exposure {
                    host: host.clone(),
                    package: package.name.clone(),
                    installed: version,
                    fixed: package.fixed.clone(),
                });
            }
        }
    }
    Ok(found)
}

/// The version of `package` on `host`: the one `patch-apply` installed, or
/// the one in the data.
pub fn installed_version(
    installed: &InstalledPackages,
    patches: &Patches,
    host: &str,
    package: &str,
) -> Option<String> {
    patches
        .hosts
        .get(host)
        .and_then(|packages| packages.get(package))
        .or_else(|| installed.hosts.get(host)?.get(package))
        .cloned()
}

/// Finds a CVE in the data, failing on an invalid or unknown id.
pub fn find_vuln(demo: &Demo, cve: &str) -> Result<Vuln, DemoError> {
    let cve = parse_cve(cve)?;
    demo.vulns()?
        .into_iter()
        .find(|vuln| vuln.cve == cve)
        .ok_or_else(|| {
            DemoError::invalid(format!(
                "unknown CVE `{cve}`: not in the demo vulnerability data"
            ))
        })
}

/// Finds a file by its MD5, SHA-1 or SHA-256 digest in lowercase hex.
pub fn find_hash(demo: &Demo, hex: &str) -> Result<Option<HashIntel>, DemoError> {
    Ok(demo
        .hash_intel()?
        .into_iter()
        .find(|intel| intel.sha256 == hex || intel.sha1 == hex || intel.md5 == hex))
}

/// Sessions of `user` the data marks as still open.
pub fn active_sessions(demo: &Demo, user: &str) -> Result<Vec<Activity>, DemoError> {
    Ok(demo
        .activity()?
        .into_iter()
        .filter(|activity| activity.user == user && activity.session.as_deref() == Some("active"))
        .collect())
}

/// Finds the active block rule that covers `target`, with its end (`None` for a
/// block without end).
pub fn block_covering(
    blocklist: &Blocklist,
    target: Cidr,
    now: jiff::Timestamp,
) -> Option<(String, Option<jiff::Timestamp>)> {
    blocklist
        .entries
        .iter()
        .filter(|block| block.until.is_none_or(|until| until.0 > now))
        .filter(|block| parse_target(&block.target).is_ok_and(|rule| rule.covers(&target)))
        .map(|block| (block.target.clone(), block.until.map(|until| until.0)))
        .max_by_key(|(_, until)| until.map_or(i64::MAX, |until| until.as_second()))
}

fn activity_line(demo: &Demo, activity: &Activity) -> String {
    format!(
        "{}  {} {} {} {} from {}: {}",
        format_time(demo.clock.shift(activity.at)),
        activity.user,
        activity.kind,
        activity.outcome,
        activity.target,
        activity.source_ip,
        activity.detail
    )
}
