#!/usr/bin/env bash
# Installs what the tests need and runs every test: the one command in the
# README and the one CI runs. Safe to run on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."

# Build cache outside the clone, so CI and repeated runs do not rebuild everything.
export SLUICE_CACHE_DIR="${SLUICE_CACHE_DIR:-$HOME/.cache/sluice}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$SLUICE_CACHE_DIR/target}"
mkdir -p "$CARGO_TARGET_DIR"

scripts/bootstrap.sh chdb chromium

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== services for integration tests (Kafka, schema registry, ClickHouse, Prometheus, Vault, moto) on 127.0.0.1"
trap 'for s in moto vault prometheus clickhouse registry kafka; do scripts/services.sh stop "$s" >/dev/null 2>&1 || true; done' EXIT
scripts/services.sh start kafka
scripts/services.sh start registry
scripts/services.sh start clickhouse
scripts/services.sh start prometheus   # scrapes 127.0.0.1:9464, where the metrics test serves
scripts/services.sh start vault        # built from the Go module proxy on first use (~30-40 min)
scripts/services.sh start moto         # AWS emulator for the AWS Secrets Manager backend's tests
# integration tests fail (instead of skipping) when a service they need is down
export SLUICE_REQUIRE_SERVICES=1

echo "== cargo test"
# Bounded property-test budget for CI; raise PROPTEST_CASES locally for longer runs.
export PROPTEST_CASES="${PROPTEST_CASES:-64}"
cargo test --workspace --locked
