//! `ban-filter`: products + bans → products-filtered. See `vygoda_ingest::filter`.

use std::process::ExitCode;

use clap::Parser;
use vygoda_common::exit;
use vygoda_ingest::filter::{self, Args};

fn main() -> ExitCode {
    let args = Args::parse();
    vygoda_common::telemetry::init();
    exit::block_on(async move {
        match args.into_config() {
            Err(e) => {
                eprintln!("ban-filter: {e}");
                e.exit_code()
            }
            Ok(config) => match filter::run(config, vygoda_common::shutdown::on_signal()).await {
                Ok(()) => exit::OK,
                Err(e) => {
                    tracing::error!(error = %e, "ban filter failed");
                    e.exit_code()
                }
            },
        }
    })
}
