#!/usr/bin/env bash
# The whole test suite: Rust unit, property and end-to-end tests (real SQLite files, a real
# sync server on loopback). Installs nothing beyond what cargo fetches; later suites that need
# more (the Kotlin JVM tests) install it here, so this stays the one command.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo test --workspace --locked "$@"
