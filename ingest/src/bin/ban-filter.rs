//! `ban-filter`: products + bans → products-filtered. See `vygoda_ingest::filter`.

use clap::Parser;
use vygoda_common::exit;
use vygoda_ingest::filter::{self, Args};

#[tokio::main]
async fn main() {
    let args = Args::parse();
    vygoda_common::telemetry::init();
    let code = match args.into_config() {
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
    };
    std::process::exit(code);
}
