# shellcheck shell=bash
# NATS server with JetStream. Data: $STACK_DIR/nats. The monitor port follows
# the client bind address (-a), so both listen on 127.0.0.1 only.

NATS_BIN="$BIN_DIR/nats-server"
NATS_DATA="$STACK_DIR/nats"
NATS_LOG="$LOG_DIR/nats.log"

nats_install() {
  go_install_pinned nats-server "$NATS_SERVER_MODULE" "$NATS_SERVER_VERSION"
}

nats_version() { "$NATS_BIN" --version 2>/dev/null; }

nats_ready() {
  curl -sf -m 3 "http://$BIND_HOST:$NATS_MONITOR_PORT/healthz?js-enabled-only=true" >/dev/null &&
    port_open "$NATS_PORT"
}

nats_up() {
  case "$(running_state nats "$NATS_PORT")" in
    ours)
      if nats_ready; then log "nats: already running (PID $(read_pid nats))"; return 0; fi ;;
    foreign)
      fail_server nats "$NATS_LOG" "cannot start: port $NATS_PORT is already used by a process this script did not start (set NATS_PORT)"
      return 1 ;;
    stopped)
      port_open "$NATS_MONITOR_PORT" && {
        fail_server nats "$NATS_LOG" "cannot start: monitor port $NATS_MONITOR_PORT is already in use (set NATS_MONITOR_PORT)"
        return 1
      }
      [[ -x "$NATS_BIN" ]] || { fail_server nats "$NATS_LOG" "binary missing: $NATS_BIN (run: bash scripts/stack.sh install)"; return 1; }
      mkdir -p "$NATS_DATA"
      log "nats: starting on $BIND_HOST:$NATS_PORT (monitor $NATS_MONITOR_PORT)"
      start_bg nats "$NATS_LOG" "$NATS_BIN" \
        -a "$BIND_HOST" -p "$NATS_PORT" -m "$NATS_MONITOR_PORT" \
        -js -sd "$NATS_DATA" -n echomind-local ;;
  esac
  local rc=0
  wait_until "$STACK_START_TIMEOUT" "$(read_pid nats)" nats_ready || rc=$?
  case $rc in
    0) log "nats: ready (PID $(read_pid nats))" ;;
    2) fail_server nats "$NATS_LOG" "exited during startup"; return 1 ;;
    *) fail_server nats "$NATS_LOG" "not ready after ${STACK_START_TIMEOUT}s (healthz on $NATS_MONITOR_PORT)"; return 1 ;;
  esac
}

nats_down() { stop_pid nats; }

nats_status() {
  local answers=no; nats_ready && answers=yes
  status_line nats "$(live_pid nats)" "$NATS_PORT,$NATS_MONITOR_PORT" "$answers" "nats://$BIND_HOST:$NATS_PORT"
  [[ $answers == yes ]]
}
