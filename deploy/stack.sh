#!/usr/bin/env bash
# The local stack: PostgreSQL 15 and a single-node Kafka (KRaft), installed and started by the
# project itself, plus the pipeline's own processes. Every command is idempotent.
#
#   deploy/stack.sh up [SERVICE...]     start (default: postgres kafka)
#   deploy/stack.sh down [SERVICE...]   stop (default: everything that runs)
#   deploy/stack.sh status              one line per service
#   deploy/stack.sh reset               stop everything and wipe the stack's data
#   deploy/stack.sh tools               install what the tests use beside the stack
#
# Services: postgres, kafka, worker, api, simulator. Data and logs live in $IOC_STACK_DIR
# (default: .stack/ at the repository root, git-ignored).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STACK_DIR=${IOC_STACK_DIR:-$ROOT/.stack}
PG_PORT=${IOC_PG_PORT:-55432}
KAFKA_PORT=${IOC_KAFKA_PORT:-19092}
CONTROLLER_PORT=${IOC_KAFKA_CONTROLLER_PORT:-$((KAFKA_PORT + 1))}
API_PORT=${IOC_API_PORT:-8000}
KAFKA_HEAP=${IOC_KAFKA_HEAP:--Xms256m -Xmx1g}
READY_TIMEOUT=${IOC_READY_TIMEOUT:-90}
MIN_FREE_MB=${IOC_MIN_FREE_MB:-1024}
PG_BIN=/usr/lib/postgresql/15/bin
VENV=$ROOT/.venv

LOGS=$STACK_DIR/logs
RUN=$STACK_DIR/run

say() { printf 'stack: %s\n' "$*"; }
die() { printf 'stack: error: %s\n' "$*" >&2; exit 1; }

is_root() { [ "$(id -u)" = 0 ]; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pid_alive() { [ -f "$RUN/$1.pid" ] && kill -0 "$(cat "$RUN/$1.pid")" 2>/dev/null; }

apt_install() {
  is_root || die "$* is not installed and this is not root: install it (apt-get install $*)"
  say "installing $* from Debian's packages"
  if ! apt-get install -y -q "$@" >"$LOGS/apt.log" 2>&1; then
    apt-get update -q >>"$LOGS/apt.log" 2>&1 || true
    apt-get install -y -q "$@" >>"$LOGS/apt.log" 2>&1 \
      || die "could not install $* (see $LOGS/apt.log)"
  fi
}

check_disk() {
  local free_mb
  free_mb=$(df -Pm "$STACK_DIR" | awk 'NR == 2 { print $4 }')
  [ "$free_mb" -ge "$MIN_FREE_MB" ] \
    || die "only ${free_mb} MB free under $STACK_DIR; the stack needs ${MIN_FREE_MB} MB (free some disk)"
}

# A port that answers while our process does not run belongs to someone else.
check_port_free() {
  local port=$1 what=$2 variable=$3
  if port_open "$port"; then
    die "port $port, wanted by $what, is taken by another process; stop it or set $variable"
  fi
}

wait_until() {
  local what=$1 log=$2; shift 2
  local deadline=$((SECONDS + READY_TIMEOUT))
  until "$@"; do
    if [ $SECONDS -ge $deadline ]; then
      tail -n 30 "$log" >&2 || true
      die "$what not ready after ${READY_TIMEOUT}s (log: $log)"
    fi
    sleep 0.5
  done
}

# --- PostgreSQL -------------------------------------------------------------------------------
PG_LINK=$STACK_DIR/postgres
PG_DIR=$(readlink -f "$PG_LINK" 2>/dev/null || echo "$PG_LINK")

as_pg_owner() {
  if is_root; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_running() { [ -f "$PG_DIR/data/postmaster.pid" ] && as_pg_owner "$PG_BIN/pg_ctl" -D "$PG_DIR/data" status >/dev/null 2>&1; }

pg_ready() { "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; }

# PostgreSQL refuses to run as root, so as root the cluster belongs to the postgres user. Where
# that user cannot reach the project (a checkout under /root, say), the cluster lives under
# /var/lib/ioc-stream and $PG_DIR links to it.
make_pg_dir() {
  if [ ! -e "$PG_LINK" ]; then
    if is_root && ! runuser -u postgres -- test -x "$STACK_DIR"; then
      local home; home=/var/lib/ioc-stream/$(printf '%s' "$STACK_DIR" | sha1sum | cut -c1-12)
      mkdir -p "$home"
      ln -sfn "$home" "$PG_LINK"
    else
      mkdir -p "$PG_LINK"
    fi
  fi
  PG_DIR=$(readlink -f "$PG_LINK")
  if is_root; then chown postgres:postgres "$PG_DIR"; fi
}

up_postgres() {
  [ -x "$PG_BIN/postgres" ] || apt_install postgresql-15
  if pg_running; then say "postgres already running on 127.0.0.1:$PG_PORT"; return; fi
  check_port_free "$PG_PORT" postgres IOC_PG_PORT
  make_pg_dir
  if [ ! -f "$PG_DIR/data/PG_VERSION" ]; then
    say "creating a PostgreSQL cluster in $PG_DIR/data"
    # Loopback-only trust: a developer's local cluster, never reachable from another host.
    as_pg_owner "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres -A trust -E UTF8 \
      --locale=C.UTF-8 >"$LOGS/initdb.log" 2>&1 || die "initdb failed (see $LOGS/initdb.log)"
  fi
  local preload=""
  if [ -f "/usr/share/postgresql/15/extension/timescaledb.control" ]; then preload="timescaledb"; fi
  as_pg_owner tee "$PG_DIR/data/postgresql.auto.conf" >/dev/null <<EOF
# Written by deploy/stack.sh on every start.
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_DIR'
# Durability is not traded for speed: the promise is that nothing accepted is lost.
fsync = on
synchronous_commit = on
full_page_writes = on
shared_preload_libraries = '$preload'
shared_buffers = '512MB'
max_connections = 200
max_wal_size = '4GB'
timezone = 'UTC'
EOF
  check_disk
  say "starting postgres on 127.0.0.1:$PG_PORT"
  local attempt
  for attempt in $(seq 1 15); do
    as_pg_owner "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/postgres.log" -w -t "$READY_TIMEOUT" \
      start >/dev/null && break
    # 55432 lies in Linux's ephemeral range: a client socket (in TIME_WAIT) may hold it a while.
    if [ "$attempt" -lt 15 ] && tail -n 5 "$PG_DIR/postgres.log" | grep -q "Address already in use" \
        && ! port_open "$PG_PORT"; then
      say "port $PG_PORT briefly held by a closing connection; retrying in 5 s"
      sleep 5
      continue
    fi
    tail -n 20 "$PG_DIR/postgres.log" >&2
    die "postgres did not start (log: $PG_DIR/postgres.log)"
  done
  wait_until postgres "$PG_DIR/postgres.log" pg_ready
  if ! "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname = 'ioc'" | grep -q 1; then
    "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres ioc
  fi
}

down_postgres() {
  if pg_running; then
    say "stopping postgres"
    # IOC_PG_STOP_MODE=immediate simulates a crash (the fault tests use it).
    as_pg_owner "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m "${IOC_PG_STOP_MODE:-fast}" -w stop >/dev/null
  fi
}

# --- Kafka ------------------------------------------------------------------------------------
KAFKA_DIR=$STACK_DIR/kafka

kafka_classpath() {
  local cp=$KAFKA_DIR/classpath.txt pom=$ROOT/deploy/kafka/pom.xml
  if [ ! -s "$cp" ] || [ "$pom" -nt "$cp" ]; then
    command -v mvn >/dev/null || apt_install maven
    say >&2 "resolving the Kafka broker's classpath with Maven (cached after the first run)"
    mvn -q -B -f "$pom" dependency:build-classpath -Dmdep.includeScope=runtime \
      -Dmdep.outputFile="$cp" >"$LOGS/maven.log" 2>&1 \
      || { tail -n 20 "$LOGS/maven.log" >&2; die "Maven could not resolve Kafka (log: $LOGS/maven.log)"; }
  fi
  cat "$cp"
}

up_kafka() {
  command -v java >/dev/null || apt_install openjdk-17-jre-headless
  if pid_alive kafka; then say "kafka already running on 127.0.0.1:$KAFKA_PORT"; return; fi
  check_port_free "$KAFKA_PORT" kafka IOC_KAFKA_PORT
  check_port_free "$CONTROLLER_PORT" "kafka's controller" IOC_KAFKA_CONTROLLER_PORT
  check_disk
  mkdir -p "$KAFKA_DIR"
  local cp; cp=$(kafka_classpath)
  sed -e "s|@KAFKA_PORT@|$KAFKA_PORT|g" -e "s|@CONTROLLER_PORT@|$CONTROLLER_PORT|g" \
    -e "s|@DATA_DIR@|$KAFKA_DIR/data|g" "$ROOT/deploy/kafka/server.properties.in" \
    >"$KAFKA_DIR/server.properties"
  if [ ! -f "$KAFKA_DIR/data/meta.properties" ]; then
    say "formatting Kafka storage in $KAFKA_DIR/data"
    local cluster_id; cluster_id=$(java -cp "$cp" kafka.tools.StorageTool random-uuid)
    java -cp "$cp" kafka.tools.StorageTool format -t "$cluster_id" \
      -c "$KAFKA_DIR/server.properties" >"$LOGS/kafka-format.log" 2>&1 \
      || die "formatting Kafka storage failed (see $LOGS/kafka-format.log)"
  fi
  say "starting kafka on 127.0.0.1:$KAFKA_PORT"
  # shellcheck disable=SC2086 # the heap flags are meant to split
  nohup java $KAFKA_HEAP -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$ROOT/deploy/kafka/log4j2.yaml" \
    -cp "$cp" kafka.Kafka "$KAFKA_DIR/server.properties" >"$LOGS/kafka.log" 2>&1 </dev/null &
  echo $! >"$RUN/kafka.pid"
  wait_until kafka "$LOGS/kafka.log" kafka_ready
}

kafka_ready() {
  pid_alive kafka || { tail -n 30 "$LOGS/kafka.log" >&2; die "kafka exited (log: $LOGS/kafka.log)"; }
  port_open "$KAFKA_PORT" && grep -q "Kafka Server started" "$LOGS/kafka.log"
}

# --- The pipeline's own processes ----------------------------------------------------------------
start_process() {
  local name=$1; shift
  if pid_alive "$name"; then say "$name already running"; return; fi
  [ -x "$VENV/bin/ioc" ] || die "$VENV/bin/ioc is missing: run 'make venv' first"
  say "starting $name"
  nohup "$VENV/bin/ioc" "$@" >>"$LOGS/$name.log" 2>&1 </dev/null &
  echo $! >"$RUN/$name.pid"
}

api_ready() {
  pid_alive api || { tail -n 30 "$LOGS/api.log" >&2; die "api exited (log: $LOGS/api.log)"; }
  port_open "$API_PORT"
}

up_worker() { start_process worker worker; }
up_simulator() { start_process simulator simulate; }
up_api() {
  if ! pid_alive api; then check_port_free "$API_PORT" api IOC_API_PORT; fi
  start_process api api --port "$API_PORT"
  wait_until api "$LOGS/api.log" api_ready
}

stop_process() {
  local name=$1
  if pid_alive "$name"; then
    say "stopping $name"
    local pid; pid=$(cat "$RUN/$name.pid")
    kill -TERM "$pid"
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    if kill -0 "$pid" 2>/dev/null; then say "$name did not stop in 30s; killing it"; kill -KILL "$pid"; fi
  fi
  rm -f "$RUN/$name.pid"
}

down_kafka() { stop_process kafka; }
down_worker() { stop_process worker; }
down_api() { stop_process api; }
down_simulator() { stop_process simulator; }

status() {
  local name
  if pg_running; then say "postgres  running  127.0.0.1:$PG_PORT"; else say "postgres  stopped"; fi
  for name in kafka worker api simulator; do
    if pid_alive "$name"; then say "$(printf '%-9s' "$name") running  pid $(cat "$RUN/$name.pid")"
    else say "$(printf '%-9s' "$name") stopped"; fi
  done
}

# The tests' own tools: Prometheus and promtool (alert rules), Chromium (the wall page).
tools() {
  if ! command -v promtool >/dev/null || ! command -v prometheus >/dev/null; then
    apt_install prometheus
  fi
  command -v chromium >/dev/null || apt_install chromium
}

main() {
  local command=${1:-status}; shift || true
  mkdir -p "$LOGS" "$RUN"
  case $command in
    up)
      local services=("$@"); [ ${#services[@]} -gt 0 ] || services=(postgres kafka)
      for s in "${services[@]}"; do "up_$s"; done ;;
    down)
      local services=("$@"); [ ${#services[@]} -gt 0 ] || services=(simulator api worker kafka postgres)
      for s in "${services[@]}"; do "down_$s"; done ;;
    status) status ;;
    tools) tools ;;
    reset)
      main down
      say "wiping $STACK_DIR"
      if [ -L "$PG_LINK" ]; then rm -rf "$PG_DIR"; fi
      rm -rf "$STACK_DIR" ;;
    *) die "unknown command '$command' (up, down, status, reset, tools)" ;;
  esac
}

main "$@"
