#!/usr/bin/env bash
# The README's test command (`npm test`): unit and integration tests with
# coverage, against the real local stack. Starts the stack when it is not up
# (and stops it again afterwards); extra arguments go to vitest.
#
# The suites that need the stack run in lanes side by side (vitest.config.ts), each file on a
# stack no other file is using at that moment: this checkout's stack, and for lane k = 2, 3, …
# one under $STACK_DIR/lane-k on ports from TEST_LANE_PORT_BASE + 50 (k - 2) (default 17000:
# lane 2 has Temporal 17233, UI 17234, NATS 17422, PostgreSQL 17432, S3 17900; lane 3 the same
# plus 50). This script starts those stacks fresh and stops them afterwards. TEST_LANES sets how
# many lanes (default 3); TEST_LANES=1 runs the stack suites on the one stack, one at a time.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

lanes="${TEST_LANES:-3}"
port_base="${TEST_LANE_PORT_BASE:-17000}"
stack_dir="${STACK_DIR:-$(pwd -P)/.stack}"

# lane K ARGS...: scripts/stack.sh ARGS for lane K's stack; `lane K vars` prints its settings
# (folder, ports, connection) as `export` lines for vitest.config.ts.
lane() {
  local k=$1; shift
  (
    b=$((port_base + 50 * (k - 2)))
    export STACK_DIR="$stack_dir/lane-$k" TEMPORAL_PORT=$((b + 233)) TEMPORAL_UI_PORT=$((b + 234)) TEMPORAL_HTTP_PORT=$((b + 235)) \
      TEMPORAL_METRICS_PORT=$((b + 236)) NATS_PORT=$((b + 422)) NATS_MONITOR_PORT=$((b + 822)) PGPORT=$((b + 432)) S3_PORT=$((b + 900))
    if [[ "$1" == vars ]]; then
      for v in STACK_DIR TEMPORAL_PORT TEMPORAL_UI_PORT TEMPORAL_HTTP_PORT TEMPORAL_METRICS_PORT NATS_PORT NATS_MONITOR_PORT PGPORT S3_PORT; do
        echo "export $v=${!v}"
      done
      bash scripts/stack.sh env
    else
      bash scripts/stack.sh "$@"
    fi
  )
}

started_stack=0
started_lanes=()
cleanup() {
  local k
  [[ -n "${TEST_LANE_LOCK_DIR:-}" ]] && rm -rf "$TEST_LANE_LOCK_DIR"
  for k in "${started_lanes[@]}"; do lane "$k" down >/dev/null 2>&1 & done
  wait
  if (( started_stack )); then bash scripts/stack.sh down || true; fi
}
trap cleanup EXIT

if ! bash scripts/stack.sh status >/dev/null 2>&1; then
  echo "test: the local stack is not running; starting it (scripts/stack.sh up)"
  started_stack=1
  bash scripts/stack.sh up
fi
# The lanes' stacks start side by side (each `up` mostly waits for its servers).
mkdir -p "$stack_dir"
t0=$(date +%s)
pids=()
for (( k = 2; k <= lanes; k++ )); do
  if ! lane "$k" status >/dev/null 2>&1; then
    started_lanes+=("$k")
    # Fresh, as .ci/run keeps the first stack: no data (and no half-stopped server) from an earlier run.
    { lane "$k" down || true; lane "$k" clean && lane "$k" up; } >"$stack_dir/lane-$k.up.log" 2>&1 &
    pids+=($!)
  fi
done
for i in "${!pids[@]}"; do
  if ! wait "${pids[$i]}"; then
    cat "$stack_dir/lane-${started_lanes[$i]}.up.log"
    echo "test: lane ${started_lanes[$i]}'s stack did not start" >&2
    exit 1
  fi
done
(( ${#pids[@]} )) && echo "test: the stacks of lanes ${started_lanes[*]} ready in $(( $(date +%s) - t0 ))s"
if (( lanes > 1 )); then
  # Lane 1 is this checkout's stack, with the settings in the environment (stack.sh's defaults where unset).
  TEST_LANE_ENV_1="$(
    echo "export STACK_DIR=$stack_dir"
    for v in TEMPORAL_PORT TEMPORAL_UI_PORT TEMPORAL_HTTP_PORT TEMPORAL_METRICS_PORT NATS_PORT NATS_MONITOR_PORT PGPORT S3_PORT; do
      echo "export $v=${!v:-}"
    done
    bash scripts/stack.sh env
  )"
  export TEST_LANE_ENV_1
  for (( k = 2; k <= lanes; k++ )); do export "TEST_LANE_ENV_$k=$(lane "$k" vars)"; done
  # Which lane each running test file holds (test/support/stack-lane.ts).
  TEST_LANE_LOCK_DIR="$(mktemp -d /tmp/echomind-test-lanes.XXXXXX)"
  export TEST_LANE_LOCK_DIR
fi

mkdir -p coverage
rc=0
npx vitest run --coverage --reporter=default --reporter=json --outputFile.json=coverage/test-results.json "$@" || rc=$?

# One plain closing line that any CI can read.
if [[ -f coverage/test-results.json ]]; then
  node -e '
    const r = JSON.parse(require("node:fs").readFileSync("coverage/test-results.json", "utf8"));
    const skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
    console.log(`\nTests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skipped} skipped`);
  '
fi
exit "$rc"
