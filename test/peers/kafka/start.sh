#!/usr/bin/env bash
# Starts a single-node Apache Kafka (KRaft) on 127.0.0.1 from Maven Central jars.
#   start.sh DATA_DIR [PORT] [CONTROLLER_PORT]
# The jars are fetched once into $KITE_PEERS_CACHE/kafka/<version>/libs. DATA_DIR is formatted on first
# use and kept otherwise, so a restarted broker keeps its topics and offsets. Prints the broker's pid
# (the leader of its own process group) once the process runs; readiness is the caller's to poll.
# JVM options: a light start-up for tests (C1 only, 512 MB heap); KITE_KAFKA_JVM=shipped runs the
# broker with the options Kafka's own kafka-server-start.sh gives it (1 GB heap, C2, G1 tuned for
# 20 ms pauses), as the benchmarks do: a throughput figure against a handicapped broker would say
# little about a real one.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
data="$1"; port="${2:-19092}"; cport="${3:-19093}"
cache="$(bash "$here/fetch.sh")"
mkdir -p "$data"
sed -e "s#__DATA__#$data/log#" -e "s#__PORT__#$port#" -e "s#__CONTROLLER_PORT__#$cport#" \
  "$here/server.properties" > "$data/server.properties"
# more properties (secure listeners), appended: a later key overrides an earlier one
if [ -n "${KITE_KAFKA_EXTRA_PROPERTIES:-}" ]; then cat "$KITE_KAFKA_EXTRA_PROPERTIES" >> "$data/server.properties"; fi
cp="$cache/libs/*"
if [ ! -f "$data/log/meta.properties" ]; then
  # SCRAM users go into the metadata log when it is formatted: KITE_KAFKA_SCRAM holds
  # space-separated 'SCRAM-SHA-256=[name=U,password=P]' (or -512) entries
  # (no globbing: an entry's [...] is a bracket expression to the shell)
  scram=()
  set -f
  for s in ${KITE_KAFKA_SCRAM:-}; do scram+=(--add-scram "$s"); done
  set +f
  cid="$(java -cp "$cp" kafka.tools.StorageTool random-uuid)"
  java -cp "$cp" kafka.tools.StorageTool format -t "$cid" -c "$data/server.properties" --ignore-formatted "${scram[@]}" >&2
fi
if [ "${KITE_KAFKA_JVM:-}" = shipped ]; then
  jvm=(-Xmx1G -Xms1G -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35
       -XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15)
else
  jvm=(-Xms256m -Xmx512m -XX:+UseG1GC -XX:TieredStopAtLevel=1)
fi
setsid java "${jvm[@]}" -Djava.awt.headless=true \
  -Dlog4j2.configurationFile="$here/log4j2.properties" \
  -cp "$cp" kafka.Kafka "$data/server.properties" >> "$data/kafka.log" 2>&1 < /dev/null &
echo $!
