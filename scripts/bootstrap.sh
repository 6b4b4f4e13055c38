#!/usr/bin/env bash
# Makes sure the Rust toolchain (with rustfmt and clippy) is present.
set -euo pipefail
if ! command -v cargo >/dev/null 2>&1; then
  if [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
  else
    echo "cargo not found: install Rust with rustup (https://rustup.rs)" >&2
    exit 1
  fi
fi
for comp in rustfmt clippy; do
  if ! cargo "${comp/rustfmt/fmt}" --version >/dev/null 2>&1; then
    rustup component add "$comp"
  fi
done
cargo --version

# DuckDB: link against the official prebuilt libduckdb (DuckDB's own npm
# package ships it) instead of compiling the bundled C++ sources, which takes
# ~24 minutes per cargo profile on two cores. The version must match the
# `duckdb` crate (1.10506.x = DuckDB 1.5.6).
DUCKDB_VERSION=1.5.6
DUCKDB_NPM="@duckdb/node-bindings-linux-x64@${DUCKDB_VERSION}-r.1"
cache="${SLUICE_CACHE_DIR:-$HOME/.cache/sluice}/duckdb/${DUCKDB_VERSION}"
if [ ! -f "$cache/libduckdb.so" ]; then
  echo "fetching libduckdb ${DUCKDB_VERSION} (npm ${DUCKDB_NPM})" >&2
  command -v npm >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq npm; }
  tmp="$(mktemp -d)"
  (cd "$tmp" && npm pack --silent "$DUCKDB_NPM" >/dev/null && tar xzf ./*.tgz)
  mkdir -p "$cache"
  cp "$tmp/package/libduckdb.so" "$cache/libduckdb.so.tmp" && mv "$cache/libduckdb.so.tmp" "$cache/libduckdb.so"
  rm -rf "$tmp"
fi
# .cargo/config.toml points DUCKDB_LIB_DIR at ./.duckdb
ln -sfn "$cache" "$(dirname "$0")/../.duckdb"

# Test-only installs, asked for by name (the test script asks for all):
#   chdb      chDB (embedded modern ClickHouse, from PyPI) checks the DDL
#             sluice writes for modern servers
#   chromium  Debian's Chromium: the web console's browser tests drive it
#             over the DevTools protocol
wants() { case " ${BOOTSTRAP_ARGS} " in *" $1 "*) return 0 ;; esac; return 1; }
BOOTSTRAP_ARGS="$*"
if wants chromium && ! command -v chromium >/dev/null 2>&1; then
  echo "installing Debian's chromium (apt-get) for the console's browser tests" >&2
  sudo_cmd=""
  [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get install -y -qq --no-install-recommends chromium >/dev/null ||
    { $sudo_cmd apt-get update -qq && $sudo_cmd apt-get install -y -qq --no-install-recommends chromium >/dev/null; }
  command -v chromium >/dev/null 2>&1 || { echo "chromium missing after apt-get install" >&2; exit 1; }
fi
if wants chdb; then
  CHDB_VERSION=4.4.0
  venv="${SLUICE_CACHE_DIR:-$HOME/.cache/sluice}/chdb"
  if ! "$venv/bin/python" -c "import chdb" >/dev/null 2>&1; then
    echo "installing chDB ${CHDB_VERSION} into $venv (PyPI)" >&2
    python3 -m venv "$venv" || { apt-get update -qq && apt-get install -y -qq python3-venv && python3 -m venv "$venv"; }
    "$venv/bin/pip" install -q "chdb==${CHDB_VERSION}"
  fi
fi
