#!/usr/bin/env bash
# Every binding the apps use exists in the bindings generated from this build (issue 13 point 9):
# neither android/app nor the iOS app compiles here, so bindings/tests/check-bindings.py reads
# their code against the Kotlin that bindings/tests/run-kotlin.sh generated (reused, not made
# again) and the Swift generated here from the same library; then its own test proves it fails
# on a renamed method, field or case.
#
#   bash bindings/tests/check-bindings.sh      (tests/run.sh runs it after run-kotlin.sh)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
case "$(uname -s)" in
    Darwin) LIB=libcustody_ffi.dylib ;;
    *) LIB=libcustody_ffi.so ;;
esac
KOTLIN_GEN=$TARGET/kotlin-gen
SWIFT_GEN=$TARGET/swift-gen

if [[ ! -d $KOTLIN_GEN ]]; then
    echo "check-bindings: no generated Kotlin in $KOTLIN_GEN: run bash bindings/tests/run-kotlin.sh first" >&2
    exit 2
fi
echo "== check-bindings: generating Swift from target/debug/$LIB"
rm -rf "$SWIFT_GEN"
"$TARGET/debug/uniffi-bindgen" generate --library "$TARGET/debug/$LIB" --language swift \
    --out-dir "$SWIFT_GEN" --no-format --metadata-no-deps >/dev/null

python3 bindings/tests/check-bindings.py --kotlin "$KOTLIN_GEN" --swift "$SWIFT_GEN"
CUSTODY_KOTLIN_GEN=$KOTLIN_GEN CUSTODY_SWIFT_GEN=$SWIFT_GEN python3 bindings/tests/test_check_bindings.py
