#!/usr/bin/env bash
# build-fdk-aac.sh [PREFIX]: builds the Fraunhofer FDK AAC library as a shared library,
# libfdk-aac.so.2, and installs it into PREFIX (default /usr/local/lib), where lathe's AAC
# encoder and decoder find it at run time.
#
# Why this script: Debian main ships no fdk-aac (its licence is not DFSG-free), and lathe
# links no C library at build time, so `cargo test --workspace` builds with only the Rust
# toolchain. The source is the copy vendored in the `fdk-aac-sys` crate on crates.io,
# fetched with cargo itself (the registry checks its checksum); it is compiled with g++
# alone, no cmake or autotools. Nothing of fdk-aac is kept in lathe's repository.
#
#   scripts/build-fdk-aac.sh                 # into /usr/local/lib, then ldconfig (as root)
#   scripts/build-fdk-aac.sh ~/.local/lib    # anywhere; then point LATHE_FDK_AAC at the .so
#
# Needs: cargo, g++. Uses every core (JOBS=N to change). Takes a few minutes of CPU.
set -euo pipefail

prefix=${1:-/usr/local/lib}
version=0.5.0
jobs=${JOBS:-$(nproc 2>/dev/null || echo 2)}
cxx=${CXX:-g++}

command -v cargo >/dev/null || { echo "build-fdk-aac.sh: cargo not found" >&2; exit 1; }
command -v "$cxx" >/dev/null || { echo "build-fdk-aac.sh: $cxx not found (apt-get install g++)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# A throwaway package whose one dependency is the crate: `cargo fetch` downloads and
# unpacks it into a private CARGO_HOME, so the user's own cargo cache is left alone.
mkdir -p "$work/fetch/src"
cat > "$work/fetch/Cargo.toml" <<TOML
[package]
name = "fetch-fdk-aac"
version = "0.0.0"
edition = "2021"
[dependencies]
fdk-aac-sys = "=$version"
TOML
echo 'fn main() {}' > "$work/fetch/src/main.rs"
CARGO_HOME="$work/cargo-home" cargo fetch --quiet --manifest-path "$work/fetch/Cargo.toml"
src=$(echo "$work"/cargo-home/registry/src/*/fdk-aac-sys-$version/aac)
[ -d "$src/libAACenc" ] || { echo "build-fdk-aac.sh: no fdk-aac source in fdk-aac-sys $version" >&2; exit 1; }

# The crate's build.rs compiles every .cpp directly under lib*/src (not the arm/ or mips/
# variants, which those files include themselves where they apply).
includes=()
for d in "$src"/lib*/include; do includes+=("-I$d"); done
mkdir -p "$work/obj"
export cxx work
export flags="-O2 -fPIC -fvisibility=default -w -DFDK_FALLTHROUGH= ${includes[*]}"
ls "$src"/lib*/src/*.cpp | xargs -P "$jobs" -I{} sh -c \
    'o="$work/obj/$(basename "$(dirname "$(dirname "$1")")")_$(basename "$1" .cpp).o"; $cxx $flags -c "$1" -o "$o"' _ {}
count=$(ls "$work"/obj/*.o | wc -l)
[ "$count" -ge 150 ] || { echo "build-fdk-aac.sh: only $count objects built" >&2; exit 1; }

mkdir -p "$prefix"
"$cxx" -shared -Wl,-soname,libfdk-aac.so.2 -o "$work/libfdk-aac.so.2.0.0" "$work"/obj/*.o -lm
install -m 0644 "$work/libfdk-aac.so.2.0.0" "$prefix/libfdk-aac.so.2.0.0"
ln -sf libfdk-aac.so.2.0.0 "$prefix/libfdk-aac.so.2"
if [ "$(id -u)" = 0 ] && command -v ldconfig >/dev/null; then
    ldconfig
fi
echo "installed $prefix/libfdk-aac.so.2 (fdk-aac from fdk-aac-sys $version, $count objects)"
