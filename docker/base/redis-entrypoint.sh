#!/bin/sh
# `redis-server ARGS`: as the official image, listen on every interface with
# protected mode off unless the arguments say otherwise.
set -eu
if [ "${1:-}" = redis-server ]; then
    shift
    case " $* " in
        *" --protected-mode "*) exec redis-server "$@" ;;
        *) exec redis-server --bind '* -::*' --protected-mode no "$@" ;;
    esac
fi
exec "$@"
