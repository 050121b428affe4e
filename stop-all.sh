#!/usr/bin/env bash
# Stop what ./run-all.sh started: the Docker Compose stack, or the local
# processes whose pids are in var/run (each one's whole process group:
# TERM, then KILL after ANTINEX_STOP_TIMEOUT seconds, default 30).
# Exits 0 when nothing runs.
#
#   ./stop-all.sh [--docker] [--volumes]
#     --docker   stop the Docker Compose stack even if var/run does not say it runs
#     --volumes  Docker mode: also delete the data volumes (users, jobs, models)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$ROOT"

log() { printf '\033[1;34m[stop-all]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[stop-all] error:\033[0m %s\n' "$*" >&2; exit 1; }

VOLUMES=0
FORCE_DOCKER=0
while [ $# -gt 0 ]; do
    case "$1" in
        --volumes) VOLUMES=1 ;;
        --docker) FORCE_DOCKER=1 ;;
        -h|--help) sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option: $1" ;;
    esac
    shift
done

VAR_DIR=${ANTINEX_VAR_DIR:-$ROOT/var}
RUN_DIR=$VAR_DIR/run
TIMEOUT=${ANTINEX_STOP_TIMEOUT:-30}

stop_docker() {
    # shellcheck source=scripts/docker-common.sh
    . "$ROOT/scripts/docker-common.sh"
    local env_file project left err
    env_file=$(cat "$RUN_DIR/env-file" 2>/dev/null || echo "$ROOT/.env")
    project=$(cat "$RUN_DIR/compose-project" 2>/dev/null || echo "${COMPOSE_PROJECT_NAME:-antinex}")
    if ! err=$(docker info 2>&1 >/dev/null); then
        die "no Docker engine answers (${err##*$'\n'}): cannot stop the $project stack; start the engine (sudo bash scripts/docker-engine.sh) and run ./stop-all.sh again"
    fi
    compose_bin "$ROOT" || die "Docker Compose v2 not found (the docker compose plugin, or: bash scripts/bootstrap.sh)"
    if [ ! -f "$env_file" ]; then
        log "$env_file is gone: stopping the $project containers by project name"
        env_file=/dev/null
    fi
    local args=(down --remove-orphans)
    [ "$VOLUMES" = 1 ] && args+=(--volumes)
    ANTINEX_ENV_FILE=$env_file "${COMPOSE[@]}" -p "$project" --env-file "$env_file" "${args[@]}" \
        || die "docker compose down failed for $project (above)"
    left=$(docker ps -aq --filter "label=com.docker.compose.project=$project")
    [ -z "$left" ] || die "containers of $project are still there: $(echo $left)"
    rm -f "$RUN_DIR/mode" "$RUN_DIR/env-file" "$RUN_DIR/compose-project"
    log "stopped the $project stack"
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
[ "$FORCE_DOCKER" = 1 ] && mode=docker
case "$mode" in
    docker) stop_docker ;;
    *) stop_local ;;
esac
