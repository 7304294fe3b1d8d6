//! The copy loop: read source records, write them to the same partition of the destination.
//!
//! One thread does everything (consumer poll, producer send, delivery callbacks via producer
//! poll), so the in-flight bookkeeping has one writer and needs no coordination beyond the
//! lock the lag metrics read through.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use tokio_util::sync::CancellationToken;
use vygoda_common::kafka::{client_config, enforce};

use crate::header::{SourcePosition, SOURCE_HEADER};
use crate::metrics::{InFlight, Metrics};
use crate::resume::Slot;
use crate::{Config, MirrorError};

/// Producer settings the guarantee rests on; applied after the operator's -X properties.
///
/// - idempotence: the broker drops a retried batch it already has (no duplicate within one
///   producer session) and rejects a batch whose predecessor is missing (no gap);
/// - acks=all: an acknowledged record survives a leader change;
/// - at most 5 requests in flight: the broker's dedup window, and order is kept;
/// - gapless guarantee: a batch that fails for good stops the producer instead of letting later
///   batches through, so the destination stays a prefix of the source;
/// - no local timeout: a record is retried until it is written or fails for good, never dropped
///   because the destination was slow.
const GUARANTEES: [(&str, &str); 5] = [
    ("enable.idempotence", "true"),
    ("acks", "all"),
    ("max.in.flight.requests.per.connection", "5"),
    ("enable.gapless.guarantee", "true"),
    ("message.timeout.ms", "0"),
];

/// Delivery reports: acknowledge in-flight records, remember the first failure.
struct Deliveries {
    metrics: Arc<Metrics>,
    failure: Mutex<Option<MirrorError>>,
}

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, slot: usize) {
        let Some(p) = self.metrics.partitions.get(slot) else {
            return;
        };
        let record = p.acked(result.is_ok());
        if let Err((error, _)) = result {
            let mut failure = self.failure.lock().unwrap_or_else(|e| e.into_inner());
            if failure.is_none() {
                *failure = Some(MirrorError::Delivery {
                    topic: p.topic.clone(),
                    partition: p.partition,
                    offset: record.map_or(-1, |r| r.offset),
                    detail: error.to_string(),
                });
            }
        }
    }
}

impl Deliveries {
    fn take_failure(&self) -> Option<MirrorError> {
        self.failure
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }
}

fn with_guarantees(cfg: ClientConfig, config: &Config) -> ClientConfig {
    enforce(
        cfg,
        &config.destination,
        &GUARANTEES,
        "the mirror copies exactly once only with it",
    )
}

/// Copy from every slot's resume offset until `stop`, then flush.
pub(crate) fn copy(
    config: &Config,
    slots: Vec<Slot>,
    metrics: Arc<Metrics>,
    stop: &CancellationToken,
) -> Result<(), MirrorError> {
    let client_err = |cluster: &str| {
        let cluster = cluster.to_owned();
        move |source| MirrorError::Client { cluster, source }
    };
    let producer: BaseProducer<Deliveries> = with_guarantees(
        client_config(&config.destination, &[("linger.ms", "5")]),
        config,
    )
    .create_with_context(Deliveries {
        metrics: Arc::clone(&metrics),
        failure: Mutex::new(None),
    })
    .map_err(client_err(&config.destination_cluster))?;

    // assign, not subscribe: each source partition maps to one destination partition and its
    // position comes from the destination, so a group would add nothing but a second, possibly
    // disagreeing, record of progress, a rebalance delay and group ACLs. One instance copies a
    // topic; scale out by giving instances disjoint --topics.
    let consumer: BaseConsumer = client_config(
        &config.source,
        &[
            ("group.id", config.group_id.as_str()),
            ("auto.offset.reset", "earliest"),
        ],
    )
    .set("enable.auto.commit", "false")
    .set("enable.auto.offset.store", "false")
    .create()
    .map_err(client_err(&config.source_cluster))?;
    let mut tpl = TopicPartitionList::new();
    for s in &slots {
        tpl.add_partition_offset(&s.topic, s.partition, Offset::Offset(s.next))
            .map_err(client_err(&config.source_cluster))?;
    }
    consumer
        .assign(&tpl)
        .map_err(client_err(&config.source_cluster))?;
    tracing::info!(partitions = slots.len(), "copying");

    let mut failure = None;
    'copy: while !stop.is_cancelled() {
        producer.poll(Duration::ZERO);
        if let Some(f) = producer.context().take_failure() {
            failure = Some(f);
            break;
        }
        let msg = match consumer.poll(Duration::from_millis(100)) {
            None => continue,
            Some(Ok(m)) => m,
            Some(Err(error)) => {
                // librdkafka retries broker and network trouble by itself; this is a report.
                metrics.source_errors.inc();
                tracing::warn!(%error, "reading the source");
                continue;
            }
        };
        let Some(slot) = metrics.slot(msg.topic(), msg.partition()) else {
            continue;
        };
        let position = SourcePosition::encode(msg.topic(), msg.partition(), msg.offset());
        let source_headers = msg.headers();
        let mut headers =
            OwnedHeaders::new_with_capacity(source_headers.map_or(0, |h| h.count()) + 1);
        if let Some(h) = source_headers {
            for header in h.iter() {
                headers = headers.insert(header);
            }
        }
        headers = headers.insert(Header {
            key: SOURCE_HEADER,
            value: Some(position.as_bytes()),
        });
        let mut record: BaseRecord<'_, [u8], [u8], usize> =
            BaseRecord::with_opaque_to(msg.topic(), slot)
                .partition(msg.partition())
                .headers(headers);
        if let Some(key) = msg.key() {
            record = record.key(key);
        }
        if let Some(value) = msg.payload() {
            record = record.payload(value);
        }
        let timestamp_ms = msg.timestamp().to_millis();
        if let Some(ts) = timestamp_ms {
            record = record.timestamp(ts);
        }
        let progress = &metrics.partitions[slot];
        progress.sent(InFlight {
            offset: msg.offset(),
            timestamp_ms,
            bytes: (msg.key_len() + msg.payload_len()) as u64,
        });
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    // Back-pressure: serve delivery reports until there is room. Leaving on
                    // stop is safe: the record was never handed over and the next start
                    // resumes at it.
                    if stop.is_cancelled() {
                        progress.unsent();
                        break 'copy;
                    }
                    record = back;
                    producer.poll(Duration::from_millis(20));
                }
                Err((error, _)) => {
                    progress.unsent();
                    failure = Some(MirrorError::Delivery {
                        topic: msg.topic().to_owned(),
                        partition: msg.partition(),
                        offset: msg.offset(),
                        detail: error.to_string(),
                    });
                    break 'copy;
                }
            }
        }
    }

    // Stop reading, then wait for what is in flight: every acknowledged record is a record the
    // next start will not copy again.
    drop(consumer);
    let flushed = producer.flush(config.flush_timeout);
    if let Some(f) = failure.or_else(|| producer.context().take_failure()) {
        return Err(f);
    }
    if flushed.is_err() {
        return Err(MirrorError::FlushTimeout {
            pending: producer.in_flight_count(),
            seconds: config.flush_timeout.as_secs(),
        });
    }
    Ok(())
}
