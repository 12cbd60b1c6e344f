# shellcheck shell=bash
# Shared settings and helpers for scripts/stack.sh. Sourced, not executed.

# ---------------------------------------------------------------------------
# Locations
# ---------------------------------------------------------------------------
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
STACK_DIR="${STACK_DIR:-$REPO_ROOT/.stack}"
mkdir -p "$STACK_DIR"
STACK_DIR="$(cd "$STACK_DIR" && pwd -P)"
LOG_DIR="$STACK_DIR/logs"
RUN_DIR="$STACK_DIR/run"          # our PID files
ECHOMIND_CACHE="${ECHOMIND_CACHE:-$HOME/.cache/echomind-connector}"
BIN_DIR="$ECHOMIND_CACHE/bin"     # Go-built server binaries, shared by all clones

# ---------------------------------------------------------------------------
# Pinned versions (bump here; `install` rebuilds when the cached binary differs)
# ---------------------------------------------------------------------------
TEMPORAL_CLI_MODULE="github.com/temporalio/cli/cmd/temporal"
TEMPORAL_CLI_VERSION="${TEMPORAL_CLI_VERSION:-v1.5.1}"
NATS_SERVER_MODULE="github.com/nats-io/nats-server/v2"
NATS_SERVER_VERSION="${NATS_SERVER_VERSION:-v2.15.2}"
VERSITYGW_MODULE="github.com/versity/versitygw/cmd/versitygw"
VERSITYGW_VERSION="${VERSITYGW_VERSION:-v1.8.0}"
# STACK_TEMPORAL=server only (scripts/lib/temporal-server.sh): the server, its
# SQL tool (same module) and the Web UI server. v1.32.1: the newest the proxy
# serves that builds with Go 1.26.8 (v1.32.2 needs 1.26.10).
TEMPORAL_SERVER_MODULE="go.temporal.io/server"
TEMPORAL_SERVER_VERSION="${TEMPORAL_SERVER_VERSION:-v1.32.1}"
TEMPORAL_UI_SERVER_MODULE="github.com/temporalio/ui-server/v2"
TEMPORAL_UI_SERVER_VERSION="${TEMPORAL_UI_SERVER_VERSION:-v2.45.1}"

# ---------------------------------------------------------------------------
# Ports (all servers bind 127.0.0.1 only) and local credentials
# ---------------------------------------------------------------------------
BIND_HOST="127.0.0.1"
TEMPORAL_PORT="${TEMPORAL_PORT:-7233}"
TEMPORAL_UI_PORT="${TEMPORAL_UI_PORT:-8233}"
TEMPORAL_HTTP_PORT="${TEMPORAL_HTTP_PORT:-}"        # empty: dev server picks a free port
TEMPORAL_METRICS_PORT="${TEMPORAL_METRICS_PORT:-}"  # empty: dev server picks a free port
NATS_PORT="${NATS_PORT:-4222}"
NATS_MONITOR_PORT="${NATS_MONITOR_PORT:-8222}"
PGPORT="${PGPORT:-5432}"
S3_PORT="${S3_PORT:-9000}"

PG_USER="${PG_USER:-echomind}"
PG_PASSWORD="${PG_PASSWORD:-echomind}"
PG_DATABASES="${PG_DATABASES:-echomind echomind_test}"
S3_ACCESS_KEY="${S3_ACCESS_KEY:-minioadmin}"
S3_SECRET_KEY="${S3_SECRET_KEY:-minioadmin}"
S3_BUCKET="${S3_BUCKET:-echomind-documents}"

# Timeouts in seconds.
STACK_START_TIMEOUT="${STACK_START_TIMEOUT:-90}"
STACK_STOP_TIMEOUT="${STACK_STOP_TIMEOUT:-20}"
GO_BUILD_WAIT_TIMEOUT="${GO_BUILD_WAIT_TIMEOUT:-2400}"

# ---------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------
log()  { printf '[stack] %s\n' "$*"; }
warn() { printf '[stack] WARNING: %s\n' "$*" >&2; }
die()  { printf '[stack] ERROR: %s\n' "$*" >&2; exit 1; }

# fail_server NAME LOGFILE MESSAGE: the one clear line, then the log's tail.
fail_server() {
  local name="$1" logfile="$2" msg="$3"
  printf '[stack] FAILED: %s %s (log: %s)\n' "$name" "$msg" "$logfile" >&2
  if [[ -s "$logfile" ]]; then
    # Only what the latest start wrote (start_bg marks each start with "=== ").
    local from; from="$(grep -n '^=== ' "$logfile" | tail -1 | cut -d: -f1)"
    printf -- '----- %s log, last 30 lines of the latest start -----\n' "$name" >&2
    tail -n +"${from:-1}" "$logfile" | tail -n 30 >&2
    printf -- '-----\n' >&2
  fi
  return 1
}

now_s() { date +%s; }

# ---------------------------------------------------------------------------
# Processes and ports
# ---------------------------------------------------------------------------
pid_file() { echo "$RUN_DIR/$1.pid"; }

# PID files hold "PID PROGRAM" (PROGRAM = basename of the executable), so a
# PID reused by an unrelated process is never taken for ours.
write_pid() { mkdir -p "$RUN_DIR"; echo "$2 $3" >"$(pid_file "$1")"; }

# read_pid NAME: prints the PID recorded by `up`, or nothing.
read_pid() {
  local f pid want exe; f="$(pid_file "$1")"
  [[ -s "$f" ]] || return 0
  read -r pid want <"$f" || true
  [[ "$pid" =~ ^[0-9]+$ ]] || return 0
  exe="$(readlink "/proc/$pid/exe" 2>/dev/null || true)"
  exe="${exe% (deleted)}"
  [[ -z "$exe" || -z "$want" || "${exe##*/}" == "$want" ]] && echo "$pid"
  return 0
}

pid_alive() { [[ -n "${1:-}" ]] && kill -0 "$1" 2>/dev/null; }

# port_open PORT: true when something accepts TCP connections on 127.0.0.1:PORT.
port_open() {
  timeout 2 bash -c "exec 3<>/dev/tcp/$BIND_HOST/$1" 2>/dev/null
}

# http_code URL: prints the HTTP status (000 when nothing answers).
http_code() {
  curl -s -o /dev/null -m 3 -w '%{http_code}' "$1" 2>/dev/null || true
}

# wait_until TIMEOUT PID CMD...: polls CMD every second until it succeeds.
# Gives up early when PID (the server) has died.
wait_until() {
  local timeout="$1" pid="$2"; shift 2
  local deadline=$(( $(now_s) + timeout ))
  while (( $(now_s) < deadline )); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    if [[ -n "$pid" ]] && ! pid_alive "$pid"; then return 2; fi
    sleep 1
  done
  "$@" >/dev/null 2>&1
}

# start_bg NAME LOGFILE CMD...: starts CMD detached (own session, no stdin),
# appending to LOGFILE, and records its PID.
start_bg() {
  local name="$1" logfile="$2"; shift 2
  mkdir -p "$RUN_DIR" "$(dirname "$logfile")"
  printf '=== %s starting %s at %s\n' "$name" "$1" "$(date -u +%FT%TZ)" >>"$logfile"
  setsid "$@" </dev/null >>"$logfile" 2>&1 &
  write_pid "$name" $! "$(basename "$1")"
}

# wait_pid_gone PID SECONDS: true once PID has exited.
wait_pid_gone() {
  local pid="$1" deadline=$(( $(now_s) + $2 ))
  while pid_alive "$pid"; do
    (( $(now_s) < deadline )) || return 1
    sleep 0.2
  done
}

# stop_pid NAME: TERM the recorded PID, KILL it after STACK_STOP_TIMEOUT.
stop_pid() {
  local name="$1" pid; pid="$(read_pid "$name")"
  if ! pid_alive "$pid"; then
    rm -f "$(pid_file "$name")"
    log "$name: not running"
    return 0
  fi
  local t0; t0=$(now_s)
  kill -TERM "$pid" 2>/dev/null || true
  if wait_pid_gone "$pid" "$STACK_STOP_TIMEOUT"; then
    log "$name: stopped PID $pid (TERM, $(( $(now_s) - t0 ))s)"
  else
    warn "$name: PID $pid still alive after ${STACK_STOP_TIMEOUT}s, sending KILL"
    kill -KILL "$pid" 2>/dev/null || true
    wait_pid_gone "$pid" 5 || warn "$name: PID $pid survived KILL"
  fi
  rm -f "$(pid_file "$name")"
}

# live_pid NAME: the recorded PID if that process is alive, else "-".
live_pid() {
  local pid; pid="$(read_pid "$1")"
  if pid_alive "$pid"; then echo "$pid"; else echo "-"; fi
}

# running_state NAME PORT: "ours" when our PID is alive, "foreign" when the port
# is taken by something we did not start, "stopped" otherwise. Cleans stale PIDs.
running_state() {
  local name="$1" port="$2" pid; pid="$(read_pid "$name")"
  if pid_alive "$pid"; then echo ours; return; fi
  rm -f "$(pid_file "$name")"
  if port_open "$port"; then echo foreign; else echo stopped; fi
}

# ---------------------------------------------------------------------------
# Go-built binaries
# ---------------------------------------------------------------------------
# go_module_version BIN: the main module version embedded in a Go binary.
go_module_version() {
  [[ -x "$1" ]] || return 0
  go version -m "$1" 2>/dev/null | awk '$1 == "mod" { print $3; exit }'
}

# go_install_pinned NAME MODULE VERSION [LDFLAGS] [BUILT]: installs MODULE@VERSION
# into BIN_DIR as NAME (BUILT: the name `go install` gives it, when that differs)
# unless the binary there already has that version. Waits for another
# `go install` of the same module (e.g. a build started by hand) instead of
# racing it; a lock keeps two stack.sh runs from building at once.
go_install_pinned() {
  local name="$1" module="$2" version="$3" ldflags="${4:-}" built="${5:-}"
  command -v go >/dev/null || die "Go is not installed; it is needed to build $name ($module@$version)"
  mkdir -p "$BIN_DIR"

  local waited=0 deadline=$(( $(now_s) + GO_BUILD_WAIT_TIMEOUT ))
  while command -v pgrep >/dev/null && pgrep -f "go install .*${module}@" >/dev/null 2>&1; do
    (( waited )) || log "$name: another 'go install $module' is running; waiting for it"
    waited=1
    (( $(now_s) < deadline )) || die "$name: timed out waiting for the other build"
    sleep 5
  done

  if [[ "$(installed_version_of "$name")" == "$version" ]]; then
    log "$name $version: already in $BIN_DIR"
    return 0
  fi

  (
    flock -w "$GO_BUILD_WAIT_TIMEOUT" 9 || die "$name: could not take the build lock"
    if [[ "$(installed_version_of "$name")" == "$version" ]]; then exit 0; fi
    local t0; t0=$(now_s)
    log "$name: building $module@$version (go install; several minutes on 2 cores)"
    local args=(install)
    [[ -n "$ldflags" ]] && args+=(-ldflags "$ldflags")
    local gobin="$BIN_DIR"; [[ -n "$built" ]] && gobin="$BIN_DIR/.build-$name"
    GOBIN="$gobin" GOFLAGS="${GOFLAGS:+$GOFLAGS }-buildvcs=false" \
      ${GO_BUILD_NICE:+nice -n "$GO_BUILD_NICE"} go "${args[@]}" "$module@$version" || die "$name: go install $module@$version failed"
    if [[ -n "$built" ]]; then mv -f "$gobin/$built" "$BIN_DIR/$name" && rmdir "$gobin" || die "$name: could not move $gobin/$built"; fi
    log "$name $version: built in $(( $(now_s) - t0 ))s"
  ) 9>"$BIN_DIR/.build.lock"
}

# installed_version_of NAME: the version `install` compares against its pin.
# Dispatches to <name>_installed_version when a server defines one.
installed_version_of() {
  local fn="${1//-/_}_installed_version"
  if declare -F "$fn" >/dev/null; then "$fn"; else go_module_version "$BIN_DIR/$1"; fi
}
