//! `warroom-demo`: the bundled demo environment that the shipped intents
//! run. One subcommand per intent reads plain data files in the demo
//! directory, records changes under its `state/` folder, and reports real
//! load, memory, disk, services and logs for the local machine.

mod clock;
mod data;
mod demo;
mod incidents;
mod intel;
mod local;
mod net;
mod observe;
mod respond;
mod state;
mod values;

use std::ffi::OsString;
use std::io::Write;
use std::process::ExitCode;

use clap::{ArgGroup, Args, Parser, Subcommand};

use demo::{Demo, DemoError, Report};

/// Simulated infrastructure for warroom: answers questions from the demo
/// data and records changes without touching any real system.
#[derive(Debug, Parser)]
#[command(
    name = "warroom-demo",
    version,
    about,
    after_help = CONVENTIONS,
    disable_help_subcommand = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show load, memory, disk, uptime and failed services of a host
    ServerHealth(HostArgs),
    /// Show recent log lines of a host, optionally of one service
    ServerLogs(ServerLogsArgs),
    /// Show whether a service runs, on one host or on every host that has it
    ServiceStatus(ServiceStatusArgs),
    /// List alerts active in a time range [default: last 24 hours]
    AlertsList(AlertsListArgs),
    /// Explain one alert [default: the newest firing alert]
    AlertExplain(AlertIdArgs),
    /// List deployments in a time range [default: last 7 days]
    DeployHistory(DeployHistoryArgs),
    /// Show the state and updates of one incident [default: the newest open one]
    IncidentStatus(IncidentIdArgs),
    /// List open incidents
    IncidentList,
    /// Describe a CVE
    VulnLookup(CveArgs),
    /// List hosts exposed to a CVE, or check one host
    VulnExposure(VulnExposureArgs),
    /// Show reputation, owner and block status of an IP address
    IpLookup(IpArgs),
    /// Show threat intelligence for an MD5, SHA-1 or SHA-256 file hash
    HashLookup(HashArgs),
    /// Show logins, sessions and actions of a user [default: last 24 hours]
    UserActivity(UserActivityArgs),
    /// Show who is on call, for one team or all
    OncallWho(TeamArgs),
    /// List what the bot can do, or explain one topic
    Help(HelpArgs),
    /// Restart a service on a host (recorded only)
    ServiceRestart(ServiceRestartArgs),
    /// Install security updates on a host (recorded only)
    PatchApply(PatchApplyArgs),
    /// Roll a service back to its previous or a given version (recorded only)
    DeployRollback(DeployRollbackArgs),
    /// Declare a new incident
    IncidentDeclare(IncidentDeclareArgs),
    /// Mark an incident as resolved
    IncidentResolve(IncidentResolveArgs),
    /// Silence the alerts of a host, or one alert, for a duration
    AlertSilence(AlertSilenceArgs),
    /// Page the on-call engineer of a team
    OncallPage(OncallPageArgs),
    /// Cut a host off the network except its EDR connection (recorded only)
    HostIsolate(HostArgs),
    /// Block an IP address or CIDR range at the firewall (recorded only)
    IpBlock(IpBlockArgs),
    /// Disable a user account and end its sessions (recorded only)
    UserDisable(UserArgs),
    /// Quarantine a file by hash on one host or every host where it was seen
    FileQuarantine(FileQuarantineArgs),
}

#[derive(Debug, Args)]
struct HostArgs {
    /// Host name, FQDN or address from the inventory, or `localhost`
    #[arg(long)]
    host: String,
}

#[derive(Debug, Args)]
struct ServerLogsArgs {
    /// Host name, FQDN or address from the inventory, or `localhost`
    #[arg(long)]
    host: String,
    /// Only lines of this service
    #[arg(long)]
    service: Option<String>,
    /// Time range of the lines [default: last 1 hour]
    #[arg(long)]
    time_range: Option<String>,
}

#[derive(Debug, Args)]
struct ServiceStatusArgs {
    /// Service name from the inventory
    #[arg(long)]
    service: String,
    /// Only this host [default: every host that runs the service]
    #[arg(long)]
    host: Option<String>,
}

#[derive(Debug, Args)]
struct AlertsListArgs {
    /// Time range the alerts were active in [default: last 24 hours]
    #[arg(long)]
    time_range: Option<String>,
    /// Minimum severity: critical, high, medium or low
    #[arg(long)]
    severity: Option<String>,
    /// Only alerts of this host
    #[arg(long)]
    host: Option<String>,
}

#[derive(Debug, Args)]
struct AlertIdArgs {
    /// Alert id, such as `ALRT-2210` or `2210`
    #[arg(long)]
    alert_id: Option<String>,
}

#[derive(Debug, Args)]
struct DeployHistoryArgs {
    /// Only this service
    #[arg(long)]
    service: Option<String>,
    /// Only this environment, such as `production`
    #[arg(long)]
    environment: Option<String>,
    /// Time range of the deployments [default: last 7 days]
    #[arg(long)]
    time_range: Option<String>,
}

#[derive(Debug, Args)]
struct IncidentIdArgs {
    /// Incident id, such as `INC-4821` or `4821`
    #[arg(long)]
    incident_id: Option<String>,
}

#[derive(Debug, Args)]
struct CveArgs {
    /// CVE id, such as `CVE-2024-3094`
    #[arg(long)]
    cve: String,
}

#[derive(Debug, Args)]
struct VulnExposureArgs {
    /// CVE id, such as `CVE-2024-3094`
    #[arg(long)]
    cve: String,
    /// Only this host
    #[arg(long)]
    host: Option<String>,
}

#[derive(Debug, Args)]
struct IpArgs {
    /// IPv4 or IPv6 address
    #[arg(long)]
    ip: String,
}

#[derive(Debug, Args)]
struct HashArgs {
    /// MD5, SHA-1 or SHA-256 digest in hex
    #[arg(long)]
    hash: String,
}

#[derive(Debug, Args)]
struct UserArgs {
    /// Account name or Slack user id from the inventory
    #[arg(long)]
    user: String,
}

#[derive(Debug, Args)]
struct UserActivityArgs {
    /// Account name or Slack user id from the inventory
    #[arg(long)]
    user: String,
    /// Time range of the events [default: last 24 hours]
    #[arg(long)]
    time_range: Option<String>,
}

#[derive(Debug, Args)]
struct TeamArgs {
    /// Team name [default: every team]
    #[arg(long)]
    team: Option<String>,
}

#[derive(Debug, Args)]
struct HelpArgs {
    /// Intent name, part of one (`incident`), risk tier or keyword
    #[arg(long)]
    topic: Option<String>,
}

#[derive(Debug, Args)]
struct ServiceRestartArgs {
    /// Service name from the inventory
    #[arg(long)]
    service: String,
    /// Host that runs the service
    #[arg(long)]
    host: String,
}

#[derive(Debug, Args)]
struct PatchApplyArgs {
    /// Host to patch
    #[arg(long)]
    host: String,
    /// Only the packages that fix this CVE
    #[arg(long)]
    cve: Option<String>,
    /// Only this package
    #[arg(long)]
    package: Option<String>,
}

#[derive(Debug, Args)]
struct DeployRollbackArgs {
    /// Service to roll back
    #[arg(long)]
    service: String,
    /// Environment [default: production]
    #[arg(long)]
    environment: Option<String>,
    /// Version to return to [default: the one before the current version]
    #[arg(long)]
    version: Option<String>,
}

#[derive(Debug, Args)]
struct IncidentDeclareArgs {
    /// One-line title, 3 to 200 characters
    #[arg(long)]
    title: String,
    /// sev1 (worst) to sev4, or critical, high, medium, low [default: sev3]
    #[arg(long)]
    severity: Option<String>,
}

#[derive(Debug, Args)]
struct IncidentResolveArgs {
    /// Incident id, such as `INC-4821` or `4821`
    #[arg(long)]
    incident_id: String,
}

#[derive(Debug, Args)]
#[group(skip)]
#[command(group(ArgGroup::new("silence_target").required(true).multiple(true).args(["host", "alert_id"])))]
struct AlertSilenceArgs {
    /// Silence length in whole seconds
    #[arg(long, value_name = "SECONDS")]
    duration: String,
    /// Silence every alert of this host
    #[arg(long)]
    host: Option<String>,
    /// Silence this alert
    #[arg(long)]
    alert_id: Option<String>,
}

#[derive(Debug, Args)]
struct OncallPageArgs {
    /// Team to page [default: the default team of oncall.toml]
    #[arg(long)]
    team: Option<String>,
    /// Message for the engineer, at most 500 characters
    #[arg(long)]
    message: Option<String>,
}

#[derive(Debug, Args)]
#[group(skip)]
#[command(group(ArgGroup::new("block_target").required(true).multiple(false).args(["ip", "cidr"])))]
struct IpBlockArgs {
    /// IPv4 or IPv6 address
    #[arg(long)]
    ip: Option<String>,
    /// Network in CIDR notation, such as `203.0.113.0/24`
    #[arg(long)]
    cidr: Option<String>,
    /// Block length in whole seconds [default: until unblocked]
    #[arg(long, value_name = "SECONDS")]
    duration: Option<String>,
}

#[derive(Debug, Args)]
struct FileQuarantineArgs {
    /// MD5, SHA-1 or SHA-256 digest in hex
    #[arg(long)]
    hash: String,
    /// Only this host [default: every host where the file was seen]
    #[arg(long)]
    host: Option<String>,
}

const CONVENTIONS: &str = "\
Argument formats:
  --time-range  `last N UNIT` with UNIT minutes, hours, days or weeks (also
                `last hour`, `last day`, `last week`), `today` or `yesterday`
                (UTC days), or `START..END` or `START/END` (ISO 8601
                interval) with RFC 3339 times such as 2025-06-12T08:00:00Z;
                END may be left out to mean now.
  --duration    whole seconds, from 1 to 7776000 (90 days).
  --severity    critical, high, medium or low; also sev1-sev4 and p1-p4.
  ids           ALRT-1234 and INC-1234, or the number alone.

Data comes from $WARROOM_DEMO_DIR (default: ./demo): inventory.toml and the
JSON Lines and TOML files beside it. Changes are written to its state/
folder and never touch a real system. Data times are shifted so that the
data's `now` (2025-06-12T12:00:00Z) is the current time; set
WARROOM_DEMO_NOW to an RFC 3339 time to fix the current time.
The local machine (`localhost`, 127.0.0.1 or its host name) reports real
load, memory, disk, processes and /var/log lines.

`warroom-demo echo-args ARGS...` prints ARGS as a JSON array of strings,
for tests of argument passing.

Exit status: 0 done (including \"already done\" and \"nothing found\"
answers to lookups), 1 data or state files could not be read or written,
2 invalid input or an unknown host, user, team, service, id or version.";

fn main() -> ExitCode {
    let raw: Vec<OsString> = std::env::args_os().collect();
    // `echo-args` bypasses clap so that every argument, including a literal
    // `--`, is printed exactly as received.
    if raw.get(1).is_some_and(|arg| arg == "echo-args") {
        return echo_args(&raw[2..]);
    }

    let cli = Cli::parse();
    match run(cli.command) {
        Ok(report) => {
            let mut stdout = std::io::stdout().lock();
            let _ = stdout.write_all(report.text().as_bytes());
            let _ = stdout.flush();
            ExitCode::SUCCESS
        }
        Err(error) => {
            let code = error.exit_code();
            eprintln!("error: {:#}", anyhow::Error::from(error));
            ExitCode::from(code)
        }
    }
}

fn run(command: Command) -> Result<Report, DemoError> {
    let demo = Demo::load()?;
    let mut report = Report::default();
    let out = &mut report;
    match command {
        Command::ServerHealth(args) => observe::server_health(&demo, &args.host, out)?,
        Command::ServerLogs(args) => observe::server_logs(&demo, &args, out)?,
        Command::ServiceStatus(args) => observe::service_status(&demo, &args, out)?,
        Command::AlertsList(args) => observe::alerts_list(&demo, &args, out)?,
        Command::AlertExplain(args) => {
            observe::alert_explain(&demo, args.alert_id.as_deref(), out)?
        }
        Command::DeployHistory(args) => observe::deploy_history(&demo, &args, out)?,
        Command::IncidentStatus(args) => {
            incidents::status(&demo, args.incident_id.as_deref(), out)?
        }
        Command::IncidentList => incidents::list(&demo, out)?,
        Command::VulnLookup(args) => intel::vuln_lookup(&demo, &args.cve, out)?,
        Command::VulnExposure(args) => intel::vuln_exposure(&demo, &args, out)?,
        Command::IpLookup(args) => intel::ip_lookup(&demo, &args.ip, out)?,
        Command::HashLookup(args) => intel::hash_lookup(&demo, &args.hash, out)?,
        Command::UserActivity(args) => intel::user_activity(&demo, &args, out)?,
        Command::OncallWho(args) => incidents::oncall_who(&demo, args.team.as_deref(), out)?,
        Command::Help(args) => incidents::help(&demo, args.topic.as_deref(), out)?,
        Command::ServiceRestart(args) => respond::service_restart(&demo, &args, out)?,
        Command::PatchApply(args) => respond::patch_apply(&demo, &args, out)?,
        Command::DeployRollback(args) => respond::deploy_rollback(&demo, &args, out)?,
        Command::IncidentDeclare(args) => incidents::declare(&demo, &args, out)?,
        Command::IncidentResolve(args) => incidents::resolve(&demo, &args.incident_id, out)?,
        Command::AlertSilence(args) => respond::alert_silence(&demo, &args, out)?,
        Command::OncallPage(args) => incidents::oncall_page(&demo, &args, out)?,
        Command::HostIsolate(args) => respond::host_isolate(&demo, &args.host, out)?,
        Command::IpBlock(args) => respond::ip_block(&demo, &args, out)?,
        Command::UserDisable(args) => respond::user_disable(&demo, &args.user, out)?,
        Command::FileQuarantine(args) => respond::file_quarantine(&demo, &args, out)?,
    }
    Ok(report)
}

/// Prints `args` as a JSON array of strings; arguments that are not valid
/// UTF-8 are printed with replacement characters.
fn echo_args(args: &[OsString]) -> ExitCode {
    let args: Vec<String> = args
        .iter()
        .map(|arg| arg.to_string_lossy().into_owned())
        .collect();
    match serde_json::to_string(&args) {
        Ok(json) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: failed to encode arguments as JSON: {error}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
