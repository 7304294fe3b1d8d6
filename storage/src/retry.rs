//! Retries with exponential backoff, and the idempotency rules that make a retried rename safe
//! when the first attempt succeeded but its answer was lost (NameNode restart mid-call).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::{FileEntry, Storage, StorageError, StorageResult};

/// Called with the operation name before each retry (feeds a metric).
pub type RetryHook = Arc<dyn Fn(&'static str) + Send + Sync>;

#[derive(Clone)]
pub struct Retrying<S> {
    inner: S,
    retry_for: Duration,
    hook: Option<RetryHook>,
}

impl<S: Storage> Retrying<S> {
    pub fn new(inner: S, retry_for: Duration) -> Self {
        Retrying {
            inner,
            retry_for,
            hook: None,
        }
    }

    pub fn with_hook(mut self, hook: RetryHook) -> Self {
        self.hook = Some(hook);
        self
    }

    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// Run `op` until it succeeds, fails permanently, or `retry_for` has passed. `op` gets
    /// the attempt number (0 first) so it can apply idempotency checks on retries.
    async fn retry<T, F, Fut>(&self, name: &'static str, mut op: F) -> StorageResult<T>
    where
        F: FnMut(u32) -> Fut,
        Fut: std::future::Future<Output = StorageResult<T>>,
    {
        let start = Instant::now();
        let mut delay = Duration::from_millis(100);
        let mut attempt = 0;
        loop {
            match op(attempt).await {
                Err(e) if e.is_transient() => {
                    let waited = start.elapsed();
                    if waited >= self.retry_for {
                        return Err(StorageError::GaveUp {
                            attempts: attempt + 1,
                            waited,
                            last: Box::new(e),
                        });
                    }
                    tracing::warn!(op = name, attempt, error = %e, "storage call failed; retrying");
                    if let Some(hook) = &self.hook {
                        hook(name);
                    }
                    let jitter = rand_jitter(delay);
                    tokio::time::sleep(delay + jitter).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                    attempt += 1;
                }
                other => return other,
            }
        }
    }
}

/// Up to a quarter of `base`, so many writers restarting together do not retry in lockstep.
fn rand_jitter(base: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    base / 4 * (nanos % 1000) / 1000
}

impl<S: Storage> Storage for Retrying<S> {
    fn root(&self) -> &str {
        self.inner.root()
    }

    async fn put(&self, path: &str, data: Bytes) -> StorageResult<()> {
        self.retry("put", |attempt| {
            let data = data.clone();
            async move {
                if attempt > 0 {
                    // A failed attempt may have left a half-written file holding a lease.
                    let _ = self.inner.delete(path).await;
                }
                self.inner.put(path, data).await
            }
        })
        .await
    }

    async fn rename(&self, from: &str, to: &str, overwrite: bool) -> StorageResult<()> {
        self.retry("rename", |attempt| async move {
            match self.inner.rename(from, to, overwrite).await {
                // The source is gone and the destination is there: an earlier attempt whose
                // answer was lost already did it.
                Err(e) if attempt > 0 && e.is_not_found() && self.inner.exists(to).await? => Ok(()),
                Err(e)
                    if attempt > 0 && e.is_already_exists() && !self.inner.exists(from).await? =>
                {
                    Ok(())
                }
                other => other,
            }
        })
        .await
    }

    async fn list(&self, dir: &str) -> StorageResult<Vec<FileEntry>> {
        self.retry("list", |_| self.inner.list(dir)).await
    }

    async fn delete(&self, path: &str) -> StorageResult<()> {
        self.retry("delete", |_| self.inner.delete(path)).await
    }

    async fn read(&self, path: &str) -> StorageResult<Bytes> {
        self.retry("read", |_| self.inner.read(path)).await
    }

    async fn exists(&self, path: &str) -> StorageResult<bool> {
        self.retry("exists", |_| self.inner.exists(path)).await
    }
}
