#!/usr/bin/env bash
# Builds the collector peer from the Go module proxy with the collector's builder, once per manifest:
# the binary lands in $KITE_PEERS_CACHE/otelcol/<manifest hash>/otelcol-peer and is printed on stdout.
# Progress goes to stderr. A cold build takes 5-12 minutes on 2 cores; a warm one returns at once.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${KITE_PEERS_CACHE:-/var/cache/kite-peers}/otelcol"
builder_version=v0.158.0
hash="$( (cat "$here/builder.yaml"; echo "$builder_version") | sha256sum | cut -c1-12)"
out="$cache/$hash"
if [ -x "$out/otelcol-peer" ]; then echo "$out/otelcol-peer"; exit 0; fi

mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9
if [ -x "$out/otelcol-peer" ]; then echo "$out/otelcol-peer"; exit 0; fi

export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod
# the checksum database has no entry for some contrib modules the proxy serves (the splunk_hec
# receiver's, see builder.yaml): they are taken from the proxy unchecked, for this test peer only
export GONOSUMDB="${GONOSUMDB:+$GONOSUMDB,}github.com/open-telemetry/opentelemetry-collector-contrib"
export GOBIN="$cache/bin/$builder_version"
if [ ! -x "$GOBIN/builder" ]; then
  echo "otelcol: installing the builder $builder_version" >&2
  go install "go.opentelemetry.io/collector/cmd/builder@$builder_version" >&2
fi
echo "otelcol: building the collector into $out (first time: 5-12 minutes)" >&2
rm -rf "$out.tmp" && mkdir -p "$out.tmp"
start=$(date +%s)
# the ticker and its last sleep, left behind when the ticker is killed, hold neither our output nor the
# lock (fd 9): a caller reading our output, or the next build, would wait for that sleep to end
( exec 9>&-; while sleep 60 >/dev/null 2>&1; do echo "otelcol: still building ($(( $(date +%s) - start ))s)" >&2; done ) >/dev/null &
ticker=$!
trap 'kill $ticker 2>/dev/null || true' EXIT
"$GOBIN/builder" --config="$here/builder.yaml" --output-path="$out.tmp" >&2
kill $ticker 2>/dev/null || true
rm -rf "$out" && mv "$out.tmp" "$out"
echo "otelcol: built in $(( $(date +%s) - start ))s" >&2
echo "$out/otelcol-peer"
