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
            Ok(Outcome::RemovedUnreadable(bad)) => {
                report.records("removed", 1);
                println!("removed the unreadable record {bad}");
                exit::OK
            }
            Ok(Outcome::Listed(list)) => {
                report.records("listed", list.bans.len() as u64);
                report.records("unreadable", list.unreadable.len() as u64);
                if json {
                    let bans: Vec<_> = list.bans.values().collect();
                    let doc = serde_json::json!({"bans": bans, "unreadable": list.unreadable});
                    println!("{doc:#}");
                } else {
                    let bans: Vec<_> = list.bans.into_values().collect();
                    print!("{}", admin::table(&bans));
                    if !list.unreadable.is_empty() {
                        println!(
                            "\n{} unreadable record(s), not applied by the ban filter either; \
                             `ban add` or `ban remove` of the same kind and value replaces one:",
                            list.unreadable.len()
                        );
                        for bad in &list.unreadable {
                            println!("  {bad}");
                        }
                    }
                }
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
