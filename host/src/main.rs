use clap::Parser;
use elector_host::cli::{Cli, Command};
use elector_host::commands::{self, CampaignRequest, Printer};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let code = run(Cli::parse().command).await?;
    std::process::exit(code);
}

/// Runs one command; returns the process exit code.
async fn run(command: Command) -> anyhow::Result<i32> {
    match command {
        Command::Demo(args) => elector_host::demo::run(args.into_options().await?)
            .await
            .map(|()| 0),
        Command::Campaign(args) => {
            let store =
                commands::connect(&args.connection.broker, args.connection.request_timeout).await?;
            let request = CampaignRequest {
                position: args.position,
                name: args.name,
                session_id: args.session_id,
                term: args.term,
                renew: args.renew,
                timeout: args.timeout,
            };
            let printer = Printer {
                json: args.connection.json,
            };
            commands::campaign(store, request, printer, commands::shutdown_signal()).await
        }
        Command::Leader(args) => {
            let store =
                commands::connect(&args.connection.broker, args.connection.request_timeout).await?;
            commands::leader(
                store,
                &args.position,
                Printer {
                    json: args.connection.json,
                },
            )
            .await?;
            Ok(0)
        }
        Command::Observe(args) => {
            let store =
                commands::connect(&args.connection.broker, args.connection.request_timeout).await?;
            let printer = Printer {
                json: args.connection.json,
            };
            commands::observe(store, &args.position, printer, commands::shutdown_signal()).await?;
            Ok(0)
        }
        Command::Get(args) => {
            let store =
                commands::connect(&args.connection.broker, args.connection.request_timeout).await?;
            let found = commands::get(
                &store,
                &args.key,
                Printer {
                    json: args.connection.json,
                },
            )
            .await?;
            Ok(if found { 0 } else { 1 })
        }
        Command::Resign(args) => {
            let store =
                commands::connect(&args.connection.broker, args.connection.request_timeout).await?;
            let printer = Printer {
                json: args.connection.json,
            };
            let released =
                commands::resign(store, &args.position, &args.name, args.session_id, printer)
                    .await?;
            Ok(if released { 0 } else { 1 })
        }
        Command::Run(args) => {
            let (request, broker) = args.into_request();
            elector_host::run::run(request, &broker, commands::shutdown_signal()).await?;
            Ok(0)
        }
        Command::Bench(args) => {
            elector_host::bench::run(args).await?;
            Ok(0)
        }
        Command::Statestore(args) => {
            let options = elector_host::service::ServiceOptions {
                node_id: args.node_id,
                limits: elector_statestore::Limits {
                    max_keys: args.max_keys,
                    max_value_bytes: args.max_value_bytes,
                    ..elector_statestore::Limits::default()
                },
            };
            commands::statestore(&args.broker, options).await?;
            Ok(0)
        }
    }
}
