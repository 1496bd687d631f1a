#!/usr/bin/env bash
# Generates the Kotlin bindings from the custody-ffi library built for this computer. Their names
# (package com.custody.core, library custody_ffi) come from bindings/uniffi.toml. The generated
# source is never committed: Gradle runs this before compiling :custody-bindings, and
# ui-state/run-jvm-tests.sh runs it before the JVM tests.
#
#   scripts/generate-bindings.sh [OUT_DIR]      (default: custody-bindings/build/generated/uniffi/kotlin)
#
# It is the documented uniffi command, run from the repository root:
#   cargo build -p custody-ffi -p custody-uniffi-bindgen
#   target/debug/uniffi-bindgen generate --library target/debug/libcustody_ffi.so \
#       --language kotlin --no-format --metadata-no-deps --out-dir OUT_DIR
# (the same as `cargo run -p custody-uniffi-bindgen --bin uniffi-bindgen -- generate ...`).
#
# Environment:
#   CUSTODY_CARGO_BUILD  what to pass to `cargo build` first (default "-p custody-ffi -p
#                        custody-uniffi-bindgen"; "--workspace --locked" shares the build of
#                        tests/run.sh; "none" builds nothing and uses what is in target/)
#   CUSTODY_PROFILE      debug (default) or release: which build of the library to read
#   CARGO_TARGET_DIR     default <repo>/target
#
# The bindings describe the library's API, which is the same for every target, so the host build
# is read; the Android .so files come from scripts/build-jnilibs.sh.
set -euo pipefail

android="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
repo="$(cd "$android/.." && pwd)"
out="${1:-$android/custody-bindings/build/generated/uniffi/kotlin}"
profile="${CUSTODY_PROFILE:-debug}"
target_dir="${CARGO_TARGET_DIR:-$repo/target}"
build="${CUSTODY_CARGO_BUILD:--p custody-ffi -p custody-uniffi-bindgen}"

case "$(uname -s)" in
    Darwin) lib=libcustody_ffi.dylib ;;
    MINGW* | MSYS* | CYGWIN*) lib=custody_ffi.dll ;;
    *) lib=libcustody_ffi.so ;;
esac

cd "$repo"
if [ "$build" != none ]; then
    # shellcheck disable=SC2086 # the build arguments are words on purpose
    cargo build --quiet $build >&2
    if [ "$profile" = release ]; then cargo build --quiet --release -p custody-ffi >&2; fi
fi
for f in "$target_dir/debug/uniffi-bindgen" "$target_dir/$profile/$lib"; do
    [ -f "$f" ] || { echo "generate-bindings: $f is missing; build it (see android/README.md)" >&2; exit 1; }
done

rm -rf "$out"
mkdir -p "$out"
"$target_dir/debug/uniffi-bindgen" generate \
    --library "$target_dir/$profile/$lib" \
    --language kotlin \
    --no-format \
    --metadata-no-deps \
    --out-dir "$out" >&2
echo "$out"
