//! Logging set-up: `tracing` with fields first, level from `RUST_LOG` (default `info`, or the
//! command's own),
//! JSON lines when `VYGODA_LOG_FORMAT=json` (for log shippers), human text otherwise.

use tracing_subscriber::EnvFilter;

pub fn init() {
    init_with_default("info");
}

/// Same, with another default level: commands that answer a person (`client-api`) log only
/// warnings unless `RUST_LOG` asks for more, so their answer is not buried in progress lines.
pub fn init_with_default(level: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let json = std::env::var("VYGODA_LOG_FORMAT").is_ok_and(|v| v == "json");
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    // A second init (tests) is harmless: the first subscriber stays.
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
