#!/bin/sh
# Entrypoint of the harness's locally built Redis image (used only where the official image
# can't be pulled). Like the official image: `docker run IMAGE --flag` runs redis-server with
# the flag, a command given by testcontainers (e.g. `redis-server --requirepass X`) is kept,
# the server listens on 0.0.0.0:6379 with protected mode off unless told otherwise, and it is
# exec'd as the redis user so that it is PID 1 and gets `docker stop`'s signal.
set -eu

if [ "$#" -eq 0 ] || [ "${1#-}" != "$1" ]; then
    set -- redis-server "$@"
fi

if [ "$1" = "redis-server" ]; then
    case " $* " in
        *" --bind "*) ;;
        *) set -- "$@" --bind 0.0.0.0 ;;
    esac
    case " $* " in
        *" --protected-mode "*) ;;
        *) set -- "$@" --protected-mode no ;;
    esac
    if [ "$(id -u)" = "0" ]; then
        mkdir -p /data
        chown redis:redis /data
        cd /data
        exec setpriv --reuid=redis --regid=redis --init-groups "$@"
    fi
fi

exec "$@"
