#!/usr/bin/env bash
# Real Elasticsearch node on loopback for the tests.
#
#   scripts/services/elasticsearch.sh start    build the launcher if needed, start the node, wait until healthy
#   scripts/services/elasticsearch.sh stop     stop it
#   scripts/services/elasticsearch.sh status   exit 0 if running and answering, 3 if not running, 1 otherwise
#
# The node is the Elasticsearch server from Maven Central, run by our launcher in tests/services/elasticsearch
# (see EsLauncher.java). State (pid, log, data) lives in .services/elasticsearch/ at the repo root.
#
# Environment:
#   ES_PORT                HTTP port (default 9200)
#   ES_TRANSPORT_PORT      transport port (default ES_PORT + 100)
#   ES_JAVA                java binary (default: java on PATH; needs 17+)
#   ES_JAVA_OPTS           JVM options (default: -Xms512m -Xmx1g)
#   ES_START_TIMEOUT       seconds to wait for the node to become healthy (default 120)
#   ES_SETTINGS            extra node settings, space-separated key=value (e.g. "indices.query.bool.max_clause_count=2048")
#   ES_RESET_DATA=1        start from an empty data directory
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PROJECT="$ROOT/tests/services/elasticsearch"
STATE="$ROOT/.services/elasticsearch"
PID_FILE="$STATE/node.pid"
PORT_FILE="$STATE/node.port"
LOG_FILE="$STATE/node.log"
HOME_DIR="$STATE/home"

ES_PORT="${ES_PORT:-9200}"
ES_TRANSPORT_PORT="${ES_TRANSPORT_PORT:-$((ES_PORT + 100))}"
ES_JAVA="${ES_JAVA:-java}"
ES_JAVA_OPTS="${ES_JAVA_OPTS:--Xms512m -Xmx1g}"
ES_START_TIMEOUT="${ES_START_TIMEOUT:-120}"
HEALTH_URL="http://127.0.0.1:$ES_PORT/_cluster/health?wait_for_status=yellow&timeout=1s"

log() { echo "elasticsearch.sh: $*" >&2; }
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

running_pid() {
    # prints the pid of our node if it is alive
    [[ -f "$PID_FILE" ]] || return 1
    local pid
    pid="$(cat "$PID_FILE")"
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null && grep -q EsLauncher "/proc/$pid/cmdline" 2>/dev/null || return 1
    echo "$pid"
}

healthy() {
    # true when the cluster answers with status yellow or green
    local body
    if command -v curl >/dev/null; then
        body="$(curl -fsS --max-time 5 "$HEALTH_URL" 2>/dev/null)" || return 1
    else
        body="$(python3 -c 'import sys,urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' \
            "$HEALTH_URL" 2>/dev/null)" || return 1
    fi
    [[ "$body" == *'"status":"green"'* || "$body" == *'"status":"yellow"'* ]]
}

build() {
    local jar="$PROJECT/target/es-launcher.jar"
    if [[ -f "$jar" && -d "$PROJECT/target/lib" ]] \
        && [[ -z "$(find "$PROJECT/pom.xml" "$PROJECT/src" -newer "$jar" -print -quit)" ]]; then
        return 0
    fi
    log "building the launcher (Maven; output in $STATE/build.log)"
    mkdir -p "$STATE"
    if ! mvn -q -B -f "$PROJECT/pom.xml" package -DskipTests >"$STATE/build.log" 2>&1; then
        log "Maven build failed; last lines of $STATE/build.log:"
        tail -n 40 "$STATE/build.log" >&2
        exit 1
    fi
}

start() {
    if running_pid >/dev/null; then
        if [[ "$(cat "$PORT_FILE" 2>/dev/null)" != "$ES_PORT" ]]; then
            log "already running on port $(cat "$PORT_FILE" 2>/dev/null), not $ES_PORT; stop it first"
            exit 1
        fi
        if wait_healthy; then
            log "already running (pid $(running_pid)) on port $ES_PORT"
            return 0
        fi
        fail "running (pid $(running_pid)) but not healthy"
    fi
    if healthy; then
        log "port $ES_PORT already serves an Elasticsearch cluster that this script did not start"
        exit 1
    fi

    build
    mkdir -p "$STATE"
    if [[ "${ES_RESET_DATA:-0}" == 1 ]]; then
        rm -rf "$HOME_DIR"
    fi
    mkdir -p "$HOME_DIR/tmp"
    : >"$LOG_FILE"
    local extra=() kv
    for kv in ${ES_SETTINGS:-}; do
        extra+=(-E "$kv")
    done

    # shellcheck disable=SC2086 # ES_JAVA_OPTS is a list of options
    setsid "$ES_JAVA" $ES_JAVA_OPTS \
        -Djava.io.tmpdir="$HOME_DIR/tmp" -Djava.awt.headless=true -Dfile.encoding=UTF-8 -Dlog4j2.disable.jmx=true \
        -cp "$PROJECT/target/es-launcher.jar:$PROJECT/target/lib/*" forensics.testsvc.EsLauncher \
        --home "$HOME_DIR" --http-port "$ES_PORT" --transport-port "$ES_TRANSPORT_PORT" "${extra[@]}" \
        </dev/null >>"$LOG_FILE" 2>&1 9>&- &
    echo $! >"$PID_FILE"
    echo "$ES_PORT" >"$PORT_FILE"

    if wait_healthy; then
        log "started (pid $(cat "$PID_FILE")) on http://127.0.0.1:$ES_PORT"
        return 0
    fi
    running_pid >/dev/null || fail "the node exited during startup"
    fail "did not become healthy within ${ES_START_TIMEOUT}s"
}

wait_healthy() {
    local deadline=$((SECONDS + ES_START_TIMEOUT))
    while ((SECONDS < deadline)); do
        healthy && return 0
        running_pid >/dev/null || return 1
        sleep 0.5
    done
    return 1
}

fail() {
    log "$1; last lines of $LOG_FILE:"
    tail -n 60 "$LOG_FILE" >&2 || true
    stop >/dev/null 2>&1 || true
    exit 1
}

stop() {
    local pid
    if ! pid="$(running_pid)"; then
        rm -f "$PID_FILE" "$PORT_FILE"
        log "not running"
        return 0
    fi
    terminate "$pid"
    rm -f "$PID_FILE" "$PORT_FILE"
    log "stopped (pid $pid)"
}

status() {
    local pid
    if ! pid="$(running_pid)"; then
        echo "elasticsearch: not running"
        return 3
    fi
    ES_PORT="$(cat "$PORT_FILE" 2>/dev/null || echo "$ES_PORT")"
    HEALTH_URL="http://127.0.0.1:$ES_PORT/_cluster/health?wait_for_status=yellow&timeout=1s"
    if healthy; then
        echo "elasticsearch: running (pid $pid), http://127.0.0.1:$ES_PORT healthy"
        return 0
    fi
    echo "elasticsearch: running (pid $pid), http://127.0.0.1:$ES_PORT not answering as healthy"
    return 1
}


case "${1:-}" in
    start) lock && start ;;
    stop) lock && stop ;;
    status) status ;;
    *)
        echo "usage: $0 start|stop|status" >&2
        exit 2
        ;;
esac
