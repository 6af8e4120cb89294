#!/usr/bin/env bash
# A real 3-node Elasticsearch cluster on loopback, for the fault tests (a node is killed mid-export).
#
#   scripts/services/elasticsearch-cluster.sh start         start 3 fresh nodes, wait for 3 nodes and green
#   scripts/services/elasticsearch-cluster.sh stop          stop every node of the cluster
#   scripts/services/elasticsearch-cluster.sh kill-node N   SIGKILL the JVM of node N (1..3), like a crash
#   scripts/services/elasticsearch-cluster.sh status        exit 0 when all 3 nodes run, 3 when none runs, 1 otherwise
#
# `start` prints, as its last stdout line, the comma-separated HTTP URLs of the nodes.
# The nodes run the same launcher as scripts/services/elasticsearch.sh (tests/services/elasticsearch,
# EsLauncher.java) with --seed-hosts / --initial-master-nodes, on ports that never touch the shared
# single node on 9200: HTTP ES_CLUSTER_HTTP_BASE+1..3 (default 9211-9213), transport
# ES_CLUSTER_TRANSPORT_BASE+1..3 (default 9311-9313). State lives in .services/elasticsearch-cluster/
# (one folder per node; data is wiped on every start, so each start bootstraps a new cluster).
#
# Environment:
#   ES_CLUSTER_HTTP_BASE        (default 9210)
#   ES_CLUSTER_TRANSPORT_BASE   (default 9310)
#   ES_JAVA                     java binary (default: java on PATH; needs 17+)
#   ES_CLUSTER_JAVA_OPTS        JVM options per node (default: -Xms256m -Xmx512m)
#   ES_START_TIMEOUT            seconds to wait for the cluster (default 180)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PROJECT="$ROOT/tests/services/elasticsearch"
STATE="$ROOT/.services/elasticsearch-cluster"
HTTP_BASE="${ES_CLUSTER_HTTP_BASE:-9210}"
TRANSPORT_BASE="${ES_CLUSTER_TRANSPORT_BASE:-9310}"
ES_JAVA="${ES_JAVA:-java}"
JAVA_OPTS="${ES_CLUSTER_JAVA_OPTS:--Xms256m -Xmx512m}"
ES_START_TIMEOUT="${ES_START_TIMEOUT:-180}"
NODES=(1 2 3)
CLUSTER="forensics-faults"

log() { echo "elasticsearch-cluster.sh: $*" >&2; }
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

node_pid() {
    # prints the pid of node $1 if it is alive and is our launcher
    local file="$STATE/node-$1/node.pid" pid
    [[ -f "$file" ]] || return 1
    pid="$(cat "$file")"
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null && grep -q EsLauncher "/proc/$pid/cmdline" 2>/dev/null || return 1
    echo "$pid"
}

fetch() {
    if command -v curl >/dev/null; then
        curl -fsS --max-time 5 "$1" 2>/dev/null
    else
        python3 -c 'import sys,urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' \
            "$1" 2>/dev/null
    fi
}

healthy() {
    # true when node 1 reports a green cluster of 3 nodes
    local body
    body="$(fetch "http://127.0.0.1:$((HTTP_BASE + 1))/_cluster/health?wait_for_nodes=3&wait_for_status=green&timeout=1s")" \
        || return 1
    [[ "$body" == *'"status":"green"'* && "$body" == *'"number_of_nodes":3,'* ]]
}

urls() {
    local n out=()
    for n in "${NODES[@]}"; do
        out+=("http://127.0.0.1:$((HTTP_BASE + n))")
    done
    (IFS=,; echo "${out[*]}")
}

build() {
    local jar="$PROJECT/target/es-launcher.jar"
    if [[ -f "$jar" && -d "$PROJECT/target/lib" ]] \
        && [[ -z "$(find "$PROJECT/pom.xml" "$PROJECT/src" -newer "$jar" -print -quit)" ]]; then
        return 0
    fi
    log "building the launcher (Maven; output in $STATE/build.log)"
    if ! mvn -q -B -f "$PROJECT/pom.xml" package -DskipTests >"$STATE/build.log" 2>&1; then
        log "Maven build failed; last lines of $STATE/build.log:"
        tail -n 40 "$STATE/build.log" >&2
        exit 1
    fi
}

start() {
    local n running=0
    for n in "${NODES[@]}"; do
        node_pid "$n" >/dev/null && running=$((running + 1))
    done
    if ((running == 3)) && healthy; then
        log "already running"
        urls
        return 0
    fi
    ((running == 0)) || stop
    build
    local seeds=() names=()
    for n in "${NODES[@]}"; do
        seeds+=("127.0.0.1:$((TRANSPORT_BASE + n))")
        names+=("fault-node-$n")
    done
    for n in "${NODES[@]}"; do
        local dir="$STATE/node-$n"
        rm -rf "$dir/home"
        mkdir -p "$dir/home/tmp"
        : >"$dir/node.log"
        # shellcheck disable=SC2086 # JAVA_OPTS is a list of options
        setsid "$ES_JAVA" $JAVA_OPTS \
            -Djava.io.tmpdir="$dir/home/tmp" -Djava.awt.headless=true -Dfile.encoding=UTF-8 -Dlog4j2.disable.jmx=true \
            -cp "$PROJECT/target/es-launcher.jar:$PROJECT/target/lib/*" forensics.testsvc.EsLauncher \
            --home "$dir/home" --http-port "$((HTTP_BASE + n))" --transport-port "$((TRANSPORT_BASE + n))" \
            --node-name "fault-node-$n" --cluster-name "$CLUSTER" \
            --seed-hosts "$(IFS=,; echo "${seeds[*]}")" --initial-master-nodes "$(IFS=,; echo "${names[*]}")" \
            </dev/null >>"$dir/node.log" 2>&1 9>&- &
        echo $! >"$dir/node.pid"
    done
    local deadline=$((SECONDS + ES_START_TIMEOUT))
    while ((SECONDS < deadline)); do
        if healthy; then
            log "started 3 nodes: $(urls)"
            urls
            return 0
        fi
        for n in "${NODES[@]}"; do
            node_pid "$n" >/dev/null || fail "node $n exited during startup" "$n"
        done
        sleep 1
    done
    fail "the cluster did not become green with 3 nodes within ${ES_START_TIMEOUT}s" 1
}

fail() {
    log "$1; last lines of $STATE/node-$2/node.log:"
    tail -n 60 "$STATE/node-$2/node.log" >&2 || true
    stop >/dev/null 2>&1 || true
    exit 1
}

stop() {
    local n pid pids=()
    for n in "${NODES[@]}"; do
        if pid="$(node_pid "$n")"; then
            kill -TERM "$pid" 2>/dev/null || true
            pids+=("$pid")
        fi
        rm -f "$STATE/node-$n/node.pid"
    done
    for pid in "${pids[@]}"; do
        for _ in $(seq 1 60); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.5
        done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
    done
    log "stopped ${#pids[@]} node(s)"
}

kill_node() {
    local n="${1:-}" pid
    [[ "$n" =~ ^[123]$ ]] || { echo "usage: $0 kill-node 1|2|3" >&2; exit 2; }
    if ! pid="$(node_pid "$n")"; then
        log "node $n is not running"
        exit 1
    fi
    kill -KILL "$pid"
    while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
    rm -f "$STATE/node-$n/node.pid"
    log "killed node $n (pid $pid) with SIGKILL"
}

status() {
    local n running=0
    for n in "${NODES[@]}"; do
        if node_pid "$n" >/dev/null; then
            running=$((running + 1))
            echo "node $n: running (pid $(node_pid "$n")) http://127.0.0.1:$((HTTP_BASE + n))"
        else
            echo "node $n: not running"
        fi
    done
    ((running == 3)) && return 0
    ((running == 0)) && return 3
    return 1
}


case "${1:-}" in
    start) lock && start ;;
    stop) lock && stop ;;
    kill-node) lock && kill_node "${2:-}" ;;
    status) status ;;
    *)
        echo "usage: $0 start|stop|kill-node N|status" >&2
        exit 2
        ;;
esac
