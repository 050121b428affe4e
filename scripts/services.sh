#!/usr/bin/env bash
# Make sure the real PostgreSQL and Redis the stack (and its tests) use are
# installed and running on this machine, and that the antinex database
# role can log in. Prints the URLs it ensured as shell exports.
set -euo pipefail
log() { printf '\033[1;34m[services]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[services] error:\033[0m %s\n' "$*" >&2; exit 1; }

PGHOST=${POSTGRES_HOST:-127.0.0.1}
PGPORT=${POSTGRES_PORT:-5432}
REDIS_PORT=${REDIS_PORT:-6379}

apt_install() {
    [ "$(id -u)" = 0 ] || die "missing $* and not root: install them (sudo apt-get install -y $*)"
    log "installing $*"
    if [ ! -f /var/lib/apt/lists/.antinex-updated ]; then
        apt-get update -qq && touch /var/lib/apt/lists/.antinex-updated
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

wait_port() {
    for _ in $(seq 1 60); do port_open "$1" "$2" && return 0; sleep 0.5; done
    return 1
}

# --- Redis -----------------------------------------------------------------
if ! port_open 127.0.0.1 "$REDIS_PORT"; then
    command -v redis-server >/dev/null 2>&1 || apt_install redis-server
    log "starting redis on 127.0.0.1:$REDIS_PORT"
    mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
    redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save "" \
        --appendonly no --dir /var/lib/redis --logfile /var/log/redis/antinex.log
    wait_port 127.0.0.1 "$REDIS_PORT" || die "redis did not start (see /var/log/redis/antinex.log)"
fi

# --- PostgreSQL ------------------------------------------------------------
if ! port_open "$PGHOST" "$PGPORT"; then
    if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
        apt_install postgresql
    fi
    ver=$(ls /etc/postgresql | sort -V | tail -1)
    log "starting postgresql $ver"
    pg_ctlcluster --skip-systemctl-redirect "$ver" main start 2>/dev/null || pg_ctlcluster "$ver" main start
    wait_port "$PGHOST" "$PGPORT" || die "postgresql did not start"
fi
# Give the postgres role a known password so TCP logins work whatever the
# pg_hba method is (trust or scram); peer auth lets root do this via su.
if [ "$(id -u)" = 0 ] && id postgres >/dev/null 2>&1; then
    su postgres -c "psql -qAtc \"ALTER USER postgres PASSWORD '${POSTGRES_PASSWORD:-postgres}'\"" >/dev/null 2>&1 || true
fi
log "postgresql on $PGHOST:$PGPORT, redis on 127.0.0.1:$REDIS_PORT"
