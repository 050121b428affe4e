#!/usr/bin/env bash
# Stop what ./run-all.sh started: the Docker Compose stack, or the local
# processes whose pids are in var/run (each one's whole process group:
# TERM, then KILL after ANTINEX_STOP_TIMEOUT seconds, default 30).
# Exits 0 when nothing runs.
#
#   ./stop-all.sh [--volumes]    (--volumes: Docker mode, also delete the data volumes)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$ROOT"

log() { printf '\033[1;34m[stop-all]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[stop-all] error:\033[0m %s\n' "$*" >&2; exit 1; }

VOLUMES=0
while [ $# -gt 0 ]; do
    case "$1" in
        --volumes) VOLUMES=1 ;;
        -h|--help) sed -n '2,6p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option: $1" ;;
    esac
    shift
done

VAR_DIR=${ANTINEX_VAR_DIR:-$ROOT/var}
RUN_DIR=$VAR_DIR/run
TIMEOUT=${ANTINEX_STOP_TIMEOUT:-30}

stop_docker() {
    local env_file
    env_file=$(cat "$RUN_DIR/env-file" 2>/dev/null || echo "$ROOT/.env")
    local args=(down)
    [ "$VOLUMES" = 1 ] && args+=(--volumes)
    export ANTINEX_ENV_FILE=$env_file
    if docker compose version >/dev/null 2>&1; then
        docker compose --env-file "$env_file" "${args[@]}"
    else
        docker-compose --env-file "$env_file" "${args[@]}"
    fi
    rm -f "$RUN_DIR/mode" "$RUN_DIR/env-file"
}

group_alive() { kill -0 -- "-$1" 2>/dev/null; }

# stop_group NAME PID: TERM the group, wait, then KILL what is left.
stop_group() {
    local name=$1 pid=$2
    log "stopping $name (process group $pid)"
    kill -TERM -- "-$pid" 2>/dev/null || true
    local deadline=$((SECONDS + TIMEOUT))
    while group_alive "$pid"; do
        if [ $SECONDS -ge $deadline ]; then
            log "$name still running after ${TIMEOUT}s: killing it"
            kill -KILL -- "-$pid" 2>/dev/null || true
            # Killed processes linger until their parent reaps them.
            local i
            for i in $(seq 1 50); do
                group_alive "$pid" || return 0
                sleep 0.1
            done
            log "$name (process group $pid) did not go away"
            return 1
        fi
        sleep 0.2
    done
}

stop_local() {
    local stopped=0 failed=0 pidfile name pid
    shopt -s nullglob
    # Reverse start order: producers of work stop before its consumers
    # (core-predict forwards to core-train; "core" is the single worker of older runs).
    for name in subscriber api worker core-predict core-train core; do
        pidfile=$RUN_DIR/$name.pid
        [ -f "$pidfile" ] || continue
        pid=$(cat "$pidfile")
        if [[ "$pid" =~ ^[0-9]+$ ]] && group_alive "$pid"; then
            stop_group "$name" "$pid" || failed=$((failed + 1))
            stopped=$((stopped + 1))
        fi
        rm -f "$pidfile"
    done
    for pidfile in "$RUN_DIR"/*.pid; do
        name=$(basename "$pidfile" .pid)
        pid=$(cat "$pidfile")
        if [[ "$pid" =~ ^[0-9]+$ ]] && group_alive "$pid"; then
            stop_group "$name" "$pid" || failed=$((failed + 1))
            stopped=$((stopped + 1))
        fi
        rm -f "$pidfile"
    done
    rm -f "$RUN_DIR/mode"
    if [ "$stopped" = 0 ]; then
        log "nothing was running"
    elif [ "$failed" != 0 ]; then
        die "$failed of $stopped process group(s) would not stop"
    else
        log "stopped $stopped process group(s)"
    fi
}

mode=$(cat "$RUN_DIR/mode" 2>/dev/null || echo local)
case "$mode" in
    docker) stop_docker ;;
    *) stop_local ;;
esac
