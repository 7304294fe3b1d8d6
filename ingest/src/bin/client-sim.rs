//! `client-sim`: seeded client sessions into client-events. See `vygoda_ingest::client_sim`.

use clap::Parser;
use vygoda_common::exit;
use vygoda_ingest::client_sim::{self, Args};
use vygoda_ingest::product::format_ts;

#[tokio::main]
async fn main() {
    let args = Args::parse();
    vygoda_common::telemetry::init();
    let code = match args.into_config() {
        Err(e) => {
            eprintln!("client-sim: {e}");
            e.exit_code()
        }
        Ok(config) => match client_sim::run(config, vygoda_common::shutdown::on_signal()).await {
            Ok(r) => {
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
        },
    };
    std::process::exit(code);
}
