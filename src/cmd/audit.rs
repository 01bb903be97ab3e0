//! `warroom audit`: verify, export and show the audit log.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use warroom::audit::{AuditLog, DEFAULT_DB_FILE, Head, Record};

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the hash chain; exits with status 1 when a record was edited,
    /// deleted or reordered
    Verify(VerifyArgs),
    /// Write every record as JSON Lines, one object per record, for a SIEM
    Export(ExportArgs),
    /// Print records, and commands that started but never finished
    Show(ShowArgs),
}

/// The audit database every audit subcommand reads.
#[derive(Debug, Args)]
pub struct DbArgs {
    /// Audit log SQLite file
    #[arg(long, value_name = "FILE", default_value = DEFAULT_DB_FILE)]
    pub db: PathBuf,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub db: DbArgs,

    /// Head printed by an earlier `verify`, as SEQ:HASH; the record at SEQ
    /// must still have HASH, which detects removal of the newest records
    #[arg(long, value_name = "SEQ:HASH")]
    pub expect_head: Option<String>,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub db: DbArgs,

    /// File to write [default: standard output]
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    #[command(flatten)]
    pub db: DbArgs,

    /// Only the records of this request id
    #[arg(long, value_name = "ID")]
    pub request: Option<String>,

    /// Only the newest N records
    #[arg(long, value_name = "N")]
    pub last: Option<usize>,
}

pub fn run(command: AuditCommand, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    match command {
        AuditCommand::Verify(args) => verify(args, out),
        AuditCommand::Export(args) => export(args, out),
        AuditCommand::Show(args) => show(args, out),
    }
}

fn verify(args: VerifyArgs, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let log = AuditLog::open_existing(&args.db.db)?;
    let report = match &args.expect_head {
        Some(text) => log.verify_against(&parse_head(text)?)?,
        None => log.verify()?,
    };

    writeln!(out, "audit log: {}", log.path().display())?;
    writeln!(out, "records: {}", report.records)?;
    match &report.head {
        Some(head) => {
            writeln!(out, "head: {head}")?;
            writeln!(
                out,
                "  (keep this head outside the log and pass it back with --expect-head: the chain alone cannot show that its newest records were removed)"
            )?;
        }
        None => writeln!(out, "head: none (the log is empty)")?,
    }
    print_unfinished(&log, out)?;

    match &report.first_break {
        None => {
            writeln!(out, "ok: every record is intact and linked")?;
            Ok(ExitCode::SUCCESS)
        }
        Some(problem) => {
            writeln!(out, "TAMPERED at record {}: {problem}", problem.seq())?;
            Ok(ExitCode::FAILURE)
        }
    }
}

fn export(args: ExportArgs, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let log = AuditLog::open_existing(&args.db.db)?;
    match &args.output {
        Some(path) => {
            let file = File::create(path)
                .with_context(|| format!("failed to create export file `{}`", path.display()))?;
            let mut writer = BufWriter::new(file);
            let count = log.export(&mut writer)?;
            writeln!(out, "exported {count} records to {}", path.display())?;
        }
        None => {
            log.export(out)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn show(args: ShowArgs, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let log = AuditLog::open_existing(&args.db.db)?;
    let mut records = match &args.request {
        Some(request) => log.request_records(request)?,
        None => log.records()?,
    };
    if let Some(last) = args.last {
        let skip = records.len().saturating_sub(last);
        records.drain(..skip);
    }

    for record in &records {
        writeln!(out, "{}", format_record(record))?;
    }
    if records.is_empty() {
        writeln!(out, "no records")?;
    }
    print_unfinished(&log, out)?;
    Ok(ExitCode::SUCCESS)
}

fn print_unfinished(log: &AuditLog, out: &mut dyn Write) -> anyhow::Result<()> {
    let unfinished = log.unfinished_commands()?;
    if unfinished.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "started, never finished: {} command(s)",
        unfinished.len()
    )?;
    for record in &unfinished {
        writeln!(out, "  {}", format_record(record))?;
    }
    Ok(())
}

/// Formats a record as one line: sequence number, time, actor, channel,
/// request, intent and event.
fn format_record(record: &Record) -> String {
    let thread = record
        .thread
        .as_deref()
        .map(|thread| format!("/{thread}"))
        .unwrap_or_default();
    format!(
        "#{} {} actor={} channel={}{} request={} intent={} {}",
        record.seq,
        record.timestamp,
        record.actor,
        record.channel,
        thread,
        record.request_id,
        record.intent.as_deref().unwrap_or("-"),
        record.event,
    )
}

fn parse_head(text: &str) -> anyhow::Result<Head> {
    let Some((seq, hash)) = text.split_once(':') else {
        bail!("invalid head `{text}`: expected SEQ:HASH as printed by `warroom audit verify`");
    };
    let seq: i64 = seq
        .parse()
        .with_context(|| format!("invalid sequence number `{seq}` in head `{text}`"))?;
    let is_hex = hash.len() == 64 && hash.bytes().all(|byte| byte.is_ascii_hexdigit());
    if !is_hex {
        bail!("invalid hash `{hash}` in head `{text}`: expected 64 hex digits");
    }
    Ok(Head {
        seq,
        hash: hash.to_ascii_lowercase(),
    })
}
