#!/usr/bin/env bash
# Everything Flotilla needs on this machine: system packages and the npm dependencies.
# Idempotent and quiet when nothing is missing; both README commands start here.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-deps.sh
# npm ci only when node_modules is missing or out of date with the lockfile.
if [[ ! -f node_modules/.package-lock.json ]] || ! cmp -s package-lock.json node_modules/.flotilla-lock; then
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json node_modules/.flotilla-lock
fi
# The compiled build bin/flotilla.js runs (0.3 s; rebuilt every time, so it is never stale).
node scripts/build.js
