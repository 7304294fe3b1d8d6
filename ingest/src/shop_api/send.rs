//! Sending validated records: registry id, framing, bounded in-flight window, progress.

use std::sync::Arc;
use std::time::Duration;

use rdkafka::producer::{FutureProducer, Producer};
use tokio_util::sync::CancellationToken;

use super::{Config, ShopApiError, Valid};
use crate::kafka_io;
use vygoda_avro::registry::Registry;
use vygoda_avro::schemas;
use vygoda_avro::wire::{self, Encoder};

/// Outcome of a run that did not fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub sent: usize,
    pub rejected: usize,
    pub elapsed: Duration,
}

impl Summary {
    pub fn rate(&self) -> f64 {
        self.sent as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// At most this many records wait for acknowledgement; beyond it we wait before queueing more.
const WINDOW: usize = 20_000;

pub(super) async fn send_all(
    config: &Config,
    valid: Vec<Valid>,
    stop: &CancellationToken,
) -> Result<usize, ShopApiError> {
    let total = valid.len();
    kafka_io::preflight(
        config.kafka.clone(),
        config.topic.clone(),
        Duration::from_secs(15),
    )
    .await?;
    let registry = Arc::new(Registry::new(config.registry.clone())?);
    let subject = schemas::value_subject(&config.topic);
    let encoder =
        Encoder::register(&registry, &subject, schemas::PRODUCTS, schemas::products()).await?;

    let timeout_ms = config.delivery_timeout.as_millis().to_string();
    let producer: FutureProducer = kafka_io::producer(
        &config.kafka,
        &[
            ("message.timeout.ms", &timeout_ms),
            ("linger.ms", "20"),
            ("batch.num.messages", "10000"),
        ],
    )?;
    let bar = if config.progress {
        let bar = indicatif::ProgressBar::new(total as u64);
        if let Ok(style) =
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} {per_sec} eta {eta}")
        {
            bar.set_style(style);
        }
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };

    let mut sender = kafka_io::Sender::new(&producer, WINDOW);
    let mut cancelled = false;
    for v in valid {
        if stop.is_cancelled() {
            cancelled = true;
            break;
        }
        let payload = wire::frame(encoder.id, &v.datum);
        sender
            .send(&config.topic, v.product_id.as_bytes(), &payload)
            .await;
        bar.set_position(sender.settled() as u64);
    }
    // Everything queued is either acknowledged or failed after message.timeout.ms.
    sender.finish().await;
    let _ = producer.flush(Duration::from_secs(5));
    bar.finish_and_clear();
    let (sent, failed) = (sender.acked, sender.failed);
    if failed > 0 {
        return Err(ShopApiError::Delivery {
            failed,
            total,
            sent,
            first: sender.first_error.unwrap_or_default(),
        });
    }
    if cancelled {
        return Err(ShopApiError::Cancelled { sent, total });
    }
    Ok(sent)
}
