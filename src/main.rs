//! The `warroom` command line: parses arguments, starts logging and hands
//! each subcommand to its module.

mod cmd;

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cmd::Cli::parse();
    init_tracing(cli.global.verbose);

    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let result = cmd::run(cli, &mut out);
    let _ = out.flush();
    match result {
        Ok(code) => code,
        Err(error) => {
            // The chain, each cause once: some library errors repeat their source.
            eprintln!("error: {}", warroom::dialogue::error_chain(error.as_ref()));
            ExitCode::from(2)
        }
    }
}

/// Logs go to standard error, so standard output stays machine-readable.
/// `RUST_LOG` overrides the level chosen by `-v`.
fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("warroom={default}")));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}
