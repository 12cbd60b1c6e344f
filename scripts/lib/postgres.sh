# shellcheck shell=bash
# PostgreSQL from Debian's packages, run as the `postgres` OS user (initdb and
# postgres refuse to run as root). Data: $STACK_DIR/postgres/data when the
# postgres user can reach it; see pg_base_dir for the fallback.

PG_LOG_NAME="postgres.log"

# pg_bin_dir: newest /usr/lib/postgresql/<major>/bin that has initdb, or nothing.
pg_bin_dir() {
  local d
  d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
  [[ -n "$d" && -x "$d/initdb" && -x "$d/pg_ctl" ]] && echo "$d"
  return 0
}

# can_reach_as_postgres DIR: can the postgres user traverse every parent of DIR?
can_reach_as_postgres() {
  runuser -u postgres -- test -x "$1" 2>/dev/null
}

# pg_base_dir: where the cluster lives. Normally $STACK_DIR/postgres. If the
# postgres user cannot traverse $STACK_DIR (e.g. a clone under /root, mode 700),
# use $ECHOMIND_CACHE/postgres/<hash of STACK_DIR> when that is reachable, else
# /var/tmp/echomind-connector/<hash>. The hash keeps clones apart.
pg_base_dir() {
  if can_reach_as_postgres "$STACK_DIR"; then echo "$STACK_DIR/postgres"; return; fi
  local key; key="$(printf '%s' "$STACK_DIR" | sha1sum | cut -c1-12)"
  mkdir -p "$ECHOMIND_CACHE"
  if can_reach_as_postgres "$ECHOMIND_CACHE"; then echo "$ECHOMIND_CACHE/postgres/$key"
  else echo "/var/tmp/echomind-connector/$key/postgres"; fi
}

pg_paths() {
  PG_BIN="$(pg_bin_dir)"
  PG_BASE="$(pg_base_dir)"
  PGDATA_DIR="$PG_BASE/data"
  PG_SOCKET_DIR="$PG_BASE/run"
  PG_LOG="$PG_BASE/$PG_LOG_NAME"
}

as_postgres() { (cd / && runuser -u postgres -- "$@"); }

postgres_install() {
  if [[ -n "$(pg_bin_dir)" ]]; then
    log "postgres: found $(pg_bin_dir)"
    return 0
  fi
  local t0; t0=$(now_s)
  log "postgres: not found; installing Debian's postgresql package"
  # Do not let the package create and start its own cluster on port 5432.
  local conf=/etc/postgresql-common/createcluster.conf
  mkdir -p "$(dirname "$conf")"
  if grep -qE '^[#[:space:]]*create_main_cluster' "$conf" 2>/dev/null; then
    sed -i -E 's/^[#[:space:]]*create_main_cluster.*/create_main_cluster = false/' "$conf"
  else
    echo "create_main_cluster = false" >>"$conf"
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || die "postgres: apt-get update failed"
  apt-get install -y -q -o Dpkg::Options::=--force-confold postgresql ||
    die "postgres: apt-get install postgresql failed"
  [[ -n "$(pg_bin_dir)" ]] || die "postgres: installed, but no /usr/lib/postgresql/*/bin/initdb"
  log "postgres: installed in $(( $(now_s) - t0 ))s"
}

postgres_version() { pg_paths; "$PG_BIN/postgres" --version 2>/dev/null; }

pg_ready() {
  "$PG_BIN/pg_isready" -q -h "$BIND_HOST" -p "$PGPORT" -t 2
}

# psql as the postgres superuser over the unix socket (trust auth there).
pg_admin_psql() {
  "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCKET_DIR" -p "$PGPORT" -U postgres -d postgres "$@"
}

postgres_initdb() {
  [[ -s "$PGDATA_DIR/PG_VERSION" ]] && return 0
  log "postgres: initdb in $PGDATA_DIR"
  mkdir -p "$PGDATA_DIR"
  chown -R postgres:postgres "$PG_BASE"
  chmod 700 "$PGDATA_DIR"
  as_postgres "$PG_BIN/initdb" -D "$PGDATA_DIR" -U postgres -E UTF8 --no-locale \
    --auth-local=trust --auth-host=scram-sha-256 >>"$PG_LOG" 2>&1 ||
    { fail_server postgres "$PG_LOG" "initdb failed"; return 1; }
}

# Role and databases; safe to re-run.
postgres_bootstrap() {
  local db
  # The password reaches psql through the environment, never through argv.
  PG_BOOTSTRAP_PASSWORD="$PG_PASSWORD" pg_admin_psql -v role="$PG_USER" <<'SQL' >/dev/null || return 1
\getenv pw PG_BOOTSTRAP_PASSWORD
SELECT format('CREATE ROLE %I LOGIN SUPERUSER PASSWORD %L', :'role', :'pw')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role') \gexec
SELECT format('ALTER ROLE %I LOGIN SUPERUSER PASSWORD %L', :'role', :'pw') \gexec
SQL
  for db in $PG_DATABASES; do
    pg_admin_psql -v db="$db" -v role="$PG_USER" <<'SQL' >/dev/null || return 1
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'role')
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'db') \gexec
SQL
  done
}

# If our cluster is running but its PID file in $RUN_DIR was lost, take it back.
postgres_adopt() {
  local pid
  [[ -z "$(read_pid postgres)" && -f "$PGDATA_DIR/postmaster.pid" ]] || return 0
  pid="$(head -1 "$PGDATA_DIR/postmaster.pid")"
  pid_alive "$pid" && write_pid postgres "$pid" postgres
  return 0
}

postgres_up() {
  pg_paths
  [[ -n "$PG_BIN" ]] || { fail_server postgres "" "binaries missing (run: bash scripts/stack.sh install)"; return 1; }
  postgres_adopt
  case "$(running_state postgres "$PGPORT")" in
    ours)
      if pg_ready; then log "postgres: already running (PID $(read_pid postgres))"; return 0; fi ;;
    foreign)
      fail_server postgres "$PG_LOG" "cannot start: port $PGPORT is already used by a process this script did not start (set PGPORT)"
      return 1 ;;
    stopped)
      mkdir -p "$PG_BASE" "$PG_SOCKET_DIR" "$LOG_DIR"
      [[ "$PG_BASE" == "$STACK_DIR/postgres" ]] || log "postgres: $STACK_DIR is not reachable by the postgres user; data lives in $PG_BASE"
      touch "$PG_LOG"
      chown postgres:postgres "$PG_BASE" "$PG_SOCKET_DIR" "$PG_LOG"
      postgres_initdb || return 1
      ln -sfn "$PG_LOG" "$LOG_DIR/postgres.log"
      log "postgres: starting on $BIND_HOST:$PGPORT"
      printf '=== postgres starting at %s\n' "$(date -u +%FT%TZ)" >>"$PG_LOG"
      if ! as_postgres "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -l "$PG_LOG" -s -w -t "$STACK_START_TIMEOUT" \
          -o "-c listen_addresses=$BIND_HOST -c port=$PGPORT -c unix_socket_directories='$PG_SOCKET_DIR'" \
          start >>"$PG_LOG" 2>&1; then
        fail_server postgres "$PG_LOG" "pg_ctl start failed"
        return 1
      fi
      write_pid postgres "$(head -1 "$PGDATA_DIR/postmaster.pid")" postgres ;;
  esac
  local rc=0
  wait_until "$STACK_START_TIMEOUT" "$(read_pid postgres)" pg_ready || rc=$?
  case $rc in
    0) ;;
    2) fail_server postgres "$PG_LOG" "exited during startup"; return 1 ;;
    *) fail_server postgres "$PG_LOG" "not ready after ${STACK_START_TIMEOUT}s (pg_isready on $PGPORT)"; return 1 ;;
  esac
  postgres_bootstrap || { fail_server postgres "$PG_LOG" "could not create role $PG_USER / databases $PG_DATABASES"; return 1; }
  log "postgres: ready (PID $(read_pid postgres)), databases: $PG_DATABASES"
}

# Fast shutdown through pg_ctl (SIGINT: disconnects clients, checkpoints), then
# the generic TERM/KILL as a last resort.
postgres_down() {
  pg_paths
  local pid; pid="$(read_pid postgres)"
  if pid_alive "$pid" && [[ -n "$PG_BIN" && -f "$PGDATA_DIR/postmaster.pid" ]] &&
     [[ "$(head -1 "$PGDATA_DIR/postmaster.pid")" == "$pid" ]]; then
    local t0; t0=$(now_s)
    as_postgres "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -s -m fast -t "$STACK_STOP_TIMEOUT" stop >>"$PG_LOG" 2>&1 || true
    # pg_ctl returns once postmaster.pid is gone, a moment before the process exits.
    if wait_pid_gone "$pid" 5; then
      log "postgres: stopped PID $pid (pg_ctl stop -m fast, $(( $(now_s) - t0 ))s)"
      rm -f "$(pid_file postgres)"
      return 0
    fi
  fi
  stop_pid postgres
}

postgres_status() {
  pg_paths
  local answers=no; [[ -n "$PG_BIN" ]] && pg_ready && answers=yes
  status_line postgres "$(live_pid postgres)" "$PGPORT" "$answers" "data $PGDATA_DIR"
  [[ $answers == yes ]]
}
