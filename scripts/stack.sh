#!/usr/bin/env bash
# Local servers for echomind-connector: Temporal dev server, NATS (JetStream),
# PostgreSQL and an S3-compatible store (Versity S3 Gateway). No Docker needed.
#
#   bash scripts/stack.sh install   build/install what is missing
#   bash scripts/stack.sh up        install if needed, start what is not running, wait until ready
#   bash scripts/stack.sh down      stop what `up` started (PID files in $STACK_DIR/run)
#   bash scripts/stack.sh status    one line per server; exit 0 only when all answer
#   bash scripts/stack.sh versions  installed version of each server
#   bash scripts/stack.sh env       `export` lines for the connector and tests (eval-able)
#   bash scripts/stack.sh clean     delete all stack data (servers must be stopped)
#   bash scripts/stack.sh chromium  install Debian's chromium if missing (only the Web UI test needs it)
#
# STACK_TEMPORAL=server (for any command): Temporal's own server on the stack's
# PostgreSQL instead of the dev server (deploy/temporal/; built on first use, ~20 min).
# Without it, commands follow the profile of the running stack, else the dev server.
#
# Everything is bound to 127.0.0.1. Data, logs and PID files live in $STACK_DIR
# (default <repo>/.stack); Go-built binaries in ${ECHOMIND_CACHE:-~/.cache/echomind-connector}/bin.
# See docs/stack.md.
set -euo pipefail

LIB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/lib" && pwd)"
# shellcheck source=scripts/lib/common.sh
source "$LIB_DIR/common.sh"
# shellcheck source=scripts/lib/temporal.sh
source "$LIB_DIR/temporal.sh"
# shellcheck source=scripts/lib/nats.sh
source "$LIB_DIR/nats.sh"
# shellcheck source=scripts/lib/postgres.sh
source "$LIB_DIR/postgres.sh"
# shellcheck source=scripts/lib/s3.sh
source "$LIB_DIR/s3.sh"

# Which Temporal: dev (the CLI's dev server) or server (temporal-server on PostgreSQL).
# Not TEMPORAL_PROFILE: the Temporal CLI and SDKs read that as their client-config profile.
# Only the server profile records a temporal-ui PID, so a running one is recognised.
[[ -z "${STACK_TEMPORAL:-}" && -s "$(pid_file temporal-ui)" ]] && STACK_TEMPORAL=server
case "${STACK_TEMPORAL:=dev}" in
  dev) ;;
  # shellcheck source=scripts/lib/temporal-server.sh
  server) source "$LIB_DIR/temporal-server.sh" ;;
  *) die "STACK_TEMPORAL=$STACK_TEMPORAL: use dev (the default) or server" ;;
esac

SERVERS=(postgres nats s3 temporal)

status_line() { # NAME PID PORTS ANSWERS DETAIL
  printf '%-9s pid=%-8s ports=%-11s answers=%-3s %s\n' "$1" "${2:--}" "$3" "$4" "$5"
}

need_root() {
  [[ $(id -u) -eq 0 ]] || die "run as root (PostgreSQL is started through runuser -u postgres)"
}

cmd_install() {
  local t0 s; t0=$(now_s)
  for s in "${SERVERS[@]}"; do
    "${s}_install" || die "install of $s failed"
  done
  log "install: done in $(( $(now_s) - t0 ))s"
}

cmd_up() {
  need_root
  cmd_install
  mkdir -p "$LOG_DIR" "$RUN_DIR"
  local s failed=()
  for s in "${SERVERS[@]}"; do
    "${s}_up" || failed+=("$s")
  done
  if (( ${#failed[@]} )); then
    die "up: failed to start: ${failed[*]} (the others are left running; 'bash scripts/stack.sh down' stops them)"
  fi
  log "up: all servers ready"
  cmd_status
}

cmd_down() {
  local s i
  # Reverse order of `up`.
  for (( i=${#SERVERS[@]}-1; i>=0; i-- )); do
    s="${SERVERS[$i]}"
    "${s}_down" || warn "$s: stop reported an error"
  done
}

cmd_status() {
  local s rc=0
  printf 'STACK_DIR=%s\n' "$STACK_DIR"
  for s in "${SERVERS[@]}"; do
    "${s}_status" || rc=1
  done
  return $rc
}

cmd_versions() {
  temporal_version || echo "temporal: not installed"
  nats_version || echo "nats-server: not installed"
  s3_version || echo "versitygw: not installed"
  postgres_version || echo "postgres: not installed"
}

# Connection settings matching the stack (names from src/config.ts). Contains
# the local development credentials, so it is never printed by up/status.
cmd_env() {
  cat <<EOF
export TEMPORAL_ADDRESS=$BIND_HOST:$TEMPORAL_PORT
export TEMPORAL_NAMESPACE=default
export TEMPORAL_TASK_QUEUE=echomind-connector
export TEMPORAL_UI_URL=http://$BIND_HOST:$TEMPORAL_UI_PORT
export NATS_URL=nats://$BIND_HOST:$NATS_PORT
export NATS_STREAM_NAME=ECHOMIND
export MINIO_ENDPOINT=$BIND_HOST:$S3_PORT
export MINIO_ACCESS_KEY=$S3_ACCESS_KEY
export MINIO_SECRET_KEY=$S3_SECRET_KEY
export MINIO_BUCKET=$S3_BUCKET
export MINIO_USE_SSL=false
export DATABASE_URL=postgresql://$PG_USER:$PG_PASSWORD@$BIND_HOST:$PGPORT/echomind
export TEST_DATABASE_URL=postgresql://$PG_USER:$PG_PASSWORD@$BIND_HOST:$PGPORT/echomind_test
EOF
}

# Deletes the data of every server (only the folders this script creates).
cmd_clean() {
  local s
  for s in "${SERVERS[@]}"; do
    pid_alive "$(read_pid "$s")" && die "clean: $s is running; run 'bash scripts/stack.sh down' first"
  done
  pg_paths
  if [[ "$PG_BASE" != "$STACK_DIR/postgres" && -d "$PG_BASE" ]]; then
    log "clean: removing $PG_BASE"
    rm -rf "$PG_BASE"
  fi
  for s in temporal nats s3 postgres logs run; do
    [[ -e "$STACK_DIR/$s" ]] || continue
    log "clean: removing $STACK_DIR/$s"
    rm -rf "${STACK_DIR:?}/$s"
  done
}

# Headless Chromium for the one test that reads the Temporal Web UI
# (test/integration/web-ui.test.ts); no server needs it, so `up` does not install it.
cmd_chromium() {
  local bin
  bin="$(command -v chromium || true)"
  if [[ -z "$bin" ]]; then
    need_root
    log "chromium: not found; installing Debian's chromium package"
    apt-get update -qq || die "chromium: apt-get update failed"
    apt-get install -y -q --no-install-recommends chromium || die "chromium: apt-get install chromium failed"
    bin="$(command -v chromium)" || die "chromium: installed, but not on PATH"
  fi
  log "chromium: $bin ($("$bin" --version 2>/dev/null || echo 'version unknown'))"
}

usage() {
  sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  exit 2
}

case "${1:-}" in
  install)  cmd_install ;;
  up)       cmd_up ;;
  down)     cmd_down ;;
  status)   cmd_status ;;
  versions) cmd_versions ;;
  env)      cmd_env ;;
  clean)    cmd_clean ;;
  chromium) cmd_chromium ;;
  *)        usage ;;
esac
