//! `shop-api`: validate shops' products and publish them to Kafka. See `vygoda_ingest::shop_api`.

use std::process::ExitCode;

use clap::Parser;
use vygoda_common::exit;
use vygoda_common::push::RunReport;
use vygoda_ingest::shop_api::{self, Cli};

fn main() -> ExitCode {
    let cli = Cli::parse();
    vygoda_common::telemetry::init();
    exit::block_on(async move {
        let config = match cli.into_config() {
            Ok(config) => config,
            Err(e) => {
                eprintln!("shop-api: {e}");
                return e.exit_code();
            }
        };
        let report = RunReport::start("shop-api", config.push_to.clone());
        let code = match shop_api::run(config, vygoda_common::shutdown::on_signal()).await {
            Ok(summary) => {
                report.records("sent", summary.sent as u64);
                report.records("rejected", summary.rejected as u64);
                println!(
                    "shop-api: sent {}, rejected {}, {:.1}s ({:.0} records/s)",
                    summary.sent,
                    summary.rejected,
                    summary.elapsed.as_secs_f64(),
                    summary.rate()
                );
                if summary.rejected > 0 {
                    exit::PARTIAL
                } else {
                    exit::OK
                }
            }
            Err(e) => {
                eprintln!("shop-api: {e}");
                e.exit_code()
            }
        };
        report.finish(code).await;
        code
    })
}
