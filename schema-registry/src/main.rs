//! `vygoda-schema-registry [serve] ...` and `vygoda-schema-registry register ...`.

use std::process::ExitCode;

use clap::Parser;
use vygoda_common::exit;
use vygoda_schema_registry::{history, register_dir, serve, Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    vygoda_common::telemetry::init();
    exit::block_on(dispatch(cli))
}

async fn dispatch(cli: Cli) -> i32 {
    match cli.command {
        Some(Command::Register(args)) => {
            let config = match args.validate() {
                Ok(config) => config,
                Err(error) => return usage(&error),
            };
            match register_dir::run(&config).await {
                Ok(outcomes) => {
                    for o in outcomes {
                        let id = o.id.map_or("-".into(), |i| i.to_string());
                        println!("{}\tid={id}", o.subject);
                    }
                    exit::OK
                }
                Err(error) => {
                    eprintln!("error: {error}");
                    error.exit_code()
                }
            }
        }
        Some(Command::CheckHistory(args)) => check_history(&args.dir),
        Some(Command::Serve(args)) => serve_cmd(args).await,
        None => serve_cmd(cli.serve).await,
    }
}

async fn serve_cmd(args: vygoda_schema_registry::config::ServeArgs) -> i32 {
    let config = match args.validate() {
        Ok(config) => config,
        Err(error) => return usage(&error),
    };
    let stop = vygoda_common::shutdown::on_signal();
    match serve::run(config, stop, None).await {
        Ok(()) => exit::OK,
        Err(error) => {
            tracing::error!(%error, "schema registry failed");
            error.exit_code()
        }
    }
}

fn check_history(dir: &std::path::Path) -> i32 {
    match history::check_dir(dir) {
        Ok(None) => {
            println!(
                "{} is not in a git work tree; nothing to check",
                dir.display()
            );
            exit::OK
        }
        Ok(Some(report)) => {
            for skipped in &report.skipped {
                println!("skipped (not valid Avro): {skipped}");
            }
            for (subject, versions) in &report.checked {
                println!("{subject}: {versions} version(s) checked");
            }
            for broken in &report.breaks {
                eprintln!("BREAKING: {broken}");
            }
            if report.breaks.is_empty() {
                exit::OK
            } else {
                exit::FAILED
            }
        }
        Err(error) => {
            eprintln!("error: {error}");
            exit::FAILED
        }
    }
}

fn usage(error: &dyn std::fmt::Display) -> i32 {
    eprintln!("error: {error}");
    exit::USAGE
}
