#!/usr/bin/env bash
# The Android app's screen models (android/ui-state: plain Kotlin, no Android) on the JVM, compiled
# with kotlinc together with the generated Kotlin bindings, against the real Rust library and a
# real sync server on loopback. Prints "N passed, N failed" last; exits non-zero on any failure.
#
#   bash android/ui-state/run-jvm-tests.sh [SUITE ...]    (suites: scan feedback home sync signin state
#                                                          count approvals conflicts receive pick route returns
#                                                          app real)
#
# Everything it needs is found the way bindings/tests/run-kotlin.sh finds it, unless given:
#   KOTLINC           the kotlinc to use (default: kotlin-compiler from npm in target/kotlin-toolchain,
#                     installed there if missing); its lib/ must hold kotlin-stdlib and kotlin-test
#   CLASSPATH_EXTRA   ':'-separated jars or folders: JNA, kotlinx-coroutines, and the bindings as a
#                     compiled jar or as the folder of generated sources. Whatever is missing is
#                     added: /usr/share/java/jna.jar, kotlinc's kotlinx-coroutines-core-jvm.jar, and
#                     bindings generated from target/debug/libcustody_ffi.so
#   JNA_LIBRARY_PATH  the folder holding libcustody_ffi.so (default: target/debug)
#   CUSTODY_SERVER_URL, CUSTODY_ENROLMENT_CODE, CUSTODY_FACILITY
#                     a sync server to use, whose roster is tests/test-server.sh's (M-100/2468 manager,
#                     F-200/1357 and F-201/8642 floor staff); by default one is started here on a free
#                     port. The sign-in test deactivates F-201, so such a server serves one run
#   CUSTODY_SERVER_CA the PEM of the authority behind that server's certificate, if it is not one
#                     the platform trusts (set here for the TLS server started here)
#   CUSTODY_OUTBOUND_ENROLMENT_CODE
#                     a second code, for the outbound scenario's phone; that server must also have
#                     driver D-300/9753, customer C10-0000123-LIC and unused tags (set up here for
#                     the server started here; without the code the scenario is skipped)
#   CUSTODY_NO_CARGO=1  run no cargo command: use the library, uniffi-bindgen and custody-server
#                     already in target/debug (otherwise `cargo build --workspace --locked`, as
#                     run-kotlin.sh does, which only links after the Rust suite)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
UI=$ROOT/android/ui-state
OUT=$ROOT/target/android-ui-state
LICENSE=C11-0000001-LIC
KOTLIN_VERSION=2.4.20
JNA_JAR=/usr/share/java/jna.jar

step() { echo "== ui-state: $*"; }

# ---- toolchain ---------------------------------------------------------------------------------
apt_updated=
apt_install() {
    [[ -n $apt_updated ]] || { apt-get update -qq; apt_updated=1; }
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
if ! command -v java >/dev/null; then
    step "installing Java 17"
    apt_install openjdk-17-jdk-headless
fi
if [[ -z ${KOTLINC:-} ]]; then
    TOOLCHAIN=$ROOT/target/kotlin-toolchain
    KOTLIN_HOME=$TOOLCHAIN/node_modules/kotlin-compiler
    if [[ "$(node -p "require('$KOTLIN_HOME/package.json').version" 2>/dev/null)" != "$KOTLIN_VERSION" ]]; then
        command -v npm >/dev/null || { step "installing npm"; apt_install nodejs npm; }
        step "installing kotlin-compiler $KOTLIN_VERSION from npm into target/kotlin-toolchain"
        mkdir -p "$TOOLCHAIN"
        npm install --prefix "$TOOLCHAIN" --no-audit --no-fund --loglevel=error "kotlin-compiler@$KOTLIN_VERSION" >/dev/null
    fi
    KOTLINC=$KOTLIN_HOME/bin/kotlinc
fi
KOTLINC=$(command -v "$KOTLINC" || echo "$KOTLINC")
KLIB=$(cd "$(dirname "$(readlink -f "$KOTLINC")")/../lib" && pwd)
for jar in kotlin-stdlib.jar kotlin-test.jar; do
    [[ -f $KLIB/$jar ]] || { echo "ui-state: $KLIB/$jar not found next to $KOTLINC" >&2; exit 1; }
done

# ---- classpath: JNA, coroutines, the bindings --------------------------------------------------
jar_has_bindings() {
    local class=com/custody/core/CustodyClient.class
    if command -v unzip >/dev/null; then
        unzip -l "$1" "$class" >/dev/null 2>&1
    else
        [[ $(jar tf "$1" 2>/dev/null | grep -cx "$class") -gt 0 ]]
    fi
}
CP=()
SOURCES_EXTRA=()
have_jna= have_coroutines= have_bindings=
IFS=':' read -r -a extra <<<"${CLASSPATH_EXTRA:-}"
for entry in "${extra[@]}"; do
    [[ -n $entry ]] || continue
    if [[ -d $entry ]] && [[ -n $(find "$entry" -path '*com/custody/core/*.kt' -print -quit) ]]; then
        SOURCES_EXTRA+=("$entry")
        have_bindings=1
        continue
    fi
    CP+=("$entry")
    case "$(basename "$entry")" in
        *jna*.jar) have_jna=1 ;;
        *coroutines*.jar) have_coroutines=1 ;;
    esac
    if [[ -f $entry ]] && jar_has_bindings "$entry"; then
        have_bindings=1
    fi
done
if [[ -z $have_jna ]]; then
    [[ -f $JNA_JAR ]] || { step "installing JNA (libjna-java)"; apt_install libjna-java; }
    CP+=("$JNA_JAR")
fi
[[ -n $have_coroutines ]] || CP+=("$KLIB/kotlinx-coroutines-core-jvm.jar")

if [[ -z ${CUSTODY_NO_CARGO:-} ]]; then
    # The same feature set as `cargo test --workspace`: after the Rust suite this only links.
    step "cargo build --workspace"
    bash "$ROOT/tests/setup-build-deps.sh"
    cargo build --workspace --locked --quiet
fi
if [[ -z $have_bindings ]]; then
    step "generating the Kotlin bindings from target/debug"
    CUSTODY_CARGO_BUILD=none bash android/scripts/generate-bindings.sh "$OUT/gen" >/dev/null
    SOURCES_EXTRA+=("$OUT/gen")
fi
CLASSPATH=$(IFS=':'; echo "${CP[*]}")

# ---- compile (only when a source changed: kotlinc takes most of a minute) ------------------------
# The test support shared with the bindings' suite (the switchable proxy) comes from there.
SOURCES=$(find "$UI/src/main/kotlin" "$UI/src/test/kotlin" "$ROOT/bindings/tests/kotlin/support" "${SOURCES_EXTRA[@]}" -name '*.kt' | sort)
STAMP=$( (echo "$KOTLIN_VERSION $CLASSPATH"; cat $SOURCES) | sha256sum | cut -c1-16)
JAR=$OUT/ui-state-tests-$STAMP.jar
if [[ ! -f $JAR ]]; then
    step "compiling ui-state (main + test) with $KOTLINC"
    rm -f "$OUT"/ui-state-tests-*.jar
    mkdir -p "$OUT"
    # shellcheck disable=SC2086 # one word per source file
    "$KOTLINC" -jvm-target 17 -nowarn -cp "$CLASSPATH:$KLIB/kotlin-test.jar" -d "$JAR.tmp.jar" $SOURCES
    mv "$JAR.tmp.jar" "$JAR"
fi

# ---- a sync server on loopback (tests/test-server.sh, shared with run-kotlin.sh) -------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/custody-ui-state.XXXXXX")
SERVER_PID=
cleanup() {
    if [[ -n $SERVER_PID ]]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

if [[ -z ${CUSTODY_SERVER_URL:-} || -z ${CUSTODY_ENROLMENT_CODE:-} ]]; then
    SERVER_BIN=${CUSTODY_SERVER_BIN:-$ROOT/target/debug/custody-server}
    if [[ -x $SERVER_BIN ]]; then
        # shellcheck source=../../tests/test-server.sh
        source "$ROOT/tests/test-server.sh"
        start_test_server "$SERVER_BIN" "$WORK" "$LICENSE" "C10-0000123-LIC|Green Leaf Dispensary|12 Main St, Sacramento"
        export CUSTODY_SERVER_URL=$URL CUSTODY_SERVER_CA=$CA_FILE CUSTODY_ENROLMENT_CODE=$CODE CUSTODY_FACILITY=$LICENSE \
            CUSTODY_OUTBOUND_ENROLMENT_CODE=$OUTBOUND_CODE
    else
        step "no custody-server at $SERVER_BIN: the server scenario is skipped"
    fi
fi

# ---- run ---------------------------------------------------------------------------------------
step "running${CUSTODY_SERVER_URL:+ against custody-server on $CUSTODY_SERVER_URL}"
set +e
# The tests' phone stores go into $WORK (java.io.tmpdir), removed at exit.
java -Djna.library.path="${JNA_LIBRARY_PATH:-$ROOT/target/debug}" -Djava.io.tmpdir="$WORK" \
    -cp "$JAR:$CLASSPATH:$KLIB/kotlin-stdlib.jar:$KLIB/kotlin-test.jar" \
    com.custody.app.state.HarnessKt "$@"
status=$?
set -e
if [[ $status -ne 0 && -f $WORK/server.log ]]; then
    echo "---- custody-server log (last 40 lines)"
    tail -40 "$WORK/server.log"
fi
exit $status
