#!/usr/bin/env bash
# Real PostgreSQL server on loopback for the tests (Debian's packages; no systemd needed).
#
#   scripts/services/postgres.sh start    install if missing, initdb once, start, wait until ready;
#                                         the LAST stdout line is the DSN (without the password)
#   scripts/services/postgres.sh stop     stop it (fast shutdown)
#   scripts/services/postgres.sh status   exit 0 if running and accepting connections, 3 if not running
#   scripts/services/postgres.sh stop-standby   stop only the streaming standby (see PG_STANDBY)
#
# The cluster lives in .services/postgres/ at the repo root (git-ignored), owned by the `postgres`
# OS user when run as root (PostgreSQL refuses to run as root). It listens on 127.0.0.1 only, with
# pg_stat_statements preloaded and created in the test database. The test role `forensics` logs in
# with a password (SCRAM) over TCP; it is a member of pg_monitor (the privilege the collector needs
# in production) and may create roles and databases (the tests make their own).
#
# Environment:
#   PGPORT                  TCP port (default 55432)
#   FORENSICS_PG_PASSWORD   password set for the test role (default "forensics-test"); the tests
#                           read the same variable
#   PG_START_TIMEOUT        seconds to wait for the server to accept connections (default 60)
#   PG_RESET_DATA=1         start from a fresh cluster
#   PG_STANDBY=1            also start a streaming standby of it (pg_basebackup -R) on PGPORT + 1;
#                           the last stdout line is then the standby's DSN
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
STATE="$ROOT/.services/postgres"
PORT_FILE="$STATE/server.port"
DIR_FILE="$STATE/cluster.dir"

PGPORT="${PGPORT:-55432}"
PG_PASSWORD="${FORENSICS_PG_PASSWORD:-forensics-test}"
PG_START_TIMEOUT="${PG_START_TIMEOUT:-60}"
TEST_ROLE="forensics"
TEST_DB="forensics"

log() { echo "postgres.sh: $*" >&2; }
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

# Run a command as the `postgres` OS user when we are root, else as ourselves.
as_pg() {
    if [[ $EUID -eq 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

find_bin() {
    # newest installed server version's bin directory
    local dir
    dir="$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -type d -name bin 2>/dev/null | sort -V | tail -n 1)"
    [[ -n "$dir" && -x "$dir/initdb" && -x "$dir/pg_ctl" ]] || return 1
    echo "$dir"
}

install_server() {
    if find_bin >/dev/null && [[ -n "$(find /usr/lib/postgresql -name 'pg_stat_statements.so' -print -quit 2>/dev/null)" ]]; then
        return 0
    fi
    if [[ $EUID -ne 0 ]]; then
        log "PostgreSQL is not installed; run as root or: apt-get install postgresql postgresql-contrib"
        exit 1
    fi
    log "installing PostgreSQL (apt-get; output in $STATE/install.log)"
    mkdir -p "$STATE"
    export DEBIAN_FRONTEND=noninteractive
    if ! { apt-get -o DPkg::Lock::Timeout=600 update \
        && apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends \
            postgresql postgresql-contrib; } >"$STATE/install.log" 2>&1; then
        log "apt-get failed; last lines of $STATE/install.log:"
        tail -n 40 "$STATE/install.log" >&2
        exit 1
    fi
    find_bin >/dev/null || { log "no PostgreSQL server binaries after install"; exit 1; }
}

# Where the cluster lives: under .services/postgres unless the postgres user cannot reach it
# (a clone under a private home directory), then under /var/tmp, keyed by the repo path.
cluster_dir() {
    if [[ -f "$DIR_FILE" ]]; then
        cat "$DIR_FILE"
        return 0
    fi
    local dir="$STATE/cluster"
    mkdir -p "$dir"
    if [[ $EUID -eq 0 ]]; then
        chown postgres: "$dir"
        if ! runuser -u postgres -- test -w "$dir"; then
            rmdir "$dir"
            dir="/var/tmp/incident-forensics-postgres-$(echo "$ROOT" | sha256sum | cut -c1-12)"
            mkdir -p "$dir"
            chown postgres: "$dir"
        fi
    fi
    echo "$dir" >"$DIR_FILE"
    echo "$dir"
}

setup_paths() {
    BIN="$(find_bin)"
    CLUSTER="$(cluster_dir)"
    DATA="$CLUSTER/data"
    STANDBY="$CLUSTER/standby"
    LOG_FILE="$CLUSTER/server.log"
    SOCKET_DIR="$CLUSTER/run"
    if ((${#SOCKET_DIR} > 90)); then # unix socket paths are limited to ~107 bytes
        SOCKET_DIR="/tmp/incident-forensics-pg-$(echo "$ROOT" | sha256sum | cut -c1-12)"
    fi
}

running() {
    [[ -f "$DATA/postmaster.pid" ]] && as_pg "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

ready() {
    as_pg "$BIN/pg_isready" -q -h 127.0.0.1 -p "$1" -d postgres -t 2 >/dev/null 2>&1
}

init_cluster() {
    if [[ "${PG_RESET_DATA:-0}" == 1 && -d "$DATA" ]]; then
        log "PG_RESET_DATA=1: removing $DATA"
        rm -rf "$DATA"
    fi
    [[ -f "$DATA/PG_VERSION" ]] && return 0
    rm -rf "$STANDBY" # a standby of an older cluster cannot follow the new one
    log "creating the cluster in $DATA"
    as_pg mkdir -p "$DATA"
    # local socket: trust, but the socket directory is private to the cluster owner (0700);
    # TCP: SCRAM passwords only
    as_pg "$BIN/initdb" -D "$DATA" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
        --encoding=UTF8 --locale=C.UTF-8 >"$STATE/initdb.log" 2>&1 || {
        log "initdb failed; last lines of $STATE/initdb.log:"
        tail -n 40 "$STATE/initdb.log" >&2
        exit 1
    }
    as_pg tee -a "$DATA/postgresql.conf" >/dev/null <<EOF

# --- incident-forensics test server (scripts/services/postgres.sh) ---
listen_addresses = '127.0.0.1'
unix_socket_permissions = 0700
shared_preload_libraries = 'pg_stat_statements'
pg_stat_statements.track = all
pg_stat_statements.track_utility = on
max_connections = 100
superuser_reserved_connections = 3
shared_buffers = 128MB
# a throw-away test cluster: durability is not needed, speed is
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
}

setup_roles() {
    # The password goes to psql as a variable (quoted by psql), never on a command line.
    as_pg "$BIN/psql" -X -q -h "$SOCKET_DIR" -p "$PGPORT" -U postgres -d postgres \
        -v ON_ERROR_STOP=1 -v role="$TEST_ROLE" -v db="$TEST_DB" -v pw="$PG_PASSWORD" \
        >"$STATE/setup.log" 2>&1 <<'SQL' || {
SET pg_stat_statements.track = none;
SELECT format('CREATE ROLE %I LOGIN', :'role')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role') \gexec
ALTER ROLE :"role" WITH LOGIN CREATEROLE CREATEDB PASSWORD :'pw';
GRANT pg_monitor TO :"role" WITH ADMIN OPTION;
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'role')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') \gexec
\connect :db
SET pg_stat_statements.track = none;
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
SQL
        log "setting up the test role failed; see $STATE/setup.log:"
        tail -n 20 "$STATE/setup.log" >&2
        exit 1
    }
}

standby_running() {
    [[ -f "$STANDBY/postmaster.pid" ]] && as_pg "$BIN/pg_ctl" -D "$STANDBY" status >/dev/null 2>&1
}

start_standby() {
    local port=$((PGPORT + 1))
    if ! standby_running; then
        if [[ ! -f "$STANDBY/standby.signal" ]]; then
            as_pg rm -rf "$STANDBY"
            log "making a standby in $STANDBY (pg_basebackup -R)"
            as_pg "$BIN/pg_basebackup" -h "$SOCKET_DIR" -p "$PGPORT" -U postgres -D "$STANDBY" \
                -R -X stream -c fast >"$STATE/basebackup.log" 2>&1 || {
                log "pg_basebackup failed; see $STATE/basebackup.log:"
                tail -n 20 "$STATE/basebackup.log" >&2
                exit 1
            }
        fi
        as_pg "$BIN/pg_ctl" -D "$STANDBY" -l "$CLUSTER/standby.log" -w -t "$PG_START_TIMEOUT" \
            -o "-p $port -k $SOCKET_DIR" start </dev/null >"$STATE/pg_ctl-standby.log" 2>&1 9>&- || {
            cat "$STATE/pg_ctl-standby.log" >&2
            LOG_FILE="$CLUSTER/standby.log" fail "pg_ctl could not start the standby"
        }
    fi
    local deadline=$((SECONDS + PG_START_TIMEOUT))
    until ready "$port"; do
        ((SECONDS < deadline)) || LOG_FILE="$CLUSTER/standby.log" fail "the standby did not accept connections"
        sleep 0.3
    done
    log "standby streaming from :$PGPORT on 127.0.0.1:$port"
    echo "postgresql://$TEST_ROLE@127.0.0.1:$port/$TEST_DB"
}

stop_standby() {
    if standby_running; then
        as_pg "$BIN/pg_ctl" -D "$STANDBY" -m fast -w -t 60 stop >&2
        log "standby stopped"
    fi
}

start() {
    install_server
    setup_paths
    if running; then
        local port
        port="$(cat "$PORT_FILE" 2>/dev/null || echo "?")"
        if [[ "$port" != "$PGPORT" ]]; then
            log "already running on port $port, not $PGPORT; stop it first"
            exit 1
        fi
        wait_ready || fail "running but not accepting connections"
        setup_roles
        log "already running on 127.0.0.1:$PGPORT"
        echo "postgresql://$TEST_ROLE@127.0.0.1:$PGPORT/$TEST_DB"
        if [[ "${PG_STANDBY:-0}" == 1 ]]; then
            start_standby
        fi
        return 0
    fi
    if ready "$PGPORT"; then
        log "port $PGPORT already serves a PostgreSQL server that this script did not start"
        exit 1
    fi
    init_cluster
    as_pg mkdir -p "$SOCKET_DIR"
    as_pg chmod 0700 "$SOCKET_DIR"
    echo "$PGPORT" >"$PORT_FILE"
    # pg_ctl detaches the server; its output goes to the log, never to our stdout pipe
    if ! as_pg "$BIN/pg_ctl" -D "$DATA" -l "$LOG_FILE" -w -t "$PG_START_TIMEOUT" \
        -o "-p $PGPORT -k $SOCKET_DIR" start </dev/null >"$STATE/pg_ctl.log" 2>&1 9>&-; then
        cat "$STATE/pg_ctl.log" >&2
        fail "pg_ctl could not start the server"
    fi
    wait_ready || fail "did not accept connections within ${PG_START_TIMEOUT}s"
    setup_roles
    log "started on 127.0.0.1:$PGPORT (data in $DATA, log in $LOG_FILE)"
    echo "postgresql://$TEST_ROLE@127.0.0.1:$PGPORT/$TEST_DB"
    if [[ "${PG_STANDBY:-0}" == 1 ]]; then
        start_standby
    fi
}

wait_ready() {
    local deadline=$((SECONDS + PG_START_TIMEOUT))
    while ((SECONDS < deadline)); do
        ready "$PGPORT" && return 0
        running || return 1
        sleep 0.3
    done
    return 1
}

fail() {
    log "$1; last lines of ${LOG_FILE:-the server log}:"
    tail -n 40 "${LOG_FILE:-/dev/null}" >&2 || true
    exit 1
}

stop() {
    if ! find_bin >/dev/null || [[ ! -f "$DIR_FILE" ]]; then
        log "not running"
        return 0
    fi
    setup_paths
    stop_standby
    if ! running; then
        rm -f "$PORT_FILE"
        log "not running"
        return 0
    fi
    as_pg "$BIN/pg_ctl" -D "$DATA" -m fast -w -t 60 stop >&2
    rm -f "$PORT_FILE"
    log "stopped"
}

status() {
    if ! find_bin >/dev/null || [[ ! -f "$DIR_FILE" ]]; then
        echo "postgres: not running"
        return 3
    fi
    setup_paths
    if ! running; then
        echo "postgres: not running"
        return 3
    fi
    local port
    port="$(cat "$PORT_FILE" 2>/dev/null || echo "$PGPORT")"
    if ready "$port"; then
        echo "postgres: running on 127.0.0.1:$port, accepting connections"
        return 0
    fi
    echo "postgres: running on 127.0.0.1:$port but not accepting connections"
    return 1
}


case "${1:-}" in
    start) lock && start ;;
    stop) lock && stop ;;
    stop-standby)
        lock
        if find_bin >/dev/null && [[ -f "$DIR_FILE" ]]; then
            setup_paths
            stop_standby
        fi
        ;;
    status) status ;;
    *)
        echo "usage: $0 start|stop|status|stop-standby" >&2
        exit 2
        ;;
esac
