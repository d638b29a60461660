#!/usr/bin/env bash
# Fetches the Kafka broker jars named in pom.xml from Maven Central, once, into
# $KITE_PEERS_CACHE/kafka/<version>-<pom hash>/libs; prints that folder. Progress goes to stderr.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
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
echo "$cache"
