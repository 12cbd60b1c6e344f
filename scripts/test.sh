#!/usr/bin/env bash
# The README's test command (`npm test`): unit and integration tests with
# coverage, against the real local stack. Starts the stack when it is not up
# (and stops it again afterwards); extra arguments go to vitest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

started_stack=0
if ! bash scripts/stack.sh status >/dev/null 2>&1; then
  echo "test: the local stack is not running; starting it (scripts/stack.sh up)"
  bash scripts/stack.sh up
  started_stack=1
fi
cleanup() {
  if (( started_stack )); then bash scripts/stack.sh down || true; fi
}
trap cleanup EXIT

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
