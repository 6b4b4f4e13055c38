#!/usr/bin/env bash
# Installs and runs the real services sluice's tests and users need, on
# 127.0.0.1 only, as our own processes (no system services, no containers).
#
#   scripts/services.sh start|stop|restart|status <kafka|registry|clickhouse|prometheus|vault|moto|all>
#
#   kafka       Apache Kafka 4.x, single node, KRaft (broker+controller)  127.0.0.1:9092 (controller :9093)
#               and SASL/PLAIN on :9094 (user `sluice`, password `sluice-sasl-dev-password`)
#   registry    Apicurio Registry, Confluent-compatible API               http://127.0.0.1:8081/apis/ccompat/v7
#   clickhouse  Debian's clickhouse-server                                http://127.0.0.1:8123, native :9000
#               users `default` (no password) and `sluice_secret` (password `sluice-clickhouse-dev-password`)
#   prometheus  Debian's prometheus (and promtool)                        http://127.0.0.1:9090
#   vault       HashiCorp Vault, dev server over TLS (built from source)  https://127.0.0.1:8200
#               root token `sluice-dev-root`, CA at <cache>/services/vault/tls/vault-ca.pem
#   moto        moto's AWS emulator (Secrets Manager, STS) from PyPI     http://127.0.0.1:5000
#               (AWS itself cannot run here: the one stand-in, for the AWS secrets backend's tests)
#
# Everything (downloads, data, logs, pid files) lives in
# ${SLUICE_CACHE_DIR:-$HOME/.cache/sluice}/services/<name>/, never in the clone.
# `start` installs what is missing, starts the service, waits until it really
# answers and prints its address; it leaves a running service alone. `status`
# exits 0 only if every named service answers. `stop` sends SIGTERM, waits, and
# only then SIGKILLs; it is fine if nothing runs.
#
# Environment (all optional):
#   SLUICE_CACHE_DIR               cache root (default ~/.cache/sluice)
#   SLUICE_KAFKA_PORT              9092     SLUICE_KAFKA_CONTROLLER_PORT 9093
#   SLUICE_KAFKA_SASL_PORT         9094
#   SLUICE_KAFKA_SASL_PASSWORD     password of user `sluice` on the SASL listener, set at each
#                                  start (the SASL rotation test restarts the broker with another)
#   SLUICE_REGISTRY_PORT           8081     SLUICE_REGISTRY_MGMT_PORT    8091
#   SLUICE_CLICKHOUSE_HTTP_PORT    8123     SLUICE_CLICKHOUSE_TCP_PORT   9000
#   SLUICE_PROMETHEUS_PORT         9090     SLUICE_VAULT_PORT            8200
#   SLUICE_MOTO_PORT               5000
#   SLUICE_METRICS_TARGET          extra Prometheus scrape target(s), comma-separated
#                                  (default 127.0.0.1:9464, sluice's metrics endpoint)
#   SLUICE_SERVICES_TIMEOUT        seconds to wait for a service to answer (default 120)
#   SLUICE_KAFKA_HEAP / SLUICE_REGISTRY_HEAP   JVM heap flags (default -Xms256m -Xmx512m / -Xms128m -Xmx512m)
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TEMPLATES="$SCRIPT_DIR/services"
CACHE_ROOT="${SLUICE_CACHE_DIR:-$HOME/.cache/sluice}"
SERVICES_DIR="$CACHE_ROOT/services"

KAFKA_PORT="${SLUICE_KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${SLUICE_KAFKA_CONTROLLER_PORT:-9093}"
KAFKA_SASL_PORT="${SLUICE_KAFKA_SASL_PORT:-9094}"
KAFKA_SASL_PASSWORD="${SLUICE_KAFKA_SASL_PASSWORD:-sluice-sasl-dev-password}"
REGISTRY_PORT="${SLUICE_REGISTRY_PORT:-8081}"
REGISTRY_MGMT_PORT="${SLUICE_REGISTRY_MGMT_PORT:-8091}"
CLICKHOUSE_HTTP_PORT="${SLUICE_CLICKHOUSE_HTTP_PORT:-8123}"
CLICKHOUSE_TCP_PORT="${SLUICE_CLICKHOUSE_TCP_PORT:-9000}"
PROMETHEUS_PORT="${SLUICE_PROMETHEUS_PORT:-9090}"
VAULT_PORT="${SLUICE_VAULT_PORT:-8200}"
MOTO_PORT="${SLUICE_MOTO_PORT:-5000}"
METRICS_TARGET="${SLUICE_METRICS_TARGET:-127.0.0.1:9464}"
TIMEOUT="${SLUICE_SERVICES_TIMEOUT:-120}"

# A fixed KRaft cluster id (base64 of "sluice-dev-kafka"), so storage formatted
# once is reused by every later start.
KAFKA_CLUSTER_ID="c2x1aWNlLWRldi1rYWZrYQ"
KAFKA_VERSION="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$TEMPLATES/kafka/pom.xml")"
APICURIO_VERSION="3.3.3"
APICURIO_ARTIFACT="io.apicurio:apicurio-registry-app:$APICURIO_VERSION:tar.gz:all"
# Pinned, so every Maven version runs the same goals the same way.
MVN_DEPENDENCY_PLUGIN="org.apache.maven.plugins:maven-dependency-plugin:3.8.1"

# `all`: what a pipeline uses. Vault (a long first build) and moto start
# only by name: they serve the secret backends' tests.
ALL_SERVICES=(kafka registry clickhouse prometheus)

# ---------------------------------------------------------------- helpers

die() { echo "services.sh: $*" >&2; exit 1; }
note() { echo "  $*" >&2; }

now() { echo "${EPOCHREALTIME/,/.}"; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
add() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a + b }'; }

svc_dir() { echo "$SERVICES_DIR/$1"; }
pid_file() { echo "$SERVICES_DIR/$1/$1.pid"; }
log_file() { echo "$SERVICES_DIR/$1/$1.log"; }

# What /proc/PID/cmdline (NULs as spaces) must match, so a stale pid file
# that now names some other process is never mistaken for (or killed as) ours.
cmd_marker() {
  case "$1" in
    kafka) echo ' kafka\.Kafka ' ;;
    registry) echo ' -jar [^ ]*/quarkus-run\.jar' ;;
    clickhouse) echo '^[^ ]*/clickhouse-server ' ;;
    prometheus) echo '^[^ ]*/prometheus ' ;;
    vault) echo '^[^ ]*/vault-[0-9.]+ server ' ;;
    moto) echo '/moto_server ' ;;
  esac
}

cmd_matches() {
  tr '\0' ' ' <"/proc/$2/cmdline" 2>/dev/null | grep -Eq -- "$(cmd_marker "$1")"
}

# Prints the pid of our running process for service $1, or fails.
running_pid() {
  local pf pid
  pf="$(pid_file "$1")"
  [[ -f "$pf" ]] || return 1
  pid="$(cat "$pf" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  cmd_matches "$1" "$pid" || return 1
  echo "$pid"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Fails with a clear message if something that is not our service holds a port.
check_ports_free() {
  local svc="$1" port
  shift
  for port in "$@"; do
    if port_open "$port"; then
      die "$svc: 127.0.0.1:$port is already in use by another process; stop it or pick another port (see the SLUICE_*_PORT variables at the top of $0)"
    fi
  done
}

show_log_tail() {
  local f
  for f in "$@"; do
    if [[ ! -s "$f" ]]; then
      echo "---- $f is empty or missing" >&2
      continue
    fi
    echo "---- last lines of $f" >&2
    tail -n 30 "$f" >&2
  done
}

# Substitutes @KEY@ placeholders: render TEMPLATE OUT KEY=VALUE...
render() {
  local tpl="$1" out="$2" expr=() kv
  shift 2
  local val
  for kv in "$@"; do
    val="${kv#*=}"
    val="${val//\\/\\\\}"
    val="${val//&/\\&}"
    val="${val//|/\\|}"
    expr+=(-e "s|@${kv%%=*}@|${val}|g")
  done
  sed "${expr[@]}" "$tpl" >"$out.tmp"
  mv "$out.tmp" "$out"
}

# Starts a detached process in its own session, stdout/stderr to the log.
launch() {
  local svc="$1" workdir="$2"
  shift 2
  local pid i
  # A background subshell of a script is never a process-group leader, so
  # setsid execs in place and $! stays the service's own pid.
  # It inherits no descriptor but the log: an inherited lock would stay held
  # for the service's lifetime, an inherited pipe would keep a caller waiting.
  (
    cd "$workdir"
    exec >>"$(log_file "$svc")" 2>&1 </dev/null
    for fd in "/proc/$BASHPID/fd/"*; do
      fd="${fd##*/}"
      if ((fd > 2)); then eval "exec $fd>&-" 2>/dev/null || true; fi
    done
    exec setsid "$@"
  ) &
  pid=$!
  echo "$pid" >"$(pid_file "$svc")"
  # Let the subshell exec the service before anyone checks the pid's command line.
  for ((i = 0; i < 50; i++)); do
    cmd_matches "$svc" "$pid" && return 0
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
}

# Waits until READY_FN answers or the process dies or the deadline passes.
wait_ready() {
  local svc="$1" ready_fn="$2" deadline=$((SECONDS + TIMEOUT))
  shift 2
  while ((SECONDS < deadline)); do
    if "$ready_fn"; then return 0; fi
    if ! running_pid "$svc" >/dev/null; then
      echo "services.sh: $svc: the process exited during startup" >&2
      show_log_tail "$(log_file "$svc")" "$@"
      return 1
    fi
    sleep 0.5
  done
  echo "services.sh: $svc: did not answer within ${TIMEOUT}s (SLUICE_SERVICES_TIMEOUT)" >&2
  show_log_tail "$(log_file "$svc")" "$@"
  return 1
}

as_root() {
  if [[ $EUID -eq 0 ]]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else die "need root (or sudo) to run: $*"
  fi
}

# Installs Debian packages when their command is missing. The packages' own
# init scripts are kept from starting a system service while we install (we run
# our own process with our own config), using Debian's policy-rc.d mechanism.
POLICY_RC_D=/usr/sbin/policy-rc.d
MADE_POLICY=0
remove_policy() {
  if ((MADE_POLICY)); then as_root rm -f "$POLICY_RC_D"; fi
  MADE_POLICY=0
}
trap remove_policy EXIT

apt_get() {
  as_root env DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=300 "$@"
}

apt_install() {
  local log="$SERVICES_DIR/apt-install.log" rc=0
  mkdir -p "$SERVICES_DIR"
  if [[ ! -e "$POLICY_RC_D" ]]; then
    MADE_POLICY=1
    printf '#!/bin/sh\nexit 101\n' | as_root tee "$POLICY_RC_D" >/dev/null
    as_root chmod 755 "$POLICY_RC_D"
  fi
  if ! apt_get install -y --no-install-recommends "$@" >"$log" 2>&1; then
    apt_get update >>"$log" 2>&1 || true
    apt_get install -y --no-install-recommends "$@" >>"$log" 2>&1 || rc=$?
  fi
  remove_policy
  if ((rc != 0)); then
    show_log_tail "$log"
    die "apt-get install $* failed"
  fi
}

java_major() {
  "$1" -XshowSettings:properties -version 2>&1 |
    awk -F'= ' '/java.specification.version/ { v = $2; sub(/^1\./, "", v); print v; exit }'
}

# Prints a java binary of at least version $1: JAVA_HOME, the one on PATH,
# then any JDK under /usr/lib/jvm (newest last, so older matches win).
find_java() {
  local min="$1" cand major
  local cands=()
  [[ -n "${JAVA_HOME:-}" ]] && cands+=("$JAVA_HOME/bin/java")
  command -v java >/dev/null 2>&1 && cands+=("$(command -v java)")
  while IFS= read -r cand; do cands+=("$cand"); done < <(printf '%s\n' /usr/lib/jvm/*/bin/java | sort -V)
  for cand in "${cands[@]}"; do
    [[ -x "$cand" ]] || continue
    major="$(java_major "$cand")"
    [[ "$major" =~ ^[0-9]+$ ]] && ((major >= min)) && { echo "$cand"; return 0; }
  done
  return 1
}

ensure_java() {
  local min="$1" j pkg
  if j="$(find_java "$min")"; then echo "$j"; return 0; fi
  apt_get update >/dev/null 2>&1 || true
  for pkg in "openjdk-$min-jre-headless" openjdk-21-jre-headless openjdk-25-jre-headless; do
    if apt-cache policy "$pkg" 2>/dev/null | grep -q 'Candidate: [0-9]'; then
      apt_install "$pkg" >&2
      if j="$(find_java "$min")"; then echo "$j"; return 0; fi
    fi
  done
  die "no Java $min or newer found (JAVA_HOME, PATH, /usr/lib/jvm) and none installable from apt"
}

need_mvn() {
  command -v mvn >/dev/null 2>&1 || apt_install maven
}

# ---------------------------------------------------------------- kafka

KAFKA_DIR="$SERVICES_DIR/kafka"
KAFKA_LIB="$KAFKA_DIR/lib-$KAFKA_VERSION"

kafka_java() { ensure_java 17; }

kafka_installed() { [[ -f "$KAFKA_LIB/.complete" ]]; }

kafka_install() {
  need_mvn
  local build="$KAFKA_DIR/build" log="$KAFKA_DIR/install.log"
  note "kafka: fetching Apache Kafka $KAFKA_VERSION jars from Maven Central (mvn dependency:copy-dependencies)"
  rm -rf "$build" "$KAFKA_LIB.tmp"
  mkdir -p "$build"
  cp "$TEMPLATES/kafka/pom.xml" "$build/pom.xml"
  if ! mvn -B -q -f "$build/pom.xml" "$MVN_DEPENDENCY_PLUGIN:copy-dependencies" \
    -DincludeScope=runtime -DoutputDirectory="$KAFKA_LIB.tmp" >"$log" 2>&1; then
    show_log_tail "$log"
    die "kafka: fetching the jars failed"
  fi
  rm -rf "$build"
  touch "$KAFKA_LIB.tmp/.complete"
  rm -rf "$KAFKA_LIB"
  mv "$KAFKA_LIB.tmp" "$KAFKA_LIB"
}

kafka_tool() {
  local java="$1"
  shift
  "$java" -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC \
    -Dlog4j2.configurationFile="$TEMPLATES/kafka/tools-log4j2.properties" \
    -cp "$KAFKA_LIB/*" "$@"
}

KAFKA_JAVA=""
kafka_ready() {
  port_open "$KAFKA_PORT" || return 1
  [[ -n "$KAFKA_JAVA" ]] || KAFKA_JAVA="$(kafka_java)" || return 1
  timeout 30 "$KAFKA_JAVA" -Xmx128m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC \
    -Dlog4j2.configurationFile="$TEMPLATES/kafka/tools-log4j2.properties" -cp "$KAFKA_LIB/*" \
    org.apache.kafka.tools.TopicCommand --bootstrap-server "127.0.0.1:$KAFKA_PORT" \
    --command-config "$TEMPLATES/kafka/admin.properties" --list >/dev/null 2>&1
}

kafka_start() {
  local java
  java="$(kafka_java)"
  KAFKA_JAVA="$java"
  mkdir -p "$KAFKA_DIR/data"
  render "$TEMPLATES/kafka/server.properties.in" "$KAFKA_DIR/server.properties" \
    PORT="$KAFKA_PORT" CONTROLLER_PORT="$KAFKA_CONTROLLER_PORT" DATA_DIR="$KAFKA_DIR/data" \
    SASL_PORT="$KAFKA_SASL_PORT" SASL_PASSWORD="$KAFKA_SASL_PASSWORD"
  if [[ ! -f "$KAFKA_DIR/data/meta.properties" ]]; then
    if ! kafka_tool "$java" kafka.tools.StorageTool format --ignore-formatted \
      -t "$KAFKA_CLUSTER_ID" -c "$KAFKA_DIR/server.properties" >"$KAFKA_DIR/format.log" 2>&1; then
      show_log_tail "$KAFKA_DIR/format.log"
      die "kafka: formatting the KRaft storage failed"
    fi
  fi
  check_ports_free kafka "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT" "$KAFKA_SASL_PORT"
  # shellcheck disable=SC2086
  launch kafka "$KAFKA_DIR" "$java" ${SLUICE_KAFKA_HEAP:--Xms256m -Xmx512m} \
    -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$TEMPLATES/kafka/log4j2.properties" \
    -cp "$KAFKA_LIB/*" kafka.Kafka "$KAFKA_DIR/server.properties"
}

kafka_address() { echo "127.0.0.1:$KAFKA_PORT"; }
kafka_describe() { echo "Apache Kafka $KAFKA_VERSION, KRaft broker+controller, controller 127.0.0.1:$KAFKA_CONTROLLER_PORT"; }
kafka_stop_grace() { echo 60; }

# ---------------------------------------------------------------- registry

REGISTRY_DIR="$SERVICES_DIR/registry"
REGISTRY_HOME="$REGISTRY_DIR/apicurio-registry-$APICURIO_VERSION"
REGISTRY_URL="http://127.0.0.1:$REGISTRY_PORT/apis/ccompat/v7"

registry_installed() { [[ -f "$REGISTRY_HOME/.complete" ]]; }

registry_install() {
  need_mvn
  local dl="$REGISTRY_DIR/download" log="$REGISTRY_DIR/install.log"
  note "registry: fetching Apicurio Registry $APICURIO_VERSION from Maven Central ($APICURIO_ARTIFACT)"
  rm -rf "$dl" "$REGISTRY_HOME.tmp"
  mkdir -p "$dl" "$REGISTRY_HOME.tmp"
  if ! (cd "$dl" && mvn -B -q "$MVN_DEPENDENCY_PLUGIN:copy" -Dartifact="$APICURIO_ARTIFACT" -DoutputDirectory="$dl" >"$log" 2>&1); then
    show_log_tail "$log"
    die "registry: fetching $APICURIO_ARTIFACT failed"
  fi
  tar -xzf "$dl"/apicurio-registry-app-*-all.tar.gz -C "$REGISTRY_HOME.tmp"
  [[ -f "$REGISTRY_HOME.tmp/quarkus-run.jar" ]] || die "registry: $APICURIO_ARTIFACT has no quarkus-run.jar"
  rm -rf "$dl"
  touch "$REGISTRY_HOME.tmp/.complete"
  rm -rf "$REGISTRY_HOME"
  mv "$REGISTRY_HOME.tmp" "$REGISTRY_HOME"
}

registry_ready() {
  local body
  body="$(curl -fsS --max-time 5 "$REGISTRY_URL/subjects" 2>/dev/null)" || return 1
  [[ "$body" == \[* ]]
}

registry_start() {
  local java
  java="$(ensure_java 21)" # Apicurio Registry 3.x is built for Java 21
  mkdir -p "$REGISTRY_DIR/data" "$REGISTRY_DIR/config"
  render "$TEMPLATES/registry/application.properties.in" "$REGISTRY_DIR/config/application.properties" \
    PORT="$REGISTRY_PORT" MGMT_PORT="$REGISTRY_MGMT_PORT" DATA_DIR="$REGISTRY_DIR/data"
  check_ports_free registry "$REGISTRY_PORT" "$REGISTRY_MGMT_PORT"
  # shellcheck disable=SC2086
  launch registry "$REGISTRY_DIR" "$java" ${SLUICE_REGISTRY_HEAP:--Xms128m -Xmx512m} \
    -XX:+UseSerialGC -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
    -jar "$REGISTRY_HOME/quarkus-run.jar"
}

registry_address() { echo "$REGISTRY_URL"; }
registry_describe() {
  local v
  v="$(curl -fsS --max-time 5 "http://127.0.0.1:$REGISTRY_PORT/apis/registry/v3/system/info" 2>/dev/null |
    sed -n 's/.*"version" *: *"\([^"]*\)".*/\1/p')"
  echo "Apicurio Registry ${v:-$APICURIO_VERSION}, Confluent-compatible API"
}
registry_stop_grace() { echo 30; }

# ---------------------------------------------------------------- clickhouse

CLICKHOUSE_DIR="$SERVICES_DIR/clickhouse"
CLICKHOUSE_BIN=/usr/sbin/clickhouse-server

clickhouse_installed() { [[ -x "$CLICKHOUSE_BIN" ]]; }

clickhouse_install() {
  note "clickhouse: installing Debian's clickhouse-server (apt-get)"
  apt_install clickhouse-server
  [[ -x "$CLICKHOUSE_BIN" ]] || die "clickhouse: $CLICKHOUSE_BIN missing after installing clickhouse-server"
}

clickhouse_query() {
  curl -fsS --max-time 5 "http://127.0.0.1:$CLICKHOUSE_HTTP_PORT/" --data-binary "$1" 2>/dev/null
}

clickhouse_ready() { [[ "$(clickhouse_query 'SELECT 1')" == "1" ]]; }

clickhouse_start() {
  mkdir -p "$CLICKHOUSE_DIR"/{data,log} "$CLICKHOUSE_DIR"/data/{tmp,user_files,format_schemas}
  render "$TEMPLATES/clickhouse/config.xml.in" "$CLICKHOUSE_DIR/config.xml" \
    HTTP_PORT="$CLICKHOUSE_HTTP_PORT" TCP_PORT="$CLICKHOUSE_TCP_PORT" \
    DATA_DIR="$CLICKHOUSE_DIR/data" LOG_DIR="$CLICKHOUSE_DIR/log"
  cp "$TEMPLATES/clickhouse/users.xml" "$CLICKHOUSE_DIR/users.xml"
  check_ports_free clickhouse "$CLICKHOUSE_HTTP_PORT" "$CLICKHOUSE_TCP_PORT"
  launch clickhouse "$CLICKHOUSE_DIR" "$CLICKHOUSE_BIN" --config-file="$CLICKHOUSE_DIR/config.xml"
}

clickhouse_address() { echo "http://127.0.0.1:$CLICKHOUSE_HTTP_PORT native 127.0.0.1:$CLICKHOUSE_TCP_PORT"; }
clickhouse_describe() { echo "ClickHouse $(clickhouse_query 'SELECT version()' || echo '?'), user default, no password"; }
clickhouse_stop_grace() { echo 30; }
clickhouse_logs() { echo "$CLICKHOUSE_DIR/log/clickhouse-server.err.log"; }

# ---------------------------------------------------------------- prometheus

PROMETHEUS_DIR="$SERVICES_DIR/prometheus"

prometheus_installed() { command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; }

prometheus_install() {
  note "prometheus: installing Debian's prometheus (apt-get)"
  apt_install prometheus
  command -v promtool >/dev/null 2>&1 || die "prometheus: promtool missing after installing prometheus"
}

prometheus_ready() {
  [[ "$(curl -sS --max-time 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PROMETHEUS_PORT/-/ready" 2>/dev/null)" == 200 ]]
}

prometheus_config() {
  local out="$1" t targets=""
  IFS=',' read -r -a t <<<"$METRICS_TARGET"
  for t in "${t[@]}"; do
    t="${t// /}"
    [[ -n "$t" ]] && targets+="${targets:+, }'$t'"
  done
  cat >"$out.tmp" <<EOF
# Generated by scripts/services.sh; the sluice target comes from
# SLUICE_METRICS_TARGET (comma-separated host:port list).
global:
  scrape_interval: 2s
  evaluation_interval: 2s
scrape_configs:
  - job_name: prometheus
    static_configs:
      - targets: ['127.0.0.1:$PROMETHEUS_PORT']
  - job_name: sluice
    static_configs:
      - targets: [$targets]
EOF
  mv "$out.tmp" "$out"
}

prometheus_start() {
  mkdir -p "$PROMETHEUS_DIR/data"
  prometheus_config "$PROMETHEUS_DIR/prometheus.yml"
  if ! promtool check config "$PROMETHEUS_DIR/prometheus.yml" >"$PROMETHEUS_DIR/check.log" 2>&1; then
    show_log_tail "$PROMETHEUS_DIR/check.log"
    die "prometheus: promtool rejected $PROMETHEUS_DIR/prometheus.yml (SLUICE_METRICS_TARGET=$METRICS_TARGET)"
  fi
  check_ports_free prometheus "$PROMETHEUS_PORT"
  launch prometheus "$PROMETHEUS_DIR" "$(command -v prometheus)" \
    --config.file="$PROMETHEUS_DIR/prometheus.yml" \
    --storage.tsdb.path="$PROMETHEUS_DIR/data" \
    --storage.tsdb.retention.time=7d \
    --web.listen-address="127.0.0.1:$PROMETHEUS_PORT" \
    --web.enable-lifecycle
}

prometheus_address() { echo "http://127.0.0.1:$PROMETHEUS_PORT"; }
prometheus_describe() {
  local v
  v="$(curl -fsS --max-time 5 "http://127.0.0.1:$PROMETHEUS_PORT/api/v1/status/buildinfo" 2>/dev/null |
    sed -n 's/.*"version" *: *"\([^"]*\)".*/\1/p')"
  echo "Prometheus ${v:-?}, scrapes itself and sluice at $METRICS_TARGET"
}
prometheus_stop_grace() { echo 30; }

# ---------------------------------------------------------------- vault

# HashiCorp publishes no Debian package or Maven artifact, and the machines we
# run on reach only package registries: Vault is built from the Go module
# proxy. `go install` refuses the vault module (its go.mod has replace
# directives), so scripts/services/vault/ holds a wrapper module whose main
# calls Vault's own command package, with the release's non-local replaces
# and a complete go.sum (so nothing but the proxy is consulted). The first
# build takes about 30-40 minutes on 2 cores and ~10 GB of Go caches, all
# under <cache>/services/vault.
VAULT_VERSION="$(sed -n 's:^require github.com/hashicorp/vault v\([0-9.]*\)$:\1:p' "$TEMPLATES/vault/go.mod")"
VAULT_DIR="$SERVICES_DIR/vault"
VAULT_BIN="$VAULT_DIR/bin/vault-$VAULT_VERSION"
VAULT_DEV_TOKEN="sluice-dev-root"

vault_go_env() {
  export GOPATH="$VAULT_DIR/gopath" GOCACHE="$VAULT_DIR/gocache" GOMODCACHE="$VAULT_DIR/gopath/pkg/mod"
  export GOFLAGS="-p=1 -buildvcs=false -mod=readonly" GOTOOLCHAIN=local GOSUMDB=off
}

vault_installed() { [[ -x "$VAULT_BIN" ]]; }

vault_install() {
  command -v go >/dev/null 2>&1 || apt_install golang-go
  local src="$VAULT_DIR/src" log="$VAULT_DIR/install.log"
  note "vault: building HashiCorp Vault $VAULT_VERSION from the Go module proxy (first time: about 30-40 minutes on 2 cores; log $log)"
  rm -rf "$src"
  mkdir -p "$src" "$VAULT_DIR/bin"
  cp "$TEMPLATES/vault/go.mod" "$TEMPLATES/vault/go.sum" "$TEMPLATES/vault/main.go" "$src/"
  if ! (cd "$src" && vault_go_env && go build -ldflags="-s -w" -o "$VAULT_BIN.tmp" . >"$log" 2>&1); then
    show_log_tail "$log"
    die "vault: building Vault $VAULT_VERSION failed"
  fi
  mv "$VAULT_BIN.tmp" "$VAULT_BIN"
}

vault_curl() {
  curl -fsS --max-time 5 --cacert "$VAULT_DIR/tls/vault-ca.pem" "$@"
}

vault_ready() {
  [[ -f "$VAULT_DIR/tls/vault-ca.pem" ]] &&
    vault_curl -o /dev/null "https://127.0.0.1:$VAULT_PORT/v1/sys/health" 2>/dev/null
}

vault_start() {
  # A dev server keeps everything in memory: every start begins empty, with
  # a KV v2 engine at secret/ and the fixed root token.
  rm -rf "$VAULT_DIR/tls"
  mkdir -p "$VAULT_DIR/tls"
  check_ports_free vault "$VAULT_PORT" "$((VAULT_PORT + 1))"
  launch vault "$VAULT_DIR" "$VAULT_BIN" server -dev \
    -dev-listen-address="127.0.0.1:$VAULT_PORT" \
    -dev-root-token-id="$VAULT_DEV_TOKEN" \
    -dev-tls -dev-tls-cert-dir="$VAULT_DIR/tls" \
    -dev-no-store-token
}

vault_address() { echo "https://127.0.0.1:$VAULT_PORT (CA $VAULT_DIR/tls/vault-ca.pem, root token $VAULT_DEV_TOKEN)"; }
vault_describe() {
  local v
  v="$(vault_curl "https://127.0.0.1:$VAULT_PORT/v1/sys/health" 2>/dev/null |
    sed -n 's/.*"version" *: *"\([^"]*\)".*/\1/p')"
  echo "HashiCorp Vault ${v:-$VAULT_VERSION}, dev server (in memory), TLS"
}
vault_stop_grace() { echo 20; }

# ---------------------------------------------------------------- moto

# AWS services cannot run on a machine without internet; moto's server
# answers the Secrets Manager and STS APIs on loopback, for the AWS secrets
# backend's tests only (it checks neither signatures nor IAM policies: the
# signing is tested against AWS's own test vectors).
MOTO_VERSION="5.2.5"
MOTO_DIR="$SERVICES_DIR/moto"
MOTO_VENV="$MOTO_DIR/venv-$MOTO_VERSION"

moto_installed() { [[ -f "$MOTO_VENV/.complete" ]]; }

moto_install() {
  python3 -m venv --help >/dev/null 2>&1 || apt_install python3-venv
  local log="$MOTO_DIR/install.log"
  note "moto: installing moto[server] $MOTO_VERSION from PyPI into $MOTO_VENV"
  rm -rf "$MOTO_VENV"
  if ! { python3 -m venv "$MOTO_VENV" && "$MOTO_VENV/bin/pip" install -q "moto[server]==$MOTO_VERSION"; } >"$log" 2>&1; then
    show_log_tail "$log"
    die "moto: installing moto[server]==$MOTO_VERSION failed"
  fi
  touch "$MOTO_VENV/.complete"
}

moto_ready() { curl -fsS --max-time 5 -o /dev/null "http://127.0.0.1:$MOTO_PORT/moto-api/data.json" 2>/dev/null; }

moto_start() {
  check_ports_free moto "$MOTO_PORT"
  launch moto "$MOTO_DIR" "$MOTO_VENV/bin/moto_server" -H 127.0.0.1 -p "$MOTO_PORT"
}

moto_address() { echo "http://127.0.0.1:$MOTO_PORT"; }
moto_describe() { echo "moto $MOTO_VERSION AWS emulator (Secrets Manager, STS), any credentials accepted"; }
moto_stop_grace() { echo 10; }

# ---------------------------------------------------------------- commands

has_fn() { declare -F "$1" >/dev/null; }

# One services.sh at a time per service (two CI steps racing to install or
# start the same thing would otherwise collide).
LOCK_FD=""
lock_service() {
  exec {LOCK_FD}>"$(svc_dir "$1")/.lock"
  flock -w 900 "$LOCK_FD" || die "$1: another services.sh holds $(svc_dir "$1")/.lock"
}
unlock_service() {
  if [[ -n "$LOCK_FD" ]]; then exec {LOCK_FD}>&-; fi
  LOCK_FD=""
}

# Install time of the last start_one, for the timing summary.
LAST_INSTALL=0

start_one() {
  local svc="$1" t0 ti pid extra_logs=()
  t0="$(now)"
  LAST_INSTALL=0
  mkdir -p "$(svc_dir "$svc")"
  lock_service "$svc"
  if has_fn "${svc}_logs"; then extra_logs=("$("${svc}_logs")"); fi

  if pid="$(running_pid "$svc")"; then
    if "${svc}_ready"; then
      echo "$svc: $("${svc}_address") (already running, pid $pid)"
      unlock_service
      return 0
    fi
    note "$svc: pid $pid is running but not answering yet; waiting"
  else
    if ! "${svc}_installed"; then
      ti="$(now)"
      "${svc}_install"
      LAST_INSTALL="$(elapsed "$ti")"
    fi
    : >"$(log_file "$svc")"
    "${svc}_start"
  fi
  if ! wait_ready "$svc" "${svc}_ready" "${extra_logs[@]}"; then
    # A failed start leaves nothing behind: the next start begins afresh.
    stop_locked "$svc" >/dev/null
    unlock_service
    die "$svc: failed to start (log: $(log_file "$svc"))"
  fi
  echo "$svc: $("${svc}_address") ($("${svc}_describe"); ready in $(elapsed "$t0")s, install ${LAST_INSTALL}s)"
  unlock_service
}

# SIGTERM, up to the service's grace period, then SIGKILL. Caller holds the lock.
stop_locked() {
  local svc="$1" pid grace deadline
  if ! pid="$(running_pid "$svc")"; then
    rm -f "$(pid_file "$svc")"
    echo "$svc: not running"
    return 0
  fi
  grace="$("${svc}_stop_grace")"
  kill -TERM "$pid" 2>/dev/null || true
  deadline=$((SECONDS + grace))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then
    echo "$svc: still running ${grace}s after SIGTERM; sending SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  fi
  rm -f "$(pid_file "$svc")"
  echo "$svc: stopped"
}

stop_one() {
  mkdir -p "$(svc_dir "$1")"
  lock_service "$1"
  stop_locked "$1"
  unlock_service
}

status_one() {
  local svc="$1" pid
  if pid="$(running_pid "$svc")"; then
    if "${svc}_ready"; then
      echo "$svc: running, $("${svc}_address"), pid $pid"
      return 0
    fi
    echo "$svc: process $pid is up but not answering (log: $(log_file "$svc"))"
    return 1
  fi
  echo "$svc: not running"
  return 1
}

# One line per start, so the first start (with installs) and later ones can be
# compared; the first start of each target that installed something is kept.
timing_summary() {
  local target="$1" total="$2" install="$3" first first_total first_install
  first="$SERVICES_DIR/first-start-$target"
  if [[ ! -f "$first" && "$install" != "0.0" ]]; then
    echo "$total $install" >"$first"
    echo "timing: start $target took ${total}s, of which install ${install}s (first start on this machine)"
  elif [[ -f "$first" ]]; then
    read -r first_total first_install <"$first"
    echo "timing: start $target took ${total}s (install ${install}s); first start took ${first_total}s (install ${first_install}s)"
  else
    echo "timing: start $target took ${total}s (nothing to install)"
  fi
}

usage() {
  echo "usage: $0 start|stop|restart|status <kafka|registry|clickhouse|prometheus|vault|moto|all>" >&2
  exit 2
}

main() {
  [[ $# -eq 2 ]] || usage
  local cmd="$1" target="$2" svcs=() svc rc=0 t0 install=0 total
  case "$target" in
    all) svcs=("${ALL_SERVICES[@]}") ;;
    kafka | registry | clickhouse | prometheus | vault | moto) svcs=("$target") ;;
    *) usage ;;
  esac
  command -v curl >/dev/null 2>&1 || apt_install curl
  command -v flock >/dev/null 2>&1 || apt_install util-linux
  mkdir -p "$SERVICES_DIR"
  case "$cmd" in
    start)
      t0="$(now)"
      for svc in "${svcs[@]}"; do
        start_one "$svc"
        install="$(add "$install" "$LAST_INSTALL")"
      done
      total="$(elapsed "$t0")"
      timing_summary "$target" "$total" "$install"
      ;;
    stop)
      # Reverse order: nothing here depends on another service today, but
      # stopping in reverse keeps that true if one ever does.
      for ((i = ${#svcs[@]} - 1; i >= 0; i--)); do stop_one "${svcs[$i]}"; done
      ;;
    restart)
      for ((i = ${#svcs[@]} - 1; i >= 0; i--)); do stop_one "${svcs[$i]}"; done
      for svc in "${svcs[@]}"; do start_one "$svc"; done
      ;;
    status)
      for svc in "${svcs[@]}"; do status_one "$svc" || rc=1; done
      return "$rc"
      ;;
    *) usage ;;
  esac
}

main "$@"
