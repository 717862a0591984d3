//! The `frameforge` binary: parse arguments, run, map the result to an exit code.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use frameforge::app;
use frameforge::cli::{Cli, Command};

/// SVT-AV1's log level when the user sets none: errors only. Its encoder prints its
/// banner and settings straight to stderr, past ffmpeg's log, into every cron mail.
const SVT_LOG_ERRORS_ONLY: &str = "1";

fn main() -> ExitCode {
    // Before any thread exists, so nothing reads the environment while it changes.
    if std::env::var_os("SVT_LOG").is_none() {
        std::env::set_var("SVT_LOG", SVT_LOG_ERRORS_ONLY);
    }
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(frameforge::progress::LogWriter)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,ort=error")),
        )
        .without_time()
        // Colour only on a terminal: logs, pipes and cron mail get plain text.
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .init();
    let code = match &cli.command {
        Command::Run(args) => app::run(args),
        Command::Validate(args) => app::validate(args),
        Command::Inspect(args) => app::inspect(args),
        Command::Search(args) => app::search(args),
        Command::Speed(args) => app::speed(args),
    };
    ExitCode::from(code)
}
