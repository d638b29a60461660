#!/usr/bin/env bash
# Fetches the OpenSearch no-JDK distribution from Maven Central once and unpacks it into
# $KITE_PEERS_CACHE/opensearch/<version>; prints the install folder. Progress goes to stderr.
set -euo pipefail
version=2.19.1
cache="${KITE_PEERS_CACHE:-/var/cache/kite-peers}/opensearch/$version"
home="$cache/opensearch-$version"
id -u kitepeer >/dev/null 2>&1 || useradd -r -M -s /usr/sbin/nologin kitepeer
if [ ! -f "$cache/.done" ]; then
  mkdir -p "$cache"
  exec 9>"$cache/.lock"; flock 9
  if [ ! -f "$cache/.done" ]; then
    echo "opensearch: fetching $version from Maven Central into $cache" >&2
    mvn -B -ntp -q org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy \
      -Dartifact="org.opensearch.distribution.integ-test-zip:opensearch:$version:zip" \
      -DoutputDirectory="$cache/dl" >&2
    rm -rf "$home" && unzip -q -o "$cache/dl/opensearch-$version.zip" -d "$cache"
    chown -R kitepeer "$home"
    touch "$cache/.done"
  fi
  exec 9>&-
fi
echo "$home"
