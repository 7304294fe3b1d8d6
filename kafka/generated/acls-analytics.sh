#!/usr/bin/env bash
# GENERATED from kafka/acls.toml by `make acls` (vygoda-acls render --cluster analytics).
# Do not edit: change the table and regenerate; a test fails while this file is stale.
#
# ACLs of the analytics cluster (Apache Kafka, StandardAuthorizer, allow.everyone.if.no.acl.found=false:
# whatever is not granted here is refused). Run as the admin super user:
#   BOOTSTRAP=<analytics TLS listeners> COMMAND_CONFIG=kafka/prod/admin-client.properties \
#     bash kafka/generated/acls-analytics.sh
# `--add` of an existing ACL is a no-op, so rerunning is safe. Grants removed from the table are NOT
# removed here: compare with `kafka-acls.sh --list` and `--remove` them by hand.
# Idempotent producers need no IdempotentWrite on the cluster since Kafka 2.8 (KIP-679): Write on
# the topic is enough.
set -euo pipefail
: "${BOOTSTRAP:?set BOOTSTRAP to the analytics cluster's TLS listeners}"
: "${COMMAND_CONFIG:?set COMMAND_CONFIG to an admin client properties file (mutual TLS, certificate CN=admin)}"
KAFKA_ACLS="${KAFKA_ACLS:-kafka-acls.sh}"

# admin: Platform automation (topic creation, user management). super.users in production; no service uses it.
# super user (super.users in server-<n>.properties): no ACL needed.

# ban-admin: ADMIN CLI: manages the ban list and reads its current state.
# nothing on this cluster.

# ban-filter: Ban filter: products + bans in, allowed products (and delisting tombstones) out.
# nothing on this cluster.

# client-api: CLIENT API and the activity simulator: publishes client events (every CLIENT API request is one).
# nothing on this cluster.

# lake-writer: Lake writer: analytics topics to Parquet on HDFS. The group commit only feeds lag monitoring.
"$KAFKA_ACLS" --bootstrap-server "$BOOTSTRAP" --command-config "$COMMAND_CONFIG" --add --allow-principal User:lake-writer --operation Read --operation Describe --topic products-filtered
"$KAFKA_ACLS" --bootstrap-server "$BOOTSTRAP" --command-config "$COMMAND_CONFIG" --add --allow-principal User:lake-writer --operation Read --operation Describe --topic product-bans
"$KAFKA_ACLS" --bootstrap-server "$BOOTSTRAP" --command-config "$COMMAND_CONFIG" --add --allow-principal User:lake-writer --operation Read --operation Describe --topic client-events
"$KAFKA_ACLS" --bootstrap-server "$BOOTSTRAP" --command-config "$COMMAND_CONFIG" --add --allow-principal User:lake-writer --operation Read --operation Describe --topic recommendations
"$KAFKA_ACLS" --bootstrap-server "$BOOTSTRAP" --command-config "$COMMAND_CONFIG" --add --allow-principal User:lake-writer --operation Read --operation Describe --group lake-writer

# mirror: Cluster duplication prod -> analytics: reads prod, writes (and resumes from) analytics.
"$KAFKA_ACLS" --bootstrap-server "$BOOTSTRAP" --command-config "$COMMAND_CONFIG" --add --allow-principal User:mirror --operation Describe --group mirror
"$KAFKA_ACLS" --bootstrap-server "$BOOTSTRAP" --command-config "$COMMAND_CONFIG" --add --allow-principal User:mirror --operation Read --operation Write --operation Describe --operation Create --topic products-filtered
"$KAFKA_ACLS" --bootstrap-server "$BOOTSTRAP" --command-config "$COMMAND_CONFIG" --add --allow-principal User:mirror --operation Read --operation Write --operation Describe --operation Create --topic product-bans
"$KAFKA_ACLS" --bootstrap-server "$BOOTSTRAP" --command-config "$COMMAND_CONFIG" --add --allow-principal User:mirror --operation Read --operation Write --operation Describe --operation Create --topic client-events
"$KAFKA_ACLS" --bootstrap-server "$BOOTSTRAP" --command-config "$COMMAND_CONFIG" --add --allow-principal User:mirror --operation Read --operation Write --operation Describe --operation Create --topic recommendations

# monitoring: Lag exporter (monitoring/lag-exporter): lists groups, reads their committed offsets and the topics' watermarks.
"$KAFKA_ACLS" --bootstrap-server "$BOOTSTRAP" --command-config "$COMMAND_CONFIG" --add --allow-principal User:monitoring --operation Describe --topic '*'
"$KAFKA_ACLS" --bootstrap-server "$BOOTSTRAP" --command-config "$COMMAND_CONFIG" --add --allow-principal User:monitoring --operation Describe --group '*'

# operator: People and tools inspecting the clusters: read and describe, write nothing.
"$KAFKA_ACLS" --bootstrap-server "$BOOTSTRAP" --command-config "$COMMAND_CONFIG" --add --allow-principal User:operator --operation Read --operation Describe --operation DescribeConfigs --topic '*'
"$KAFKA_ACLS" --bootstrap-server "$BOOTSTRAP" --command-config "$COMMAND_CONFIG" --add --allow-principal User:operator --operation Read --operation Describe --group operator --resource-pattern-type prefixed
"$KAFKA_ACLS" --bootstrap-server "$BOOTSTRAP" --command-config "$COMMAND_CONFIG" --add --allow-principal User:operator --operation Describe --group '*'

# publisher: Recommendations publisher: writes each successful run to prod.
# nothing on this cluster.

# shop-api: SHOP API: publishes shops' products.
# nothing on this cluster.

# store-sink: Store sink: listed products and published recommendations into the CLIENT API's store (PostgreSQL). The group commit only feeds lag monitoring.
# nothing on this cluster.
