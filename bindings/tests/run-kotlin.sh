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

# ---- a real sync server on loopback: a facility, its people, customers, tags, enrolment codes ---
WORK=$(mktemp -d "${TMPDIR:-/tmp}/custody-kotlin.XXXXXX")
SERVER_PID=
cleanup() {
    if [[ -n $SERVER_PID ]]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

SERVER=("$TARGET/debug/custody-server" --data-dir "$WORK/server")
export RUST_LOG=warn
"${SERVER[@]}" facility create --license "$LICENSE" --name "Green Valley Distribution" >/dev/null
add_user() { CUSTODY_PIN=$4 "${SERVER[@]}" user add --facility "$LICENSE" --name "$1" --role "$2" --badge "$3" >/dev/null; }
add_user "Sam Manager" manager M-100 2468
add_user "Ana Manager" manager M-101 1470
add_user "Maria Floor" floor_staff F-200 1357
add_user "Omar Floor" floor_staff F-201 8642
CODE=$("${SERVER[@]}" enrolment-code --facility "$LICENSE" | awk '/enrolment code:/ {print $3}')
# Outbound (DriverScenario.kt): two drivers, the dispensaries the facility ships to, unused tags
# for splits, and its own enrolment code so it does not depend on the count scenario.
add_user "Dee Driver" driver D-300 9753
add_user "Dan Driver" driver D-301 5551
add_customer() { "${SERVER[@]}" customer add --facility "$LICENSE" --licence "$1" --name "$2" --address "$3" >/dev/null; }
add_customer C10-0000201-LIC "Green Door Dispensary" "1 Main St, Oakland"
add_customer C10-0000202-LIC "Harbor Wellness (medical)" "9 Harbor Way, Oakland"
"${SERVER[@]}" tags add --facility "$LICENSE" --first 1A4FF0100000000000000900 --count 5 >/dev/null
OUTBOUND_CODE=$("${SERVER[@]}" enrolment-code --facility "$LICENSE" | awk '/enrolment code:/ {print $3}')

# Port 0: the server picks a free port and logs it.
NO_COLOR=1 RUST_LOG=info "${SERVER[@]}" --listen 127.0.0.1:0 serve 2>"$WORK/server.log" &
SERVER_PID=$!
ADDR=
for _ in $(seq 1 300); do
    ADDR=$(sed 's/\x1b\[[0-9;]*m//g' "$WORK/server.log" | grep -o 'addr=127\.0\.0\.1:[0-9]*' | head -1 | cut -d= -f2 || true)
    [[ -n $ADDR ]] && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.log"; echo "custody-server did not start" >&2; exit 1; }
    sleep 0.1
done
[[ -n $ADDR ]] || { cat "$WORK/server.log"; echo "custody-server did not report its address" >&2; exit 1; }

# ---- run ------------------------------------------------------------------------------------
step "running ($MODE) against custody-server on $ADDR"
export CUSTODY_SERVER_URL="http://$ADDR" CUSTODY_ENROLMENT_CODE=$CODE CUSTODY_OUTBOUND_ENROLMENT_CODE=$OUTBOUND_CODE \
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
