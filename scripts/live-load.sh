#!/usr/bin/env bash
# Measures the DSP load and xruns of `lathe run` on a private JACK server (dummy driver).
#
# usage: scripts/live-load.sh GRAPH [SECONDS=10] [PERIOD_FRAMES=64] [RATE_HZ=48000]
#
# Starts `jackd -d dummy` under its own name (real-time scheduling when allowed, else
# --no-realtime, said in the report), runs lathe on GRAPH wired to the dummy system ports,
# stops it after SECONDS and prints lathe's own summary (mean and max of JACK's DSP load,
# xruns, and the time lathe itself spends in its process callback, with the periods where
# that alone exceeded the period) plus the xruns the server logged. LATHE=path/to/lathe overrides the binary
# (default: target/release/lathe, built if missing).
set -euo pipefail

graph=${1:?usage: $0 GRAPH [SECONDS] [PERIOD_FRAMES] [RATE_HZ]}
seconds=${2:-10}
period=${3:-64}
rate=${4:-48000}
root=$(cd "$(dirname "$0")/.." && pwd)
lathe=${LATHE:-$root/target/release/lathe}
if [[ ! -x $lathe ]]; then
    cargo build --release --manifest-path "$root/Cargo.toml" --bin lathe >&2
fi
command -v jackd >/dev/null || { echo "jackd not found (apt-get install jackd2)" >&2; exit 2; }

# A fixed server name: JACK keeps a small registry of server names and reuses the entry of
# a name it has seen, so one name per run would fill it (then no new server can start).
server="lathe-load"
log=$(mktemp)
out=$(mktemp)
jackd_pid=
cleanup() {
    if [[ -n $jackd_pid ]] && kill -0 "$jackd_pid" 2>/dev/null; then
        kill -TERM "$jackd_pid"
        wait "$jackd_pid" 2>/dev/null || true
    fi
    rm -f "$log" "$out"
}
trap cleanup EXIT

start_server() {
    jackd "$@" -n "$server" -d dummy -r "$rate" -p "$period" >"$log" 2>&1 &
    jackd_pid=$!
    for _ in $(seq 50); do
        if JACK_DEFAULT_SERVER=$server jack_lsp >/dev/null 2>&1; then return 0; fi
        kill -0 "$jackd_pid" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

mode="real-time"
if ! start_server --realtime; then
    kill -TERM "$jackd_pid" 2>/dev/null || true
    wait "$jackd_pid" 2>/dev/null || true
    mode="no real-time scheduling"
    start_server --no-realtime || { cat "$log" >&2; echo "jackd did not start" >&2; exit 1; }
fi

(sleep "$seconds"; echo quit) | JACK_DEFAULT_SERVER=$server "$lathe" run "$graph" \
    --name lathe-load --connect --no-watch >"$out" 2>&1 || true

summary=$(grep -E "^lathe: (ran |lathe's own)" "$out" || true)
server_xruns=$(grep -ci 'xrun' "$log" || true)
echo "graph $graph: ${period} frames at ${rate} Hz for ${seconds} s, jackd $mode"
if [[ -n $summary ]]; then
    echo "$summary"
else
    echo "lathe did not report a summary:" >&2
    cat "$out" >&2
    exit 1
fi
echo "server log: $server_xruns xrun lines"
