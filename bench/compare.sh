#!/usr/bin/env bash
# Whole-process comparison of lathe with SoX and ffmpeg on the same stereo 48 kHz file.
#
#   bench/compare.sh [RUNS]        (default 5 runs per command)
#
# Builds lathe in release, makes a 5-minute test file (the 30 s built-in demo mix rendered
# through graphs/multiband.ron, repeated 10 times with SoX), then times each command RUNS
# times with GNU time and prints the medians of wall time and of CPU time (user + sys),
# and the ratios lathe / other. Per-run figures go to $OUT/runs.tsv (one line per run).
# The "hot" rows drive the same chains 10 dB harder, so the compressors and the limiters
# work on most of the file (the test file itself is mixed quietly, about -23 LUFS, and
# barely reaches the limiter). The album rows master 4 one-minute tracks with 1 job and
# with one job per core, for the speed-up of rendering many files.
# Environment: OUT (work directory, default target/compare).
set -euo pipefail

RUNS="${1:-5}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="${OUT:-$ROOT/target/compare}"
LATHE="$ROOT/target/release/lathe"
TIME=/usr/bin/time

missing=()
command -v sox >/dev/null || missing+=(sox)
command -v ffmpeg >/dev/null || missing+=(ffmpeg)
[ -x "$TIME" ] || missing+=(time)
if [ "${#missing[@]}" -gt 0 ]; then
    echo "missing: ${missing[*]}; install with: apt-get install -y ${missing[*]}" >&2
    exit 1
fi

(cd "$ROOT" && cargo build --release -q)
mkdir -p "$OUT"
INPUT="$OUT/input.wav"
if [ ! -f "$INPUT" ]; then
    "$LATHE" render "$ROOT/graphs/multiband.ron" --demo -o "$OUT/demo.wav" --bits 24 -q
    sox "$OUT/demo.wav" "$INPUT" repeat 9
fi
echo "input: $INPUT ($(soxi -d "$INPUT"), $(soxi -r "$INPUT") Hz, $(soxi -c "$INPUT") ch)"

# The same mastering chain in each tool: HPF 30 Hz, low shelf +1.5 dB at 100 Hz, bells
# -1.5 dB at 300 Hz and +1 dB at 3 kHz (Q 1), high shelf +1 dB at 10 kHz, three bands
# split at 200 Hz and 2 kHz each compressed 2:1 above -18 dB, then a peak limiter at -1 dB.
# lathe also oversamples its limiter 4x (true peak) and meters loudness; ffmpeg widens
# (stereotools) and meters loudness with true peak; SoX has neither.
COMP_LOW="0.02,0.2 6:-90,-90,-18,-18,0,-9"
COMP_MID="0.01,0.15 6:-90,-90,-18,-18,0,-9"
COMP_HIGH="0.005,0.1 6:-90,-90,-18,-18,0,-9"
SOX_CHAIN=(highpass 30 bass +1.5 100 equalizer 300 1q -1.5 equalizer 3000 1q +1
    treble +1 10000 mcompand "$COMP_LOW" 200 "$COMP_MID" 2000 "$COMP_HIGH"
    compand 0.001,0.05 "-90,-90,-1,-1,0,-1")
FF_GRAPH="highpass=f=30,bass=g=1.5:f=100,equalizer=f=300:t=q:w=1:g=-1.5,\
equalizer=f=3000:t=q:w=1:g=1,treble=g=1:f=10000,acrossover=split=200 2000:order=4th[b1][b2][b3];\
[b1]acompressor=threshold=0.125:ratio=2:attack=20:release=200[c1];\
[b2]acompressor=threshold=0.125:ratio=2:attack=10:release=150[c2];\
[b3]acompressor=threshold=0.125:ratio=2:attack=5:release=100[c3];\
[c1][c2][c3]amix=inputs=3:normalize=0,stereotools=slev=1.2,\
alimiter=limit=0.891:attack=5:release=50,ebur128=peak=true"

: >"$OUT/runs.tsv"
# time_runs NAME CMD...: runs CMD $RUNS times, appends "NAME wall user sys" per run.
time_runs() {
    local name="$1"
    shift
    for _ in $(seq "$RUNS"); do
        "$TIME" -f "$name %e %U %S" -a -o "$OUT/runs.tsv" "$@" >/dev/null 2>&1
    done
}

time_runs lathe_render "$LATHE" render "$ROOT/graphs/master.ron" "$INPUT" \
    -o "$OUT/lathe.wav" --bits 24 -q
time_runs sox_chain sox "$INPUT" -b 24 "$OUT/sox.wav" "${SOX_CHAIN[@]}"
time_runs ffmpeg_chain ffmpeg -nostdin -hide_banner -nostats -y -i "$INPUT" \
    -filter_complex "$FF_GRAPH" -c:a pcm_s24le "$OUT/ffmpeg.wav"
time_runs lathe_render_hot "$LATHE" render "$ROOT/graphs/master.ron" "$INPUT" \
    -o "$OUT/lathe_hot.wav" --bits 24 -q --set trim.gain_db=10
time_runs sox_chain_hot sox "$INPUT" -b 24 "$OUT/sox_hot.wav" gain 10 "${SOX_CHAIN[@]}"
time_runs ffmpeg_chain_hot ffmpeg -nostdin -hide_banner -nostats -y -i "$INPUT" \
    -filter_complex "volume=10dB,$FF_GRAPH" -c:a pcm_s24le "$OUT/ffmpeg_hot.wav"
time_runs lathe_analyze "$LATHE" analyze "$INPUT"
time_runs ffmpeg_ebur128 ffmpeg -nostdin -hide_banner -nostats -i "$INPUT" \
    -af ebur128=peak=true -f null -

# Many files at once: CPU time well above wall time means every core is busy.
FILES=()
for i in $(seq 8); do
    ln -f "$INPUT" "$OUT/copy$i.wav"
    FILES+=("$OUT/copy$i.wav")
done
time_runs lathe_analyze_8 "$LATHE" analyze "${FILES[@]}"

# Many files rendered: an album of 4 one-minute tracks, one job against one per core.
TRACKS=()
for i in 1 2 3 4; do
    [ -f "$OUT/track$i.wav" ] || sox "$INPUT" "$OUT/track$i.wav" trim "$(((i - 1) * 60))" 60
    TRACKS+=("$OUT/track$i.wav")
done
time_runs lathe_album_1job "$LATHE" album "$ROOT/graphs/master.ron" "${TRACKS[@]}" \
    -o "$OUT/album1" --mode track --jobs 1 -q
time_runs lathe_album_jobs "$LATHE" album "$ROOT/graphs/master.ron" "${TRACKS[@]}" \
    -o "$OUT/album2" --mode track --jobs "$(nproc)" -q

# Medians per command, then the ratios.
awk -v nproc="$(nproc)" '
    { wall[$1] = wall[$1] " " $2; cpu[$1] = cpu[$1] " " ($3 + $4); order[$1] = NR }
    function median(list,   n, v, i, j, t) {
        n = split(list, v, " ")
        for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++)
            if (v[j] + 0 < v[i] + 0) { t = v[i]; v[i] = v[j]; v[j] = t }
        return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
    }
    END {
        printf "%-16s %10s %10s\n", "command", "wall_s", "cpu_s"
        n_names = split("lathe_render sox_chain ffmpeg_chain lathe_render_hot sox_chain_hot ffmpeg_chain_hot lathe_analyze ffmpeg_ebur128 lathe_analyze_8 lathe_album_1job lathe_album_jobs", names, " ")
        for (k = 1; k <= n_names; k++) {
            n = names[k]; w[n] = median(wall[n]); c[n] = median(cpu[n])
            printf "%-16s %10.2f %10.2f\n", n, w[n], c[n]
        }
        printf "lathe render / sox:     cpu %.2f  wall %.2f\n", c["lathe_render"] / c["sox_chain"], w["lathe_render"] / w["sox_chain"]
        printf "lathe render / ffmpeg:  cpu %.2f  wall %.2f\n", c["lathe_render"] / c["ffmpeg_chain"], w["lathe_render"] / w["ffmpeg_chain"]
        printf "hot render / sox:       cpu %.2f  wall %.2f\n", c["lathe_render_hot"] / c["sox_chain_hot"], w["lathe_render_hot"] / w["sox_chain_hot"]
        printf "hot render / ffmpeg:    cpu %.2f  wall %.2f\n", c["lathe_render_hot"] / c["ffmpeg_chain_hot"], w["lathe_render_hot"] / w["ffmpeg_chain_hot"]
        printf "lathe analyze / ffmpeg: cpu %.2f  wall %.2f\n", c["lathe_analyze"] / c["ffmpeg_ebur128"], w["lathe_analyze"] / w["ffmpeg_ebur128"]
        printf "analyze 8 files: cpu/wall %.2f on %d cores; speed-up over 8 single-file runs %.2f\n", c["lathe_analyze_8"] / w["lathe_analyze_8"], nproc, 8 * w["lathe_analyze"] / w["lathe_analyze_8"]
        printf "album of 4 tracks: %d jobs %.2fx faster than 1 (wall), cpu/wall %.2f\n", nproc, w["lathe_album_1job"] / w["lathe_album_jobs"], c["lathe_album_jobs"] / w["lathe_album_jobs"]
    }' "$OUT/runs.tsv" | tee "$OUT/summary.txt"
