#!/usr/bin/env bash
# The test command (README, CI): installs what is missing, type-checks, lints, runs every
# test (two lanes side by side, vitest.config.ts) and ends with one line "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh || exit 1
# install.sh has just built dist/ from these sources: every `flotilla` the tests start runs
# it, as an install does (bin/flotilla.js falls back to the sources, saying so, if one is
# edited during the run).
export FLOTILLA_FROM_SOURCE=0

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
namespaced_pid=
# Stops the namespaced lane too when the run is interrupted, so its clusters close.
trap '[[ -n "$namespaced_pid" ]] && kill "$namespaced_pid" 2>/dev/null; rm -rf "$results"' EXIT
# The two lanes of vitest.config.ts side by side; the namespaced lane's output follows.
lane=(node_modules/.bin/vitest run --passWithNoTests --reporter=default --reporter=json)
echo "== tests"
"${lane[@]}" --project namespaced --outputFile="$results/namespaced.json" "$@" \
  >"$results/namespaced.log" 2>&1 &
namespaced_pid=$!
"${lane[@]}" --project host --outputFile="$results/host.json" "$@"
host_status=$?
wait "$namespaced_pid"
namespaced_status=$?
namespaced_pid=
echo "== tests in network namespaces"
cat "$results/namespaced.log"
node scripts/test-summary.js "$static_failures" \
  "$results/host.json" "$host_status" "$results/namespaced.json" "$namespaced_status"
