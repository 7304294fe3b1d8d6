#!/usr/bin/env bash
# GENERATED from kafka/topics.toml by `make acls` (vygoda-acls topics --cluster analytics).
# Do not edit: change the table and regenerate; a test fails while this file is stale.
#
# Topics of the analytics cluster with production settings. Run as the admin super user:
#   BOOTSTRAP=<analytics TLS listeners> COMMAND_CONFIG=kafka/prod/admin-client.properties \
#     bash kafka/generated/topics-analytics.sh
# --if-not-exists leaves existing topics alone: changing a setting later is `kafka-configs --alter`.
set -euo pipefail
: "${BOOTSTRAP:?set BOOTSTRAP to the analytics cluster's TLS listeners}"
: "${COMMAND_CONFIG:?set COMMAND_CONFIG to an admin client properties file (mutual TLS, certificate CN=admin)}"
KAFKA_TOPICS="${KAFKA_TOPICS:-kafka-topics.sh}"

"$KAFKA_TOPICS" --bootstrap-server "$BOOTSTRAP" --command-config "$COMMAND_CONFIG" --create --if-not-exists --topic client-events --partitions 6 --replication-factor 3 --config min.insync.replicas=2 --config cleanup.policy=delete --config retention.ms=1209600000

"$KAFKA_TOPICS" --bootstrap-server "$BOOTSTRAP" --command-config "$COMMAND_CONFIG" --create --if-not-exists --topic product-bans --partitions 1 --replication-factor 3 --config min.insync.replicas=2 --config cleanup.policy=compact --config retention.ms=-1

"$KAFKA_TOPICS" --bootstrap-server "$BOOTSTRAP" --command-config "$COMMAND_CONFIG" --create --if-not-exists --topic products-filtered --partitions 6 --replication-factor 3 --config min.insync.replicas=2 --config cleanup.policy=compact --config retention.ms=-1

"$KAFKA_TOPICS" --bootstrap-server "$BOOTSTRAP" --command-config "$COMMAND_CONFIG" --create --if-not-exists --topic recommendations --partitions 6 --replication-factor 3 --config min.insync.replicas=2 --config cleanup.policy=compact --config retention.ms=-1
