//! `store-sink`: products-filtered and recommendations into the store. See
//! `vygoda_client_api::sink`.

use std::process::ExitCode;

use clap::Parser;
use vygoda_client_api::sink::{self, Args};
use vygoda_common::exit;

fn main() -> ExitCode {
    let args = Args::parse();
    vygoda_common::telemetry::init();
    exit::block_on(async move {
        let config = match args.into_config() {
            Ok(config) => config,
            Err(e) => {
                eprintln!("store-sink: {e}");
                return exit::USAGE;
            }
        };
        match sink::run(config, vygoda_common::shutdown::on_signal()).await {
            Ok(()) => exit::OK,
            Err(e) => {
                eprintln!("store-sink: {e}");
                e.exit_code()
            }
        }
    })
}
