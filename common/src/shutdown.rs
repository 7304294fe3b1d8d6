//! SIGTERM / SIGINT as a cancellation token: services stop taking input, flush, commit, exit 0.

use tokio_util::sync::CancellationToken;

/// A token cancelled on the first SIGTERM or SIGINT. A second signal is left to the default
/// handler's replacement below: it exits at once, for an operator who really means it.
pub fn on_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let child = token.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!(
            signal = "term",
            "shutdown requested; finishing in-flight work"
        );
        child.cancel();
        wait_for_signal().await;
        tracing::warn!("second signal; exiting without a clean shutdown");
        std::process::exit(crate::exit::CANCELLED);
    });
    token
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        // Without signal handlers (should not happen on Unix) fall back to Ctrl-C only.
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
