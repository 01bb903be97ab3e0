//! `warroom serve`: the bot in Slack, and the alert endpoint, until SIGTERM
//! or Ctrl-C; then it stops taking work and finishes what is in flight.

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use warroom::chat::ChatSettings;
use warroom::serve::{Secrets, ServeSettings, Server};

use super::chat::BotParts;
use super::{GlobalArgs, load_config};

const AFTER_HELP: &str = "\
Secrets come from the environment or from files named in the config:
    SLACK_BOT_TOKEN       bot token (xoxb-...), or [slack] bot_token_file
    SLACK_APP_TOKEN       app-level token (xapp-...) for Socket Mode, or [slack] app_token_file
    SLACK_SIGNING_SECRET  signing secret for the Events API, or [slack] signing_secret_file
    WARROOM_ALERT_TOKEN   bearer token of POST /alerts, or [alerts] token_file

Settings come from the [slack], [alerts] and [chat] tables of the config
file; README.md explains how to create the Slack app.";

#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct ServeArgs {
    /// Address of the HTTP listener [default: `listen` of [slack], else 127.0.0.1:8480]
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
}

pub fn run(global: &GlobalArgs, args: ServeArgs, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let config = load_config(global)?;
    let source = config.source.as_deref();
    let chat = match source {
        Some(path) => ChatSettings::load(path)?,
        None => ChatSettings::default(),
    };
    let mut settings = ServeSettings::load(source)?;
    if let Some(listen) = args.listen {
        settings.listen = listen;
    }
    // Secrets, policy and inventory are checked before the model loads,
    // so a missing token or a bad policy stops the server at once.
    let secrets = Secrets::load(&settings).context("refusing to start")?;
    let parts = BotParts::load(&config, &chat)?;
    let matcher = warroom::engine::load_matcher(&config)?;
    // The server runs until the process ends, and its tasks hold the
    // dialogue, which borrows the matcher.
    let matcher = Box::leak(Box::new(matcher));
    let dialogue = parts.dialogue(matcher, &chat);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("failed to start the async runtime")?;
    let finished = runtime.block_on(async {
        let server = Server::start(dialogue, &settings, secrets)
            .await
            .context("failed to start the server")?;
        writeln!(
            out,
            "warroom serve: listening on http://{} ({} delivery); Ctrl-C or SIGTERM stops it",
            server.address(),
            match settings.delivery {
                warroom::serve::Delivery::Socket => "Socket Mode",
                warroom::serve::Delivery::Events => "Events API",
            }
        )?;
        out.flush()?;
        wait_for_stop().await?;
        tokio::select! {
            () = server.shutdown() => anyhow::Ok(true),
            result = wait_for_stop() => {
                result?;
                tracing::warn!("second stop signal: exiting without waiting for the work in flight");
                anyhow::Ok(false)
            }
        }
    })?;
    // Commands still running on the blocking pool are abandoned, not
    // waited for, once the second signal has asked for that.
    runtime.shutdown_timeout(Duration::from_secs(1));
    Ok(if finished {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Waits for SIGTERM or Ctrl-C.
async fn wait_for_stop() -> anyhow::Result<()> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("failed to watch for SIGTERM")?;
    tokio::select! {
        _ = terminate.recv() => {}
        result = tokio::signal::ctrl_c() => result.context("failed to watch for Ctrl-C")?,
    }
    Ok(())
}
