//! Renders the production Kafka scripts from the tables in kafka/: ACLs from acls.toml, topic
//! creation from topics.toml; and the ACL bindings `make up` applies to the local brokers. `make acls` writes them to kafka/generated/; `check` tells whether
//! the committed ones are current (a test does the same).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use vygoda_common::acl::{AclTable, CLUSTERS};
use vygoda_common::exit;
use vygoda_tools::acl::AclRender;
use vygoda_tools::topics::TopicTable;

#[derive(Debug, Parser)]
#[command(
    version,
    about = "Production kafka-acls / kafka-topics scripts from kafka/*.toml"
)]
struct Cli {
    /// The ACL table.
    #[arg(
        long,
        env = "VYGODA_ACLS_TABLE",
        default_value = "kafka/acls.toml",
        global = true
    )]
    acls: PathBuf,
    /// The topic table.
    #[arg(
        long,
        env = "VYGODA_TOPICS_TABLE",
        default_value = "kafka/topics.toml",
        global = true
    )]
    topics: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the kafka-acls.sh commands of one cluster.
    Render {
        /// Cluster to render for: prod or analytics.
        #[arg(long, env = "VYGODA_CLUSTER", default_value = "prod")]
        cluster: String,
    },
    /// Print the ACL bindings of one cluster as JSON (what `make up` applies to the local brokers).
    Bindings {
        /// Cluster to print for: prod or analytics.
        #[arg(long, env = "VYGODA_CLUSTER", default_value = "prod")]
        cluster: String,
        /// Add the local platform's test prefixes (`[local]` of the table).
        #[arg(long, env = "VYGODA_ACLS_LOCAL", default_value_t = false)]
        local: bool,
    },
    /// Print the kafka-topics.sh --create commands of one cluster.
    Topics {
        /// Cluster to render for: prod or analytics.
        #[arg(long, env = "VYGODA_CLUSTER", default_value = "prod")]
        cluster: String,
    },
    /// Exit 1 if any script in DIR differs from a fresh rendering (run `make acls` to fix).
    Check {
        /// Directory holding acls-<cluster>.sh and topics-<cluster>.sh.
        #[arg(long, env = "VYGODA_GENERATED_DIR", default_value = "kafka/generated")]
        dir: PathBuf,
    },
}

fn main() -> ExitCode {
    vygoda_common::telemetry::init();
    let cli = Cli::parse();
    match run(&cli) {
        Ok(code) => ExitCode::from(code as u8),
        Err(error) => {
            eprintln!("vygoda-acls: {error:#}");
            ExitCode::from(exit::USAGE as u8)
        }
    }
}

fn run(cli: &Cli) -> anyhow::Result<i32> {
    match &cli.command {
        Command::Render { cluster } => {
            print!("{}", AclTable::load(&cli.acls)?.render_script(cluster)?);
        }
        Command::Bindings { cluster, local } => {
            let bindings = AclTable::load(&cli.acls)?.bindings(cluster, *local)?;
            println!("{}", serde_json::to_string_pretty(&bindings)?);
        }
        Command::Topics { cluster } => {
            print!("{}", TopicTable::load(&cli.topics)?.render_script(cluster)?);
        }
        Command::Check { dir } => {
            let acls = AclTable::load(&cli.acls)?;
            let topics = TopicTable::load(&cli.topics)?;
            let mut stale = 0;
            for cluster in CLUSTERS {
                for (file, want) in [
                    (format!("acls-{cluster}.sh"), acls.render_script(cluster)?),
                    (
                        format!("topics-{cluster}.sh"),
                        topics.render_script(cluster)?,
                    ),
                ] {
                    let path = dir.join(&file);
                    if std::fs::read_to_string(&path).ok().as_deref() != Some(want.as_str()) {
                        eprintln!("{} is stale or missing; run `make acls`", path.display());
                        stale += 1;
                    }
                }
            }
            if stale > 0 {
                return Ok(exit::FAILED);
            }
        }
    }
    Ok(exit::OK)
}
