#!/usr/bin/env bash
# The README's first command: installs what is missing, then brings the quickstart stack
# up on this machine and returns once every service is healthy and routed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
node bin/flotilla.js up --detach -f examples/quickstart/flotilla.yml
