# shellcheck shell=bash
# Temporal dev server (`temporal server start-dev`, SQLite-backed, Web UI
# built in). Data: $STACK_DIR/temporal/temporal.db.

TEMPORAL_BIN="$BIN_DIR/temporal"
TEMPORAL_DATA="$STACK_DIR/temporal"
TEMPORAL_LOG="$LOG_DIR/temporal.log"
TEMPORAL_NAMESPACE_NAME="default"
# NAME=Type pairs registered in the namespace.
TEMPORAL_SEARCH_ATTRIBUTES=(ConnectorId=Int ConnectorType=Keyword SyncTrigger=Keyword)
# KEY=JSON dynamic config of the dev server (also docker-compose.yml's dev-temporal profile and
# the workflow tests' own dev servers). matching.useNewMatcher: dispatch by task priority, which
# Server 1.29.1 ignores without it (on by default from 1.32: deploy/temporal/dynamicconfig.yaml).
TEMPORAL_DEV_DYNAMIC_CONFIG=(matching.useNewMatcher=true)

# `temporal --version` reports 0.0.0-DEV unless the version is linked in.
temporal_ldflags() {
  echo "-s -w -X github.com/temporalio/cli/temporalcli.Version=${TEMPORAL_CLI_VERSION#v}"
}

# Installed only when module version and reported version both match the pin.
temporal_installed_version() {
  [[ -x "$TEMPORAL_BIN" ]] || return 0
  local mod reported
  mod="$(go_module_version "$TEMPORAL_BIN")"
  reported="$("$TEMPORAL_BIN" --version 2>/dev/null | awk '{ print $3; exit }')"
  [[ "v$reported" == "$mod" ]] && echo "$mod"
  return 0
}

temporal_install() {
  go_install_pinned temporal "$TEMPORAL_CLI_MODULE" "$TEMPORAL_CLI_VERSION" "$(temporal_ldflags)"
}

temporal_version() { "$TEMPORAL_BIN" --version 2>/dev/null; }

temporal_cli() {
  "$TEMPORAL_BIN" "$@" --address "$BIND_HOST:$TEMPORAL_PORT" --command-timeout 5s
}

temporal_ready() {
  temporal_cli operator cluster health 2>/dev/null | grep -q SERVING &&
    [[ "$(http_code "http://$BIND_HOST:$TEMPORAL_UI_PORT/")" == 200 ]]
}

# The dev server adds --search-attribute values only to namespaces it creates,
# i.e. not to an existing temporal.db. Add any that are missing.
temporal_ensure_search_attributes() {
  local existing pair name type
  existing="$(temporal_cli operator search-attribute list --namespace "$TEMPORAL_NAMESPACE_NAME" -o json 2>/dev/null)" || return 1
  for pair in "${TEMPORAL_SEARCH_ATTRIBUTES[@]}"; do
    name="${pair%%=*}" type="${pair#*=}"
    if ! grep -q "\"$name\"" <<<"$existing"; then
      log "temporal: registering search attribute $name ($type)"
      temporal_cli operator search-attribute create --namespace "$TEMPORAL_NAMESPACE_NAME" \
        --name "$name" --type "$type" >>"$TEMPORAL_LOG" 2>&1 || return 1
    fi
  done
}

temporal_up() {
  case "$(running_state temporal "$TEMPORAL_PORT")" in
    ours)
      if temporal_ready; then
        log "temporal: already running (PID $(read_pid temporal))"
        temporal_ensure_search_attributes ||
          { fail_server temporal "$TEMPORAL_LOG" "could not register search attributes ${TEMPORAL_SEARCH_ATTRIBUTES[*]}"; return 1; }
        return 0
      fi ;;
    foreign)
      fail_server temporal "$TEMPORAL_LOG" "cannot start: port $TEMPORAL_PORT is already used by a process this script did not start (set TEMPORAL_PORT)"
      return 1 ;;
    stopped)
      port_open "$TEMPORAL_UI_PORT" && {
        fail_server temporal "$TEMPORAL_LOG" "cannot start: UI port $TEMPORAL_UI_PORT is already in use (set TEMPORAL_UI_PORT)"
        return 1
      }
      [[ -x "$TEMPORAL_BIN" ]] || { fail_server temporal "$TEMPORAL_LOG" "binary missing: $TEMPORAL_BIN (run: bash scripts/stack.sh install)"; return 1; }
      mkdir -p "$TEMPORAL_DATA"
      local args=(server start-dev
        --ip "$BIND_HOST" --port "$TEMPORAL_PORT"
        --ui-ip "$BIND_HOST" --ui-port "$TEMPORAL_UI_PORT"
        --db-filename "$TEMPORAL_DATA/temporal.db"
        --namespace "$TEMPORAL_NAMESPACE_NAME"
        --log-level warn
        --sqlite-pragma journal_mode=wal)
      # WAL: SQLite appends each commit to one write-ahead log instead of creating, syncing and
      # deleting a rollback journal file per transaction; commits stay synced (synchronous is
      # left as it is). The server's CPU per small file synced fell from 0.18-0.22 ms to about
      # 0.15 (bench/README.md, "CPU per file in rounds"). The database stays in WAL mode.
      local pair
      for pair in "${TEMPORAL_SEARCH_ATTRIBUTES[@]}"; do args+=(--search-attribute "$pair"); done
      for pair in "${TEMPORAL_DEV_DYNAMIC_CONFIG[@]}"; do args+=(--dynamic-config-value "$pair"); done
      [[ -n "$TEMPORAL_HTTP_PORT" ]] && args+=(--http-port "$TEMPORAL_HTTP_PORT")
      [[ -n "$TEMPORAL_METRICS_PORT" ]] && args+=(--metrics-port "$TEMPORAL_METRICS_PORT")
      log "temporal: starting dev server on $BIND_HOST:$TEMPORAL_PORT (UI $TEMPORAL_UI_PORT)"
      start_bg temporal "$TEMPORAL_LOG" "$TEMPORAL_BIN" "${args[@]}" ;;
  esac
  local rc=0
  wait_until "$STACK_START_TIMEOUT" "$(read_pid temporal)" temporal_ready || rc=$?
  case $rc in
    0) ;;
    2) fail_server temporal "$TEMPORAL_LOG" "exited during startup"; return 1 ;;
    *) fail_server temporal "$TEMPORAL_LOG" "not ready after ${STACK_START_TIMEOUT}s (cluster health on $TEMPORAL_PORT, UI on $TEMPORAL_UI_PORT)"; return 1 ;;
  esac
  temporal_ensure_search_attributes ||
    { fail_server temporal "$TEMPORAL_LOG" "could not register search attributes ${TEMPORAL_SEARCH_ATTRIBUTES[*]}"; return 1; }
  log "temporal: ready (PID $(read_pid temporal)), UI http://$BIND_HOST:$TEMPORAL_UI_PORT"
}

temporal_down() { stop_pid temporal; }

temporal_status() {
  local answers=no; [[ -x "$TEMPORAL_BIN" ]] && temporal_ready && answers=yes
  status_line temporal "$(live_pid temporal)" "$TEMPORAL_PORT,$TEMPORAL_UI_PORT" "$answers" "$BIND_HOST:$TEMPORAL_PORT UI http://$BIND_HOST:$TEMPORAL_UI_PORT"
  [[ $answers == yes ]]
}
