#!/usr/bin/env bash
# The README's test command (`npm test`): unit and integration tests with
# coverage, against the real local stack. Starts the stack when it is not up
# (and stops it again afterwards); extra arguments go to vitest.
#
# The integration suites run in two lanes side by side (vitest.config.ts), each
# on a stack of its own: this checkout's stack, and a second one under
# $STACK_DIR/lane-2 on the ports from TEST_LANE2_PORT_BASE (default 17000:
# Temporal 17233, UI 17234, NATS 17422, PostgreSQL 17432, S3 17900). This
# script starts the second stack when it is not up and stops it afterwards.
# TEST_LANES=1 runs every integration suite on the one stack, one at a time.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

lanes="${TEST_LANES:-2}"
lane2_base="${TEST_LANE2_PORT_BASE:-17000}"
lane2_dir="${STACK_DIR:-$(pwd -P)/.stack}/lane-2"

# lane2 ARGS...: scripts/stack.sh ARGS for the second lane's stack; `lane2 vars` prints
# its settings (ports, folder and connection) as `export` lines for vitest.config.ts.
lane2() {
  (
    b=$lane2_base
    export STACK_DIR="$lane2_dir" TEMPORAL_PORT=$((b + 233)) TEMPORAL_UI_PORT=$((b + 234)) TEMPORAL_HTTP_PORT=$((b + 235)) \
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
started_lane2=0
cleanup() {
  if (( started_lane2 )); then lane2 down >/dev/null || true; fi
  if (( started_stack )); then bash scripts/stack.sh down || true; fi
}
trap cleanup EXIT

if ! bash scripts/stack.sh status >/dev/null 2>&1; then
  echo "test: the local stack is not running; starting it (scripts/stack.sh up)"
  started_stack=1
  bash scripts/stack.sh up
fi
if [[ "$lanes" == 2 ]]; then
  if ! lane2 status >/dev/null 2>&1; then
    echo "test: starting the second lane's stack ($lane2_dir, ports from $lane2_base)"
    t0=$(date +%s)
    started_lane2=1
    lane2 up
    echo "test: second lane's stack ready in $(( $(date +%s) - t0 ))s"
  fi
  TEST_LANE2_ENV="$(lane2 vars)"
  export TEST_LANE2_ENV
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
