#!/usr/bin/env bash
# The whole test suite: Rust unit, property and end-to-end tests (real SQLite files, a real
# sync server on loopback over TLS), then the generated Kotlin bindings on the JVM against the real
# library and server (bindings/tests/run-kotlin.sh installs JNA and kotlinc when missing),
# a check that every binding the apps use exists in the generated Kotlin and Swift, the Android
# app's screen models on the JVM, and a syntax check of the iOS app's Swift files.
set -euo pipefail
cd "$(dirname "$0")/.."

# OpenSSL's libcrypto for SQLCipher (the encrypted device store), installed when missing.
bash tests/setup-build-deps.sh
# Each module imports only its own layer or lower ones (docs/decisions/0017-server-layers.md).
python3 tests/check-layers.py
cargo test --workspace --locked "$@"
bash bindings/tests/run-kotlin.sh
# Every binding android/app and the iOS app use (neither compiles here) exists in the Kotlin just
# generated and in Swift generated from the same library; the check's own test proves it bites.
bash bindings/tests/check-bindings.sh
# The Android screens' state and decisions (plain Kotlin) against the same generated bindings.
CUSTODY_NO_CARGO=1 bash android/ui-state/run-jvm-tests.sh
# No Swift toolchain here: every Swift file must at least parse (tree-sitter, from PyPI).
bash ios/scripts/check-swift-syntax.sh
