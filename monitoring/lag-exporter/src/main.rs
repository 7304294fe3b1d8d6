//! `lag-exporter`: every consumer group's lag on the configured clusters, on /metrics.

use std::process::ExitCode;

use clap::Parser;
use vygoda_common::exit;
use vygoda_lag_exporter::config::Args;

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
        match vygoda_lag_exporter::run(config, stop, None).await {
            Ok(()) => {
                tracing::info!("lag exporter stopped cleanly");
                exit::OK
            }
            Err(error) => {
                tracing::error!(%error, "lag exporter failed");
                error.exit_code()
            }
        }
    })
}
