//! `publisher`: publish one recommendations run (its Parquet output) to the recommendations topic.

use std::process::ExitCode;

use clap::Parser;
use vygoda_common::exit;
use vygoda_common::push::RunReport;
use vygoda_jobs::publisher::{self, Args, Config};

fn main() -> ExitCode {
    let args = Args::parse();
    vygoda_common::telemetry::init();
    exit::block_on(async move {
        let stop = vygoda_common::shutdown::on_signal();
        let config = match Config::from_args(&args) {
            Ok(config) => config,
            Err(error) => {
                eprintln!("error: {error}");
                return error.exit_code();
            }
        };
        let report = RunReport::start("publisher", config.push_to.clone());
        let code = match publisher::run(&config, stop).await {
            Ok(outcome) => {
                report.records("published", outcome.published as u64);
                report.records("rejected", outcome.rejected as u64);
                eprintln!(
                    "run {}: {} records published to {}, {} rows rejected{}",
                    outcome.run_id,
                    outcome.published,
                    config.topic,
                    outcome.rejected,
                    if outcome.cancelled {
                        " (cancelled before the end)"
                    } else {
                        ""
                    }
                );
                outcome.exit_code()
            }
            Err(error) => {
                tracing::error!(%error, "publish failed");
                eprintln!("error: {error}");
                error.exit_code()
            }
        };
        report.finish(code).await;
        code
    })
}
