#!/usr/bin/env bash
# The test command (README, CI): installs what is missing, type-checks, lints, runs every
# test and ends with one line "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh || exit 1

static_failures=0
run_check() {
  echo "== $1"
  shift
  "$@" || static_failures=$((static_failures + 1))
}
run_check "type-check" node_modules/.bin/tsc --noEmit -p .
run_check "lint" node_modules/.bin/eslint .
run_check "format" node_modules/.bin/prettier --check --log-level warn .

results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT
echo "== tests"
node_modules/.bin/vitest run --reporter=default --reporter=json --outputFile="$results/vitest.json" "$@"
vitest_status=$?
node scripts/test-summary.js "$results/vitest.json" "$static_failures" "$vitest_status"
