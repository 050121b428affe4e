#!/bin/sh
# First start: initdb with POSTGRES_USER as superuser (password
# POSTGRES_PASSWORD, scram-sha-256 over TCP), create POSTGRES_DB, run
# /docker-entrypoint-initdb.d/*.sh|*.sql; then run the command (postgres).
# The official image's contract, as far as AntiNex and its users rely on it.
set -eu
if [ "${1:-}" = postgres ]; then
    : "${POSTGRES_USER:=postgres}"
    : "${POSTGRES_DB:=$POSTGRES_USER}"
    if [ -s "$PGDATA/PG_VERSION" ]; then
        have=$(cat "$PGDATA/PG_VERSION")
        if [ "$have" != "$PG_MAJOR" ]; then
            echo "error: $PGDATA holds a PostgreSQL $have data directory; this image runs PostgreSQL $PG_MAJOR." >&2
            echo "       Dump it with a $have server and restore it here, or use a $have image (ANTINEX_POSTGRES_IMAGE)." >&2
            exit 1
        fi
    else
        if [ -z "${POSTGRES_PASSWORD:-}" ]; then
            echo "error: POSTGRES_PASSWORD is not set: the database would accept anyone (set it in the env file)" >&2
            exit 1
        fi
        pwfile=$(mktemp)
        printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
        initdb --username="$POSTGRES_USER" --pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256 \
            --encoding=UTF8 --locale=C.UTF-8 -D "$PGDATA" >/dev/null
        rm -f "$pwfile"
        echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
        # Set-up runs on the socket only, so nothing reaches a half-made database.
        pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
        if [ "$POSTGRES_DB" != postgres ]; then
            psql -v ON_ERROR_STOP=1 -q -U "$POSTGRES_USER" -d postgres \
                -c "CREATE DATABASE \"$POSTGRES_DB\"" >/dev/null
        fi
        for f in /docker-entrypoint-initdb.d/*; do
            case "$f" in
                *.sh) echo "running $f"; . "$f" ;;
                *.sql) echo "running $f"; psql -v ON_ERROR_STOP=1 -q -U "$POSTGRES_USER" -d "$POSTGRES_DB" -f "$f" ;;
                *) ;;
            esac
        done
        pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
        echo "PostgreSQL $PG_MAJOR initialised in $PGDATA (user $POSTGRES_USER, database $POSTGRES_DB)"
    fi
    shift
    exec postgres -c listen_addresses='*' "$@"
fi
exec "$@"
