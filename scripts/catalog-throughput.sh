#!/usr/bin/env bash
# catalog-throughput.sh: what a catalogue run costs against plain `lathe album` runs.
#
#   scripts/catalog-throughput.sh BINARY [ALBUMS] [TRACKS]
#
# Builds ALBUMS (default 6) albums of TRACKS (default 4) tracks from the built-in 30 s
# demo mix at different levels, then measures with GNU time, on one thread (--jobs 1):
#   1. `lathe album` once per album (the plain runs);
#   2. `lathe catalog run` over the same albums (manifest, hashes, staging);
#   3. the same `lathe catalog run` again (every unit skipped: the resume check alone).
# Prints CPU seconds (user + system) and wall seconds of each, and tracks per minute per
# core of the catalogue run. Needs GNU time (/usr/bin/time).
set -euo pipefail

bin=$(realpath "$1")
albums=${2:-6}
tracks=${3:-4}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
export SOURCE_DATE_EPOCH=1700000000

cat > unity.ron <<'RON'
(nodes: [(id: "g", kind: "gain")], links: ["in -> g -> out"])
RON
echo "path,album,artist,track,title" > catalogue.csv
for a in $(seq 1 "$albums"); do
    mkdir -p "in/a$a"
    for t in $(seq 1 "$tracks"); do
        gain=$(( -((a * 3 + t * 2) % 12) ))
        "$bin" render unity.ron --demo -o "in/a$a/$t.wav" --bits 24 --set "g.gain_db=$gain" --quiet
        echo "in/a$a/$t.wav,Album $a,Artist $a,$t,Track $t" >> catalogue.csv
    done
done

measure() { # label, command...
    local label=$1
    shift
    /usr/bin/time -f "%U %S %e" -o time.txt "$@" > /dev/null
    read -r user sys wall < time.txt
    cpu=$(python3 -c "print(round($user + $sys, 2))")
    echo "$label: cpu ${cpu} s, wall ${wall} s"
    last_cpu=$cpu
}

plain_cpu=0
for a in $(seq 1 "$albums"); do
    measure "album $a" "$bin" album "$root/graphs/master.ron" in/a"$a"/*.wav -o "plain/a$a" \
        --preset streaming --jobs 1 --quiet
    plain_cpu=$(python3 -c "print(round($plain_cpu + $last_cpu, 2))")
done
echo "plain album runs: cpu ${plain_cpu} s"
measure "catalog run" "$bin" catalog run "$root/graphs/master.ron" catalogue.csv -o cat \
    --preset streaming --jobs 1 --quiet
catalog_cpu=$last_cpu
measure "catalog rerun (all skipped)" "$bin" catalog run "$root/graphs/master.ron" catalogue.csv \
    -o cat --preset streaming --jobs 1 --quiet
python3 - "$albums" "$tracks" "$plain_cpu" "$catalog_cpu" "$last_cpu" <<'PY'
import sys
albums, tracks = int(sys.argv[1]), int(sys.argv[2])
plain, catalog, rerun = map(float, sys.argv[3:])
n = albums * tracks
print(f"{n} tracks of 30 s: catalogue {n / (catalog / 60):.1f} tracks per minute per core "
      f"(plain album runs {n / (plain / 60):.1f}); catalogue overhead "
      f"{100 * (catalog - plain) / plain:+.1f} %; resume check {rerun:.2f} s "
      f"({1000 * rerun / n:.0f} ms per track)")
PY
