//! `warroom chat`: the bot's whole pipeline in the terminal, one message
//! per line, with directives that switch the sender for scripted sessions.

use std::io::{BufReader, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use warroom::audit::AuditLog;
use warroom::chat::{
    ChatSettings, DEFAULT_CHANNEL, DIRECTIVES, Identity, TerminalTransport, serve,
};
use warroom::commands::CommandRunner;
use warroom::config::Config;
use warroom::dialogue::{Dialogue, ThreadId};
use warroom::intent::{Catalog, Matcher};
use warroom::inventory::{Inventory, UserId};
use warroom::normalise::ChannelId;
use warroom::policy::Policy;

use super::{GlobalArgs, load_config};

/// Returns the text shown after the options in `warroom chat --help`,
/// with the directives as the terminal transport defines them.
fn script_help() -> String {
    let directives: Vec<String> = DIRECTIVES
        .lines()
        .map(|line| format!("    {line}"))
        .collect();
    format!(
        "\
Messages are read from standard input, one per line. When standard input is
not a terminal, each message is echoed before its reply, so a script such as

    printf '%s\\n' 'restart nginx on web-01' 'yes' | warroom chat --user U024BE7LH

produces a readable transcript. A line may start with a directive:

{}

For example, `/as U0BOB yes` sends \"yes\" as user U0BOB. With the shipped
policy.toml, `/as U03MCHEN1 approve` approves a critical action requested
by --user U06TLEE77, because U03MCHEN1 holds an approver role.

Replies say what ran (command, exit code, output), what awaits confirmation
or approval (with its pending id, such as P-3fa9c1) and what was refused and
why. Settings come from the [chat] table of the config file; the options
above override them.",
        directives.join("\n")
    )
}

#[derive(Debug, Args)]
#[command(after_help = script_help())]
pub struct ChatArgs {
    /// Slack user id of the sender, such as U024BE7LH (never a display name)
    #[arg(long, value_name = "ID")]
    user: String,

    /// Channel id of the messages
    #[arg(long, value_name = "ID", default_value = DEFAULT_CHANNEL)]
    channel: String,

    /// Thread timestamp of the messages [default: outside any thread]
    #[arg(long, value_name = "TS")]
    thread: Option<String>,

    /// Access policy file [default: `policy` of [chat], else policy.toml]
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,

    /// Audit log SQLite file, created when missing [default: `audit_db` of
    /// [chat], else warroom-audit.sqlite]
    #[arg(long, value_name = "FILE")]
    audit_db: Option<PathBuf>,

    /// Demo data directory, with the inventory [default: `demo_dir` of
    /// [chat], else demo]
    #[arg(long, value_name = "DIR")]
    demo_dir: Option<PathBuf>,

    /// Seconds a pending action waits for confirmation or approval
    /// [default: `confirmation_ttl_secs` of [chat], else 300]
    #[arg(long, value_name = "SECONDS")]
    confirmation_ttl: Option<u64>,
}

pub fn run(global: &GlobalArgs, args: ChatArgs, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let identity = identity(&args)?;
    let config = load_config(global)?;
    let settings = settings(config.source.as_deref(), &args)?;

    let parts = BotParts::load(&config, &settings)?;
    let matcher = warroom::engine::load_matcher(&config)?;
    let mut dialogue = parts.dialogue(&matcher, &settings);

    let stdin = std::io::stdin();
    let interactive = stdin.is_terminal();
    let input = BufReader::new(stdin.lock());
    let mut transport = TerminalTransport::new(input, out, identity, interactive);
    serve(&mut transport, &mut dialogue)?;
    Ok(ExitCode::SUCCESS)
}

/// Parts of a dialogue besides the matcher, loaded and checked before
/// the model so a bad policy or inventory stops the bot at once.
pub(super) struct BotParts {
    policy: Policy,
    inventory: Inventory,
    audit: AuditLog,
    runner: CommandRunner,
}

impl BotParts {
    pub(super) fn load(config: &Config, settings: &ChatSettings) -> anyhow::Result<Self> {
        let catalog =
            Catalog::load(&config.intents).context("failed to load the intent catalog")?;
        let policy = Policy::load(&settings.policy, &catalog)
            .context("refusing to start: the access policy is invalid")?;
        let inventory_path = settings.demo_dir.join("inventory.toml");
        let inventory = Inventory::load(&inventory_path).context("failed to load the inventory")?;
        let audit = AuditLog::open(&settings.audit_db).context("failed to open the audit log")?;

        let mut runner =
            CommandRunner::beside_current_exe().context("failed to set up the command runner")?;
        let demo_dir = std::path::absolute(&settings.demo_dir).with_context(|| {
            format!(
                "failed to resolve demo directory `{}`",
                settings.demo_dir.display()
            )
        })?;
        runner.env_set.insert(
            "WARROOM_DEMO_DIR".to_string(),
            demo_dir.display().to_string(),
        );
        Ok(Self {
            policy,
            inventory,
            audit,
            runner,
        })
    }

    pub(super) fn dialogue<'m>(
        self,
        matcher: &'m Matcher,
        settings: &ChatSettings,
    ) -> Dialogue<'m> {
        Dialogue::new(
            matcher,
            self.policy,
            self.inventory,
            self.runner,
            Arc::new(self.audit),
        )
        .with_confirmation_ttl(settings.confirmation_ttl)
    }
}

fn identity(args: &ChatArgs) -> anyhow::Result<Identity> {
    if !UserId::is_valid(&args.user) {
        bail!(
            "invalid user id `{}`: expected a Slack user id (`U` or `W` and uppercase letters and digits, such as U024BE7LH), never a display name",
            args.user
        );
    }
    if !ChannelId::is_valid(&args.channel) {
        bail!(
            "invalid channel id `{}`: expected `C`, `G` or `D` and uppercase letters and digits, such as C0SECOPS",
            args.channel
        );
    }
    if let Some(thread) = &args.thread
        && (thread.is_empty() || thread.contains(char::is_whitespace))
    {
        bail!("invalid thread `{thread}`: expected a thread timestamp such as 1700000000.000100");
    }
    Ok(Identity {
        user: UserId::new(&args.user),
        channel: ChannelId::new(&args.channel),
        thread: args.thread.as_ref().map(ThreadId::new),
    })
}

/// Reads the [chat] table of the config file, when there is one, and
/// applies the command-line overrides.
fn settings(config_file: Option<&Path>, args: &ChatArgs) -> anyhow::Result<ChatSettings> {
    let mut settings = match config_file {
        Some(path) => ChatSettings::load(path)?,
        None => ChatSettings::default(),
    };
    if let Some(policy) = &args.policy {
        settings.policy = policy.clone();
    }
    if let Some(audit_db) = &args.audit_db {
        settings.audit_db = audit_db.clone();
    }
    if let Some(demo_dir) = &args.demo_dir {
        settings.demo_dir = demo_dir.clone();
    }
    match args.confirmation_ttl {
        Some(0) => bail!("invalid --confirmation-ttl 0: give a positive number of seconds"),
        Some(seconds) => settings.confirmation_ttl = Duration::from_secs(seconds),
        None => {}
    }
    Ok(settings)
}
