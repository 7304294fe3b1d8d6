//! `client-sim`: seeded client sessions into client-events. See `vygoda_ingest::client_sim`.

use std::process::ExitCode;

use clap::Parser;
use vygoda_common::exit;
use vygoda_common::push::RunReport;
use vygoda_ingest::client_sim::{self, Args};
use vygoda_ingest::product::format_ts;

fn main() -> ExitCode {
    let args = Args::parse();
    vygoda_common::telemetry::init();
    exit::block_on(async move {
        let config = match args.into_config() {
            Ok(config) => config,
            Err(e) => {
                eprintln!("client-sim: {e}");
                return e.exit_code();
            }
        };
        let report = RunReport::start("client-sim", config.push_to.clone());
        let code = match client_sim::run(config, vygoda_common::shutdown::on_signal()).await {
            Ok(r) => {
                report.records("sent", r.sent as u64);
                println!(
                    "client-sim: sent {} events over {} products in {:.1}s; evaluation split: ts >= {}",
                    r.sent,
                    r.products,
                    r.elapsed.as_secs_f64(),
                    format_ts(r.split_ts)
                );
                exit::OK
            }
            Err(e) => {
                eprintln!("client-sim: {e}");
                e.exit_code()
            }
        };
        report.finish(code).await;
        code
    })
}
