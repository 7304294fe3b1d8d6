//! `lake-writer`: analytics topics → Parquet on HDFS, exactly once. See the crate docs.

use std::process::ExitCode;

use clap::Parser;
use vygoda_common::exit;
use vygoda_lake_writer::{run, Args};

fn main() -> ExitCode {
    vygoda_common::telemetry::init();
    let args = Args::parse();
    let cfg = match args.validate() {
        Ok(cfg) => cfg,
        Err(error) => {
            tracing::error!(%error, "invalid configuration");
            return exit::code(exit::USAGE);
        }
    };
    tracing::info!(
        lake = cfg.lake_root,
        topics = ?cfg.topics,
        partition_by = cfg.writer.partition_by.as_str(),
        "lake writer starting"
    );
    exit::block_on(async move {
        let stop = vygoda_common::shutdown::on_signal();
        match run(cfg, stop).await {
            Ok(()) => exit::OK,
            Err(error) => {
                tracing::error!(%error, "lake writer stopped");
                error.exit_code()
            }
        }
    })
}
