#!/usr/bin/env bash
# Starts a single-node OpenSearch on 127.0.0.1 for the elasticsearch exporter's `_bulk` tests.
#   start.sh DATA_DIR [HTTP_PORT] [TRANSPORT_PORT]
# The no-JDK distribution (org.opensearch.distribution.integ-test-zip:opensearch:<version>:zip) comes
# from Maven Central once, unpacked into $KITE_PEERS_CACHE/opensearch/<version>. OpenSearch refuses
# to run as root, so it runs as the system user `kitepeer` (created if missing). DATA_DIR keeps the
# indexes, so a restarted node has its documents, and its temporary files (not /tmp). Prints the pid (leader of its own process group).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
data="$1"; port="${2:-19200}"; tport="${3:-19300}"
home="$(bash "$here/fetch.sh")"
mkdir -p "$data/data" "$data/logs" "$data/tmp"
chown -R kitepeer "$data"
java_home="$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")"
setsid runuser -u kitepeer -- env JAVA_HOME="$java_home" OPENSEARCH_JAVA_OPTS="-Xms512m -Xmx512m" OPENSEARCH_TMPDIR="$data/tmp" \
  "$home/bin/opensearch" -Ediscovery.type=single-node -Enetwork.host=127.0.0.1 \
  -Ehttp.port="$port" -Etransport.port="$tport" -Epath.data="$data/data" -Epath.logs="$data/logs" \
  -Ecluster.routing.allocation.disk.threshold_enabled=false \
  >> "$data/opensearch.out" 2>&1 < /dev/null &
echo $!
