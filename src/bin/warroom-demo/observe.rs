//! Read-only commands about hosts and services: health, logs, service
//! status, alerts and deployments.

use std::fs;
use std::path::PathBuf;

use jiff::Timestamp;

use crate::clock::{TimeRange, format_duration, format_relative, format_time};
use crate::data::{Alert, HostHealth};
use crate::demo::{Demo, DemoError, Report, Target, not_on_host};
use crate::local;
use crate::state::{IsolatedHosts, Restarts, Rollbacks, Silences};
use crate::values::{Severity, parse_id};
use crate::{AlertsListArgs, DeployHistoryArgs, ServerLogsArgs, ServiceStatusArgs};

/// Log lines a report shows at most; more would flood a chat thread.
const MAX_LOG_LINES: usize = 40;

/// Load per CPU above which a host counts as overloaded.
const LOAD_PER_CPU_WARNING: f64 = 1.5;

/// Memory or disk use, in percent, from which a host gets a warning.
const USE_WARNING_PERCENT: f64 = 90.0;

/// The state of a service on a host.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ServiceState {
    Running,
    /// Running again since a restart the demo recorded.
    Restarted(Timestamp),
    Failed,
}

pub fn server_health(demo: &Demo, host: &str, out: &mut Report) -> Result<(), DemoError> {
    let target = demo.host(host)?;
    let isolated: IsolatedHosts = demo.current()?;
    let mut warnings = Vec::new();

    if target.local {
        let health = local::health().map_err(|source| DemoError::Read {
            path: PathBuf::from("/proc"),
            source,
        })?;
        out.line(format!("{}: live data", describe(&target)));
        let load = health.load;
        out.line(format!(
            "Load: {:.2} / {:.2} / {:.2} (1, 5, 15 min) on {} CPUs",
            load[0], load[1], load[2], health.cpus
        ));
        check_load(load[0], health.cpus as f64, &mut warnings);

        let total = health.memory_total_kib * 1024;
        let used = total.saturating_sub(health.memory_available_kib * 1024);
        let memory_percent = percent(used, total);
        out.line(format!(
            "Memory: {} of {} used ({memory_percent:.0}%)",
            format_bytes(used),
            format_bytes(total)
        ));
        if memory_percent >= USE_WARNING_PERCENT {
            warnings.push(format!("memory {memory_percent:.0}% used"));
        }

        let disk_used = health
            .disk_total_bytes
            .saturating_sub(health.disk_available_bytes);
        let disk_percent = percent(disk_used, health.disk_total_bytes);
        out.line(format!(
            "Disk /: {} of {} used ({disk_percent:.0}%)",
            format_bytes(disk_used),
            format_bytes(health.disk_total_bytes)
        ));
        if disk_percent >= USE_WARNING_PERCENT {
            warnings.push(format!("disk / {disk_percent:.0}% full"));
        }
        let uptime = jiff::SignedDuration::from_secs(health.uptime_seconds as i64);
        out.line(format!("Uptime: {}", format_duration(uptime)));
        out.line("Failed services: not checked (the demo queries no service manager)");
    } else {
        let health = host_health(demo, &target.name)?;
        let restarts: Restarts = demo.current()?;
        let now = demo.clock.now();
        out.line(format!("{}: as of {}", describe(&target), format_time(now)));
        out.line(format!(
            "Load: {:.2} / {:.2} / {:.2} (1, 5, 15 min) on {} CPUs",
            health.load[0], health.load[1], health.load[2], health.cpus
        ));
        check_load(health.load[0], f64::from(health.cpus), &mut warnings);

        let memory_percent = percent(health.memory_used_mib, health.memory_total_mib);
        out.line(format!(
            "Memory: {} of {} MiB used ({memory_percent:.0}%)",
            health.memory_used_mib, health.memory_total_mib
        ));
        if memory_percent >= USE_WARNING_PERCENT {
            warnings.push(format!("memory {memory_percent:.0}% used"));
        }
        for disk in &health.disks {
            out.line(format!(
                "Disk {}: {}% of {} GiB used",
                disk.mount, disk.used_percent, disk.size_gib
            ));
            if f64::from(disk.used_percent) >= USE_WARNING_PERCENT {
                warnings.push(format!("disk {} {}% full", disk.mount, disk.used_percent));
            }
        }
        let booted = demo.clock.shift(health.booted_at);
        out.line(format!(
            "Uptime: {} (booted {})",
            format_duration(now.duration_since(booted)),
            format_time(booted)
        ));

        let failed: Vec<&str> = health
            .failed_services
            .iter()
            .filter(|service| {
                service_state(&health, &restarts, &target.name, service) == ServiceState::Failed
            })
            .map(String::as_str)
            .collect();
        if failed.is_empty() {
            out.line("Failed services: none");
        } else {
            out.line(format!("Failed services: {}", failed.join(", ")));
            warnings.push(format!("failed: {}", failed.join(", ")));
        }
    }

    if let Some(since) = isolated.hosts.get(&target.name) {
        out.line(format!("Network: ISOLATED since {}", format_time(since.0)));
        warnings.push("isolated from the network".to_string());
    }
    if warnings.is_empty() {
        out.line("Status: OK");
    } else {
        out.line(format!("Status: WARNING: {}", warnings.join("; ")));
    }
    Ok(())
}

pub fn server_logs(demo: &Demo, args: &ServerLogsArgs, out: &mut Report) -> Result<(), DemoError> {
    let target = demo.host(&args.host)?;
    let service = args
        .service
        .as_deref()
        .map(|name| demo.service(name))
        .transpose()?;
    let range = demo.clock.range(args.time_range.as_deref(), 1)?;
    let subject = match service {
        Some(service) => format!("{} on {}", service, target.name),
        None => target.name.clone(),
    };

    if target.local {
        return local_logs(service, &range, &subject, out);
    }
    if let (Some(service), Some(host)) = (service, target.host)
        && !host.services.iter().any(|name| name == service)
    {
        return Err(not_on_host(service, &target));
    }

    let dir = demo.path("logs").join(&target.name);
    let files: Vec<PathBuf> = match service {
        Some(service) => vec![dir.join(format!("{service}.log"))],
        None => match fs::read_dir(&dir) {
            Ok(entries) => {
                let mut files: Vec<PathBuf> = entries
                    .filter_map(Result::ok)
                    .map(|entry| entry.path())
                    .filter(|path| path.extension().is_some_and(|ext| ext == "log"))
                    .collect();
                files.sort();
                files
            }
            Err(_) => Vec::new(),
        },
    };

    let mut lines: Vec<(Timestamp, String)> = Vec::new();
    for file in files.iter().filter(|file| file.exists()) {
        let text = fs::read_to_string(file).map_err(|source| DemoError::Read {
            path: file.clone(),
            source,
        })?;
        for line in text.lines() {
            let Some((time, rest)) = line.split_once(' ') else {
                continue;
            };
            let time = time.parse().map_err(|_| {
                DemoError::data(file, format!("log line without an RFC 3339 time: {line:?}"))
            })?;
            let shifted = demo.clock.shift(time);
            if range.contains(shifted) {
                lines.push((
                    shifted,
                    format!("{} {rest}", shifted.strftime("%Y-%m-%dT%H:%M:%SZ")),
                ));
            }
        }
    }
    if !files.iter().any(|file| file.exists()) {
        out.line(format!("No logs of {subject} in the demo data."));
        return Ok(());
    }

    lines.sort_by_key(|(time, _)| *time);
    print_lines(
        &subject,
        &range,
        lines.into_iter().map(|(_, line)| line).collect(),
        out,
    );
    Ok(())
}

pub fn service_status(
    demo: &Demo,
    args: &ServiceStatusArgs,
    out: &mut Report,
) -> Result<(), DemoError> {
    let service = demo.service(&args.service)?;
    let restarts: Restarts = demo.current()?;

    if let Some(host) = &args.host {
        let target = demo.host(host)?;
        if target.local {
            return local_service(service, &target, out);
        }
        let Some(inventory_host) = target
            .host
            .filter(|host| host.services.iter().any(|name| name == service))
        else {
            return Err(not_on_host(service, &target));
        };
        let health = host_health(demo, &inventory_host.name)?;
        let state = service_state(&health, &restarts, &target.name, service);
        out.line(format!(
            "{service} on {}: {}",
            target.name,
            state.describe(demo.clock.now())
        ));
        if state == ServiceState::Failed {
            out.line(format!(
                "To restart it: ask to restart {service} on {}.",
                target.name
            ));
        }
        return Ok(());
    }

    let hosts: Vec<_> = demo
        .inventory
        .hosts()
        .iter()
        .filter(|host| host.name != "localhost" && host.services.iter().any(|name| name == service))
        .collect();
    if hosts.is_empty() {
        out.line(format!("No host in the inventory runs {service}."));
        return Ok(());
    }
    let mut states = Vec::new();
    for host in &hosts {
        let health = host_health(demo, &host.name)?;
        states.push((
            host.name.as_str(),
            service_state(&health, &restarts, &host.name, service),
        ));
    }
    let running = states
        .iter()
        .filter(|(_, state)| *state != ServiceState::Failed)
        .count();
    out.line(format!(
        "{service}: running on {running} of {} hosts",
        states.len()
    ));
    for (host, state) in &states {
        out.line(format!("  {host}: {}", state.describe(demo.clock.now())));
    }
    Ok(())
}

pub fn alerts_list(demo: &Demo, args: &AlertsListArgs, out: &mut Report) -> Result<(), DemoError> {
    let range = demo.clock.range(args.time_range.as_deref(), 24)?;
    let minimum = args.severity.as_deref().map(Severity::parse).transpose()?;
    let target = args
        .host
        .as_deref()
        .map(|host| demo.host(host))
        .transpose()?;
    let silences: Silences = demo.current()?;
    let now = demo.clock.now();

    let mut alerts: Vec<Alert> = demo
        .alerts()?
        .into_iter()
        .filter(|alert| {
            let fired = demo.clock.shift(alert.fired_at);
            let resolved = alert.resolved_at.map(|time| demo.clock.shift(time));
            range.overlaps(fired, resolved)
        })
        .filter(|alert| minimum.is_none_or(|minimum| alert.severity() >= minimum))
        .filter(|alert| {
            target
                .as_ref()
                .is_none_or(|target| alert.host == target.name)
        })
        .collect();
    alerts.sort_by(|a, b| {
        (
            a.resolved_at.is_some(),
            std::cmp::Reverse(a.severity()),
            std::cmp::Reverse(a.fired_at),
        )
            .cmp(&(
                b.resolved_at.is_some(),
                std::cmp::Reverse(b.severity()),
                std::cmp::Reverse(b.fired_at),
            ))
    });

    let mut filters = vec![range.label.clone()];
    if let Some(minimum) = minimum {
        filters.push(match minimum {
            Severity::Critical => "severity critical".to_string(),
            other => format!("severity {other} or above"),
        });
    }
    if let Some(target) = &target {
        filters.push(format!("on {}", target.name));
    }
    let firing = alerts
        .iter()
        .filter(|alert| alert.resolved_at.is_none())
        .count();
    if alerts.is_empty() {
        out.line(format!("No alerts {}.", filters.join(", ")));
        return Ok(());
    }
    out.line(format!(
        "{} {}: {firing} firing, {} resolved",
        count(alerts.len(), "alert"),
        filters.join(", "),
        alerts.len() - firing
    ));
    for alert in &alerts {
        let fired = demo.clock.shift(alert.fired_at);
        let state = match alert.resolved_at {
            None => format!("firing for {}", format_duration(now.duration_since(fired))),
            Some(resolved) => format!(
                "resolved {}",
                format_relative(demo.clock.shift(resolved), now)
            ),
        };
        let silenced = silenced_until(alert, &silences, now)
            .map(|until| format!(" [silenced until {}]", format_time(until)))
            .unwrap_or_default();
        out.line(format!(
            "{} {:<8} {:<11} {}: {} ({state}){silenced}",
            alert.id, alert.severity, alert.host, alert.name, alert.summary
        ));
    }
    Ok(())
}

pub fn alert_explain(demo: &Demo, id: Option<&str>, out: &mut Report) -> Result<(), DemoError> {
    let alert = match id {
        Some(id) => demo.alert(&parse_id(id, "ALRT", "alert")?)?,
        None => demo
            .alerts()?
            .into_iter()
            .filter(|alert| alert.resolved_at.is_none())
            .max_by_key(|alert| alert.fired_at)
            .ok_or_else(|| DemoError::invalid("no alert is firing; name one with --alert-id"))?,
    };
    let now = demo.clock.now();
    let fired = demo.clock.shift(alert.fired_at);
    let service = alert
        .service
        .as_deref()
        .map(|service| format!(", service {service}"))
        .unwrap_or_default();

    out.line(format!(
        "{} {} ({}) on {}{service}",
        alert.id, alert.name, alert.severity, alert.host
    ));
    match alert.resolved_at {
        None => out.line(format!(
            "Status: firing since {} ({})",
            format_time(fired),
            format_relative(fired, now)
        )),
        Some(resolved) => {
            let resolved = demo.clock.shift(resolved);
            out.line(format!(
                "Status: resolved at {} after {}",
                format_time(resolved),
                format_duration(resolved.duration_since(fired))
            ));
        }
    }
    out.line(format!("What it checks: {}", alert.check));
    out.line(format!("Why it fired: {}; {}", alert.summary, alert.cause));
    out.line(format!("Runbook: {}", alert.runbook));
    let silences: Silences = demo.current()?;
    if let Some(until) = silenced_until(&alert, &silences, now) {
        out.line(format!("Silenced until {}", format_time(until)));
    }
    Ok(())
}

pub fn deploy_history(
    demo: &Demo,
    args: &DeployHistoryArgs,
    out: &mut Report,
) -> Result<(), DemoError> {
    let service = args
        .service
        .as_deref()
        .map(|name| demo.service(name))
        .transpose()?;
    let environment = args
        .environment
        .as_deref()
        .map(|name| demo.environment(name))
        .transpose()?;
    let range = demo.clock.range(args.time_range.as_deref(), 7 * 24)?;
    let matches = |entry_service: &str, entry_environment: &str| {
        service.is_none_or(|service| service == entry_service)
            && environment.is_none_or(|environment| environment == entry_environment)
    };

    let mut entries: Vec<(Timestamp, String)> = Vec::new();
    for deploy in demo.deploys()? {
        let at = demo.clock.shift(deploy.at);
        if matches(&deploy.service, &deploy.environment) && range.contains(at) {
            entries.push((
                at,
                format!(
                    "{}  {} {} to {} ({}) by {}: {}; {}",
                    format_time(at),
                    deploy.service,
                    deploy.version,
                    deploy.environment,
                    deploy.hosts.join(", "),
                    deploy.by,
                    deploy.status,
                    deploy.change
                ),
            ));
        }
    }
    let rollbacks: Rollbacks = demo.current()?;
    for rollback in rollbacks.rollbacks {
        if matches(&rollback.service, &rollback.environment) && range.contains(rollback.at.0) {
            entries.push((
                rollback.at.0,
                format!(
                    "{}  {} rolled back in {} from {} to {} (through warroom)",
                    format_time(rollback.at.0),
                    rollback.service,
                    rollback.environment,
                    rollback.from,
                    rollback.to
                ),
            ));
        }
    }
    entries.sort_by_key(|(at, _)| std::cmp::Reverse(*at));

    let mut filters = vec![range.label.clone()];
    if let Some(service) = service {
        filters.push(format!("of {service}"));
    }
    if let Some(environment) = environment {
        filters.push(format!("in {environment}"));
    }
    if entries.is_empty() {
        out.line(format!("No deployments {}.", filters.join(", ")));
        return Ok(());
    }
    out.line(format!(
        "{} {}, newest first:",
        count(entries.len(), "deployment"),
        filters.join(", ")
    ));
    for (_, line) in entries {
        out.line(line);
    }
    Ok(())
}

impl ServiceState {
    fn describe(&self, now: Timestamp) -> String {
        match self {
            Self::Running => "running".to_string(),
            Self::Restarted(at) => format!("running, restarted {}", format_relative(*at, now)),
            Self::Failed => "FAILED (not running)".to_string(),
        }
    }
}

/// Returns the end of the silence that covers `alert` now, if any.
pub fn silenced_until(alert: &Alert, silences: &Silences, now: Timestamp) -> Option<Timestamp> {
    silences
        .entries
        .iter()
        .filter(|silence| silence.until.0 > now)
        .filter(|silence| match &silence.alert_id {
            Some(id) => *id == alert.id,
            None => silence.host.as_deref() == Some(alert.host.as_str()),
        })
        .map(|silence| silence.until.0)
        .max()
}

/// `web-01 (production, web)`.
fn describe(target: &Target<'_>) -> String {
    let mut details = Vec::new();
    if target.local {
        details.push("this machine".to_string());
    }
    if let Some(host) = target.host {
        details.extend(host.environment.clone());
        details.extend(host.role.clone());
    }
    if details.is_empty() {
        target.name.clone()
    } else {
        format!("{} ({})", target.name, details.join(", "))
    }
}

fn host_health(demo: &Demo, host: &str) -> Result<HostHealth, DemoError> {
    demo.health()?
        .into_iter()
        .find(|health| health.host == host)
        .ok_or_else(|| {
            DemoError::data(
                &demo.path("health.jsonl"),
                format!("no health record for host `{host}`"),
            )
        })
}

fn service_state(
    health: &HostHealth,
    restarts: &Restarts,
    host: &str,
    service: &str,
) -> ServiceState {
    let restarted = restarts
        .restarts
        .iter()
        .filter(|restart| restart.host == host && restart.service == service)
        .map(|restart| restart.at.0)
        .max();
    match restarted {
        Some(at) => ServiceState::Restarted(at),
        None if health.failed_services.iter().any(|name| name == service) => ServiceState::Failed,
        None => ServiceState::Running,
    }
}

fn local_service(service: &str, target: &Target<'_>, out: &mut Report) -> Result<(), DemoError> {
    let processes = local::processes(service).map_err(|source| DemoError::Read {
        path: PathBuf::from("/proc"),
        source,
    })?;
    if processes.is_empty() {
        out.line(format!(
            "{service} on {} (this machine): not running; no process named like it",
            target.name
        ));
        return Ok(());
    }
    let pids: Vec<String> = processes
        .iter()
        .map(|process| format!("{} ({})", process.pid, process.name))
        .collect();
    out.line(format!(
        "{service} on {} (this machine): running, {}: {}",
        target.name,
        count(processes.len(), "process"),
        pids.join(", ")
    ));
    Ok(())
}

fn local_logs(
    service: Option<&str>,
    range: &TimeRange,
    subject: &str,
    out: &mut Report,
) -> Result<(), DemoError> {
    let (read, failed) = local::read_logs(service);
    let Some(file) = read.into_iter().find(|file| !file.lines.is_empty()) else {
        let tried: Vec<String> = failed
            .iter()
            .map(|(path, error)| format!("{} ({})", path.display(), error_kind(error)))
            .collect();
        out.line(format!(
            "No logs readable for {subject} on this machine; tried: {}",
            tried.join(", ")
        ));
        return Ok(());
    };

    let mut undated = 0;
    let lines: Vec<String> = file
        .lines
        .into_iter()
        .filter(|line| match local::line_time(line) {
            Some(time) => range.contains(time),
            None => {
                undated += 1;
                true
            }
        })
        .collect();
    out.line(format!("From {}:", file.path.display()));
    print_lines(subject, range, lines, out);
    if undated > 0 {
        out.line(format!(
            "Note: {undated} lines carry no RFC 3339 time, so the time range was not applied to them."
        ));
    }
    Ok(())
}

fn print_lines(subject: &str, range: &TimeRange, lines: Vec<String>, out: &mut Report) {
    if lines.is_empty() {
        out.line(format!("No log lines of {subject} {}.", range.label));
        return;
    }
    let shown = lines.len().min(MAX_LOG_LINES);
    let total = count(lines.len(), "log line");
    if shown < lines.len() {
        out.line(format!(
            "{total} of {subject} {}; the last {shown}:",
            range.label
        ));
    } else {
        out.line(format!("{total} of {subject} {}:", range.label));
    }
    for line in &lines[lines.len() - shown..] {
        out.line(line);
    }
}

/// `1 alert`, `2 alerts`; `process` takes `es`.
pub fn count(number: usize, noun: &str) -> String {
    match number {
        1 => format!("1 {noun}"),
        _ if noun.ends_with('s') => format!("{number} {noun}es"),
        _ => format!("{number} {noun}s"),
    }
}

fn check_load(load: f64, cpus: f64, warnings: &mut Vec<String>) {
    if cpus > 0.0 && load / cpus > LOAD_PER_CPU_WARNING {
        warnings.push(format!("load {load:.2} on {cpus} CPUs"));
    }
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

fn format_bytes(bytes: u64) -> String {
    const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
    const MIB: f64 = 1024.0 * 1024.0;
    let bytes = bytes as f64;
    if bytes >= GIB {
        format!("{:.1} GiB", bytes / GIB)
    } else {
        format!("{:.0} MiB", bytes / MIB)
    }
}

fn error_kind(error: &std::io::Error) -> &'static str {
    match error.kind() {
        std::io::ErrorKind::NotFound => "not found",
        std::io::ErrorKind::PermissionDenied => "permission denied",
        _ => "unreadable",
    }
}
