#!/usr/bin/env bash
# `npm run demo`: start the local stack (installing it on first use), then run the
# service end to end against the project's emulators (scripts/demo.ts). Extra
# arguments go to the demo: --source onedrive|teams|google_drive|all (OneDrive
# when absent), --stay keeps the service running.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[[ -d node_modules ]] || npm ci
bash scripts/stack.sh up
exec npx tsx scripts/demo.ts "$@"
