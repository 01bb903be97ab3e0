//! Subcommands of the `warroom` binary, one file each.

mod ask;
mod audit;
mod bench;
mod calibrate;
mod chat;
mod check;
mod embed;
mod eval;
mod finetune;
mod model;
mod serve;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use warroom::config::Config;
use warroom::model::ModelSpec;

/// ChatOps for security and IT teams, with an intent model that runs locally.
#[derive(Debug, Parser)]
#[command(name = "warroom", version, about)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

/// Options every subcommand takes.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Config file [default: ./warroom.toml when it exists]
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Model directory, or a Hugging Face repo id (`owner/name`) to download
    /// into the hf-hub cache [default: models/all-MiniLM-L6-v2]
    #[arg(long, global = true, value_name = "DIR|REPO")]
    pub model: Option<String>,

    /// Directory of intent files [default: intents]
    #[arg(long, global = true, value_name = "DIR")]
    pub intents: Option<PathBuf>,

    /// SQLite file caching exemplar embeddings
    /// [default: $XDG_CACHE_HOME/warroom/embeddings.sqlite]
    #[arg(long, global = true, value_name = "FILE")]
    pub cache: Option<PathBuf>,

    /// L2 penalty on the classifier head's weights, or 0 for none
    /// [default: the config's `[head] l2`, else 0.1]
    #[arg(long, global = true, value_name = "L2", allow_negative_numbers = true)]
    pub head_l2: Option<f64>,

    /// More log output on standard error (-v info, -vv debug, -vvv trace)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Decide which intent a message requests and explain why
    Ask(ask::AskArgs),
    /// Talk to the bot in the terminal: the whole pipeline, scriptable
    Chat(chat::ChatArgs),
    /// Print the sentence embedding of a text
    Embed(embed::EmbedArgs),
    /// Time the engine on chat messages against stock candle
    Bench(bench::BenchArgs),
    /// Measure intent accuracy and out-of-scope rejection on labelled data
    Eval(eval::EvalArgs),
    /// Pick matcher thresholds from labelled data and write them into the config
    Calibrate(calibrate::CalibrateArgs),
    /// Validate the intent files, the labelled data and the config
    Check(check::CheckArgs),
    /// Run the bot in Slack, with the alert endpoint, health and metrics
    Serve(serve::ServeArgs),
    /// Verify, export and show the audit log
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Manage model directories
    #[command(subcommand)]
    Model(model::ModelCommand),
}

/// Runs one subcommand, writing its output to `out`.
pub fn run(cli: Cli, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Ask(args) => ask::run(&cli.global, args, out),
        Command::Chat(args) => chat::run(&cli.global, args, out),
        Command::Embed(args) => embed::run(&cli.global, args, out),
        Command::Bench(args) => bench::run(&cli.global, args, out),
        Command::Eval(args) => eval::run(&cli.global, args, out),
        Command::Calibrate(args) => calibrate::run(&cli.global, args, out),
        Command::Check(args) => check::run(&cli.global, args, out),
        Command::Serve(args) => serve::run(&cli.global, args, out),
        Command::Audit(command) => audit::run(command, out),
        Command::Model(command) => model::run(&cli.global, command, out),
    }
}

/// Loads the config file and applies the command-line overrides.
pub fn load_config(global: &GlobalArgs) -> anyhow::Result<Config> {
    let mut config = Config::load(global.config.as_deref()).context("failed to load config")?;
    let cwd = PathBuf::from(".");
    if let Some(model) = &global.model {
        config.model = ModelSpec::parse(model, &cwd);
    }
    if let Some(intents) = &global.intents {
        config.intents = intents.clone();
    }
    if let Some(cache) = &global.cache {
        config.cache = cache.clone();
    }
    if let Some(l2) = global.head_l2 {
        if let Some(problem) = warroom::config::l2_problem(l2) {
            anyhow::bail!("--head-l2: {problem}");
        }
        config.head.l2 = l2;
    }
    Ok(config)
}
