#!/usr/bin/env bash
# Start the whole AntiNex stack: with Docker Compose where a Docker engine
# answers, as local processes otherwise. Prints the URLs when it is up.
#
#   ./run-all.sh [--docker | --local] [--subscriber] [--env-file FILE]
#   ./run-all.sh --init-env [--env-file FILE]   (only write .env, then exit)
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
usage() { sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

MODE=auto
SUBSCRIBER=0
INIT_ENV=0
ENV_FILE=${ANTINEX_ENV_FILE:-}
while [ $# -gt 0 ]; do
    case "$1" in
        --docker) MODE=docker ;;
        --local) MODE=local ;;
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
compose() {
    if docker compose version >/dev/null 2>&1; then
        docker compose "$@"
    elif command -v docker-compose >/dev/null 2>&1; then
        docker-compose "$@"
    else
        die "Docker is running but neither 'docker compose' nor 'docker-compose' is installed"
    fi
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

run_docker() {
    local env_file=${ENV_FILE:-$ROOT/.env}
    [ -f "$env_file" ] || make_env_file "$env_file"
    export ANTINEX_ENV_FILE=$env_file
    log "starting the stack with Docker Compose (env file $env_file)"
    compose --env-file "$env_file" up -d --build --wait
    echo docker > "$RUN_DIR/mode"
    echo "$env_file" > "$RUN_DIR/env-file"
    # shellcheck disable=SC1090
    set -a; . "$env_file"; set +a
    print_urls "http://${ANTINEX_BIND:-127.0.0.1}:${ANTINEX_API_PORT:-8010}" "docker compose logs -f"
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
    docker) docker_available || die "--docker: no Docker engine answers 'docker info'"; run_docker ;;
    local) run_local ;;
esac
