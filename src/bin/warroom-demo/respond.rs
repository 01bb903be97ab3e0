//! Changing commands: restarts, patches, rollbacks, silences and
//! containment. Each records its change under `state/` and touches no real
//! system; repeating a change that is already in place changes nothing.

use std::collections::BTreeSet;

use jiff::SignedDuration;

use crate::clock::{Time, format_duration, format_relative, format_time, parse_duration};
use crate::demo::{Demo, DemoError, Report, not_on_host};
use crate::intel::{active_sessions, block_covering, find_hash, find_vuln, installed_version};
use crate::net::{Cidr, parse_ip};
use crate::observe::count;
use crate::state::{
    Block, Blocklist, DisabledUsers, IsolatedHosts, Patches, Quarantine, QuarantinedFile, Restart,
    Restarts, Rollback, Rollbacks, Silence, Silences,
};
use crate::values::{parse_hash, parse_id};
use crate::{
    AlertSilenceArgs, DeployRollbackArgs, FileQuarantineArgs, IpBlockArgs, PatchApplyArgs,
    ServiceRestartArgs,
};

/// A second restart of the same service within this window is taken as a
/// duplicate confirmation and not repeated.
const RESTART_REPEAT_WINDOW: SignedDuration = SignedDuration::from_secs(60);

/// Blocks broader than these prefixes would cut off whole providers.
const MIN_BLOCK_PREFIX_V4: u8 = 16;
const MIN_BLOCK_PREFIX_V6: u8 = 32;

/// Appended to reports of changes, which the demo only records.
const RECORDED_ONLY: &str = "(demo: recorded only, no real system was changed)";

pub fn service_restart(
    demo: &Demo,
    args: &ServiceRestartArgs,
    out: &mut Report,
) -> Result<(), DemoError> {
    let service = demo.service(&args.service)?;
    let target = demo.host(&args.host)?;
    if !target.local
        && !target
            .host
            .is_some_and(|host| host.services.iter().any(|name| name == service))
    {
        return Err(not_on_host(service, &target));
    }

    let state = demo.state()?;
    let mut restarts: Restarts = state.read()?;
    let now = demo.clock.now();
    if let Some(previous) = restarts.restarts.iter().rev().find(|restart| {
        restart.host == target.name
            && restart.service == service
            && now.duration_since(restart.at.0) < RESTART_REPEAT_WINDOW
    }) {
        out.line(format!(
            "{service} on {} was restarted {}; not restarted again.",
            target.name,
            format_relative(previous.at.0, now)
        ));
        return Ok(());
    }

    let was_failed = !target.local
        && demo.health()?.iter().any(|health| {
            health.host == target.name && health.failed_services.iter().any(|name| name == service)
        });
    restarts.restarts.push(Restart {
        host: target.name.clone(),
        service: service.to_string(),
        at: Time(now),
    });
    state.write(&restarts)?;
    let before = if was_failed { " (it had failed)" } else { "" };
    out.line(format!(
        "Restarted {service} on {}{before}. {RECORDED_ONLY}",
        target.name
    ));
    Ok(())
}

pub fn patch_apply(demo: &Demo, args: &PatchApplyArgs, out: &mut Report) -> Result<(), DemoError> {
    let target = demo.host(&args.host)?;
    let vuln = args
        .cve
        .as_deref()
        .map(|cve| find_vuln(demo, cve))
        .transpose()?;
    let package = args
        .package
        .as_deref()
        .map(|name| demo.package(name))
        .transpose()?;
    let installed = demo.installed_packages()?;
    if !installed.hosts.contains_key(&target.name) {
        return Err(DemoError::invalid(format!(
            "no package data for host `{}` in the demo, so patching it cannot be simulated",
            target.name
        )));
    }

    let state = demo.state()?;
    let mut patches: Patches = state.read()?;
    let current = |name: &str| installed_version(&installed, &patches, &target.name, name);
    let newest = |name: &str, fallback: &str| {
        installed
            .available
            .get(name)
            .cloned()
            .unwrap_or_else(|| fallback.to_string())
    };

    // (package, installed version, version to install)
    let mut upgrades: Vec<(String, String, String)> = Vec::new();
    match (&vuln, package) {
        (Some(vuln), package) => {
            if let Some(package) = package
                && !vuln
                    .packages
                    .iter()
                    .any(|affected| affected.name == package)
            {
                return Err(DemoError::invalid(format!(
                    "package `{package}` is not affected by {}; affected: {}",
                    vuln.cve,
                    vuln.packages
                        .iter()
                        .map(|affected| affected.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
            for affected in vuln
                .packages
                .iter()
                .filter(|affected| package.is_none_or(|package| package == affected.name))
            {
                if let Some(version) = current(&affected.name)
                    && affected.vulnerable.contains(&version)
                {
                    let to = newest(&affected.name, &affected.fixed);
                    upgrades.push((affected.name.clone(), version, to));
                }
            }
        }
        (None, Some(package)) => {
            let version = current(package).ok_or_else(|| {
                DemoError::invalid(format!(
                    "package `{package}` is not installed on `{}`",
                    target.name
                ))
            })?;
            let to = newest(package, &version);
            if to != version {
                upgrades.push((package.to_string(), version, to));
            }
        }
        (None, None) => {
            let names: BTreeSet<String> = installed
                .hosts
                .get(&target.name)
                .into_iter()
                .flat_map(|packages| packages.keys().cloned())
                .chain(
                    patches
                        .hosts
                        .get(&target.name)
                        .into_iter()
                        .flat_map(|packages| packages.keys().cloned()),
                )
                .collect();
            for name in names {
                if let Some(version) = current(&name) {
                    let to = newest(&name, &version);
                    if to != version {
                        upgrades.push((name, version, to));
                    }
                }
            }
        }
    }

    if upgrades.is_empty() {
        let reason = match (&vuln, package) {
            (Some(vuln), _) => format!("no installed package is vulnerable to {}", vuln.cve),
            (None, Some(package)) => format!("{package} is already the newest version"),
            (None, None) => "every package is already the newest version".to_string(),
        };
        out.line(format!("Nothing to install on {}: {reason}.", target.name));
        return Ok(());
    }

    let fixed = fixed_cves(demo, &upgrades)?;
    let host_patches = patches.hosts.entry(target.name.clone()).or_default();
    for (name, _, to) in &upgrades {
        host_patches.insert(name.clone(), to.clone());
    }
    state.write(&patches)?;

    let list: Vec<String> = upgrades
        .iter()
        .map(|(name, from, to)| format!("{name} {from} -> {to}"))
        .collect();
    out.line(format!(
        "Patched {}: {}. {RECORDED_ONLY}",
        target.name,
        list.join(", ")
    ));
    if !fixed.is_empty() {
        out.line(format!("Fixes: {}", fixed.join(", ")));
    }
    Ok(())
}

pub fn deploy_rollback(
    demo: &Demo,
    args: &DeployRollbackArgs,
    out: &mut Report,
) -> Result<(), DemoError> {
    let service = demo.service(&args.service)?;
    let environment = demo.environment(args.environment.as_deref().unwrap_or("production"))?;
    let mut deploys: Vec<_> = demo
        .deploys()?
        .into_iter()
        .filter(|deploy| {
            deploy.service == service
                && deploy.environment == environment
                && deploy.status == "succeeded"
        })
        .collect();
    deploys.sort_by_key(|deploy| deploy.at);
    let Some(last_deploy) = deploys.last() else {
        return Err(DemoError::invalid(format!(
            "no successful deployment of `{service}` in `{environment}` to roll back"
        )));
    };

    let state = demo.state()?;
    let mut rollbacks: Rollbacks = state.read()?;
    let last_rollback = rollbacks
        .rollbacks
        .iter()
        .filter(|rollback| rollback.service == service && rollback.environment == environment)
        .max_by_key(|rollback| rollback.at);
    let current = match last_rollback {
        Some(rollback) if rollback.at.0 > demo.clock.shift(last_deploy.at) => rollback.to.clone(),
        _ => last_deploy.version.clone(),
    };

    let mut versions: Vec<&str> = deploys
        .iter()
        .map(|deploy| deploy.version.as_str())
        .collect();
    versions.dedup();
    let target = match args.version.as_deref() {
        Some(text) => {
            let wanted = text.trim().trim_start_matches(['v', 'V']);
            let Some(version) = versions.iter().find(|version| **version == wanted) else {
                return Err(DemoError::invalid(format!(
                    "version `{wanted}` of `{service}` was never deployed to `{environment}`; deployed versions: {}",
                    versions.join(", ")
                )));
            };
            if *version == current {
                out.line(format!(
                    "{service} in {environment} already runs {current}; nothing to roll back."
                ));
                return Ok(());
            }
            version.to_string()
        }
        None => {
            let position = versions.iter().rposition(|version| *version == current);
            match position {
                Some(position) if position > 0 => versions[position - 1].to_string(),
                _ => {
                    return Err(DemoError::invalid(format!(
                        "{service} in {environment} runs {current}, and no earlier version was deployed; name one with --version"
                    )));
                }
            }
        }
    };

    let hosts = deploys
        .iter()
        .rev()
        .find(|deploy| deploy.version == target)
        .map(|deploy| deploy.hosts.join(", "))
        .unwrap_or_default();
    rollbacks.rollbacks.push(Rollback {
        service: service.to_string(),
        environment: environment.to_string(),
        from: current.clone(),
        to: target.clone(),
        at: Time(demo.clock.now()),
    });
    state.write(&rollbacks)?;
    out.line(format!(
        "Rolled back {service} in {environment} from {current} to {target} on {hosts}. {RECORDED_ONLY}"
    ));
    Ok(())
}

pub fn alert_silence(
    demo: &Demo,
    args: &AlertSilenceArgs,
    out: &mut Report,
) -> Result<(), DemoError> {
    let duration = parse_duration(&args.duration)?;
    let host = args
        .host
        .as_deref()
        .map(|host| demo.host(host))
        .transpose()?;
    let alert = args
        .alert_id
        .as_deref()
        .map(|id| parse_id(id, "ALRT", "alert").and_then(|id| demo.alert(&id)))
        .transpose()?;
    let subject = match (&host, &alert) {
        (Some(host), Some(alert)) if alert.host != host.name => {
            return Err(DemoError::invalid(format!(
                "alert `{}` fires on `{}`, not on `{}`; give only one of --host and --alert-id, or matching ones",
                alert.id, alert.host, host.name
            )));
        }
        (_, Some(alert)) => format!("{} ({} on {})", alert.id, alert.name, alert.host),
        (Some(host), None) => format!("all alerts of {}", host.name),
        (None, None) => return Err(DemoError::invalid("name a host or an alert to silence")),
    };

    let now = demo.clock.now();
    let until = now
        .checked_add(duration)
        .map_err(|error| DemoError::invalid(format!("silence end out of range: {error}")))?;
    let alert_id = alert.as_ref().map(|alert| alert.id.clone());
    let host_name = match &alert {
        Some(_) => None,
        None => host.as_ref().map(|host| host.name.clone()),
    };

    let state = demo.state()?;
    let mut silences: Silences = state.read()?;
    let existing = silences.entries.iter_mut().find(|silence| {
        silence.until.0 > now && silence.alert_id == alert_id && silence.host == host_name
    });
    match existing {
        Some(silence) if silence.until.0 >= until => {
            out.line(format!(
                "A silence of {subject} already lasts until {}; not changed.",
                format_time(silence.until.0)
            ));
            return Ok(());
        }
        Some(silence) => {
            silence.until = Time(until);
            state.write(&silences)?;
            out.line(format!(
                "Extended the silence of {subject} to {} (for {}).",
                format_time(until),
                format_duration(duration)
            ));
        }
        None => {
            silences.entries.push(Silence {
                host: host_name,
                alert_id,
                created_at: Time(now),
                until: Time(until),
            });
            state.write(&silences)?;
            out.line(format!(
                "Silenced {subject} for {}, until {}.",
                format_duration(duration),
                format_time(until)
            ));
        }
    }
    if let Some(alert) = &alert
        && alert.resolved_at.is_some()
    {
        out.line(format!(
            "Note: {} is resolved; the silence applies if it fires again.",
            alert.id
        ));
    }
    Ok(())
}

pub fn host_isolate(demo: &Demo, host: &str, out: &mut Report) -> Result<(), DemoError> {
    let target = demo.host(host)?;
    if target.local {
        return Err(DemoError::invalid(format!(
            "refusing to isolate `{}`: it is the machine the bot runs on, and isolating it would cut the bot off",
            target.name
        )));
    }

    let state = demo.state()?;
    let mut isolated: IsolatedHosts = state.read()?;
    if let Some(since) = isolated.hosts.get(&target.name) {
        out.line(format!(
            "{} is already isolated (since {}).",
            target.name,
            format_time(since.0)
        ));
        return Ok(());
    }
    isolated
        .hosts
        .insert(target.name.clone(), Time(demo.clock.now()));
    state.write(&isolated)?;
    let address = target
        .host
        .and_then(|host| host.address)
        .map(|address| format!(" ({address})"))
        .unwrap_or_default();
    out.line(format!(
        "Isolated {}{address}: all traffic is blocked except the EDR agent's connection. {RECORDED_ONLY}",
        target.name
    ));
    Ok(())
}

pub fn ip_block(demo: &Demo, args: &IpBlockArgs, out: &mut Report) -> Result<(), DemoError> {
    let target = match (&args.ip, &args.cidr) {
        (Some(ip), None) => Cidr::host(parse_ip(ip).map_err(DemoError::invalid)?),
        (None, Some(cidr)) => cidr.parse::<Cidr>().map_err(DemoError::invalid)?,
        _ => return Err(DemoError::invalid("give exactly one of --ip and --cidr")),
    };
    let duration = args.duration.as_deref().map(parse_duration).transpose()?;
    check_blockable(demo, &target)?;

    let now = demo.clock.now();
    let until = duration
        .map(|duration| {
            now.checked_add(duration)
                .map_err(|error| DemoError::invalid(format!("block end out of range: {error}")))
        })
        .transpose()?;
    let until_text = |until: Option<jiff::Timestamp>| match until {
        Some(until) => format!("until {}", format_time(until)),
        None => "until unblocked".to_string(),
    };

    let state = demo.state()?;
    let mut blocklist: Blocklist = state.read()?;
    if let Some((rule, existing)) = block_covering(&blocklist, target, now) {
        let lasts_long_enough = match (existing, until) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(existing), Some(until)) => existing >= until,
        };
        if lasts_long_enough {
            out.line(format!(
                "{target} is already blocked {} by rule {rule}; not changed.",
                until_text(existing)
            ));
            return Ok(());
        }
    }

    let target_text = target.to_string();
    match blocklist
        .entries
        .iter_mut()
        .find(|block| block.target == target_text)
    {
        Some(block) => {
            block.until = until.map(Time);
            block.blocked_at = Time(now);
        }
        None => blocklist.entries.push(Block {
            target: target_text,
            blocked_at: Time(now),
            until: until.map(Time),
        }),
    }
    state.write(&blocklist)?;
    let length = duration
        .map(|duration| format!(" for {}", format_duration(duration)))
        .unwrap_or_default();
    out.line(format!(
        "Blocked {target} at the firewall{length}, {}. {RECORDED_ONLY}",
        until_text(until)
    ));
    Ok(())
}

pub fn user_disable(demo: &Demo, user: &str, out: &mut Report) -> Result<(), DemoError> {
    let user = demo.user(user)?;
    let state = demo.state()?;
    let mut disabled: DisabledUsers = state.read()?;
    if let Some(since) = disabled.users.get(&user.name) {
        out.line(format!(
            "{} is already disabled (since {}).",
            demo.user_label(&user.name),
            format_time(since.0)
        ));
        return Ok(());
    }

    let sessions = active_sessions(demo, &user.name)?;
    disabled
        .users
        .insert(user.name.clone(), Time(demo.clock.now()));
    state.write(&disabled)?;
    let ended = if sessions.is_empty() {
        "it had no active sessions".to_string()
    } else {
        let list: Vec<String> = sessions
            .iter()
            .map(|session| format!("{} from {}", session.target, session.source_ip))
            .collect();
        format!(
            "ended {}: {}",
            count(sessions.len(), "active session"),
            list.join(", ")
        )
    };
    out.line(format!(
        "Disabled {}; {ended}. {RECORDED_ONLY}",
        demo.user_label(&user.name)
    ));
    if user.name.starts_with("svc-") {
        out.line(format!(
            "Note: {} is a service account; jobs that use it fail until it is enabled again.",
            user.name
        ));
    }
    Ok(())
}

pub fn file_quarantine(
    demo: &Demo,
    args: &FileQuarantineArgs,
    out: &mut Report,
) -> Result<(), DemoError> {
    let hash = parse_hash(&args.hash)?;
    let intel = find_hash(demo, &hash.hex)?.ok_or_else(|| {
        DemoError::invalid(format!(
            "no file with {} {} was seen on any host; nothing to quarantine",
            hash.algorithm, hash.hex
        ))
    })?;
    let target = args
        .host
        .as_deref()
        .map(|host| demo.host(host))
        .transpose()?;
    let sightings: Vec<_> = intel
        .seen_on
        .iter()
        .filter(|sighting| {
            target
                .as_ref()
                .is_none_or(|target| target.name == sighting.host)
        })
        .collect();
    if let (Some(target), true) = (&target, sightings.is_empty()) {
        let hosts: Vec<&str> = intel
            .seen_on
            .iter()
            .map(|sighting| sighting.host.as_str())
            .collect();
        return Err(DemoError::invalid(format!(
            "{} was not seen on `{}`; it was seen on: {}",
            intel.name,
            target.name,
            hosts.join(", ")
        )));
    }

    let state = demo.state()?;
    let mut quarantine: Quarantine = state.read()?;
    let now = demo.clock.now();
    let mut lines = Vec::new();
    let mut changed = false;
    for sighting in sightings {
        let done = quarantine
            .files
            .iter()
            .find(|file| file.sha256 == intel.sha256 && file.host == sighting.host);
        match done {
            Some(file) => lines.push(format!(
                "  {}: already quarantined since {}",
                sighting.host,
                format_time(file.at.0)
            )),
            None => {
                quarantine.files.push(QuarantinedFile {
                    sha256: intel.sha256.clone(),
                    host: sighting.host.clone(),
                    path: sighting.path.clone(),
                    at: Time(now),
                });
                changed = true;
                lines.push(format!(
                    "  {}: quarantined {}",
                    sighting.host, sighting.path
                ));
            }
        }
    }
    if changed {
        state.write(&quarantine)?;
    }
    let suffix = if changed {
        format!(" {RECORDED_ONLY}")
    } else {
        String::new()
    };
    out.line(format!("{} ({}):{suffix}", intel.name, intel.verdict));
    for line in lines {
        out.line(line);
    }
    if intel.verdict == "benign" {
        out.line(format!(
            "Warning: threat intelligence rates this file benign: {}",
            intel.description
        ));
    }
    Ok(())
}

/// Rejects blocks that would cut off the bot's own machine, an inventory
/// host, or a whole provider.
fn check_blockable(demo: &Demo, target: &Cidr) -> Result<(), DemoError> {
    let minimum = if target.is_ipv4() {
        MIN_BLOCK_PREFIX_V4
    } else {
        MIN_BLOCK_PREFIX_V6
    };
    if target.prefix() < minimum {
        return Err(DemoError::invalid(format!(
            "refusing to block {target}: broader than /{minimum}; block a narrower range"
        )));
    }
    for special in ["127.0.0.1", "::1", "0.0.0.0", "::"] {
        if let Ok(address) = special.parse()
            && target.contains(address)
        {
            return Err(DemoError::invalid(format!(
                "refusing to block {target}: it holds the local or unspecified address {special}"
            )));
        }
    }
    if let Some(host) = demo
        .inventory
        .hosts()
        .iter()
        .find(|host| host.address.is_some_and(|address| target.contains(address)))
    {
        return Err(DemoError::invalid(format!(
            "refusing to block {target}: it holds our host `{}` ({})",
            host.name,
            host.address
                .map(|address| address.to_string())
                .unwrap_or_default()
        )));
    }
    Ok(())
}

/// CVEs whose vulnerable versions the upgrades replace.
fn fixed_cves(
    demo: &Demo,
    upgrades: &[(String, String, String)],
) -> Result<Vec<String>, DemoError> {
    let mut fixed = Vec::new();
    for vuln in demo.vulns()? {
        let fixes = vuln.packages.iter().any(|affected| {
            upgrades.iter().any(|(name, from, to)| {
                *name == affected.name
                    && affected.vulnerable.contains(from)
                    && !affected.vulnerable.contains(to)
            })
        });
        if fixes {
            fixed.push(vuln.cve);
        }
    }
    Ok(fixed)
}
