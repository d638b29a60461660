#!/usr/bin/env bash
# Builds Grafana Loki from the Go module proxy, once per version: the binary lands in
# $KITE_PEERS_CACHE/loki/<version>/loki and is printed on stdout; progress goes to stderr.
# Loki's go.mod has replace directives, so `go install` refuses it: a wrapper module copies its
# non-local replaces and excludes, then builds cmd/loki. A cold build is long (module cache of
# about 3.5 GB, 15-60 minutes on 2 shared cores); a warm one returns at once.
set -euo pipefail
version="${KITE_LOKI_VERSION:-v3.7.8}"
cache="${KITE_PEERS_CACHE:-/var/cache/kite-peers}/loki"
out="$cache/$version"
if [ -x "$out/loki" ]; then echo "$out/loki"; exit 0; fi

mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9
if [ -x "$out/loki" ]; then echo "$out/loki"; exit 0; fi

export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod
work="$out.tmp"
rm -rf "$work" && mkdir -p "$work/mod"
cd "$work/mod"
go mod init kite.local/lokipeer >&2
upstream_mod="$(go mod download -json "github.com/grafana/loki/v3@$version" | python3 -c 'import sys,json;print(json.load(sys.stdin)["GoMod"])')"
# Every replace that points at a module version (not a local directory), and every exclude.
go mod edit -json "$upstream_mod" | python3 -c '
import sys, json
m = json.load(sys.stdin)
for r in m.get("Replace") or []:
    old, new = r["Old"], r["New"]
    if new.get("Version"):
        o = old["Path"] + ("@" + old["Version"] if old.get("Version") else "")
        print("-replace=%s=%s@%s" % (o, new["Path"], new["Version"]))
for e in m.get("Exclude") or []:
    print("-exclude=%s@%s" % (e["Path"], e["Version"]))
' | xargs -r go mod edit
echo "loki: resolving $version" >&2
start=$(date +%s)
go get "github.com/grafana/loki/v3/cmd/loki@$version" >&2
echo "loki: compiling (first time: 15-60 minutes)" >&2
go build -trimpath -ldflags='-s -w' -o "$work/loki" github.com/grafana/loki/v3/cmd/loki >&2
mkdir -p "$out" && mv "$work/loki" "$out/loki" && rm -rf "$work"
echo "loki: built in $(( $(date +%s) - start ))s" >&2
echo "$out/loki"
