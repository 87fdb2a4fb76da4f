#!/usr/bin/env bash
# Run by lab-sshd.ts as `unshare --mount --propagation private lab-sshd-exec.sh MOUNT SOURCE
# ... -- COMMAND...`: inside that private mount namespace, bind-mounts each SOURCE (a test's
# temp dir) over its MOUNT (e.g. /opt), then execs COMMAND (sshd). Whatever an SSH session
# writes there lands in the temp dirs; the host's own dirs never see it.
set -euo pipefail
while [[ $# -gt 0 && $1 != -- ]]; do
  if [[ $# -lt 2 ]]; then
    echo "lab-sshd-exec.sh: MOUNT without SOURCE: $1" >&2
    exit 2
  fi
  mount --bind -- "$2" "$1"
  shift 2
done
if [[ $# -lt 2 ]]; then
  echo 'usage: lab-sshd-exec.sh [MOUNT SOURCE]... -- COMMAND [ARG]...' >&2
  exit 2
fi
shift
exec "$@"
