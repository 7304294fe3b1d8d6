//! Runs whose driver died (orphans) and cancellation from another process.
//!
//! A run is orphaned when its driver stopped heartbeating for a whole lease, or at once when the
//! driver was on this host and its pid is gone. Before its slot is given back, the process group
//! it left behind (spark-submit survives its driver: it has its own group) is killed, so "no
//! overlap" holds across a driver crash too.

use std::time::Duration;

use crate::config::DriverSettings;
use crate::process;
use crate::store::{RunRow, RunState, Store, StoreError};

/// Find and finalise orphaned runs; returns (run_id, state given) for each.
pub async fn resolve_orphans(
    store: &Store,
    settings: &DriverSettings,
) -> Result<Vec<(String, RunState)>, StoreError> {
    let mut resolved = Vec::new();
    for (row, lease_expired) in store.orphan_candidates().await? {
        let same_host = row.host == store.host;
        let owner_alive = same_host && process::pid_alive(row.driver_pid);
        if owner_alive && !lease_expired {
            continue;
        }
        let killed = kill_leftovers(store, &row, settings.kill_grace).await;
        let state = if row.cancel_requested {
            RunState::Cancelled
        } else {
            RunState::Abandoned
        };
        let why = format!(
            "driver pid {} on {} stopped ({}); {}",
            row.driver_pid,
            row.host,
            if owner_alive {
                "lease expired"
            } else {
                "process gone"
            },
            killed
        );
        if store.resolve_orphan(&row, state, &why).await? {
            tracing::warn!(run_id = row.run_id, job = row.job, %state, why, "resolved orphaned run");
            resolved.push((row.run_id.clone(), state));
        }
    }
    Ok(resolved)
}

async fn kill_leftovers(store: &Store, row: &RunRow, grace: Duration) -> String {
    match row.pgid {
        None => "no process was running".to_owned(),
        Some(pgid) if row.host == store.host => {
            format!(
                "process group {pgid}: {:?}",
                process::kill_group(pgid, grace).await
            )
        }
        Some(pgid) => format!(
            "process group {pgid} on {} may still run; kill it there",
            row.host
        ),
    }
}

/// Ask a run to stop and wait (up to `wait`) for its final state.
///
/// The owner sees the request on its next heartbeat and kills its process group; on the same
/// host we also kill the group ourselves, so a hung owner cannot delay the cancel. A run whose
/// owner is gone is finalised here as cancelled.
pub async fn cancel(
    store: &Store,
    settings: &DriverSettings,
    run_id: &str,
    wait: Duration,
) -> Result<RunRow, StoreError> {
    let row = store.request_cancel(run_id).await?;
    if row.state.is_final() {
        return Ok(row);
    }
    if row.host == store.host {
        if let Some(pgid) = row.pgid {
            let killed = process::kill_group(pgid, settings.kill_grace).await;
            tracing::info!(run_id, pgid, ?killed, "killed the run's process group");
        }
    }
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        resolve_orphans(store, settings).await?;
        let row = store.get(run_id).await?;
        if row.state.is_final() || tokio::time::Instant::now() >= deadline {
            return Ok(row);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
