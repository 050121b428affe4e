#!/usr/bin/env bash
# Make sure a Docker engine answers on this machine: install docker.io
# (Debian's 20.10) if dockerd is missing, give it an address range of its
# own, start dockerd if it is down (no systemd needed), wait for `docker info`.
# Idempotent; the tests and run-all.sh call it. Exits non-zero with a reason.
#
#   ANTINEX_DOCKER_POOL   the private range Docker's networks come from
#                         (default 10.201.0.0/16: bridge 10.201.255.1/24,
#                         compose networks /24s from 10.201.0.0/17)
#   ANTINEX_DOCKERD_LOG   dockerd's log when this script starts it
#                         (default /var/log/antinex-dockerd.log)
set -euo pipefail
log() { printf '\033[1;34m[docker-engine]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[docker-engine] error:\033[0m %s\n' "$*" >&2; exit 1; }

DAEMON_JSON=/etc/docker/daemon.json
DOCKERD_LOG=${ANTINEX_DOCKERD_LOG:-/var/log/antinex-dockerd.log}
POOL=${ANTINEX_DOCKER_POOL:-10.201.0.0/16}

engine_answers() { docker info >/dev/null 2>&1; }

if engine_answers; then
    log "Docker engine answers"
    exit 0
fi
[ "$(id -u)" = 0 ] || die "no Docker engine answers and not root: start it (sudo dockerd) or install docker.io"

if ! command -v dockerd >/dev/null 2>&1; then
    log "installing docker.io"
    if [ ! -f /var/lib/apt/lists/.antinex-updated ]; then
        apt-get update -qq && touch /var/lib/apt/lists/.antinex-updated
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null \
        || die "apt-get install docker.io failed"
fi

# Docker's own defaults (172.17.0.0/16 and the 172.18-31 and 192.168 pools)
# could collide with networks this machine or its users already route, so
# every bridge Docker makes comes from one dedicated private range instead.
# An existing daemon.json is the administrator's: kept, with a warning when
# it has no address pools.
if [ ! -s "$DAEMON_JSON" ]; then
    prefix=${POOL%/*}; prefix=${prefix%.*.*}          # 10.201
    log "writing $DAEMON_JSON (Docker networks from $POOL only)"
    mkdir -p "$(dirname "$DAEMON_JSON")"
    cat > "$DAEMON_JSON" <<JSON
{
  "bip": "$prefix.255.1/24",
  "default-address-pools": [{"base": "$prefix.0.0/17", "size": 24}],
  "features": {"buildkit": true},
  "log-driver": "json-file",
  "log-opts": {"max-size": "10m", "max-file": "3"}
}
JSON
elif ! grep -q default-address-pools "$DAEMON_JSON"; then
    log "warning: $DAEMON_JSON sets no default-address-pools: Docker picks its networks from its default ranges"
fi

if ! pgrep -x dockerd >/dev/null 2>&1; then
    log "starting dockerd (log: $DOCKERD_LOG)"
    # Its own session, so it outlives the shell (and the test) that started it.
    setsid dockerd >>"$DOCKERD_LOG" 2>&1 < /dev/null &
fi
for _ in $(seq 1 60); do
    engine_answers && { log "Docker engine answers"; exit 0; }
    sleep 1
done
tail -n 20 "$DOCKERD_LOG" >&2 2>/dev/null || true
die "dockerd did not answer within 60 s (log: $DOCKERD_LOG)"
