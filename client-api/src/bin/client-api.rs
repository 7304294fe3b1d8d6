//! `client-api`: search, product, recommend, relay. See `vygoda_client_api::cli`.

use std::process::ExitCode;

use clap::Parser;
use vygoda_client_api::cli::{self, Cli};
use vygoda_common::exit;

fn main() -> ExitCode {
    let cli = Cli::parse();
    vygoda_common::telemetry::init_with_default("warn");
    exit::block_on(async move {
        let result = match cli.into_config() {
            Ok(config) => cli::run(config).await,
            Err(e) => Err(e),
        };
        result.unwrap_or_else(|e| {
            eprintln!("client-api: {e}");
            e.exit_code()
        })
    })
}
