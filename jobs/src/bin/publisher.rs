//! `publisher`: publish one recommendations run (its Parquet output) to the recommendations topic.

use std::process::ExitCode;

use clap::Parser;
use vygoda_common::exit;
use vygoda_jobs::publisher::{self, Args, Config};

fn main() -> ExitCode {
    let args = Args::parse();
    vygoda_common::telemetry::init();
    exit::block_on(async move {
        let stop = vygoda_common::shutdown::on_signal();
        match Config::from_args(&args) {
            Err(error) => {
                eprintln!("error: {error}");
                error.exit_code()
            }
            Ok(config) => match publisher::run(&config, stop).await {
                Ok(report) => {
                    eprintln!(
                        "run {}: {} records published to {}, {} rows rejected{}",
                        report.run_id,
                        report.published,
                        config.topic,
                        report.rejected,
                        if report.cancelled {
                            " (cancelled before the end)"
                        } else {
                            ""
                        }
                    );
                    report.exit_code()
                }
                Err(error) => {
                    tracing::error!(%error, "publish failed");
                    eprintln!("error: {error}");
                    error.exit_code()
                }
            },
        }
    })
}
