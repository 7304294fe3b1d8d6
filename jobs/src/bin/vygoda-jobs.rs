//! `vygoda-jobs`: run Spark jobs by hand or on cron, with a run history in PostgreSQL.

use std::process::ExitCode;

use clap::Parser;
use vygoda_common::exit;

fn main() -> ExitCode {
    let cli = vygoda_jobs::Cli::parse();
    vygoda_common::telemetry::init();
    exit::block_on(async move {
        let shutdown = vygoda_common::shutdown::on_signal();
        match vygoda_jobs::run(cli, shutdown).await {
            Ok(code) => code,
            Err(error) => {
                tracing::error!(%error, "vygoda-jobs failed");
                eprintln!("error: {error}");
                error.exit_code()
            }
        }
    })
}
