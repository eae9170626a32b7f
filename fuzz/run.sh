#!/usr/bin/env bash
# Builds every fuzz target with libFuzzer's coverage instrumentation and runs each for
# SECONDS (default 30); exits non-zero on the first crash, leak of time (-timeout) or
# memory (-rss_limit_mb). Works on the stable toolchain: the coverage passes are stable
# rustc flags; only the address sanitizer would need nightly (use `cargo fuzz` for that).
#
#   fuzz/run.sh [SECONDS] [TARGET...]
#
# Corpora grow in fuzz/corpus/TARGET (not committed), seeded from graphs/, presets/,
# tests/bad_graphs/ and fuzz/seeds/. A crash is saved as fuzz/artifacts/TARGET/crash-*.
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-30}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(graph_compile wav_reader audio_decode preset_parse catalog_parse script_sandbox)

export CARGO_TARGET_DIR=${FUZZ_TARGET_DIR:-$PWD/target}
export RUSTFLAGS="-Cpasses=sancov-module \
 -Cllvm-args=-sanitizer-coverage-level=4 \
 -Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
 -Cllvm-args=-sanitizer-coverage-pc-table \
 -Cllvm-args=-sanitizer-coverage-trace-compares \
 --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
# An explicit --target keeps the flags off build scripts and proc macros, which run
# without libFuzzer.
triple=$(rustc -vV | sed -n 's/^host: //p')
cargo build --release --bins --target "$triple"
bin="$CARGO_TARGET_DIR/$triple/release"

seeds() {
    case "$1" in
        graph_compile) echo ../graphs/*.ron ../tests/bad_graphs/*.ron ;;
        script_sandbox) echo ../graphs/*.rhai ;;
        preset_parse) echo ../presets/*.ron ;;
        catalog_parse) echo seeds/catalog/* ;;
        wav_reader) echo seeds/audio/*.wav ;;
        audio_decode) echo seeds/audio/* ;;
    esac
}

for t in "${targets[@]}"; do
    mkdir -p "corpus/$t" "artifacts/$t"
    for f in $(seeds "$t"); do
        if [ "$t" = audio_decode ]; then
            # The first byte picks the extension; seed each file under its own.
            case "$f" in
                *.flac) p='\x00' ;; *.ogg) p='\x01' ;; *.mp3) p='\x02' ;; *) p='\x03' ;;
            esac
            { printf "$p"; cat "$f"; } > "corpus/$t/seed-$(basename "$f")"
        else
            cp "$f" "corpus/$t/"
        fi
    done
    echo "== $t: ${secs}s"
    "$bin/$t" "corpus/$t" \
        -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="artifacts/$t/" 2>&1 | grep -E "^(#[0-9]+ +DONE|stat::number_of_executed_units|stat::average_exec_per_sec|==[0-9]+==|SUMMARY|.*panicked)" || true
    if [ -n "$(find "artifacts/$t" -type f \( -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' \))" ]; then
        echo "fuzz target $t found a failure: see fuzz/artifacts/$t" >&2
        exit 1
    fi
done
