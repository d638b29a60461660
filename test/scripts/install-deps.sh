#!/usr/bin/env bash
# Installs what Kite needs to build and run, only when it is missing: Debian packages named on the
# command line, Node.js >= 20, and the npm dependencies. Idempotent; progress goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/../.."
log() { echo "[deps] $*" >&2; }

missing=()
for p in "$@"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  missing+=(nodejs npm)
fi
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" -eq 0 ] || { log "missing packages ${missing[*]}: run as root to install them"; exit 1; }
  log "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  log "Node.js $(node --version) is too old: Kite needs Node.js 20 or newer"
  exit 1
fi
if [ ! -d node_modules/koffi ] || [ package.json -nt node_modules/.package-lock.json ]; then
  log "installing npm dependencies"
  npm install --no-audit --no-fund >&2
fi
log "dependencies ready"
