#!/usr/bin/env bash
# Installs what Kite needs to build and run, only when it is missing: Debian packages named on the
# command line, Node.js >= 20.19 (require() of ES modules, used by the CEL library), and the npm dependencies. Idempotent; progress goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/../.."
log() { echo "[deps] $*" >&2; }

missing=()
for p in "$@"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
node_ok() { node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)' 2>/dev/null; }
if ! node_ok; then
  missing+=(nodejs npm)
fi
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" -eq 0 ] || { log "missing packages ${missing[*]}: run as root to install them"; exit 1; }
  log "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
if ! node_ok; then
  log "Node.js $(node --version) is too old: Kite needs Node.js 20.19 or newer"
  exit 1
fi
if [ ! -d node_modules/koffi ] || [ package.json -nt node_modules/.package-lock.json ]; then
  log "installing npm dependencies"
  npm install --no-audit --no-fund >&2
fi
log "dependencies ready"
