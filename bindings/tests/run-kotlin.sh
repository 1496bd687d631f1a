#!/usr/bin/env bash
# The generated Kotlin bindings on the JVM, against the real library and a real sync server on
# loopback. Installs what is missing (JNA from Debian, kotlinc from npm, cached under target/).
#
#   bash bindings/tests/run-kotlin.sh            # the JVM tests (tests/run.sh runs this)
#   bash bindings/tests/run-kotlin.sh --bench    # the scan benchmark, on a release build
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD

MODE=test
PROFILE=debug
if [[ "${1:-}" == "--bench" ]]; then
    MODE=bench
    PROFILE=release
fi

KOTLIN_VERSION=2.4.20
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
TOOLCHAIN=$TARGET/kotlin-toolchain
KOTLIN_HOME=$TOOLCHAIN/node_modules/kotlin-compiler
JNA_JAR=${JNA_JAR:-/usr/share/java/jna.jar}   # or point JNA_JAR at any JNA 5 jar
GEN=$TARGET/kotlin-gen
OUT=$TARGET/kotlin-tests
LICENSE=C11-0000001-LIC
case "$(uname -s)" in
    Darwin) LIB=libcustody_ffi.dylib ;;
    *) LIB=libcustody_ffi.so ;;
esac

step() { echo "== kotlin: $*"; }

# ---- toolchain: Java 17, JNA, kotlinc (with kotlin-stdlib, kotlin-test, kotlinx-coroutines) ----
apt_updated=
SUDO=
[[ $(id -u) -eq 0 ]] || SUDO=sudo
apt_install() {
    [[ -n $apt_updated ]] || { $SUDO apt-get update -qq; apt_updated=1; }
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
if ! command -v java >/dev/null; then
    step "installing Java 17"
    apt_install openjdk-17-jdk-headless
fi
if [[ ! -f $JNA_JAR ]]; then
    step "installing JNA (libjna-java)"
    apt_install libjna-java
fi
if ! command -v npm >/dev/null; then
    step "installing npm"
    apt_install nodejs npm
fi
if [[ "$(node -p "require('$KOTLIN_HOME/package.json').version" 2>/dev/null)" != "$KOTLIN_VERSION" ]]; then
    step "installing kotlin-compiler $KOTLIN_VERSION from npm into target/kotlin-toolchain"
    mkdir -p "$TOOLCHAIN"
    npm install --prefix "$TOOLCHAIN" --no-audit --no-fund --loglevel=error "kotlin-compiler@$KOTLIN_VERSION" >/dev/null
fi
KLIB=$KOTLIN_HOME/lib
CP="$JNA_JAR:$KLIB/kotlinx-coroutines-core-jvm.jar:$KLIB/kotlin-test.jar"

# ---- the library, the server and uniffi-bindgen ------------------------------------------------
# The same feature set as `cargo test --workspace`, so after the Rust suite this only links.
step "cargo build"
bash tests/setup-build-deps.sh
cargo build --workspace --locked --quiet
if [[ $PROFILE == release ]]; then
    cargo build --release --locked --quiet -p custody-ffi
fi

step "generating Kotlin from target/$PROFILE/$LIB"
rm -rf "$GEN"
"$TARGET/debug/uniffi-bindgen" generate --library "$TARGET/$PROFILE/$LIB" --language kotlin \
    --out-dir "$GEN" --no-format --metadata-no-deps >/dev/null

# kotlinc takes most of a minute: compile again only when the bindings or the tests changed.
SOURCES=$(find "$GEN" bindings/tests/kotlin -name '*.kt' | sort)
STAMP=$( (echo "$KOTLIN_VERSION"; cat $SOURCES) | sha256sum | cut -c1-16)
JAR=$OUT/custody-kotlin-tests-$STAMP.jar
if [[ ! -f $JAR ]]; then
    step "compiling the bindings and the tests with kotlinc $KOTLIN_VERSION"
    rm -rf "$OUT" && mkdir -p "$OUT"
    "$KOTLIN_HOME/bin/kotlinc" -jvm-target 17 -nowarn -cp "$CP" -d "$JAR.tmp.jar" $SOURCES
    mv "$JAR.tmp.jar" "$JAR"
fi

# ---- a real sync server on loopback (tests/test-server.sh: facility, people, customers, tags, codes)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/custody-kotlin.XXXXXX")
SERVER_PID=
cleanup() {
    if [[ -n $SERVER_PID ]]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

# shellcheck source=../../tests/test-server.sh
source tests/test-server.sh
start_test_server "$TARGET/debug/custody-server" "$WORK" "$LICENSE" \
    "C10-0000201-LIC|Green Door Dispensary|1 Main St, Oakland" \
    "C10-0000202-LIC|Harbor Wellness (medical)|9 Harbor Way, Oakland"

# ---- run ------------------------------------------------------------------------------------
step "running ($MODE) against custody-server on $URL"
export CUSTODY_SERVER_URL=$URL CUSTODY_SERVER_CA=$CA_FILE CUSTODY_ENROLMENT_CODE=$CODE CUSTODY_OUTBOUND_ENROLMENT_CODE=$OUTBOUND_CODE \
    CUSTODY_FACILITY=$LICENSE CUSTODY_WORK_DIR=$WORK
set +e
java -Djna.library.path="$TARGET/$PROFILE" -cp "$JAR:$CP:$KLIB/kotlin-stdlib.jar" com.custody.tests.MainKt "$MODE"
status=$?
set -e
if [[ $status -ne 0 ]]; then
    echo "---- custody-server log (last 40 lines)"
    tail -40 "$WORK/server.log"
fi
exit $status
