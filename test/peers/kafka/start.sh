#!/usr/bin/env bash
# Starts a single-node Apache Kafka (KRaft) on 127.0.0.1 from Maven Central jars.
#   start.sh DATA_DIR [PORT] [CONTROLLER_PORT]
# The jars are fetched once into $KITE_PEERS_CACHE/kafka/<version>/libs. DATA_DIR is formatted on first
# use and kept otherwise, so a restarted broker keeps its topics and offsets. Prints the broker's pid
# (the leader of its own process group) once the process runs; readiness is the caller's to poll.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
data="$1"; port="${2:-19092}"; cport="${3:-19093}"
version="$(sed -n 's#.*<kafka.version>\(.*\)</kafka.version>.*#\1#p' "$here/pom.xml")"
cache="${KITE_PEERS_CACHE:-/var/cache/kite-peers}/kafka/$version-$( sha256sum "$here/pom.xml" | cut -c1-8)"
if [ ! -f "$cache/.done" ]; then
  mkdir -p "$cache"
  exec 9>"$cache/.lock"; flock 9
  if [ ! -f "$cache/.done" ]; then
    echo "kafka: fetching the $version jars from Maven Central into $cache" >&2
    mvn -B -ntp -q -f "$here/pom.xml" \
      org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$cache/libs" >&2
    touch "$cache/.done"
  fi
  exec 9>&-
fi
mkdir -p "$data"
sed -e "s#__DATA__#$data/log#" -e "s#__PORT__#$port#" -e "s#__CONTROLLER_PORT__#$cport#" \
  "$here/server.properties" > "$data/server.properties"
cp="$cache/libs/*"
if [ ! -f "$data/log/meta.properties" ]; then
  cid="$(java -cp "$cp" kafka.tools.StorageTool random-uuid)"
  java -cp "$cp" kafka.tools.StorageTool format -t "$cid" -c "$data/server.properties" --ignore-formatted >&2
fi
setsid java -Xms256m -Xmx512m -XX:+UseG1GC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true \
  -Dlog4j2.configurationFile="$here/log4j2.properties" \
  -cp "$cp" kafka.Kafka "$data/server.properties" >> "$data/kafka.log" 2>&1 < /dev/null &
echo $!
