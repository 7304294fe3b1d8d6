//! `mirror`: duplicate prod topics to the analytics cluster (see the library for how).

use std::process::ExitCode;

use clap::Parser;
use vygoda_common::exit;
use vygoda_mirror::config::Args;

fn main() -> ExitCode {
    vygoda_common::telemetry::init();
    let config = match Args::parse().into_config() {
        Ok(c) => c,
        Err(error) => {
            tracing::error!(%error, "invalid configuration");
            return exit::code(exit::USAGE);
        }
    };
    exit::block_on(async move {
        let stop = vygoda_common::shutdown::on_signal();
        match vygoda_mirror::run(config, stop).await {
            Ok(summary) => {
                tracing::info!(
                    partitions = summary.partitions,
                    records = summary.records,
                    bytes = summary.bytes,
                    "mirror stopped cleanly"
                );
                exit::OK
            }
            Err(error) => {
                tracing::error!(%error, "mirror failed");
                error.exit_code()
            }
        }
    })
}
