#!/usr/bin/env bash
# The README's first command: installs what is missing, then validates and plans the
# quickstart stack. (`flotilla up` replaces the plan step once it lands.)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
node bin/flotilla.js validate -f examples/quickstart/flotilla.yml
node bin/flotilla.js plan -f examples/quickstart/flotilla.yml
