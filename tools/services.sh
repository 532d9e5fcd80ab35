#!/usr/bin/env bash
# PostgreSQL and Redis for tests and benchmarks: installed with apt-get when missing,
# started on free loopback ports in a temporary folder, stopped and removed on exit.
#
#   tools/services.sh COMMAND [ARG...]   run COMMAND with the servers up, then stop them
#   tools/services.sh                    start them, print the URLs, stop on Ctrl-C
#   . tools/services.sh                  start them in this shell (stopped when the
#                                        shell exits, or by calling services_stop)
#
# Exports the same URLs under the names the tests and the benchmarks read:
# DATABASE_TEST_URL and BENCH_DATABASE_URL (postgresql+asyncpg://...), REDIS_TEST_URL
# and BENCH_REDIS_URL (redis://...). A server that cannot be had leaves its URLs unset
# with a warning, so whatever needs it is skipped rather than failed.

services_install() {
    command -v apt-get >/dev/null 2>&1 || return 0
    local need=()
    command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
    ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql)
    [ ${#need[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        echo "warning: ${need[*]} missing and not root: not installed" >&2
        return 0
    fi
    echo "installing ${need[*]} ..." >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq \
        && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
}

services_free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Run a PostgreSQL tool as the postgres user when root (it refuses to run as root).
services_as_pg() {
    if [ "$(id -u)" -eq 0 ]; then
        su postgres -c "$*"
    else
        sh -c "$*"
    fi
}

services_start_redis() {
    command -v redis-server >/dev/null 2>&1 || {
        echo "warning: no redis-server; Redis will be skipped" >&2
        return 0
    }
    local port
    port=$(services_free_port)
    if ! redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
        --daemonize yes --pidfile "$SERVICES_DIR/redis.pid" \
        --logfile "$SERVICES_DIR/redis.log" >/dev/null; then
        echo "warning: redis-server did not start; Redis will be skipped" >&2
        return 0
    fi
    # A daemonised server forks before it listens: wait until it answers.
    local _
    for _ in $(seq 50); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            export REDIS_TEST_URL="redis://127.0.0.1:$port/0"
            export BENCH_REDIS_URL="$REDIS_TEST_URL"
            return 0
        fi
        sleep 0.1
    done
    echo "warning: redis-server is not answering; Redis will be skipped" >&2
}

services_start_postgres() {
    local bin
    bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
        echo "warning: no PostgreSQL server; PostgreSQL will be skipped" >&2
        return 0
    fi
    if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
        echo "warning: no postgres user; PostgreSQL will be skipped" >&2
        return 0
    fi
    local port data="$SERVICES_DIR/pg"
    port=$(services_free_port)
    mkdir "$data"
    [ "$(id -u)" -eq 0 ] && chown postgres "$data"
    SERVICES_PG_BIN="$bin"
    if services_as_pg "$bin/initdb -D $data -A trust -U postgres" >/dev/null \
        && services_as_pg "$bin/pg_ctl -D $data -l $data/server.log -w \
            -o '-p $port -k $data -c listen_addresses=127.0.0.1' start" >/dev/null; then
        export DATABASE_TEST_URL="postgresql+asyncpg://postgres@127.0.0.1:$port/postgres"
        export BENCH_DATABASE_URL="$DATABASE_TEST_URL"
    else
        echo "warning: PostgreSQL did not start; PostgreSQL will be skipped" >&2
        cat "$data/server.log" >&2 2>/dev/null || true
    fi
}

services_stop() {
    [ -n "${SERVICES_DIR:-}" ] || return 0
    if [ -f "$SERVICES_DIR/redis.pid" ]; then
        kill "$(cat "$SERVICES_DIR/redis.pid")" 2>/dev/null || true
    fi
    if [ -d "$SERVICES_DIR/pg" ] && [ -n "${SERVICES_PG_BIN:-}" ]; then
        services_as_pg "$SERVICES_PG_BIN/pg_ctl -D $SERVICES_DIR/pg -m fast -w stop" \
            >/dev/null 2>&1 || true
    fi
    rm -rf "$SERVICES_DIR"
    unset SERVICES_DIR SERVICES_PG_BIN DATABASE_TEST_URL BENCH_DATABASE_URL \
        REDIS_TEST_URL BENCH_REDIS_URL
}

services_start() {
    services_install || echo "warning: installing the servers failed" >&2
    SERVICES_DIR=$(mktemp -d)
    chmod 755 "$SERVICES_DIR"  # the postgres user keeps its data inside
    trap services_stop EXIT
    services_start_redis
    services_start_postgres
    echo "services: DATABASE_URL=${BENCH_DATABASE_URL:-unset} REDIS_URL=${BENCH_REDIS_URL:-unset}" >&2
}

if [ "${BASH_SOURCE[0]}" != "$0" ]; then
    services_start  # sourced: the caller's shell keeps the URLs
elif [ $# -gt 0 ]; then
    set -uo pipefail
    services_start
    "$@"
    status=$?
    services_stop
    trap - EXIT
    exit $status
else
    set -uo pipefail
    services_start
    echo "export DATABASE_TEST_URL=${DATABASE_TEST_URL:-} REDIS_TEST_URL=${REDIS_TEST_URL:-}"
    echo "export BENCH_DATABASE_URL=${BENCH_DATABASE_URL:-} BENCH_REDIS_URL=${BENCH_REDIS_URL:-}"
    echo "running; Ctrl-C stops them" >&2
    trap 'kill $! 2>/dev/null; exit 0' INT TERM
    while :; do sleep 3600 & wait $!; done
fi
