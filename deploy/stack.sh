#!/usr/bin/env bash
# The local stack: PostgreSQL 15 and Kafka (KRaft; one node, or IOC_KAFKA_NODES on loopback),
# installed and started by the project itself, plus the pipeline's own processes. Every command
# is idempotent.
#
#   deploy/stack.sh up [SERVICE...]     start (default: postgres kafka)
#   deploy/stack.sh down [SERVICE...]   stop (default: everything that runs)
#   deploy/stack.sh leave-out simulator stop it, and say in status it was left out on purpose
#   deploy/stack.sh status              one line per service
#   deploy/stack.sh reset               stop everything and wipe the stack's data
#   deploy/stack.sh tools               install what the tests use beside the stack
#   deploy/stack.sh bootstrap           print Kafka's bootstrap addresses
#
# Services: postgres, kafka (`up kafka` also restarts a node that died), mail (a local mail
# sink: each message the API sends a file in $IOC_STACK_DIR/mail/, the API's SMTP server unless
# IOC_SMTP_HOST names another), worker, api, simulator, connectors (where IOC_CONNECTORS_DIR
# holds definitions). Data and logs live in $IOC_STACK_DIR
# (default: .stack/ at the repository root, git-ignored).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STACK_DIR=${IOC_STACK_DIR:-$ROOT/.stack}
PG_PORT=${IOC_PG_PORT:-55432}
KAFKA_PORT=${IOC_KAFKA_PORT:-19092}
CONTROLLER_PORT=${IOC_KAFKA_CONTROLLER_PORT:-$((KAFKA_PORT + 1))}
KAFKA_NODES=${IOC_KAFKA_NODES:-1}
API_PORT=${IOC_API_PORT:-8000}
# The simulator's department APIs (the LGSP's, on a real platform), which the example connectors
# of schemas/connectors/ pull, and the connectors service's metrics.
SIMULATOR_API_PORT=${IOC_SIMULATOR_API_PORT:-8091}
CONNECTORS_DIR=${IOC_CONNECTORS_DIR:-$ROOT/schemas/connectors}
CONNECTORS_METRICS_PORT=${IOC_CONNECTORS_METRICS_PORT:-9120}
MAIL_PORT=${IOC_MAIL_PORT:-2525}
KAFKA_HEAP=${IOC_KAFKA_HEAP:--Xms256m -Xmx1g}
# Broker settings over server.properties.in, space-separated key=value (make test's pass with
# the clock a year ahead takes records stamped ahead of the broker's own clock).
KAFKA_OVERRIDES=${IOC_KAFKA_OVERRIDES:-}
READY_TIMEOUT=${IOC_READY_TIMEOUT:-90}
MIN_FREE_MB=${IOC_MIN_FREE_MB:-1024}
PG_BIN=/usr/lib/postgresql/15/bin
DEJAVU=/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf  # the PDF notices' font (IOC_PDF_FONT)
VENV=$ROOT/.venv

LOGS=$STACK_DIR/logs
RUN=$STACK_DIR/run

say() { printf 'stack: %s\n' "$*"; }
die() { printf 'stack: error: %s\n' "$*" >&2; exit 1; }

is_root() { [ "$(id -u)" = 0 ]; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A process that exited stays a zombie where nothing reaps it (a container whose init does not):
# it is dead all the same.
process_alive() { kill -0 "$1" 2>/dev/null && [ "$(ps -o stat= -p "$1" | cut -c1)" != Z ]; }

pid_alive() { [ -f "$RUN/$1.pid" ] && process_alive "$(cat "$RUN/$1.pid")"; }

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

# A port that answers while our process does not run belongs to someone else; but a process
# of ours just killed (its pid file left behind) may hold it a moment while it exits: a JVM's
# main thread is a zombie before its other threads have closed their sockets.
check_port_free() {
  local port=$1 what=$2 variable=$3 ours=${4:-}
  local deadline=$SECONDS
  if [ -n "$ours" ] && [ -f "$RUN/$ours.pid" ]; then deadline=$((SECONDS + 15)); fi
  while port_open "$port"; do
    if [ $SECONDS -ge $deadline ]; then
      die "port $port, wanted by $what, is taken by another process; stop it or set $variable"
    fi
    sleep 0.5
  done
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
  "$ROOT/deploy/timescaledb.sh"
  local preload=""
  if "$ROOT/deploy/timescaledb.sh" check; then preload="timescaledb"; fi
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
# A government system does not call out (read where TimescaleDB is not preloaded too).
timescaledb.telemetry_level = off
# TimescaleDB runs a scheduler per database and a worker per running job; the tests' databases
# each have their own.
max_worker_processes = 48
timescaledb.max_background_workers = 40
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

# Node n of a cluster listens on KAFKA_PORT + 2(n-1) and its controller on CONTROLLER_PORT + 2(n-1);
# a single node keeps the plain names (kafka, kafka/data) of the stack's first version.
node_name() { if [ "$KAFKA_NODES" = 1 ]; then echo kafka; else echo "kafka-$1"; fi; }
node_dir() { if [ "$KAFKA_NODES" = 1 ]; then echo "$KAFKA_DIR"; else echo "$KAFKA_DIR/node-$1"; fi; }
node_port() { echo $((KAFKA_PORT + 2 * ($1 - 1))); }
node_controller_port() { echo $((CONTROLLER_PORT + 2 * ($1 - 1))); }

bootstrap() {
  local n addresses=()
  for n in $(seq 1 "$KAFKA_NODES"); do addresses+=("127.0.0.1:$(node_port "$n")"); done
  (IFS=,; echo "${addresses[*]}")
}

# The cluster's identity, made once and shared by every node's storage.
cluster_id() {
  local file=$KAFKA_DIR/cluster-id
  [ -s "$file" ] || java -cp "$1" kafka.tools.StorageTool random-uuid >"$file"
  cat "$file"
}

up_kafka() {
  command -v java >/dev/null || apt_install openjdk-17-jre-headless
  mkdir -p "$KAFKA_DIR"
  local cp; cp=$(kafka_classpath)
  local n voters=() started=()
  for n in $(seq 1 "$KAFKA_NODES"); do voters+=("$n@127.0.0.1:$(node_controller_port "$n")"); done
  for n in $(seq 1 "$KAFKA_NODES"); do
    if pid_alive "$(node_name "$n")"; then continue; fi
    start_kafka_node "$n" "$cp" "$(IFS=,; echo "${voters[*]}")"
    started+=("$n")
  done
  if [ ${#started[@]} = 0 ]; then say "kafka already running on $(bootstrap)"; return; fi
  # Started together, then awaited: a cluster's nodes need a quorum of each other to start.
  for n in "${started[@]}"; do
    wait_until "$(node_name "$n")" "$LOGS/$(node_name "$n").log" kafka_node_ready "$n"
  done
}

start_kafka_node() {
  local n=$1 cp=$2 voters=$3
  local name dir port controller
  name=$(node_name "$n"); dir=$(node_dir "$n")
  port=$(node_port "$n"); controller=$(node_controller_port "$n")
  check_port_free "$port" "$name" IOC_KAFKA_PORT "$name"
  check_port_free "$controller" "$name's controller" IOC_KAFKA_CONTROLLER_PORT "$name"
  check_disk
  mkdir -p "$dir"
  sed -e "s|@NODE_ID@|$n|g" -e "s|@VOTERS@|$voters|g" \
    -e "s|@KAFKA_PORT@|$port|g" -e "s|@CONTROLLER_PORT@|$controller|g" \
    -e "s|@REPLICATION@|$KAFKA_NODES|g" -e "s|@MIN_ISR@|$((KAFKA_NODES / 2 + 1))|g" \
    -e "s|@DATA_DIR@|$dir/data|g" "$ROOT/deploy/kafka/server.properties.in" \
    >"$dir/server.properties"
  if [ ! -f "$dir/data/meta.properties" ]; then
    say "formatting $name's storage in $dir/data"
    java -cp "$cp" kafka.tools.StorageTool format -t "$(cluster_id "$cp")" \
      -c "$dir/server.properties" >"$LOGS/$name-format.log" 2>&1 \
      || die "formatting $name's storage failed (see $LOGS/$name-format.log)"
  fi
  local overrides=() setting
  for setting in $KAFKA_OVERRIDES; do overrides+=(--override "$setting"); done
  say "starting $name on 127.0.0.1:$port"
  # A fresh log each start: readiness is read from it.
  # shellcheck disable=SC2086 # the heap flags are meant to split
  nohup java $KAFKA_HEAP -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$ROOT/deploy/kafka/log4j2.yaml" \
    -cp "$cp" kafka.Kafka "$dir/server.properties" "${overrides[@]}" >"$LOGS/$name.log" 2>&1 </dev/null &
  echo $! >"$RUN/$name.pid"
}

kafka_node_ready() {
  local name; name=$(node_name "$1")
  pid_alive "$name" || { tail -n 30 "$LOGS/$name.log" >&2; die "$name exited (log: $LOGS/$name.log)"; }
  port_open "$(node_port "$1")" && grep -q "Kafka Server started" "$LOGS/$name.log"
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

# A mail sink on loopback (services/mail_sink.py): the first reminders are delivered, each a
# .eml file in $STACK_DIR/mail/, on a machine with no mail relay.
up_mail() {
  if pid_alive mail; then say "mail already running"; return; fi
  check_port_free "$MAIL_PORT" "the mail sink" IOC_MAIL_PORT mail
  [ -x "$VENV/bin/python" ] || die "$VENV/bin/python is missing: run 'make venv' first"
  say "starting mail (127.0.0.1:$MAIL_PORT, messages in $STACK_DIR/mail/)"
  (
    cd "$ROOT"
    nohup "$VENV/bin/python" -m services.mail_sink --dir "$STACK_DIR/mail" --port "$MAIL_PORT" \
      >>"$LOGS/mail.log" 2>&1 </dev/null &
    echo $! >"$RUN/mail.pid"
  )
  wait_until mail "$LOGS/mail.log" mail_ready
}

mail_ready() {
  pid_alive mail || { tail -n 30 "$LOGS/mail.log" >&2; die "mail exited (log: $LOGS/mail.log)"; }
  port_open "$MAIL_PORT"
}

api_ready() {
  pid_alive api || { tail -n 30 "$LOGS/api.log" >&2; die "api exited (log: $LOGS/api.log)"; }
  port_open "$API_PORT"
}

up_worker() { start_process worker worker; }

# The simulated platform's address and key, which the simulator's APIs and the connectors share:
# the key made once per stack, kept in a file only its owner reads.
lgsp_env() {
  export IOC_LGSP_URL=${IOC_LGSP_URL:-http://127.0.0.1:$SIMULATOR_API_PORT}
  if [ -z "${IOC_LGSP_KEY:-}" ] && [ -z "${IOC_LGSP_KEY_FILE:-}" ]; then
    local key_file=$STACK_DIR/lgsp.key
    [ -s "$key_file" ] || (umask 077; od -An -N24 -tx1 /dev/urandom | tr -d ' \n' >"$key_file")
    export IOC_LGSP_KEY_FILE=$key_file
  fi
}

up_simulator() {
  rm -f "$RUN/simulator.left-out"
  if ! pid_alive simulator; then
    check_port_free "$SIMULATOR_API_PORT" simulator IOC_SIMULATOR_API_PORT simulator
  fi
  lgsp_env
  export IOC_SIMULATOR_API_PORT=$SIMULATOR_API_PORT
  start_process simulator simulate
  wait_until simulator "$LOGS/simulator.log" simulator_ready
}
# `make up` with IOC_SIMULATE=0: stopped if running, and `status` says it was left out on purpose.
leave_out_simulator() { down_simulator; touch "$RUN/simulator.left-out"; }
simulator_ready() {
  pid_alive simulator || die "simulator exited (log: $LOGS/simulator.log)"
  port_open "$SIMULATOR_API_PORT"
}

# Started where connectors are defined: the examples pull the simulator's department APIs.
up_connectors() {
  if ! compgen -G "$CONNECTORS_DIR/*.yaml" >/dev/null; then
    say "no connector definitions in $CONNECTORS_DIR: the connectors are not started"
    return
  fi
  if ! pid_alive connectors; then
    check_port_free "$CONNECTORS_METRICS_PORT" connectors IOC_CONNECTORS_METRICS_PORT connectors
  fi
  lgsp_env
  export IOC_CONNECTORS_DIR=$CONNECTORS_DIR IOC_CONNECTORS_METRICS_PORT=$CONNECTORS_METRICS_PORT
  start_process connectors connectors run
  wait_until connectors "$LOGS/connectors.log" connectors_ready
}
connectors_ready() {
  pid_alive connectors || die "connectors exited (log: $LOGS/connectors.log)"
  port_open "$CONNECTORS_METRICS_PORT"
}
up_api() {
  if ! pid_alive api; then check_port_free "$API_PORT" api IOC_API_PORT api; fi
  # The reminders' PDF notices need a font with Vietnamese letters (IOC_PDF_FONT).
  [ -n "${IOC_PDF_FONT:-}" ] || [ -f "$DEJAVU" ] || apt_install fonts-dejavu-core
  # The local mail sink (up_mail) is the API's relay unless the environment names one.
  (
    if [ -z "${IOC_SMTP_HOST:-}" ]; then
      export IOC_SMTP_HOST=127.0.0.1 IOC_SMTP_PORT=$MAIL_PORT IOC_MAIL_SINK_DIR=$STACK_DIR/mail
    fi
    start_process api api --port "$API_PORT"
  )
  wait_until api "$LOGS/api.log" api_ready
}

stop_process() {
  local name=$1
  if pid_alive "$name"; then
    say "stopping $name"
    local pid; pid=$(cat "$RUN/$name.pid")
    kill -TERM "$pid"
    for _ in $(seq 1 60); do process_alive "$pid" || break; sleep 0.5; done
    if process_alive "$pid"; then say "$name did not stop in 30s; killing it"; kill -KILL "$pid"; fi
  fi
  rm -f "$RUN/$name.pid"
}

down_kafka() {
  local n
  # Together: stopped one by one, a cluster's last node would wait for a quorum that is gone.
  for n in $(seq 1 "$KAFKA_NODES"); do stop_process "$(node_name "$n")" & done
  wait
}
down_worker() { stop_process worker; }
down_api() { stop_process api; }
down_simulator() { stop_process simulator; }
down_connectors() { stop_process connectors; }
down_mail() { stop_process mail; }

status() {
  local name
  if pg_running; then say "postgres  running  127.0.0.1:$PG_PORT"; else say "postgres  stopped"; fi
  local n nodes=()
  for n in $(seq 1 "$KAFKA_NODES"); do nodes+=("$(node_name "$n")"); done
  for name in "${nodes[@]}" mail worker api simulator connectors; do
    if pid_alive "$name"; then say "$(printf '%-9s' "$name") running  pid $(cat "$RUN/$name.pid")"
    elif [ -f "$RUN/$name.left-out" ]; then
      say "$(printf '%-9s' "$name") left out (IOC_SIMULATE=0 at make up; make up to start it)"
    else say "$(printf '%-9s' "$name") stopped"; fi
  done
}

# The store's TimescaleDB, and the tests' own tools: Prometheus and promtool (alert rules),
# Chromium (the wall page), faketime (no test tied to the real clock).
tools() {
  "$ROOT/deploy/timescaledb.sh"
  if ! command -v promtool >/dev/null || ! command -v prometheus >/dev/null; then
    apt_install prometheus
  fi
  command -v chromium >/dev/null || apt_install chromium
  command -v pgbackrest >/dev/null || apt_install pgbackrest  # the point-in-time restore test
  command -v systemd-analyze >/dev/null || apt_install systemd  # the units' checks
  command -v buildah >/dev/null || apt_install buildah  # the image's test
  command -v debootstrap >/dev/null || apt_install debootstrap
  command -v faketime >/dev/null || apt_install faketime  # the suite again a year ahead
  # The reminders' PDF notices: a font with Vietnamese letters (IOC_PDF_FONT).
  [ -f "$DEJAVU" ] || apt_install fonts-dejavu-core
}

main() {
  local command=${1:-status}; shift || true
  if [ "$command" = bootstrap ]; then bootstrap; return; fi
  mkdir -p "$LOGS" "$RUN"
  case $command in
    up)
      local services=("$@"); [ ${#services[@]} -gt 0 ] || services=(postgres kafka)
      for s in "${services[@]}"; do "up_$s"; done ;;
    down)
      local services=("$@"); [ ${#services[@]} -gt 0 ] || services=(connectors simulator api worker mail kafka postgres)
      for s in "${services[@]}"; do "down_$s"; done ;;
    status) status ;;
    leave-out)
      for s in "$@"; do "leave_out_$s"; done ;;
    tools) tools ;;
    reset)
      main down
      say "wiping $STACK_DIR"
      if [ -L "$PG_LINK" ]; then rm -rf "$PG_DIR"; fi
      rm -rf "$STACK_DIR" ;;
    *) die "unknown command '$command' (up, down, leave-out, status, reset, tools, bootstrap)" ;;
  esac
}

main "$@"
