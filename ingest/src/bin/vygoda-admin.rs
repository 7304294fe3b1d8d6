//! `vygoda-admin`: manage the ban list. See `vygoda_ingest::admin`.

use std::process::ExitCode;

use clap::Parser;
use vygoda_common::exit;
use vygoda_common::push::RunReport;
use vygoda_ingest::admin::{self, Action, Cli, Outcome};

fn main() -> ExitCode {
    let cli = Cli::parse();
    vygoda_common::telemetry::init();
    exit::block_on(async move {
        let config = match cli.into_config() {
            Ok(c) => c,
            Err(e) => {
                eprintln!("vygoda-admin: {e}");
                return e.exit_code();
            }
        };
        let json = matches!(config.action, Action::List { json: true });
        let report = RunReport::start("vygoda-admin", config.push_to.clone());
        let code = match admin::run(config).await {
            Ok(Outcome::Added { ban, replaced }) => {
                let verb = if replaced { "updated" } else { "added" };
                report.records(verb, 1);
                println!(
                    "{verb} ban {} ({}), by {}",
                    ban.key(),
                    ban.reason,
                    ban.added_by
                );
                exit::OK
            }
            Ok(Outcome::Removed(ban)) => {
                report.records("removed", 1);
                println!("removed ban {}", ban.key());
                exit::OK
            }
            Ok(Outcome::NotBanned { key }) => {
                report.records("not_banned", 1);
                println!("{key} is not banned; nothing to do");
                exit::OK
            }
            Ok(Outcome::Listed(bans)) if json => {
                report.records("listed", bans.len() as u64);
                match serde_json::to_string_pretty(&bans) {
                    Ok(text) => {
                        println!("{text}");
                        exit::OK
                    }
                    Err(e) => {
                        eprintln!("vygoda-admin: {e}");
                        exit::FAILED
                    }
                }
            }
            Ok(Outcome::Listed(bans)) => {
                report.records("listed", bans.len() as u64);
                print!("{}", admin::table(&bans));
                exit::OK
            }
            Err(e) => {
                eprintln!("vygoda-admin: {e}");
                e.exit_code()
            }
        };
        report.finish(code).await;
        code
    })
}
