#!/usr/bin/env bash
# The Kafka Streams ban filter, in the foreground (benches/ingest_bench.sh starts it in the
# background and kills it with SIGTERM: the JVM is exec'd, so that pid is the app's own).
#
#   benches/kafka-streams-filter/run.sh --platform .vygoda/platform.json \
#       --input T --bans T --output T --app-id bench-… [--guarantee exactly_once_v2] [...]
#   benches/kafka-streams-filter/run.sh --build        # build (or rebuild when stale) and exit
#   benches/kafka-streams-filter/run.sh --self-test    # the shared ban case table, then exit
#
# The jar is built with Maven on first use and whenever pom.xml or src/ changed since; the
# Maven repository is Maven's own per-user one (~/.m2). JAVA_OPTS adds JVM flags (default -Xmx1g);
# all other arguments go to the app (`--help` lists them).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
JAR=$HERE/target/kafka-streams-filter.jar

build() {
  if [[ ! -f $JAR ]] || [[ -n $(find "$HERE/pom.xml" "$HERE/src" -newer "$JAR" -print -quit) ]]; then
    echo "kafka-streams-filter: building $JAR" >&2
    (cd "$HERE" && mvn -q -B package) >&2
  fi
}

case "${1:-}" in
  --build)
    build
    exit 0
    ;;
  --self-test)
    build
    exec java -jar "$JAR" --self-test "$ROOT/tests/fixtures/ban_cases.json"
    ;;
esac

build
read -r -a JVM <<<"${JAVA_OPTS:--Xmx1g}"
exec java "${JVM[@]}" -jar "$JAR" \
  --products-schema "$ROOT/kafka/schemas/products-value.avsc" \
  --bans-schema "$ROOT/kafka/schemas/product-bans-value.avsc" \
  "$@"
