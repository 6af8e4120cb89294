#!/usr/bin/env bash
# Real Prometheus server on loopback for the tests, with a deterministic history in the past.
#
#   scripts/services/prometheus.sh start          install if missing, backfill, start, wait until ready;
#                                                 the base URL is the LAST line of stdout
#   scripts/services/prometheus.sh stop           stop it
#   scripts/services/prometheus.sh status         exit 0 if running and ready, 3 if not running, 1 otherwise
#   scripts/services/prometheus.sh backfill FILE  import an OpenMetrics file (restarts a running server)
#
# Prometheus is Debian's `prometheus` package (it ships `promtool`), run directly (no systemd).
# History comes from tests/services/prometheus/backfill.py (2026-11-20 06:45-11:30Z, the sample
# incident's story), imported with `promtool tsdb create-blocks-from openmetrics` before the
# server starts. Retention is 100y so those old blocks are kept and queryable. State (pid, port,
# log, config, data) lives in .services/prometheus/ at the repo root.
#
# Environment:
#   PROMETHEUS_PORT            HTTP port (default 9090, or a free port when 9090 is taken)
#   PROMETHEUS_START_TIMEOUT   seconds to wait for /-/ready (default 60)
#   PROMETHEUS_RESET_DATA=1    rebuild the data directory from the backfill
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
STATE="$ROOT/.services/prometheus"
DATA="$STATE/data"
PID_FILE="$STATE/server.pid"
PORT_FILE="$STATE/server.port"
LOG_FILE="$STATE/server.log"
CONFIG="$STATE/prometheus.yml"
GENERATOR="$ROOT/tests/services/prometheus/backfill.py"
STAMP="$DATA/.backfill.sha256"
START_TIMEOUT="${PROMETHEUS_START_TIMEOUT:-60}"
PYTHON="$(command -v python3 || command -v python)"

log() { echo "prometheus.sh: $*" >&2; }
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

running_pid() {
    # prints the pid of our server if it is alive
    [[ -f "$PID_FILE" ]] || return 1
    local pid
    pid="$(cat "$PID_FILE")"
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null \
        && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "--storage.tsdb.path=$DATA" || return 1
    echo "$pid"
}

get() {
    # prints the body of a GET; fails on any error status
    "$PYTHON" -c 'import sys,urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' \
        "$1" 2>/dev/null
}

ready() { get "http://127.0.0.1:$1/-/ready" >/dev/null; }

port_free() {
    "$PYTHON" -c 'import socket,sys
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try: s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError: sys.exit(1)' "$1"
}

free_port() {
    "$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

install() {
    if command -v prometheus >/dev/null && command -v promtool >/dev/null; then
        return 0
    fi
    log "installing Debian's prometheus package (apt output in $STATE/apt.log)"
    local sudo=()
    [[ "$(id -u)" == 0 ]] || sudo=(sudo)
    mkdir -p "$STATE"
    if ! { "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 update \
        && DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 install -y \
            --no-install-recommends prometheus; } >"$STATE/apt.log" 2>&1; then
        log "apt-get install prometheus failed; last lines of $STATE/apt.log:"
        tail -n 30 "$STATE/apt.log" >&2
        exit 1
    fi
    command -v prometheus >/dev/null || { log "prometheus binary missing after install"; exit 1; }
    # Without systemd and without a policy-rc.d that forbids it, the package's postinst starts its
    # own server (/etc/init.d/prometheus, 0.0.0.0:9090, /var/lib/prometheus); stop that one.
    if [[ ! -x /usr/sbin/policy-rc.d && -x /etc/init.d/prometheus ]]; then
        "${sudo[@]}" /etc/init.d/prometheus stop >>"$STATE/apt.log" 2>&1 || true
    fi
}

import_file() {
    # import_file FILE: OpenMetrics -> TSDB blocks in $DATA
    local file="$1" out="$STATE/promtool.log"
    mkdir -p "$DATA"
    if ! promtool tsdb create-blocks-from openmetrics --quiet "$file" "$DATA" >"$out" 2>&1; then
        log "promtool could not import $file; last lines of $out:"
        tail -n 30 "$out" >&2
        exit 1
    fi
}

backfill_default() {
    local sha
    sha="$(sha256sum "$GENERATOR" | cut -d' ' -f1)"
    if [[ "${PROMETHEUS_RESET_DATA:-0}" != 1 && -f "$STAMP" && "$(cat "$STAMP")" == "$sha" ]]; then
        return 0
    fi
    log "backfilling the sample incident history (2026-11-20 06:45-11:30Z)"
    rm -rf "$DATA"
    mkdir -p "$DATA"
    "$PYTHON" "$GENERATOR" "$STATE/backfill.om"
    import_file "$STATE/backfill.om"
    rm -f "$STATE/backfill.om"
    echo "$sha" >"$STAMP"
}

write_config() {
    cat >"$CONFIG" <<'YAML'
# Test server: no scrape targets; all data is backfilled history.
global:
  scrape_interval: 15s
  evaluation_interval: 15s
scrape_configs: []
YAML
}

wait_ready() {
    local port="$1" deadline=$((SECONDS + START_TIMEOUT))
    while ((SECONDS < deadline)); do
        ready "$port" && return 0
        running_pid >/dev/null || return 1
        sleep 0.3
    done
    return 1
}

fail() {
    log "$1; last lines of $LOG_FILE:"
    tail -n 40 "$LOG_FILE" >&2 || true
    stop >/dev/null 2>&1 || true
    exit 1
}

launch() {
    local port
    if [[ -n "${PROMETHEUS_PORT:-}" ]]; then
        port="$PROMETHEUS_PORT"
        port_free "$port" || { log "port $port (PROMETHEUS_PORT) is already in use"; exit 1; }
    elif port_free 9090; then
        port=9090
    else
        port="$(free_port)"
        log "port 9090 is taken; using free port $port"
    fi
    write_config
    : >"$LOG_FILE"
    setsid prometheus \
        --config.file="$CONFIG" \
        --storage.tsdb.path="$DATA" \
        --storage.tsdb.retention.time=100y \
        --web.listen-address="127.0.0.1:$port" \
        </dev/null >>"$LOG_FILE" 2>&1 9>&- &
    echo $! >"$PID_FILE"
    echo "$port" >"$PORT_FILE"
    wait_ready "$port" || {
        running_pid >/dev/null || fail "prometheus exited during startup"
        fail "not ready within ${START_TIMEOUT}s"
    }
    log "started (pid $(cat "$PID_FILE")) on http://127.0.0.1:$port"
}

start() {
    local pid port
    if pid="$(running_pid)"; then
        port="$(cat "$PORT_FILE")"
        if [[ -n "${PROMETHEUS_PORT:-}" && "$PROMETHEUS_PORT" != "$port" ]]; then
            log "already running on port $port, not $PROMETHEUS_PORT; stop it first"
            exit 1
        fi
        wait_ready "$port" || fail "running (pid $pid) but not ready"
        log "already running (pid $pid)"
    else
        install
        backfill_default
        launch
    fi
    echo "http://127.0.0.1:$(cat "$PORT_FILE")"
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
    local pid port
    if ! pid="$(running_pid)"; then
        echo "prometheus: not running"
        return 3
    fi
    port="$(cat "$PORT_FILE")"
    if ready "$port"; then
        echo "prometheus: running (pid $pid), http://127.0.0.1:$port ready"
        return 0
    fi
    echo "prometheus: running (pid $pid), http://127.0.0.1:$port not ready"
    return 1
}

backfill() {
    local file="${1:-}"
    [[ -f "$file" ]] || { log "usage: $0 backfill FILE (an OpenMetrics file ending in # EOF)"; exit 2; }
    file="$(cd "$(dirname "$file")" && pwd)/$(basename "$file")"
    install
    local was_running=0
    if running_pid >/dev/null; then
        was_running=1
        PROMETHEUS_PORT="$(cat "$PORT_FILE")"
        stop
    fi
    backfill_default
    import_file "$file"
    log "imported $file"
    if ((was_running)); then
        launch
        echo "http://127.0.0.1:$(cat "$PORT_FILE")"
    fi
}


case "${1:-}" in
    start) lock && start ;;
    stop) lock && stop ;;
    status) status ;;
    backfill) lock && backfill "${2:-}" ;;
    *)
        echo "usage: $0 start|stop|status|backfill FILE" >&2
        exit 2
        ;;
esac
