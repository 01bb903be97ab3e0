//! Running a prepared command: program lookup in configured directories
//! only, no shell, a scrubbed environment, its own process group, a timeout
//! that kills the whole group, and output captured up to a limit.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::sys::wait::{Id, WaitPidFlag, waitid};
use nix::unistd::Pid;
use tracing::{debug, info, warn};

use super::PreparedCommand;
use super::capture::{Captured, read_limited};

/// Runs prepared commands under fixed limits.
#[derive(Debug, Clone)]
pub struct CommandRunner {
    /// Directories searched, in order, for a program given by bare name.
    /// `$PATH` is never searched.
    pub search_dirs: Vec<PathBuf>,
    /// Variables copied from warroom's own environment when set there.
    pub env_allow: Vec<String>,
    /// Variables set to fixed values; they win over `env_allow`.
    pub env_set: BTreeMap<String, String>,
    /// Time a command may run before its process group is killed.
    pub timeout: Duration,
    /// Bytes kept from each of standard output and standard error.
    pub output_limit: usize,
}

/// The result of a finished command: exit status, captured output and timing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandOutput {
    /// Exit code, or `None` when a signal ended the program.
    pub exit_code: Option<i32>,
    /// Number of the signal that ended the program, such as 9 for `SIGKILL`.
    pub signal: Option<i32>,
    /// Standard output as UTF-8 (invalid bytes replaced), secret values
    /// masked, ending with a truncation marker when cut.
    pub stdout: String,
    /// Standard error, treated like `stdout`.
    pub stderr: String,
    /// Whether either stream was cut at the output limit.
    pub truncated: bool,
    /// Bytes the program wrote to both streams, including those cut.
    pub output_bytes: u64,
    pub duration: Duration,
    /// Whether the timeout killed the process group.
    pub timed_out: bool,
    /// Whether reading stopped before the end of a stream, because a
    /// process that left the group kept the pipe open.
    pub output_incomplete: bool,
}

/// Reasons a prepared command could not be run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(
        "program `{program}` is a relative path; name a program by bare name (looked up in the configured directories) or by absolute path"
    )]
    RelativeProgram { program: String },

    #[error(
        "program `{program}` not found in {}; build it or add its directory to the search list",
        format_dirs(searched)
    )]
    ProgramNotFound {
        program: String,
        searched: Vec<PathBuf>,
    },

    #[error("program `{}` is not an executable file; check its path and permissions", path.display())]
    NotExecutable { path: PathBuf },

    #[error("failed to find the directory of the running executable to look up programs in")]
    CurrentExe {
        #[source]
        source: io::Error,
    },

    #[error("failed to start `{}`", path.display())]
    Spawn {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("failed to supervise `{}` (process {pid}); its process group was killed", path.display())]
    Supervise {
        path: PathBuf,
        pid: u32,
        #[source]
        source: io::Error,
    },
}

/// An output stream that a reader thread drains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stream {
    Stdout,
    Stderr,
}

/// Demo commands finish in milliseconds. 30 seconds leaves room for slower
/// real commands while a chat user still gets a reply soon.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Per stream. Common chat platforms limit a message to a few tens of
/// kilobytes (an estimate), so more output would not fit in one reply.
pub const DEFAULT_OUTPUT_LIMIT: usize = 32 * 1024;

/// `PATH` of a command: system directories only, so a program the command
/// starts cannot be shadowed by a user's directory.
pub const DEFAULT_PATH: &str = "/usr/bin:/bin";

/// Variables passed through by default: locale and time zone, which change
/// how output reads, and the demo's data directory.
pub const DEFAULT_ENV_ALLOW: [&str; 4] = ["LANG", "LC_ALL", "TZ", "WARROOM_DEMO_DIR"];

/// Time to finish reading output after the process group is gone. Only a
/// process that moved itself out of the group can hold a pipe open longer.
const OUTPUT_GRACE: Duration = Duration::from_secs(2);

impl CommandRunner {
    /// Creates a runner that looks programs up in `search_dirs`, with the
    /// default environment, timeout and output limit.
    pub fn new(search_dirs: Vec<PathBuf>) -> Self {
        Self {
            search_dirs,
            env_allow: DEFAULT_ENV_ALLOW
                .iter()
                .map(|name| name.to_string())
                .collect(),
            env_set: BTreeMap::from([("PATH".to_string(), DEFAULT_PATH.to_string())]),
            timeout: DEFAULT_TIMEOUT,
            output_limit: DEFAULT_OUTPUT_LIMIT,
        }
    }

    /// Creates a runner that looks programs up in the directory of the
    /// running executable, so `warroom-demo` built next to `warroom` is found.
    pub fn beside_current_exe() -> Result<Self, RunError> {
        let exe = std::env::current_exe().map_err(|source| RunError::CurrentExe { source })?;
        let dir = exe.parent().ok_or_else(|| RunError::CurrentExe {
            source: io::Error::other(format!("`{}` has no parent directory", exe.display())),
        })?;
        Ok(Self::new(vec![dir.to_path_buf()]))
    }

    /// Finds the file a program name refers to. An absolute path is used as
    /// given; a bare name is looked up in `search_dirs` only.
    pub fn resolve(&self, program: &str) -> Result<PathBuf, RunError> {
        let path = Path::new(program);
        if path.is_absolute() {
            return if is_executable(path) {
                Ok(path.to_path_buf())
            } else {
                Err(RunError::NotExecutable {
                    path: path.to_path_buf(),
                })
            };
        }
        if program.is_empty() || program.contains('/') || program == "." || program == ".." {
            return Err(RunError::RelativeProgram {
                program: program.to_string(),
            });
        }

        self.search_dirs
            .iter()
            .map(|dir| dir.join(program))
            .find(|candidate| is_executable(candidate))
            .ok_or_else(|| RunError::ProgramNotFound {
                program: program.to_string(),
                searched: self.search_dirs.clone(),
            })
    }

    /// Builds the environment of a command: the allowed variables that are
    /// set in warroom's environment, then the fixed ones.
    pub fn environment(&self) -> Vec<(String, OsString)> {
        let mut variables: BTreeMap<String, OsString> = BTreeMap::new();
        for name in &self.env_allow {
            if let Some(value) = std::env::var_os(name) {
                variables.insert(name.clone(), value);
            }
        }
        for (name, value) in &self.env_set {
            variables.insert(name.clone(), OsString::from(value));
        }
        variables.into_iter().collect()
    }

    /// Runs the command and waits for it, killing its process group at the
    /// timeout. A non-zero exit is an `Ok` output; errors mean the command
    /// could not be started or watched.
    pub fn run(&self, command: &PreparedCommand) -> Result<CommandOutput, RunError> {
        let path = self.resolve(&command.program)?;
        let mut process = Command::new(&path);
        process
            .args(&command.args)
            .env_clear()
            .envs(self.environment())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);

        info!(
            intent = %command.intent,
            program = %path.display(),
            command = %command.display(),
            "command started"
        );
        let started = Instant::now();
        let mut child = spawn_retrying_busy(&mut process).map_err(|source| RunError::Spawn {
            path: path.clone(),
            source,
        })?;

        let supervised = self.supervise(&mut child, command);
        let (outcome, captured) = match supervised {
            Ok(result) => result,
            Err(source) => {
                let pid = child.id();
                kill_group(pid);
                let _ = child.wait();
                return Err(RunError::Supervise { path, pid, source });
            }
        };
        let duration = started.elapsed();

        let status = outcome.status;
        let truncated = captured.stdout.dropped > 0 || captured.stderr.dropped > 0;
        let output_bytes = captured.stdout.total() + captured.stderr.total();
        let output = CommandOutput {
            exit_code: status.code(),
            signal: status.signal(),
            stdout: command.mask(&captured.stdout.into_text()),
            stderr: command.mask(&captured.stderr.into_text()),
            truncated,
            output_bytes,
            duration,
            timed_out: outcome.timed_out,
            output_incomplete: captured.incomplete,
        };

        if output.timed_out {
            warn!(
                intent = %command.intent,
                timeout_ms = self.timeout.as_millis() as u64,
                "command timed out; its process group was killed"
            );
        }
        info!(
            intent = %command.intent,
            exit_code = output.exit_code,
            signal = output.signal,
            duration_ms = duration.as_millis() as u64,
            timed_out = output.timed_out,
            output_bytes,
            truncated,
            "command finished"
        );
        Ok(output)
    }

    /// Drains the output, waits for the exit under the timeout and reaps
    /// the child.
    fn supervise(
        &self,
        child: &mut Child,
        command: &PreparedCommand,
    ) -> io::Result<(Outcome, CapturedStreams)> {
        let (output_tx, output_rx) = mpsc::channel();
        let limit = self.output_limit;
        if let Some(stdout) = child.stdout.take() {
            let sender = output_tx.clone();
            thread::Builder::new()
                .name("command-stdout".to_string())
                .spawn(move || {
                    let _ = sender.send((Stream::Stdout, read_limited(stdout, limit)));
                })?;
        }
        if let Some(stderr) = child.stderr.take() {
            let sender = output_tx;
            thread::Builder::new()
                .name("command-stderr".to_string())
                .spawn(move || {
                    let _ = sender.send((Stream::Stderr, read_limited(stderr, limit)));
                })?;
        }

        let pid = child.id();
        let (exit_tx, exit_rx) = mpsc::channel();
        thread::Builder::new()
            .name("command-wait".to_string())
            .spawn(move || {
                let _ = exit_tx.send(wait_exited(pid));
            })?;

        let timed_out = match exit_rx.recv_timeout(self.timeout) {
            Ok(result) => {
                result?;
                false
            }
            Err(RecvTimeoutError::Timeout) => {
                kill_group(pid);
                // SIGKILL cannot be caught, so the wait ends.
                exit_rx.recv().map_err(io::Error::other)??;
                true
            }
            Err(RecvTimeoutError::Disconnected) => {
                return Err(io::Error::other("the wait thread ended without a result"));
            }
        };

        // NOTE: the leader has exited but is not reaped yet, so its pid and
        // the group id cannot be reused: this kill reaches only processes
        // the command left behind in its group. A process that moved to
        // another group or session (setsid, setpgid) escapes it.
        kill_group(pid);
        let status = child.wait()?;

        let captured = collect_output(&output_rx, command);
        Ok((Outcome { status, timed_out }, captured))
    }
}

/// The end of the leader process: its exit status and whether the timeout
/// killed it.
struct Outcome {
    status: std::process::ExitStatus,
    timed_out: bool,
}

/// Both streams, and whether reading either stopped early.
#[derive(Default)]
struct CapturedStreams {
    stdout: Captured,
    stderr: Captured,
    incomplete: bool,
}

/// Receives both streams from their reader threads, waiting at most
/// [`OUTPUT_GRACE`] in all.
fn collect_output(
    receiver: &mpsc::Receiver<(Stream, io::Result<Captured>)>,
    command: &PreparedCommand,
) -> CapturedStreams {
    let mut streams = CapturedStreams::default();
    let deadline = Instant::now() + OUTPUT_GRACE;
    for _ in 0..2 {
        let remaining = deadline.saturating_duration_since(Instant::now());
        match receiver.recv_timeout(remaining) {
            Ok((stream, Ok(captured))) => match stream {
                Stream::Stdout => streams.stdout = captured,
                Stream::Stderr => streams.stderr = captured,
            },
            Ok((stream, Err(error))) => {
                warn!(intent = %command.intent, ?stream, %error, "failed to read command output");
                streams.incomplete = true;
            }
            Err(RecvTimeoutError::Timeout) => {
                warn!(
                    intent = %command.intent,
                    "command output still open after its process group ended; a process outside the group holds it"
                );
                streams.incomplete = true;
                break;
            }
            // Both senders are gone, which happens only after both sent.
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    streams
}

/// Blocks until process `pid` has exited, without reaping it.
fn wait_exited(pid: u32) -> io::Result<()> {
    let pid = to_pid(pid)?;
    loop {
        match waitid(Id::Pid(pid), WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT) {
            Ok(_) => return Ok(()),
            Err(Errno::EINTR) => continue,
            Err(errno) => return Err(io::Error::from(errno)),
        }
    }
}

/// Sends SIGKILL to the process group led by `pid`. A group with no
/// process left is not an error.
fn kill_group(pid: u32) {
    let Ok(group) = to_pid(pid) else {
        return;
    };
    match killpg(group, Signal::SIGKILL) {
        Ok(()) | Err(Errno::ESRCH) => {}
        Err(errno) => warn!(pid, %errno, "failed to kill command process group"),
    }
    debug!(pid, "sent SIGKILL to command process group");
}

fn to_pid(pid: u32) -> io::Result<Pid> {
    i32::try_from(pid)
        .map(Pid::from_raw)
        .map_err(|_| io::Error::other(format!("process id {pid} out of range")))
}

/// Checks that `path` is a regular file (after following links) with an
/// execute bit set.
fn is_executable(path: &Path) -> bool {
    path.metadata()
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

fn format_dirs(dirs: &[PathBuf]) -> String {
    if dirs.is_empty() {
        return "no directories (the search list is empty)".to_string();
    }
    dirs.iter()
        .map(|dir| format!("`{}`", dir.display()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Attempts at starting a program whose file is briefly busy.
const SPAWN_ATTEMPTS: u32 = 5;

/// Starts the process, retrying while the kernel reports the program file
/// busy (ETXTBSY). That happens when another thread of this process forks
/// while the file is still open for writing in a child that has not yet
/// exec'd, or while the program is being replaced; it clears in moments.
fn spawn_retrying_busy(process: &mut Command) -> std::io::Result<Child> {
    let mut attempt = 1;
    loop {
        match process.spawn() {
            Err(error)
                if error.kind() == std::io::ErrorKind::ExecutableFileBusy
                    && attempt < SPAWN_ATTEMPTS =>
            {
                std::thread::sleep(Duration::from_millis(20 * u64::from(attempt)));
                attempt += 1;
            }
            result => return result,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;
    use crate::intent::IntentName;

    fn sh(script: &str) -> PreparedCommand {
        PreparedCommand::literal(
            IntentName::new("test.shell"),
            "/bin/sh",
            vec!["-c".to_string(), script.to_string()],
        )
    }

    fn runner() -> CommandRunner {
        CommandRunner::new(Vec::new())
    }

    /// Checks whether process `pid` is gone or a zombie. A killed orphan is
    /// reaped by init, which may take a moment, so this polls briefly.
    fn is_dead(pid: u32) -> bool {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match fs::read_to_string(format!("/proc/{pid}/stat")) {
                Err(_) => return true,
                Ok(stat) => {
                    let state = stat
                        .rsplit(')')
                        .next()
                        .and_then(|rest| rest.split_whitespace().next());
                    if state == Some("Z") {
                        return true;
                    }
                }
            }
            if Instant::now() > deadline {
                return false;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    #[test]
    fn exit_code_and_streams_are_captured() {
        let output = runner().run(&sh("echo out; echo err >&2; exit 3")).unwrap();
        assert_eq!(output.exit_code, Some(3));
        assert_eq!(output.signal, None);
        assert_eq!(output.stdout, "out\n");
        assert_eq!(output.stderr, "err\n");
        assert_eq!(output.output_bytes, 8);
        assert!(!output.timed_out);
        assert!(!output.truncated);
    }

    #[test]
    fn timeout_kills_whole_process_group() {
        let mut runner = runner();
        runner.timeout = Duration::from_millis(300);
        let output = runner.run(&sh("sleep 30 & echo $!; sleep 30")).unwrap();

        assert!(output.timed_out);
        assert_eq!(output.exit_code, None);
        assert_eq!(output.signal, Some(Signal::SIGKILL as i32));
        assert!(
            output.duration < Duration::from_secs(10),
            "{:?}",
            output.duration
        );
        assert!(!output.output_incomplete);
        let grandchild: u32 = output.stdout.trim().parse().unwrap();
        assert!(
            is_dead(grandchild),
            "background sleep {grandchild} survived"
        );
    }

    #[test]
    fn background_process_is_killed_when_leader_exits() {
        let output = runner().run(&sh("sleep 30 & echo $!")).unwrap();
        assert!(!output.timed_out);
        assert_eq!(output.exit_code, Some(0));
        assert!(
            output.duration < Duration::from_secs(10),
            "{:?}",
            output.duration
        );
        let background: u32 = output.stdout.trim().parse().unwrap();
        assert!(
            is_dead(background),
            "background sleep {background} survived"
        );
    }

    #[test]
    fn chatty_output_is_truncated_without_deadlock() {
        let mut runner = runner();
        runner.output_limit = 1000;
        // 1 MiB on each stream, far more than a pipe buffers.
        let output = runner
            .run(&sh(
                "head -c 1048576 /dev/zero | tr '\\0' a; head -c 1048576 /dev/zero >&2",
            ))
            .unwrap();

        assert_eq!(output.exit_code, Some(0));
        assert!(output.truncated);
        assert_eq!(output.output_bytes, 2 * 1_048_576);
        let expected = format!(
            "{}\n[output truncated: {} bytes more]\n",
            "a".repeat(1000),
            1_048_576 - 1000
        );
        assert_eq!(output.stdout, expected);
        assert!(
            output
                .stderr
                .ends_with("[output truncated: 1047576 bytes more]\n")
        );
    }

    #[test]
    fn environment_is_rebuilt_from_allow_list() {
        let (name, value) = std::env::vars()
            .find(|(name, value)| {
                !DEFAULT_ENV_ALLOW.contains(&name.as_str()) && name != "PATH" && !value.is_empty()
            })
            .expect("the test process has some environment variable");
        let mut runner = runner();
        let print =
            PreparedCommand::literal(IntentName::new("test.env"), "/usr/bin/env", Vec::new());

        let output = runner.run(&print).unwrap();
        let lines: Vec<&str> = output.stdout.lines().collect();
        assert!(
            !lines
                .iter()
                .any(|line| line.starts_with(&format!("{name}="))),
            "{name} leaked"
        );
        assert!(lines.contains(&"PATH=/usr/bin:/bin"), "{lines:?}");

        runner.env_allow.push(name.clone());
        runner
            .env_set
            .insert("WARROOM_TEST".to_string(), "1".to_string());
        let output = runner.run(&print).unwrap();
        let lines: Vec<&str> = output.stdout.lines().collect();
        assert!(
            lines.contains(&format!("{name}={value}").as_str()),
            "{lines:?}"
        );
        assert!(lines.contains(&"WARROOM_TEST=1"), "{lines:?}");
    }

    #[test]
    fn stdin_is_empty() {
        let output = runner().run(&sh("wc -c")).unwrap();
        assert_eq!(output.stdout.trim(), "0");
    }

    #[test]
    fn bare_name_uses_search_dirs_only() {
        let dir = tempfile::tempdir().unwrap();
        let error = runner().resolve("sh").unwrap_err();
        assert!(matches!(error, RunError::ProgramNotFound { .. }), "{error}");

        let script = dir.path().join("tool");
        fs::write(&script, "#!/bin/sh\necho tool ran\n").unwrap();
        let mut runner = CommandRunner::new(vec![dir.path().to_path_buf()]);
        let error = runner.resolve("tool").unwrap_err();
        assert!(
            matches!(error, RunError::ProgramNotFound { .. }),
            "not executable yet: {error}"
        );

        fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(runner.resolve("tool").unwrap(), script);
        runner.timeout = Duration::from_secs(10);
        let tool = PreparedCommand::literal(IntentName::new("test.tool"), "tool", Vec::new());
        assert_eq!(runner.run(&tool).unwrap().stdout, "tool ran\n");
    }

    #[test]
    fn relative_path_program_is_rejected() {
        for program in ["./tool", "bin/tool", "..", ""] {
            let error = runner().resolve(program).unwrap_err();
            assert!(
                matches!(error, RunError::RelativeProgram { .. }),
                "{program}: {error}"
            );
        }
        let error = runner().resolve("/nonexistent/tool").unwrap_err();
        assert!(matches!(error, RunError::NotExecutable { .. }), "{error}");
    }

    #[test]
    fn secret_values_are_masked_in_output() {
        let mut command = sh("echo \"token is $0\"; echo \"$0\" >&2");
        command.args.push("hunter2".to_string());
        command.secrets.push("hunter2".to_string());
        let output = runner().run(&command).unwrap();
        assert_eq!(output.stdout, "token is ••••\n");
        assert_eq!(output.stderr, "••••\n");
    }
}
