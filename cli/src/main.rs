//! `elector`: leader election for the command line and for edge modules
//! (see the `elector_cli` library for the commands, and `docs/cli.md`).

use clap::Parser as _;
use elector_cli::cli::Cli;
use elector_cli::commands::{self, Printer};
use elector_cli::exit::Exit;

#[tokio::main]
async fn main() {
    let cli = parse();
    elector_cli::logging::init(cli.log_format, cli.command.default_log_filter());
    let printer = Printer {
        json: cli.command.json(),
    };
    let code = match commands::run(cli.command).await {
        Ok(code) => code,
        Err(error) => {
            printer.error(&elector_host::errors::one_line(&error));
            commands::failure_code(&error)
        }
    };
    std::process::exit(code);
}

/// The command line, or the process ends with clap's message and exit code
/// 2; with `--json`, the message is an `error` line on stdout, where the
/// script that asked for JSON reads.
fn parse() -> Cli {
    let error = match Cli::try_parse() {
        Ok(cli) => return cli,
        Err(error) => error,
    };
    if !error.use_stderr() || !asks_for_json(std::env::args()) {
        // --help and --version, or a person reading text.
        error.exit();
    }
    let rendered = error.render().to_string();
    let message = rendered.lines().next().unwrap_or_default();
    Printer { json: true }.error(message.strip_prefix("error: ").unwrap_or(message));
    std::process::exit(Exit::Usage.code());
}

/// Whether `--json` is among elector's own arguments (not COMMAND's, after
/// `--`).
fn asks_for_json(args: impl Iterator<Item = String>) -> bool {
    args.take_while(|arg| arg != "--")
        .any(|arg| arg == "--json")
}
