//! One broker of three killed (SIGKILL) while a producer and a consumer work: both carry on,
//! nothing is lost or duplicated. Alone in its test binary so no other test sees the stall.

use std::time::Duration;

use vygoda_tests::{consume_all, produce, unique_name, TestPlatform};

#[tokio::test]
async fn clients_carry_on_when_one_broker_of_three_dies() {
    let tp = TestPlatform::get();
    let topic = unique_name("failover");
    let _guard = tp.create_topic("prod", &topic, 6, false).await;
    let props = tp.kafka_props("prod", "shop-api");
    let batch = |from: usize| -> Vec<_> {
        (from..from + 500)
            .map(|i| {
                (
                    Some(format!("k{i}").into_bytes()),
                    Some(i.to_string().into_bytes()),
                )
            })
            .collect()
    };
    produce(&props, &topic, &batch(0)).await;

    // Kill the second broker of prod as a crash would.
    let outage = tp.kill("kafka-prod-2");

    // A fresh client with all three brokers in its bootstrap list, and the old one, both carry on.
    let result = tokio::time::timeout(Duration::from_secs(120), async {
        produce(&props, &topic, &batch(500)).await;
        produce(&props, &topic, &batch(1000)).await;
    })
    .await;
    let read = consume_all(&tp.kafka_props("prod", "operator"), &topic);
    outage.heal();
    result.expect("producing with one broker down took over 120 s");

    let mut values: Vec<usize> = read
        .iter()
        .map(|r| {
            String::from_utf8(r.value.clone().unwrap())
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    values.sort_unstable();
    let expected: Vec<usize> = (0..1500).collect();
    assert_eq!(values.len(), 1500, "lost or duplicated records");
    assert_eq!(values, expected);
}
