#!/usr/bin/env bash
# Real backing services for the Treeflow test suite and CI (dev/CI only).
#
#   scripts/services.sh up [NAME...]   start (default: all), idempotent, waits until healthy
#   scripts/services.sh down           stop whatever this checkout started; never fails
#   scripts/services.sh env            print `export VAR=value` lines for the tests:
#                                        eval "$(scripts/services.sh env)"
#   scripts/services.sh status         what runs, where
#   scripts/services.sh clean          down, then delete all service state (databases!)
#
# NAMEs: postgres, unleash (needs postgres, starts it), oidc, prometheus (only makes
# sure the `prometheus` and `promtool` binaries are installed; tests start it).
# Everything listens on 127.0.0.1 only. State (data, logs, pid files) lives in
# .ci/state/ of this checkout. See docs/runbooks/dev-services.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
STATE="$ROOT/.ci/state"
DEV_DIR="$ROOT/deploy/dev"
HOST=127.0.0.1
ALL_SERVICES=(postgres unleash oidc prometheus)

# Ports: fixed, non-default, clear of Temporal (7233, 8233). Override with these
# variables when a port is taken; `up` records the port it used and `env` prints that.
PG_PORT="${TREEFLOW_SERVICES_PG_PORT:-55432}"
UNLEASH_PORT="${TREEFLOW_SERVICES_UNLEASH_PORT:-4242}"
OIDC_PORT="${TREEFLOW_SERVICES_OIDC_PORT:-8765}"

# Seconds to wait for each thing before giving up (the script never waits unbounded).
PG_TIMEOUT="${TREEFLOW_SERVICES_PG_TIMEOUT:-90}"
UNLEASH_TIMEOUT="${TREEFLOW_SERVICES_UNLEASH_TIMEOUT:-180}"
OIDC_TIMEOUT="${TREEFLOW_SERVICES_OIDC_TIMEOUT:-60}"
INSTALL_TIMEOUT="${TREEFLOW_SERVICES_INSTALL_TIMEOUT:-900}"

# --- DEV-ONLY CONSTANTS --------------------------------------------------------------
# These are not secrets: they guard throw-away test services bound to 127.0.0.1 and
# are published in this repository on purpose. Never reuse them anywhere real.
PG_SUPERUSER_PASSWORD="treeflow-dev-only-superuser-pw"
PG_APP_USER="treeflow"
PG_APP_PASSWORD="treeflow-dev-only-pw"
PG_APP_DB="treeflow"
PG_UNLEASH_USER="unleash"
PG_UNLEASH_PASSWORD="unleash-dev-only-pw"
PG_UNLEASH_DB="unleash"
# Unleash token format is <project>:<environment>.<secret>. Admin tokens must be
# *:*; backend (client) tokens must name one environment.
UNLEASH_ADMIN_TOKEN="*:*.treeflow-dev-only-admin-token"
UNLEASH_CLIENT_TOKEN="*:development.treeflow-dev-only-client-token"
# --------------------------------------------------------------------------------------

log() { printf '[services] %s\n' "$*" >&2; }
die() {
  log "ERROR: $*"
  exit 1
}
# die_with_log LOGFILE MESSAGE: the error plus the end of the service's log.
die_with_log() {
  local logfile="$1"
  shift
  log "ERROR: $*"
  if [ -s "$logfile" ]; then
    log "----- last 40 lines of $logfile -----"
    tail -n 40 "$logfile" >&2 || true
    log "----- end of $logfile -----"
  else
    log "(log $logfile is empty or missing)"
  fi
  exit 1
}

is_root() { [ "$(id -u)" = 0 ]; }

now_ms() { date +%s%3N; }
since() { # since START_MS -> "1.23s"
  local d=$(($(now_ms) - $1))
  printf '%d.%02ds' $((d / 1000)) $((d % 1000 / 10))
}

# port_open PORT: something accepts TCP connections on 127.0.0.1:PORT.
port_open() {
  # shellcheck disable=SC2016 # $0/$1 are expanded by the inner bash
  timeout 3 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$HOST" "$1" 2>/dev/null
}

port_owner() {
  if command -v ss >/dev/null 2>&1; then
    ss -Hltnp "sport = :$1" 2>/dev/null | head -n 3 || true
  fi
}

# http_ok URL [HEADER]: URL answers 2xx within 5 seconds.
http_ok() {
  local url="$1" header="${2:-}"
  if command -v curl >/dev/null 2>&1; then
    if [ -n "$header" ]; then
      curl -fsS -o /dev/null --max-time 5 -H "$header" "$url" 2>/dev/null
    else
      curl -fsS -o /dev/null --max-time 5 "$url" 2>/dev/null
    fi
  else
    timeout 10 node -e '
      const h = process.argv[2] ? Object.fromEntries([process.argv[2].split(/:\s*/, 2)]) : {};
      fetch(process.argv[1], { headers: h, signal: AbortSignal.timeout(5000) })
        .then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1));' "$url" "$header" 2>/dev/null
  fi
}

# pid_alive PIDFILE NEEDLE: the recorded process runs and its command line contains
# NEEDLE (guards against a recycled pid).
pid_alive() {
  local pidfile="$1" needle="$2" pid
  [ -f "$pidfile" ] || return 1
  pid="$(cat "$pidfile" 2>/dev/null)" || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$needle"
}

recorded_port() { # recorded_port NAME DEFAULT
  local f="$STATE/$1/port"
  if [ -s "$f" ]; then cat "$f"; else printf '%s' "$2"; fi
}

APT_UPDATED=0
apt_install() {
  is_root || die "need to install Debian package(s) $* but not root: run 'sudo apt-get install -y $*' once"
  command -v apt-get >/dev/null 2>&1 || die "need Debian package(s) $* but apt-get is not available"
  local aptlog="$STATE/apt.log"
  export DEBIAN_FRONTEND=noninteractive
  if [ "$APT_UPDATED" = 0 ]; then
    log "apt-get update"
    timeout "$INSTALL_TIMEOUT" apt-get update -q </dev/null >>"$aptlog" 2>&1 ||
      die_with_log "$aptlog" "apt-get update failed"
    APT_UPDATED=1
  fi
  log "apt-get install $*"
  timeout "$INSTALL_TIMEOUT" apt-get install -y -q --no-install-recommends "$@" </dev/null >>"$aptlog" 2>&1 ||
    die_with_log "$aptlog" "apt-get install $* failed"
}

# ====================================================================== PostgreSQL ===

PG_BIN=""
pg_bindir_ok() { [ -x "$1/initdb" ] && [ -x "$1/pg_ctl" ] && [ -x "$1/postgres" ] && [ -x "$1/psql" ]; }

find_pg_bindir() {
  local c resolved
  local candidates=()
  [ -n "${TREEFLOW_PG_BINDIR:-}" ] && candidates+=("$TREEFLOW_PG_BINDIR")
  candidates+=(/usr/lib/postgresql/15/bin)
  if command -v pg_ctl >/dev/null 2>&1; then
    resolved="$(readlink -f "$(command -v pg_ctl)")"
    candidates+=("$(dirname "$resolved")")
  fi
  if command -v pg_config >/dev/null 2>&1; then
    candidates+=("$(pg_config --bindir 2>/dev/null || true)")
  fi
  while IFS= read -r c; do candidates+=("$c"); done < <(printf '%s\n' /usr/lib/postgresql/*/bin | sort -rV)
  for c in "${candidates[@]}"; do
    [ -n "$c" ] && pg_bindir_ok "$c" && {
      printf '%s' "$c"
      return 0
    }
  done
  return 1
}

ensure_pg_binaries() {
  [ -n "$PG_BIN" ] && return 0
  if ! PG_BIN="$(find_pg_bindir)"; then
    log "PostgreSQL server binaries not found; installing Debian package postgresql-15"
    apt_install postgresql-15
    PG_BIN="$(find_pg_bindir)" || die "PostgreSQL server binaries still not found after installing postgresql-15"
  fi
  local version
  version="$("$PG_BIN/postgres" --version 2>/dev/null || true)"
  case "$version" in
    *" 15."*) ;;
    *) log "warning: expected PostgreSQL 15, found '$version' in $PG_BIN" ;;
  esac
  if is_root; then
    id postgres >/dev/null 2>&1 ||
      die "running as root but there is no 'postgres' system user (PostgreSQL refuses to run as root); install postgresql-15 or create the user"
  fi
}

# as_pg CMD...: run a command as the user that owns the cluster (postgres when root).
as_pg() {
  if is_root; then
    if command -v runuser >/dev/null 2>&1; then
      runuser -u postgres -- "$@"
    else
      su -s /bin/sh postgres -c "$(printf '%q ' "$@")"
    fi
  else
    "$@"
  fi
}

# The cluster lives in .ci/state/postgres/cluster, owned by the postgres user. If
# that user cannot reach it (a parent directory such as /root is not searchable),
# fall back to a private directory under /tmp (recorded in .ci/state/postgres/home).
PG_HOME=""
pg_home() {
  [ -n "$PG_HOME" ] && return 0
  local meta="$STATE/postgres"
  if [ -s "$meta/home" ]; then
    PG_HOME="$(cat "$meta/home")"
    return 0
  fi
  PG_HOME="$meta/cluster"
}

pg_prepare_home() {
  local meta="$STATE/postgres"
  mkdir -p "$meta"
  pg_home
  mkdir -p "$PG_HOME"
  if is_root; then
    chown postgres: "$PG_HOME"
    chmod 700 "$PG_HOME"
    if ! as_pg test -w "$PG_HOME" 2>/dev/null; then
      local fallback
      fallback="${TMPDIR:-/tmp}/treeflow-services-$(printf '%s' "$ROOT" | sha256sum | cut -c1-12)/postgres"
      log "warning: the postgres user cannot reach $PG_HOME (a parent directory is not searchable);"
      log "         keeping the cluster in $fallback instead"
      rmdir "$PG_HOME" 2>/dev/null || true
      mkdir -p "$fallback"
      chmod 711 "$(dirname "$fallback")"
      chown postgres: "$fallback"
      chmod 700 "$fallback"
      as_pg test -w "$fallback" || die "the postgres user cannot write $fallback either"
      PG_HOME="$fallback"
      printf '%s\n' "$PG_HOME" >"$meta/home"
    fi
  fi
}

pg_data() { printf '%s/data' "$PG_HOME"; }
pg_log() { printf '%s/postgres.log' "$PG_HOME"; }

pg_running() {
  pg_home
  [ -f "$(pg_data)/PG_VERSION" ] || return 1
  [ -n "$PG_BIN" ] || PG_BIN="$(find_pg_bindir)" || return 1
  (cd / && as_pg "$PG_BIN/pg_ctl" -D "$(pg_data)" status >/dev/null 2>&1)
}

pg_psql_super() { # pg_psql_super DB [psql args...]
  local db="$1"
  shift
  PGPASSWORD="$PG_SUPERUSER_PASSWORD" PGCONNECT_TIMEOUT=5 timeout 60 \
    "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$HOST" -p "$(recorded_port postgres "$PG_PORT")" \
    -U postgres -d "$db" "$@"
}

pg_initdb() {
  local data pwfile
  data="$(pg_data)"
  log "postgres: initdb $data"
  pwfile="$PG_HOME/.pwfile"
  printf '%s\n' "$PG_SUPERUSER_PASSWORD" >"$pwfile"
  is_root && chown postgres: "$pwfile"
  chmod 600 "$pwfile"
  if ! (cd / && as_pg "$PG_BIN/initdb" -D "$data" -U postgres --pwfile="$pwfile" \
    --auth-local=peer --auth-host=scram-sha-256 --encoding=UTF8 --locale=C \
    >"$STATE/postgres/initdb.log" 2>&1); then
    rm -f "$pwfile"
    die_with_log "$STATE/postgres/initdb.log" "postgres: initdb failed"
  fi
  rm -f "$pwfile"
  # Throw-away test cluster: trade durability for speed; TCP on loopback only.
  cat >>"$data/postgresql.conf" <<'EOF'

# --- treeflow dev/CI settings (scripts/services.sh); never use these in production ---
unix_socket_directories = ''
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
log_line_prefix = '%m [%p] %q%u@%d '
EOF
}

pg_provision() {
  # Idempotent: roles and databases are created if missing, passwords reset.
  pg_psql_super postgres <<SQL
DO \$\$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PG_APP_USER') THEN
    CREATE ROLE $PG_APP_USER LOGIN;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PG_UNLEASH_USER') THEN
    CREATE ROLE $PG_UNLEASH_USER LOGIN;
  END IF;
END
\$\$;
ALTER ROLE $PG_APP_USER WITH LOGIN CREATEDB PASSWORD '$PG_APP_PASSWORD';
ALTER ROLE $PG_UNLEASH_USER WITH LOGIN PASSWORD '$PG_UNLEASH_PASSWORD';
SELECT 'CREATE DATABASE $PG_APP_DB OWNER $PG_APP_USER'
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$PG_APP_DB') \gexec
SELECT 'CREATE DATABASE $PG_UNLEASH_DB OWNER $PG_UNLEASH_USER'
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$PG_UNLEASH_DB') \gexec
SQL
}

PG_CHECKED=0
up_postgres() {
  [ "$PG_CHECKED" = 1 ] && return 0
  ensure_pg_binaries
  pg_prepare_home
  local data logfile start_ts
  data="$(pg_data)"
  logfile="$(pg_log)"
  if pg_running; then
    log "postgres: already running on $HOST:$(recorded_port postgres "$PG_PORT")"
  else
    [ -f "$data/PG_VERSION" ] || pg_initdb
    if port_open "$PG_PORT"; then
      log "$(port_owner "$PG_PORT")"
      die "postgres: port $HOST:$PG_PORT is already in use by a process this checkout did not start; stop it or set TREEFLOW_SERVICES_PG_PORT"
    fi
    log "postgres: starting on $HOST:$PG_PORT ($PG_BIN)"
    start_ts=$(now_ms)
    # 9>&- : do not hand our lock file to the server.
    if ! (cd / && as_pg "$PG_BIN/pg_ctl" -D "$data" -l "$logfile" -w -t "$PG_TIMEOUT" \
      -o "-p $PG_PORT -c listen_addresses=$HOST" start >"$STATE/postgres/pg_ctl.log" 2>&1 9>&-); then
      cat "$STATE/postgres/pg_ctl.log" >&2 || true
      die_with_log "$logfile" "postgres: did not start within ${PG_TIMEOUT}s"
    fi
    printf '%s\n' "$PG_PORT" >"$STATE/postgres/port"
    log "postgres: up in $(since "$start_ts")"
  fi
  # Really healthy = accepts an authenticated query.
  local deadline=$((SECONDS + PG_TIMEOUT))
  until pg_psql_super postgres -c 'SELECT 1' >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || die_with_log "$logfile" "postgres: not answering queries after ${PG_TIMEOUT}s"
    sleep 0.2
  done
  pg_provision || die_with_log "$logfile" "postgres: creating roles/databases failed"
  PG_CHECKED=1
}

down_postgres() {
  pg_home
  local data
  data="$(pg_data)"
  [ -f "$data/PG_VERSION" ] || return 0
  [ -f "$data/postmaster.pid" ] || return 0
  if pg_running; then
    log "postgres: stopping"
    if ! (cd / && as_pg "$PG_BIN/pg_ctl" -D "$data" -m fast -w -t 30 stop >/dev/null 2>&1); then
      local pid
      pid="$(head -n 1 "$data/postmaster.pid" 2>/dev/null || true)"
      if [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
        log "postgres: fast shutdown timed out; immediate shutdown of pid $pid"
        (cd / && as_pg "$PG_BIN/pg_ctl" -D "$data" -m immediate -w -t 15 stop >/dev/null 2>&1) ||
          kill -KILL "$pid" 2>/dev/null || true
      fi
    fi
  fi
  rm -f "$STATE/postgres/port"
}

# ================================================================= Node services ===

NODE_READY=0
ensure_node_deps() {
  [ "$NODE_READY" = 1 ] && return 0
  command -v node >/dev/null 2>&1 || die "node (>= 20.19) is required for Unleash and the OIDC mock; it is not on PATH"
  command -v npm >/dev/null 2>&1 || die "npm is required to install deploy/dev; it is not on PATH"
  local major
  major="$(node -p 'process.versions.node.split(".")[0]')"
  [ "$major" -ge 20 ] || die "node $(node --version) is too old; Unleash 8.2.0 and oauth2-mock-server 8 need >= 20.19"
  local stamp="$DEV_DIR/node_modules/.treeflow-installed"
  if [ ! -f "$stamp" ] || [ "$DEV_DIR/package-lock.json" -nt "$stamp" ] || [ "$DEV_DIR/package.json" -nt "$stamp" ]; then
    local npmlog="$STATE/npm-install.log" start_ts
    start_ts=$(now_ms)
    mkdir -p "$STATE"
    # --ignore-scripts: nothing in these packages needs an install script (they only
    # run telemetry or optional native builds we do not use).
    if [ -f "$DEV_DIR/package-lock.json" ]; then
      log "npm ci in deploy/dev (first run takes ~30-60s)"
      (cd "$DEV_DIR" && timeout "$INSTALL_TIMEOUT" npm ci --no-audit --no-fund --ignore-scripts \
        </dev/null >"$npmlog" 2>&1 9>&-) || die_with_log "$npmlog" "npm ci in deploy/dev failed"
    else
      log "npm install in deploy/dev (no package-lock.json yet: commit the one this creates)"
      (cd "$DEV_DIR" && timeout "$INSTALL_TIMEOUT" npm install --no-audit --no-fund --ignore-scripts \
        </dev/null >"$npmlog" 2>&1 9>&-) || die_with_log "$npmlog" "npm install in deploy/dev failed"
    fi
    touch "$stamp"
    log "deploy/dev node modules installed in $(since "$start_ts")"
  fi
  NODE_READY=1
}

# start_node NAME SCRIPT PORT HEALTH_URL TIMEOUT [ENV=VALUE...]
start_node() {
  local name="$1" script="$2" port="$3" health="$4" wait_s="$5"
  shift 5
  local dir="$STATE/$name"
  local pidfile="$dir/pid" logfile="$dir/$name.log"
  mkdir -p "$dir"
  if pid_alive "$pidfile" "$script"; then
    local rport
    rport="$(recorded_port "$name" "$port")"
    health="${health/:$port\//:$rport/}"
    if http_ok "$health"; then
      log "$name: already running (pid $(cat "$pidfile")) on $HOST:$rport"
      return 0
    fi
    log "$name: process $(cat "$pidfile") runs but is not healthy yet; waiting"
  else
    ensure_node_deps
    if port_open "$port"; then
      log "$(port_owner "$port")"
      die "$name: port $HOST:$port is already in use by a process this checkout did not start; stop it or set TREEFLOW_SERVICES_${name^^}_PORT"
    fi
    log "$name: starting on $HOST:$port"
    printf '\n===== %s start %s =====\n' "$name" "$(date -u +%FT%TZ)" >>"$logfile"
    # setsid: own process group, so `down` can stop it and anything it spawned.
    # 9>&- : do not hand our lock file to the service.
    (cd "$DEV_DIR" && exec env "$@" setsid node "$script" >>"$logfile" 2>&1 </dev/null 9>&-) &
    printf '%s\n' "$!" >"$pidfile"
    printf '%s\n' "$port" >"$dir/port"
  fi
  local start_ts deadline=$((SECONDS + wait_s))
  start_ts=$(now_ms)
  until http_ok "$health"; do
    pid_alive "$pidfile" "$script" || die_with_log "$logfile" "$name: process exited before it became healthy"
    if [ "$SECONDS" -ge "$deadline" ]; then
      stop_node "$name" "$script"
      die_with_log "$logfile" "$name: $health not healthy after ${wait_s}s (stopped it)"
    fi
    sleep 0.2
  done
  log "$name: healthy after $(since "$start_ts") ($health)"
}

stop_node() { # stop_node NAME SCRIPT
  local name="$1" script="$2"
  local pidfile="$STATE/$name/pid" pid
  if pid_alive "$pidfile" "$script"; then
    pid="$(cat "$pidfile")"
    log "$name: stopping pid $pid"
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 30); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.5
    done
    if kill -0 "$pid" 2>/dev/null; then
      log "$name: did not stop within 15s; killing"
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$pidfile" "$STATE/$name/port"
}

unleash_url() { printf 'http://%s:%s' "$HOST" "$(recorded_port unleash "$UNLEASH_PORT")"; }
oidc_issuer() { printf 'http://%s:%s' "$HOST" "$(recorded_port oidc "$OIDC_PORT")"; }

up_unleash() {
  up_postgres
  local pgport
  pgport="$(recorded_port postgres "$PG_PORT")"
  start_node unleash unleash.mjs "$UNLEASH_PORT" "http://$HOST:$UNLEASH_PORT/health" "$UNLEASH_TIMEOUT" \
    "DATABASE_URL=postgres://$PG_UNLEASH_USER:$PG_UNLEASH_PASSWORD@$HOST:$pgport/$PG_UNLEASH_DB" \
    "DATABASE_SSL=false" \
    "HTTP_HOST=$HOST" "HTTP_PORT=$UNLEASH_PORT" \
    "UNLEASH_URL=http://$HOST:$UNLEASH_PORT" \
    "INIT_ADMIN_API_TOKENS=$UNLEASH_ADMIN_TOKEN" \
    "INIT_BACKEND_API_TOKENS=$UNLEASH_CLIENT_TOKEN" \
    "CHECK_VERSION=false" "SEND_TELEMETRY=false" "LOG_LEVEL=info" "TZ=UTC"
  # Healthy also means the dev tokens work (they are created only in an empty DB).
  local base
  base="$(unleash_url)"
  http_ok "$base/api/admin/projects" "Authorization: $UNLEASH_ADMIN_TOKEN" ||
    die_with_log "$STATE/unleash/unleash.log" "unleash: the dev admin token is rejected by $base/api/admin (a DB from an older token set? run 'scripts/services.sh clean')"
  http_ok "$base/api/client/features" "Authorization: $UNLEASH_CLIENT_TOKEN" ||
    die_with_log "$STATE/unleash/unleash.log" "unleash: the dev client token is rejected by $base/api/client (run 'scripts/services.sh clean')"
}

up_oidc() {
  start_node oidc oidc.mjs "$OIDC_PORT" "http://$HOST:$OIDC_PORT/.well-known/openid-configuration" "$OIDC_TIMEOUT" \
    "OIDC_HOST=$HOST" "OIDC_PORT=$OIDC_PORT" "OIDC_KEY_FILE=$STATE/oidc/signing-key.jwk.json"
}

# ==================================================================== Prometheus ===

find_bin() { # find_bin NAME: on PATH, or where the Debian package puts it
  command -v "$1" 2>/dev/null && return 0
  [ -x "/usr/bin/$1" ] && printf '/usr/bin/%s\n' "$1" && return 0
  return 1
}

up_prometheus() {
  if ! find_bin prometheus >/dev/null || ! find_bin promtool >/dev/null; then
    local start_ts
    start_ts=$(now_ms)
    apt_install prometheus
    log "prometheus: installed in $(since "$start_ts")"
  fi
  if ! find_bin prometheus >/dev/null || ! find_bin promtool >/dev/null; then
    die "prometheus: binaries prometheus/promtool still missing after apt-get install prometheus"
  fi
  log "prometheus: $(find_bin prometheus), $(find_bin promtool) ($("$(find_bin promtool)" --version 2>&1 | head -n 1))"
}

# ====================================================================== commands ===

lock() {
  mkdir -p "$STATE"
  exec 9>"$STATE/.lock"
  flock -w 600 9 || die "another scripts/services.sh is still running in this checkout (waited 600s for $STATE/.lock)"
}

cmd_up() {
  local names=("$@") n
  [ "${#names[@]}" -gt 0 ] || names=("${ALL_SERVICES[@]}")
  for n in "${names[@]}"; do
    case "$n" in
      postgres | unleash | oidc | prometheus) ;;
      *) die "unknown service '$n' (known: ${ALL_SERVICES[*]})" ;;
    esac
  done
  lock
  local total
  total=$(now_ms)
  for n in "${names[@]}"; do "up_$n"; done
  log "up (${names[*]}) done in $(since "$total"); load the settings with: eval \"\$(scripts/services.sh env)\""
}

cmd_down() {
  lock
  # Never fail: stop what can be stopped, report the rest.
  stop_node oidc oidc.mjs || true
  stop_node unleash unleash.mjs || true
  down_postgres || log "postgres: stop failed (see $(pg_log))"
  log "down"
}

cmd_env() {
  local pgport
  pgport="$(recorded_port postgres "$PG_PORT")"
  cat <<EOF
# Treeflow test services (scripts/services.sh). Tokens and passwords are DEV-ONLY constants.
export TREEFLOW_TEST_DATABASE_URL='postgresql+asyncpg://$PG_APP_USER:$PG_APP_PASSWORD@$HOST:$pgport/$PG_APP_DB'
export TREEFLOW_TEST_UNLEASH_URL='$(unleash_url)/api'
export TREEFLOW_TEST_UNLEASH_ADMIN_TOKEN='$UNLEASH_ADMIN_TOKEN'
export TREEFLOW_TEST_UNLEASH_CLIENT_TOKEN='$UNLEASH_CLIENT_TOKEN'
export TREEFLOW_TEST_OIDC_ISSUER='$(oidc_issuer)'
EOF
  local b
  if b="$(find_bin prometheus)"; then
    printf "export TREEFLOW_TEST_PROMETHEUS_BIN='%s'\n" "$b"
  else
    printf '# prometheus not installed: run scripts/services.sh up prometheus\n'
  fi
  if b="$(find_bin promtool)"; then
    printf "export TREEFLOW_TEST_PROMTOOL_BIN='%s'\n" "$b"
  else
    printf '# promtool not installed: run scripts/services.sh up prometheus\n'
  fi
}

cmd_status() {
  local rc=0
  if pg_running 2>/dev/null; then
    echo "postgres    running  $HOST:$(recorded_port postgres "$PG_PORT")  data $(pg_data)  log $(pg_log)"
  else
    echo "postgres    stopped"
    rc=3
  fi
  local n s
  for n in unleash oidc; do
    s="$n.mjs"
    if pid_alive "$STATE/$n/pid" "$s"; then
      echo "$(printf '%-11s' "$n") running  $HOST:$(recorded_port "$n" "?")  pid $(cat "$STATE/$n/pid")  log $STATE/$n/$n.log"
    else
      echo "$(printf '%-11s' "$n") stopped"
      rc=3
    fi
  done
  if find_bin prometheus >/dev/null && find_bin promtool >/dev/null; then
    echo "prometheus  installed $(find_bin prometheus) $(find_bin promtool) (tests start it)"
  else
    echo "prometheus  not installed"
    rc=3
  fi
  return "$rc"
}

cmd_clean() {
  cmd_down
  pg_home
  log "removing service state in $STATE (databases, logs, keys)"
  # A /tmp fallback cluster (see pg_prepare_home) is ours too.
  case "$PG_HOME" in
    "$STATE"/*) ;;
    *)
      rm -rf "$PG_HOME"
      rmdir "$(dirname "$PG_HOME")" 2>/dev/null || true
      ;;
  esac
  rm -rf "$STATE/postgres" "$STATE/unleash" "$STATE/oidc"
}

usage() {
  sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

main() {
  local cmd="${1:-}"
  [ $# -gt 0 ] && shift
  case "$cmd" in
    up) cmd_up "$@" ;;
    down) cmd_down ;;
    env) cmd_env ;;
    status) cmd_status ;;
    clean) cmd_clean ;;
    -h | --help | help) usage ;;
    *) usage ;;
  esac
}

main "$@"
