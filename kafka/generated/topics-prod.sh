#!/usr/bin/env bash
# GENERATED from kafka/topics.toml by `make acls` (vygoda-acls topics --cluster prod).
# Do not edit: change the table and regenerate; a test fails while this file is stale.
#
# Topics of the prod cluster with production settings. Run as the admin super user:
#   BOOTSTRAP=<prod TLS listeners> COMMAND_CONFIG=kafka/prod/admin-client.properties \
#     bash kafka/generated/topics-prod.sh
# --if-not-exists leaves existing topics alone: changing a setting later is `kafka-configs --alter`.
set -euo pipefail
: "${BOOTSTRAP:?set BOOTSTRAP to the prod cluster's TLS listeners}"
: "${COMMAND_CONFIG:?set COMMAND_CONFIG to an admin client properties file (mutual TLS, certificate CN=admin)}"
KAFKA_TOPICS="${KAFKA_TOPICS:-kafka-topics.sh}"

"$KAFKA_TOPICS" --bootstrap-server "$BOOTSTRAP" --command-config "$COMMAND_CONFIG" --create --if-not-exists --topic client-events --partitions 6 --replication-factor 3 --config min.insync.replicas=2 --config cleanup.policy=delete --config retention.ms=1209600000

"$KAFKA_TOPICS" --bootstrap-server "$BOOTSTRAP" --command-config "$COMMAND_CONFIG" --create --if-not-exists --topic product-bans --partitions 1 --replication-factor 3 --config min.insync.replicas=2 --config cleanup.policy=compact --config retention.ms=-1

"$KAFKA_TOPICS" --bootstrap-server "$BOOTSTRAP" --command-config "$COMMAND_CONFIG" --create --if-not-exists --topic products --partitions 6 --replication-factor 3 --config min.insync.replicas=2 --config cleanup.policy=delete --config retention.ms=604800000

"$KAFKA_TOPICS" --bootstrap-server "$BOOTSTRAP" --command-config "$COMMAND_CONFIG" --create --if-not-exists --topic products-dlq --partitions 1 --replication-factor 3 --config min.insync.replicas=2 --config cleanup.policy=delete --config retention.ms=2592000000

"$KAFKA_TOPICS" --bootstrap-server "$BOOTSTRAP" --command-config "$COMMAND_CONFIG" --create --if-not-exists --topic products-filtered --partitions 6 --replication-factor 3 --config min.insync.replicas=2 --config cleanup.policy=compact --config retention.ms=-1

"$KAFKA_TOPICS" --bootstrap-server "$BOOTSTRAP" --command-config "$COMMAND_CONFIG" --create --if-not-exists --topic recommendations --partitions 6 --replication-factor 3 --config min.insync.replicas=2 --config cleanup.policy=compact --config retention.ms=-1
