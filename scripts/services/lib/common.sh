# Sourced by the service scripts beside this folder (not run on its own): what they all share.
# Each script defines STATE (its state folder) and log() before sourcing this file.

# One start/stop at a time per service: parallel test workers may all call start.
lock() {
    mkdir -p "$STATE"
    exec 9>"$STATE/lock"
    flock 9
}

# Stop a process: TERM, up to 30 s to exit, then KILL.
terminate() {
    local pid="$1"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 60); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.5
    done
    log "pid $pid did not stop after 30s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
}
