//! Everything the filter writes: filtered products, tombstones, dead letters. Deliveries are
//! collected and awaited together ([`Output::flush`]) before input offsets are committed.

use std::time::Duration;

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer};

use super::FilterError;

/// Where a dead letter came from (its headers say so too).
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    pub topic: &'a str,
    pub partition: i32,
    pub offset: i64,
}

pub struct Output {
    producer: FutureProducer,
    filtered_topic: String,
    dlq_topic: String,
    pending: Vec<DeliveryFuture>,
}

impl std::fmt::Debug for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Output")
            .field("filtered_topic", &self.filtered_topic)
            .field("pending", &self.pending.len())
            .finish()
    }
}

impl Output {
    pub fn new(producer: FutureProducer, filtered_topic: String, dlq_topic: String) -> Self {
        Output {
            producer,
            filtered_topic,
            dlq_topic,
            pending: Vec::new(),
        }
    }

    /// List (or update) a product on the filtered topic, in the partition of the products
    /// record it came from: an instance that owns products partition p owns filtered partition
    /// p, so its state is read back from there alone (see the module docs of `filter`).
    pub async fn put(
        &mut self,
        product_id: &str,
        partition: i32,
        payload: &[u8],
    ) -> Result<(), FilterError> {
        let topic = self.filtered_topic.clone();
        let key = Some(product_id.as_bytes());
        self.send(&topic, Some(partition), key, Some(payload), None)
            .await
    }

    /// Delist a product: a tombstone on its key, in its partition (see [`Output::put`]).
    pub async fn tombstone(&mut self, product_id: &str, partition: i32) -> Result<(), FilterError> {
        let topic = self.filtered_topic.clone();
        let key = Some(product_id.as_bytes());
        self.send(&topic, Some(partition), key, None, None).await
    }

    /// The original record, untouched, with why and where from in headers.
    pub async fn dead_letter(
        &mut self,
        key: Option<&[u8]>,
        payload: Option<&[u8]>,
        error: &str,
        source: Source<'_>,
    ) -> Result<(), FilterError> {
        let partition = source.partition.to_string();
        let offset = source.offset.to_string();
        let headers = OwnedHeaders::new()
            .insert(Header {
                key: "error",
                value: Some(error),
            })
            .insert(Header {
                key: "source.topic",
                value: Some(source.topic),
            })
            .insert(Header {
                key: "source.partition",
                value: Some(&partition),
            })
            .insert(Header {
                key: "source.offset",
                value: Some(&offset),
            });
        let topic = self.dlq_topic.clone();
        self.send(&topic, None, key, payload, Some(headers)).await
    }

    async fn send(
        &mut self,
        topic: &str,
        partition: Option<i32>,
        key: Option<&[u8]>,
        payload: Option<&[u8]>,
        headers: Option<OwnedHeaders>,
    ) -> Result<(), FilterError> {
        loop {
            let mut record: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(topic);
            if let Some(p) = partition {
                record = record.partition(p);
            }
            if let Some(k) = key {
                record = record.key(k);
            }
            if let Some(p) = payload {
                record = record.payload(p);
            }
            if let Some(h) = headers.clone() {
                record = record.headers(h);
            }
            match self.producer.send_result(record) {
                Ok(delivery) => {
                    self.pending.push(delivery);
                    return Ok(());
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    // Back-pressure: settle what is in flight, then retry this record.
                    if self.pending.is_empty() {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    } else {
                        self.flush().await?;
                    }
                }
                Err((e, _)) => {
                    return Err(FilterError::Produce {
                        topic: topic.to_owned(),
                        error: e.to_string(),
                    })
                }
            }
        }
    }

    /// Wait until every record sent so far is acknowledged (acks=all). Any failure is fatal:
    /// offsets are then not committed and a restart reprocesses the batch.
    pub async fn flush(&mut self) -> Result<usize, FilterError> {
        let pending = std::mem::take(&mut self.pending);
        let n = pending.len();
        for result in futures::future::join_all(pending).await {
            match result {
                Ok(Ok(_)) => {}
                Ok(Err((e, msg))) => {
                    use rdkafka::Message;
                    return Err(FilterError::Produce {
                        topic: msg.topic().to_owned(),
                        error: e.to_string(),
                    });
                }
                Err(_) => {
                    return Err(FilterError::Produce {
                        topic: self.filtered_topic.clone(),
                        error: "producer dropped a record".into(),
                    })
                }
            }
        }
        Ok(n)
    }

    /// Last resort at shutdown: give librdkafka time to drain its queue.
    pub fn close(&self, timeout: Duration) {
        if let Err(e) = self.producer.flush(timeout) {
            tracing::warn!(error = %e, "producer flush at shutdown incomplete");
        }
    }
}
