#!/usr/bin/env bash
# The real workload's sources: Lua (5.1 to 5.4) as the lua-src crate vendors them, fetched once from
# crates.io with cargo into $KITE_BENCH_CACHE (default /var/cache/kite-bench), outside the repository.
# Prints the folder that holds lua-5.1.5/ ... lua-5.4.7/. Progress goes to stderr.
set -euo pipefail
cache="${KITE_BENCH_CACHE:-/var/cache/kite-bench}"
version=547.0.0
dest="$cache/lua-src-$version"
if [ ! -f "$dest/.done" ]; then
	command -v cargo >/dev/null || { echo "fetch-sources: cargo is needed to fetch the lua-src crate" >&2; exit 1; }
	mkdir -p "$cache/fetch/src"
	exec 9>"$cache/.lock"; flock 9
	if [ ! -f "$dest/.done" ]; then
		echo "fetch-sources: fetching lua-src $version from crates.io into $dest" >&2
		cat >"$cache/fetch/Cargo.toml" <<TOML
[package]
name = "kite-bench-sources"
version = "0.0.0"
edition = "2021"
[dependencies]
lua-src = "=$version"
TOML
		echo 'fn main() {}' >"$cache/fetch/src/main.rs"
		export CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}"
		(cd "$cache/fetch" && cargo fetch -q >&2)
		src=$(ls -d "$CARGO_HOME"/registry/src/*/lua-src-$version | head -1)
		rm -rf "$dest" && mkdir -p "$dest"
		cp -r "$src"/lua-5.* "$src"/LICENSE "$dest"/
		touch "$dest/.done"
	fi
	exec 9>&-
fi
echo "$dest"
