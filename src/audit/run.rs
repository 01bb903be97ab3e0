//! Running a command between its audit records: `command_started` is
//! appended first and the command runs only if that append succeeded.

use tracing::error;

use super::{AuditError, AuditEvent, AuditSink, Record, RequestContext};
use crate::commands::{CommandOutput, CommandRunner, PreparedCommand, RunError};

/// Failures of [`run_audited`], each saying whether the command ran.
#[derive(Debug, thiserror::Error)]
pub enum AuditedRunError {
    #[error("failed to record the start of `{command}`, so it was not run")]
    NotStarted {
        /// The command line with secret values masked.
        command: String,
        #[source]
        source: Box<AuditError>,
    },

    #[error("failed to run `{command}`")]
    Run {
        command: String,
        /// The `command_started` record.
        started: Box<Record>,
        /// Whether the `command_failed` record was written too.
        recorded: bool,
        #[source]
        source: Box<RunError>,
    },

    #[error(
        "`{command}` ran, but recording its end failed; the audit log shows it as started, never finished"
    )]
    EndNotRecorded {
        command: String,
        started: Box<Record>,
        output: Box<CommandOutput>,
        #[source]
        source: Box<AuditError>,
    },
}

/// Appends `command_started`, runs the command only if that append
/// succeeded, then appends `command_finished` (or `command_failed` when the
/// program could not be run). Returns the start record and the output.
pub fn run_audited(
    sink: &dyn AuditSink,
    runner: &CommandRunner,
    context: &RequestContext,
    command: &PreparedCommand,
) -> Result<(Record, CommandOutput), AuditedRunError> {
    let started = sink
        .append(context, &AuditEvent::command_started(command))
        .map_err(|source| AuditedRunError::NotStarted {
            command: command.display(),
            source: Box::new(source),
        })?;

    let output = match runner.run(command) {
        Ok(output) => output,
        Err(source) => {
            let failed = AuditEvent::CommandFailed {
                started_seq: started.seq,
                error: command.mask(&format!("{source:#}")),
            };
            let recorded = match sink.append(context, &failed) {
                Ok(_) => true,
                Err(audit_error) => {
                    error!(
                        request_id = %context.request_id,
                        started_seq = started.seq,
                        error = %audit_error,
                        "failed to record command failure"
                    );
                    false
                }
            };
            return Err(AuditedRunError::Run {
                command: command.display(),
                started: Box::new(started),
                recorded,
                source: Box::new(source),
            });
        }
    };

    let finished = AuditEvent::command_finished(started.seq, &output);
    if let Err(source) = sink.append(context, &finished) {
        return Err(AuditedRunError::EndNotRecorded {
            command: command.display(),
            started: Box::new(started),
            output: Box::new(output),
            source: Box::new(source),
        });
    }
    Ok((started, output))
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::audit::AuditLog;
    use crate::intent::IntentName;
    use crate::inventory::UserId;

    /// A sink that fails every append from the `fail_from`-th on (counting
    /// from 0) and remembers the events it accepted.
    struct FlakySink {
        fail_from: usize,
        accepted: Mutex<Vec<AuditEvent>>,
        inner: AuditLog,
    }

    impl AuditSink for FlakySink {
        fn append(
            &self,
            context: &RequestContext,
            event: &AuditEvent,
        ) -> Result<Record, AuditError> {
            let mut accepted = self.accepted.lock().unwrap();
            if accepted.len() >= self.fail_from {
                return Err(AuditError::Encode {
                    event: event.kind(),
                    source: serde_json::from_str::<u8>("x").unwrap_err(),
                });
            }
            accepted.push(event.clone());
            self.inner.append(context, event)
        }
    }

    fn context() -> RequestContext {
        RequestContext {
            actor: UserId::new("U024BE7LH"),
            channel: "C0SECOPS".to_string(),
            thread: None,
            request_id: crate::audit::RequestId::new("r-1"),
            intent: Some(IntentName::new("test.touch")),
        }
    }

    fn touch(path: &std::path::Path) -> PreparedCommand {
        PreparedCommand::literal(
            IntentName::new("test.touch"),
            "/usr/bin/touch",
            vec![path.display().to_string()],
        )
    }

    fn sink(dir: &std::path::Path, fail_from: usize) -> FlakySink {
        FlakySink {
            fail_from,
            accepted: Mutex::new(Vec::new()),
            inner: AuditLog::open(&dir.join("audit.sqlite")).unwrap(),
        }
    }

    #[test]
    fn failed_start_record_blocks_command() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("ran");
        let sink = sink(dir.path(), 0);

        let error = run_audited(
            &sink,
            &CommandRunner::new(Vec::new()),
            &context(),
            &touch(&marker),
        )
        .unwrap_err();
        assert!(
            matches!(error, AuditedRunError::NotStarted { .. }),
            "{error}"
        );
        assert!(!marker.exists(), "the command ran without a start record");
    }

    #[test]
    fn command_runs_between_its_records() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("ran");
        let sink = sink(dir.path(), usize::MAX);

        let (started, output) = run_audited(
            &sink,
            &CommandRunner::new(Vec::new()),
            &context(),
            &touch(&marker),
        )
        .unwrap();
        assert_eq!(output.exit_code, Some(0));
        assert!(marker.exists());
        let records = sink.inner.records().unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(records[0], started);
        match records[1].parse_event().unwrap() {
            AuditEvent::CommandFinished {
                started_seq,
                exit_code,
                ..
            } => {
                assert_eq!(started_seq, started.seq);
                assert_eq!(exit_code, Some(0));
            }
            other => panic!("expected command_finished, got {other:?}"),
        }
    }

    #[test]
    fn failed_end_record_leaves_command_unfinished() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("ran");
        let sink = sink(dir.path(), 1);

        let error = run_audited(
            &sink,
            &CommandRunner::new(Vec::new()),
            &context(),
            &touch(&marker),
        )
        .unwrap_err();
        assert!(
            matches!(error, AuditedRunError::EndNotRecorded { .. }),
            "{error}"
        );
        assert!(marker.exists());
        assert_eq!(sink.inner.unfinished_commands().unwrap().len(), 1);
    }

    #[test]
    fn unrunnable_program_is_recorded_as_failed() {
        let dir = tempfile::tempdir().unwrap();
        let sink = sink(dir.path(), usize::MAX);
        let command = PreparedCommand::literal(
            IntentName::new("test.missing"),
            "no-such-program",
            Vec::new(),
        );

        let error =
            run_audited(&sink, &CommandRunner::new(Vec::new()), &context(), &command).unwrap_err();
        assert!(
            matches!(error, AuditedRunError::Run { recorded: true, .. }),
            "{error}"
        );
        let events: Vec<AuditEvent> = sink
            .inner
            .records()
            .unwrap()
            .iter()
            .map(|record| record.parse_event().unwrap())
            .collect();
        assert!(
            matches!(events[1], AuditEvent::CommandFailed { started_seq: 1, .. }),
            "{events:?}"
        );
        assert!(sink.inner.unfinished_commands().unwrap().is_empty());
    }
}
