# shellcheck shell=bash
# Temporal's own server (STACK_TEMPORAL=server): `temporal-server` on the
# stack's PostgreSQL (databases temporal and temporal_visibility, persistence and
# visibility), configured by deploy/temporal/config.yaml, schema, namespace and
# search attributes set up by deploy/temporal/setup.sh (the same files
# docker-compose.yml's production-temporal profile runs), plus the Web UI server.
# Sourced after temporal.sh: redefines temporal_install/up/down/status/version.

TEMPORAL_SERVER_BIN="$BIN_DIR/temporal-server"
TEMPORAL_SQL_TOOL_BIN="$BIN_DIR/temporal-sql-tool"
TEMPORAL_UI_SERVER_BIN="$BIN_DIR/temporal-ui-server"
TEMPORAL_DEPLOY_DIR="$REPO_ROOT/deploy/temporal"
TEMPORAL_UI_LOG="$LOG_DIR/temporal-ui.log"
TEMPORAL_SETUP_LOG="$LOG_DIR/temporal-setup.log"

# Internal ports (history, matching, worker, membership): TEMPORAL_SERVER_PORT_BASE
# and the six after it; default TEMPORAL_PORT+100, so 7333-7339 beside 7233.
TEMPORAL_SERVER_PORT_BASE="${TEMPORAL_SERVER_PORT_BASE:-$(( TEMPORAL_PORT + 100 ))}"
# A first start on an empty database (system namespace, shards, membership) can take
# minutes on a loaded 2-core machine, more than the other servers' STACK_START_TIMEOUT.
TEMPORAL_SERVER_START_TIMEOUT="${TEMPORAL_SERVER_START_TIMEOUT:-300}"
# The HTTP API: TEMPORAL_HTTP_PORT, else TEMPORAL_PORT+10 (7243, the server's usual one).
TEMPORAL_SERVER_HTTP_PORT="${TEMPORAL_HTTP_PORT:-$(( TEMPORAL_PORT + 10 ))}"

# NAME=value lines: the environment deploy/temporal/config.yaml, setup.sh and the
# UI config read. Callers pass them with `local -x`, so they reach only the
# processes started there; the password goes through the environment, never argv.
temporal_server_env() {
  local b="$TEMPORAL_SERVER_PORT_BASE"
  printf '%s\n' \
    "POSTGRES_SEEDS=$BIND_HOST" "DB_PORT=$PGPORT" "POSTGRES_USER=$PG_USER" "POSTGRES_PWD=$PG_PASSWORD" \
    "DBNAME=temporal" "VISIBILITY_DBNAME=temporal_visibility" \
    "BIND_ON_IP=$BIND_HOST" "TEMPORAL_BROADCAST_ADDRESS=$BIND_HOST" \
    "FRONTEND_GRPC_PORT=$TEMPORAL_PORT" "FRONTEND_HTTP_PORT=$TEMPORAL_SERVER_HTTP_PORT" \
    "FRONTEND_MEMBERSHIP_PORT=$b" \
    "HISTORY_GRPC_PORT=$(( b + 1 ))" "HISTORY_MEMBERSHIP_PORT=$(( b + 2 ))" \
    "MATCHING_GRPC_PORT=$(( b + 3 ))" "MATCHING_MEMBERSHIP_PORT=$(( b + 4 ))" \
    "WORKER_GRPC_PORT=$(( b + 5 ))" "WORKER_MEMBERSHIP_PORT=$(( b + 6 ))" \
    "PROMETHEUS_ENDPOINT=${TEMPORAL_METRICS_PORT:+$BIND_HOST:$TEMPORAL_METRICS_PORT}" \
    "DYNAMIC_CONFIG_FILE_PATH=$TEMPORAL_DEPLOY_DIR/dynamicconfig.yaml" \
    "LOG_LEVEL=warn" "TEMPORAL_ALLOW_NO_AUTH=true" \
    "TEMPORAL_ADDRESS=$BIND_HOST:$TEMPORAL_PORT" "TEMPORAL_NAMESPACE=$TEMPORAL_NAMESPACE_NAME" \
    "TEMPORAL_SQL_TOOL=$TEMPORAL_SQL_TOOL_BIN" "TEMPORAL_CLI=$TEMPORAL_BIN" \
    "TEMPORAL_UI_HOST=$BIND_HOST" "TEMPORAL_UI_PORT=$TEMPORAL_UI_PORT"
}

# The CLI stays: setup.sh and the tests use it against either server.
temporal_install() {
  go_install_pinned temporal "$TEMPORAL_CLI_MODULE" "$TEMPORAL_CLI_VERSION" "$(temporal_ldflags)" || return 1
  go_install_pinned temporal-server "$TEMPORAL_SERVER_MODULE/cmd/server" "$TEMPORAL_SERVER_VERSION" "" server || return 1
  go_install_pinned temporal-sql-tool "$TEMPORAL_SERVER_MODULE/cmd/tools/sql" "$TEMPORAL_SERVER_VERSION" "" sql || return 1
  go_install_pinned temporal-ui-server "$TEMPORAL_UI_SERVER_MODULE/cmd/server" "$TEMPORAL_UI_SERVER_VERSION" "" server
}

temporal_version() {
  local v; v="$(go_module_version "$TEMPORAL_SERVER_BIN")"
  [[ -n "$v" ]] || return 1
  echo "temporal-server $v (temporal-sql-tool $(go_module_version "$TEMPORAL_SQL_TOOL_BIN"), ui-server $(go_module_version "$TEMPORAL_UI_SERVER_BIN"), CLI $("$TEMPORAL_BIN" --version 2>/dev/null | awk '{ print $3; exit }'))"
}

temporal_ready() {
  temporal_cli operator cluster health 2>/dev/null | grep -q SERVING &&
    temporal_cli operator namespace describe --namespace "$TEMPORAL_NAMESPACE_NAME" >/dev/null 2>&1 &&
    [[ "$(http_code "http://$BIND_HOST:$TEMPORAL_UI_PORT/")" == 200 ]]
}

temporal_setup() { # schema|namespace
  local -a vars; mapfile -t vars < <(temporal_server_env); local -x "${vars[@]}"
  printf '=== setup.sh %s at %s\n' "$1" "$(date -u +%FT%TZ)" >>"$TEMPORAL_SETUP_LOG"
  sh "$TEMPORAL_DEPLOY_DIR/setup.sh" "$1" >>"$TEMPORAL_SETUP_LOG" 2>&1
}

# temporal_start NAME LOGFILE CMD...: start_bg with the server environment.
temporal_start() {
  local -a vars; mapfile -t vars < <(temporal_server_env); local -x "${vars[@]}"
  start_bg "$@"
}

temporal_up() {
  local b="$TEMPORAL_SERVER_PORT_BASE" p
  case "$(running_state temporal "$TEMPORAL_PORT")" in
    ours)
      if [[ "$(basename "$(readlink "/proc/$(read_pid temporal)/exe" 2>/dev/null)")" != temporal-server ]]; then
        fail_server temporal "$TEMPORAL_LOG" "the dev server of this stack is running; 'bash scripts/stack.sh down' first"
        return 1
      fi ;;
    foreign)
      fail_server temporal "$TEMPORAL_LOG" "cannot start: port $TEMPORAL_PORT is already used by a process this script did not start (set TEMPORAL_PORT)"
      return 1 ;;
    stopped)
      for p in "$TEMPORAL_SERVER_HTTP_PORT" $(seq "$b" $(( b + 6 ))); do
        port_open "$p" && { fail_server temporal "$TEMPORAL_LOG" "cannot start: port $p is already in use (set TEMPORAL_HTTP_PORT / TEMPORAL_SERVER_PORT_BASE)"; return 1; }
      done
      [[ -x "$TEMPORAL_SERVER_BIN" ]] || { fail_server temporal "$TEMPORAL_LOG" "binary missing: $TEMPORAL_SERVER_BIN (run: STACK_TEMPORAL=server bash scripts/stack.sh install)"; return 1; }
      local t0; t0=$(now_s)
      temporal_setup schema ||
        { fail_server temporal-setup "$TEMPORAL_SETUP_LOG" "schema setup failed (PostgreSQL on $PGPORT)"; return 1; }
      log "temporal: schema of temporal, temporal_visibility up to date ($(( $(now_s) - t0 ))s)"
      log "temporal: starting temporal-server on $BIND_HOST:$TEMPORAL_PORT (internal ports $b-$(( b + 6 )), HTTP $TEMPORAL_SERVER_HTTP_PORT)"
      temporal_start temporal "$TEMPORAL_LOG" "$TEMPORAL_SERVER_BIN" --config-file "$TEMPORAL_DEPLOY_DIR/config.yaml" start ;;
  esac
  local rc=0
  wait_until "$TEMPORAL_SERVER_START_TIMEOUT" "$(read_pid temporal)" temporal_cluster_serving || rc=$?
  case $rc in
    0) ;;
    2) fail_server temporal "$TEMPORAL_LOG" "exited during startup"; return 1 ;;
    *) fail_server temporal "$TEMPORAL_LOG" "not ready after ${TEMPORAL_SERVER_START_TIMEOUT}s (cluster health on $TEMPORAL_PORT)"; return 1 ;;
  esac
  log "temporal: temporal-server answers on $BIND_HOST:$TEMPORAL_PORT"
  temporal_setup namespace ||
    { fail_server temporal-setup "$TEMPORAL_SETUP_LOG" "namespace/search attribute setup failed"; return 1; }
  temporal_ui_up || return 1
  log "temporal: ready (temporal-server PID $(read_pid temporal), $(temporal_shard_count) history shards), UI http://$BIND_HOST:$TEMPORAL_UI_PORT"
}

temporal_cluster_serving() { temporal_cli operator cluster health 2>/dev/null | grep -q SERVING; }

# The shard count the cluster actually runs with (from the server's own answer).
temporal_shard_count() {
  temporal_cli operator cluster describe -o json 2>/dev/null | grep -o '"historyShardCount": *[0-9]*' | grep -o '[0-9]*$'
}

temporal_ui_up() {
  case "$(running_state temporal-ui "$TEMPORAL_UI_PORT")" in
    ours) ;;
    foreign)
      fail_server temporal-ui "$TEMPORAL_UI_LOG" "cannot start: UI port $TEMPORAL_UI_PORT is already in use (set TEMPORAL_UI_PORT)"
      return 1 ;;
    stopped)
      [[ -x "$TEMPORAL_UI_SERVER_BIN" ]] || { fail_server temporal-ui "$TEMPORAL_UI_LOG" "binary missing: $TEMPORAL_UI_SERVER_BIN"; return 1; }
      temporal_start temporal-ui "$TEMPORAL_UI_LOG" "$TEMPORAL_UI_SERVER_BIN" --root "$TEMPORAL_DEPLOY_DIR" --config ui --env server start ;;
  esac
  local rc=0
  wait_until "$STACK_START_TIMEOUT" "$(read_pid temporal-ui)" temporal_ready || rc=$?
  case $rc in
    0) ;;
    2) fail_server temporal-ui "$TEMPORAL_UI_LOG" "exited during startup"; return 1 ;;
    *) fail_server temporal-ui "$TEMPORAL_UI_LOG" "not ready after ${STACK_START_TIMEOUT}s (UI on $TEMPORAL_UI_PORT)"; return 1 ;;
  esac
}

temporal_down() { stop_pid temporal-ui; stop_pid temporal; }

temporal_status() {
  local answers=no; [[ -x "$TEMPORAL_SERVER_BIN" ]] && temporal_ready && answers=yes
  status_line temporal "$(live_pid temporal)" "$TEMPORAL_PORT,$TEMPORAL_UI_PORT" "$answers" \
    "temporal-server $BIND_HOST:$TEMPORAL_PORT on PostgreSQL $PGPORT, UI http://$BIND_HOST:$TEMPORAL_UI_PORT (PID $(live_pid temporal-ui))"
  [[ $answers == yes ]]
}
