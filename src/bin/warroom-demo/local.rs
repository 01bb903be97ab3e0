//! Real data about the machine the demo runs on: load, memory, disk,
//! uptime and processes from /proc and statvfs, and lines of /var/log.

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use nix::sys::statvfs::statvfs;

/// Load, memory, disk and uptime of this machine.
#[derive(Debug, Clone, PartialEq)]
pub struct Health {
    pub cpus: usize,
    /// 1, 5 and 15 minute load averages.
    pub load: [f64; 3],
    pub memory_total_kib: u64,
    pub memory_available_kib: u64,
    pub disk_total_bytes: u64,
    pub disk_available_bytes: u64,
    pub uptime_seconds: u64,
}

/// A running process that matches a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Process {
    pub pid: u32,
    pub name: String,
}

/// Lines read from one log file.
#[derive(Debug, Clone)]
pub struct LogLines {
    pub path: PathBuf,
    pub lines: Vec<String>,
}

/// Names a service's process commonly has, beyond the service name itself.
const PROCESS_ALIASES: [(&str, &[&str]); 9] = [
    ("redis", &["redis-server"]),
    ("docker", &["dockerd", "containerd"]),
    ("ntp", &["ntpd", "chronyd", "systemd-timesyn"]),
    ("cron", &["crond"]),
    ("mysql", &["mysqld", "mariadbd"]),
    ("postgres", &["postgresql"]),
    ("rabbitmq", &["beam.smp"]),
    ("node-exporter", &["node_exporter"]),
    ("sshd", &["sshd-session"]),
];

/// Bytes read from the end of a log file; enough for the lines a report
/// shows without reading a large log whole.
const LOG_TAIL_BYTES: u64 = 256 * 1024;

/// Reads health figures from /proc/loadavg, /proc/meminfo, /proc/uptime
/// and statvfs of `/`.
pub fn health() -> io::Result<Health> {
    let loadavg = fs::read_to_string("/proc/loadavg")?;
    let load = parse_loadavg(&loadavg)
        .ok_or_else(|| io::Error::other(format!("unexpected /proc/loadavg: {loadavg:?}")))?;

    let meminfo = fs::read_to_string("/proc/meminfo")?;
    let memory_total_kib = meminfo_field(&meminfo, "MemTotal")
        .ok_or_else(|| io::Error::other("MemTotal missing in /proc/meminfo"))?;
    let memory_available_kib = meminfo_field(&meminfo, "MemAvailable")
        .ok_or_else(|| io::Error::other("MemAvailable missing in /proc/meminfo"))?;

    let uptime = fs::read_to_string("/proc/uptime")?;
    let uptime_seconds = uptime
        .split_whitespace()
        .next()
        .and_then(|seconds| seconds.parse::<f64>().ok())
        .ok_or_else(|| io::Error::other(format!("unexpected /proc/uptime: {uptime:?}")))?
        as u64;

    let disk = statvfs("/").map_err(io::Error::from)?;
    let fragment = disk.fragment_size() as u64;
    let cpus = std::thread::available_parallelism().map_or(1, |count| count.get());

    Ok(Health {
        cpus,
        load,
        memory_total_kib,
        memory_available_kib,
        disk_total_bytes: disk.blocks() as u64 * fragment,
        disk_available_bytes: disk.blocks_available() as u64 * fragment,
        uptime_seconds,
    })
}

/// Processes whose name (from /proc/PID/comm) is the service name or one
/// of its usual process names.
pub fn processes(service: &str) -> io::Result<Vec<Process>> {
    let names = process_names(service);
    let mut found = Vec::new();
    for entry in fs::read_dir("/proc")? {
        let Ok(entry) = entry else { continue };
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|name| name.parse::<u32>().ok())
        else {
            continue;
        };
        // A process may exit between listing and reading.
        let Ok(comm) = fs::read_to_string(entry.path().join("comm")) else {
            continue;
        };
        let comm = comm.trim_end();
        if names.iter().any(|name| comm_matches(comm, name)) {
            found.push(Process {
                pid,
                name: comm.to_string(),
            });
        }
    }
    found.sort_by_key(|process| process.pid);
    Ok(found)
}

/// Checks whether `name` is this machine's host name, in full or its first label.
pub fn is_own_hostname(name: &str) -> bool {
    let Ok(own) = nix::unistd::gethostname() else {
        return false;
    };
    let own = own.to_string_lossy().to_ascii_lowercase();
    let name = name.to_ascii_lowercase();
    !name.is_empty() && (own == name || own.split('.').next() == Some(name.as_str()))
}

/// Log files that may hold lines of `service` (or of the whole system when
/// `None`), in the order they are tried.
pub fn log_candidates(service: Option<&str>) -> Vec<PathBuf> {
    let log = Path::new("/var/log");
    let mut paths = Vec::new();
    if let Some(service) = service {
        for name in process_names(service) {
            paths.push(log.join(format!("{name}.log")));
            paths.extend(newest_logs(&log.join(name)));
        }
        if service == "sshd" {
            paths.push(log.join("auth.log"));
            paths.push(log.join("secure"));
        }
    }
    for name in ["syslog", "messages", "daemon.log"] {
        paths.push(log.join(name));
    }
    paths
}

/// Reads the last lines of each readable candidate. Lines of system-wide
/// files are kept only when they mention `service`. Returns what was read
/// and the paths that were missing or unreadable.
pub fn read_logs(service: Option<&str>) -> (Vec<LogLines>, Vec<(PathBuf, io::Error)>) {
    let mut read = Vec::new();
    let mut failed = Vec::new();
    for path in log_candidates(service) {
        match tail(&path) {
            Ok(text) => {
                let system_wide = is_system_wide(&path);
                let lines = text
                    .lines()
                    .filter(|line| !line.trim().is_empty())
                    .filter(|line| {
                        !system_wide || service.is_none_or(|service| line.contains(service))
                    })
                    .map(str::to_string)
                    .collect();
                read.push(LogLines { path, lines });
            }
            Err(error) => failed.push((path, error)),
        }
    }
    (read, failed)
}

/// Parses the time at the start of a log line, when it is RFC 3339 (as rsyslog's
/// high-precision format writes it). Traditional syslog times carry no
/// year and are not parsed.
pub fn line_time(line: &str) -> Option<Timestamp> {
    line.split_whitespace().next()?.parse().ok()
}

fn parse_loadavg(text: &str) -> Option<[f64; 3]> {
    let mut fields = text
        .split_whitespace()
        .map(|field| field.parse::<f64>().ok());
    Some([fields.next()??, fields.next()??, fields.next()??])
}

fn meminfo_field(text: &str, name: &str) -> Option<u64> {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|value| value.parse().ok())
}

fn process_names(service: &str) -> Vec<&str> {
    let mut names = vec![service];
    if let Some((_, aliases)) = PROCESS_ALIASES.iter().find(|(name, _)| *name == service) {
        names.extend(aliases.iter());
    }
    names
}

/// Compares a process name with a service name. The kernel cuts process
/// names to 15 bytes, so a longer name matches
/// when its first 15 bytes do.
fn comm_matches(comm: &str, name: &str) -> bool {
    const COMM_LEN: usize = 15;
    if name.len() > COMM_LEN {
        name.as_bytes()[..COMM_LEN] == *comm.as_bytes()
    } else {
        comm == name
    }
}

fn is_system_wide(path: &Path) -> bool {
    path.file_name()
        .and_then(|name| name.to_str())
        .is_some_and(|name| matches!(name, "syslog" | "messages" | "daemon.log"))
}

/// `*.log` files of a directory, newest first, at most three.
fn newest_logs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<(std::time::SystemTime, PathBuf)> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "log"))
        .filter_map(|path| Some((path.metadata().ok()?.modified().ok()?, path)))
        .collect();
    files.sort_by_key(|(modified, _)| std::cmp::Reverse(*modified));
    files.into_iter().take(3).map(|(_, path)| path).collect()
}

/// Reads the last [`LOG_TAIL_BYTES`] of a file as text, starting at a line.
fn tail(path: &Path) -> io::Result<String> {
    let mut file = File::open(path)?;
    let length = file.metadata()?.len();
    let start = length.saturating_sub(LOG_TAIL_BYTES);
    file.seek(SeekFrom::Start(start))?;
    let mut bytes = Vec::new();
    file.take(LOG_TAIL_BYTES).read_to_end(&mut bytes)?;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    if start > 0 {
        // The first line is likely cut.
        return Ok(text
            .split_once('\n')
            .map_or(String::new(), |(_, rest)| rest.to_string()));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loadavg_and_meminfo_parse() {
        assert_eq!(
            parse_loadavg("2.91 3.12 2.66 5/117 3072\n"),
            Some([2.91, 3.12, 2.66])
        );
        assert_eq!(parse_loadavg("garbage"), None);
        let meminfo = "MemTotal:       24683792 kB\nMemFree:        19162636 kB\nMemAvailable:   23592692 kB\n";
        assert_eq!(meminfo_field(meminfo, "MemTotal"), Some(24_683_792));
        assert_eq!(meminfo_field(meminfo, "MemAvailable"), Some(23_592_692));
        assert_eq!(meminfo_field(meminfo, "Mem"), None);
    }

    #[test]
    fn real_health_is_plausible() {
        let health = health().unwrap();
        assert!(health.cpus >= 1);
        assert!(health.memory_total_kib > 0);
        assert!(health.memory_available_kib <= health.memory_total_kib);
        assert!(health.disk_available_bytes <= health.disk_total_bytes);
        assert!(health.uptime_seconds > 0);
    }

    #[test]
    fn own_process_is_found_by_name() {
        let comm = fs::read_to_string("/proc/self/comm").unwrap();
        let found = processes(comm.trim_end()).unwrap();
        assert!(
            found
                .iter()
                .any(|process| process.pid == std::process::id())
        );
        assert!(processes("no-such-service-xyz").unwrap().is_empty());
    }

    #[test]
    fn long_names_match_truncated_comm() {
        assert!(comm_matches("systemd-timesyn", "systemd-timesyncd"));
        assert!(!comm_matches("sshd", "sshd-session"));
        assert!(comm_matches("nginx", "nginx"));
    }

    #[test]
    fn rfc3339_line_times_parse() {
        let line = "2025-06-12T11:58:01.123456+02:00 vm sshd[1]: Accepted publickey";
        assert_eq!(
            line_time(line),
            Some("2025-06-12T09:58:01.123456Z".parse().unwrap())
        );
        assert_eq!(line_time("Jun 12 11:58:01 vm sshd[1]: x"), None);
    }
}
