#!/usr/bin/env bash
# render-hashes.sh: fingerprints everything one lathe binary writes, so two builds can be
# compared byte for byte after a refactor.
#
#   scripts/render-hashes.sh BINARY > hashes.txt
#   diff before.txt after.txt        # no output = the two builds write the same bytes
#
# It renders every graphs/*.ron over the built-in demo mix and over synthetic signals
# (white noise, a log sweep, an impulse train, a hot sine, a 44.1 kHz file) at block sizes
# 1024, 64 and 7, as 32-bit float (no dither: the engine's own samples) and as 24-bit
# (dither included), and two graphs written here for the linear-phase EQ and crossover
# (one with a script moving a band); then an album in both modes (delivery files hashed
# without their BWF date and time), `compare --match-eq`, `plot response --data` and
# `analyze --json`. Each line is `SHA-256  what`. Needs python3 for the synthetic signals.
# Takes a minute or two with a release build.
set -euo pipefail

bin=$(realpath "$1")
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

# The demo mix as a file, through a graph of one unity gain.
cat > unity.ron <<'RON'
(nodes: [(id: "g", kind: "gain")], links: ["in -> g -> out"])
RON
"$bin" render unity.ron --demo -o demo.wav --bits 32f --quiet

python3 - <<'PY'
import math, random, struct, wave

def write(name, rate, frames_lr):
    with wave.open(name, "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(3)
        w.setframerate(rate)
        data = bytearray()
        for l, r in frames_lr:
            for v in (l, r):
                q = max(-8388608, min(8388607, int(round(v * 8388607))))
                data += struct.pack("<i", q)[:3]
        w.writeframes(bytes(data))

rng = random.Random(7)
n = 48000 * 4
write("noise.wav", 48000, [(rng.uniform(-0.5, 0.5), rng.uniform(-0.5, 0.5)) for _ in range(n)])
f0, f1 = 20.0, 20000.0
k = math.log(f1 / f0)
sweep = []
for i in range(n):
    t = i / n
    ph = 2 * math.pi * f0 * (n / 48000) / k * (math.exp(t * k) - 1)
    sweep.append((0.7 * math.sin(ph), 0.7 * math.sin(ph + 0.3)))
write("sweep.wav", 48000, sweep)
write("impulses.wav", 48000, [((0.9 if i % 4801 == 0 else 0.0), (-0.9 if i % 3001 == 0 else 0.0)) for i in range(n)])
write("hot_sine.wav", 48000, [(0.999 * math.sin(2 * math.pi * 997 * i / 48000), 0.999 * math.sin(2 * math.pi * 12003 * i / 48000)) for i in range(n)])
write("noise_44k.wav", 44100, [(rng.uniform(-0.3, 0.3), rng.gauss(0, 0.1)) for _ in range(44100 * 3)])
PY

hash() { sha256sum "$1" | cut -d' ' -f1; }
# A delivery WAV without the moment it was made: the BWF origination date and time
# (bytes 320..338 of the bext chunk) are blanked before hashing.
hash_delivery() {
    python3 - "$1" <<'PY'
import hashlib, sys
d = bytearray(open(sys.argv[1], "rb").read())
i = 12
while i + 8 <= len(d):
    size = int.from_bytes(d[i + 4:i + 8], "little")
    if d[i:i + 4] == b"bext":
        d[i + 8 + 320:i + 8 + 338] = bytes(18)
    i += 8 + size + (size & 1)
print(hashlib.sha256(d).hexdigest())
PY
}

for graph in "$root"/graphs/*.ron; do
    name=$(basename "$graph" .ron)
    for input in demo noise sweep impulses hot_sine noise_44k; do
        if [ "$name" = stems ]; then
            args=("music=$input.wav" "vocals=$input.wav")
        else
            args=("$input.wav")
        fi
        for block in 1024 64 7; do
            "$bin" render "$graph" "${args[@]}" -o out.wav --bits 32f --block-frames "$block" --quiet
            echo "$(hash out.wav)  render $name $input 32f block $block"
        done
        "$bin" render "$graph" "${args[@]}" -o out.wav --bits 24 --quiet --report report.json
        echo "$(hash out.wav)  render $name $input 24"
        # The report without the graph's path (it names this checkout).
        python3 -c 'import json; d=json.load(open("report.json")); d.pop("graph"); print(json.dumps(d, sort_keys=True))' > report.txt
        echo "$(hash report.txt)  report $name $input"
    done
done

# Kinds and modes no shipped graph uses: linear-phase EQ (with a side band, so the 2x2
# kernel matrix), the linear-phase crossover, and a script moving a linear-phase band.
cat > linear_phase.ron <<'RON'
(
    nodes: [
        (id: "eq", kind: "eq", config: (mode: "linear_phase", fir_frames: 4096, bands: [(type: "high_pass", order: 2), (type: "bell"), (type: "bell", channel: "side"), (type: "high_shelf")]),
         params: {"band1.freq_hz": 40, "band2.freq_hz": 300, "band2.gain_db": -3, "band3.freq_hz": 5000, "band3.gain_db": 4, "band4.gain_db": 2}),
        (id: "xo", kind: "crossover", config: (freqs_hz: [200, 2000], mode: "linear_phase", fir_taps: 1023)),
        (id: "mix", kind: "mix", config: (inputs: 3), params: {"in1.gain_db": 2, "in2.gain_db": -1, "in3.gain_db": 1}),
        (id: "eq2", kind: "eq", config: (mode: "linear_phase", fir_frames: 2048, bands: [(type: "bell")]), params: {"band1.gain_db": 5}),
    ],
    links: ["in -> eq -> xo", "xo.band1 -> mix.in1", "xo.band2 -> mix.in2", "xo.band3 -> mix.in3", "mix -> eq2 -> out"],
)
RON
cat > linear_phase_moving.ron <<'RON'
(
    nodes: [
        (id: "eq", kind: "eq", config: (mode: "linear_phase", fir_frames: 4096, bands: [(type: "bell", channel: "mid")]), params: {"band1.freq_hz": 1000}),
        (id: "s", kind: "script", config: (rate_hz: 50, source: "fn tick(ctx) { ctx.set(\"eq.band1.gain_db\", 6.0 * sin(ctx.time_s * 3.0)); }")),
    ],
    links: ["in -> eq -> out"],
)
RON
for graph in linear_phase linear_phase_moving; do
    for input in demo hot_sine; do
        for block in 1024 7; do
            "$bin" render "$graph.ron" "$input.wav" -o out.wav --bits 32f --block-frames "$block" --quiet
            echo "$(hash out.wav)  render $graph $input 32f block $block"
        done
    done
done

cp sweep.wav track1.wav
cp noise.wav track2.wav
for mode in album track; do
    rm -rf album
    "$bin" album "$root/graphs/master.ron" track1.wav track2.wav demo.wav -o album --mode "$mode" --preset streaming --quiet 2>/dev/null ||
        "$bin" album "$root/graphs/master.ron" track1.wav track2.wav demo.wav -o album --mode "$mode" --preset streaming
    for f in album/*.wav; do
        echo "$(hash_delivery "$f")  album $mode $(basename "$f")"
    done
done

"$bin" compare noise.wav demo.wav --match-eq match.ron --json > compare.json
echo "$(hash match.ron)  compare --match-eq"
echo "$(hash compare.json)  compare --json"
"$bin" plot response "$root/graphs/master.ron" -o response.svg --data response.csv > /dev/null
echo "$(hash response.csv)  plot response --data"
"$bin" analyze demo.wav noise.wav sweep.wav --json > analyze.json
sed -i "s#$work/##g" analyze.json
echo "$(hash analyze.json)  analyze --json"
