//! `vygoda-jobs`: run Spark jobs by hand or on cron, with a run history in PostgreSQL.

use clap::Parser;

#[tokio::main]
async fn main() {
    let cli = vygoda_jobs::Cli::parse();
    vygoda_common::telemetry::init();
    let shutdown = vygoda_common::shutdown::on_signal();
    let code = match vygoda_jobs::run(cli, shutdown).await {
        Ok(code) => code,
        Err(error) => {
            tracing::error!(%error, "vygoda-jobs failed");
            eprintln!("error: {error}");
            error.exit_code()
        }
    };
    std::process::exit(code);
}
