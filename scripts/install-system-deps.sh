#!/usr/bin/env bash
# Installs the system packages Flotilla drives (Caddy, NATS, restic, PostgreSQL,
# Redis, WireGuard, nftables, …). Idempotent: when every command is present it
# does nothing, so both README commands can call it on every run.
#
#   install-system-deps.sh          what a node runs, and what the test suite needs besides
#   install-system-deps.sh --node   only what a node runs (`flotilla node add` runs this)
set -euo pipefail

case "${1:-}" in
  '') node_only=0 ;;
  --node) node_only=1 ;;
  *)
    echo "usage: $0 [--node]" >&2
    exit 2
    ;;
esac
if (($# > 1)); then
  echo "usage: $0 [--node]" >&2
  exit 2
fi

# command on PATH (or absolute path) -> Debian package that provides it
declare -A wanted=(
  [caddy]=caddy
  [nats-server]=nats-server
  [restic]=restic
  [redis-server]=redis-server
  [redis-cli]=redis-tools
  [pg_dump]=postgresql-client
  [/usr/lib/postgresql/15/bin/postgres]=postgresql
  [wg]=wireguard-tools
  [wireguard-go]=wireguard-go
  [ip]=iproute2
  [nft]=nftables
  [curl]=curl
  [ping]=iputils-ping
  [setpriv]=util-linux
  [dockerd]=docker.io
)
# Only the test suite uses these: a registry to pull from, a rootfs for test images, a
# Prometheus to scrape the hub, a browser for the dashboard, sshd for `node add`.
declare -A test_only=(
  [docker-registry]=docker-registry
  [/bin/busybox]=busybox-static
  [prometheus]=prometheus
  [promtool]=prometheus
  [/usr/bin/chromium]=chromium
  [/usr/sbin/sshd]=openssh-server
)
if ((node_only == 0)); then
  for cmd in "${!test_only[@]}"; do wanted[$cmd]=${test_only[$cmd]}; done
fi

missing=()
for cmd in "${!wanted[@]}"; do
  if [[ "$cmd" == /* ]]; then
    [[ -x "$cmd" ]] || missing+=("${wanted[$cmd]}")
  else
    command -v "$cmd" >/dev/null 2>&1 || missing+=("${wanted[$cmd]}")
  fi
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
  echo "flotilla: missing system packages: ${missing[*]}" >&2
  echo "hint: run this script as root (sudo $0) or install them with apt-get" >&2
  exit 1
fi

mapfile -t unique < <(printf '%s\n' "${missing[@]}" | sort -u)
echo "flotilla: installing ${unique[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# A node's Docker must leave the firewall to Flotilla (docs/docker-engine.md). Written only
# when Docker is installed here and no daemon.json exists, before Docker first starts, so it
# never writes rules of its own; an existing file, and a running Docker, are never touched.
if [[ " ${unique[*]} " == *" docker.io "* && ! -e /etc/docker/daemon.json ]]; then
  install -D -m 0644 "$(dirname "$0")/docker-daemon.json" /etc/docker/daemon.json
  echo "flotilla: wrote /etc/docker/daemon.json (Docker leaves the firewall to Flotilla)" >&2
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${unique[@]}" >/dev/null
# The Debian packages enable system-wide units we don't want: Flotilla starts its own
# (also its own dockerd; tests start a private one, and the registry and Prometheus only in
# tests).
if command -v systemctl >/dev/null 2>&1; then
  for unit in caddy nats-server redis-server postgresql docker.socket docker containerd docker-registry \
    prometheus ssh; do
    systemctl disable --now "$unit" >/dev/null 2>&1 || true
  done
fi
