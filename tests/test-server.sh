# Sourced by bindings/tests/run-kotlin.sh and android/ui-state/run-jvm-tests.sh: a real
# custody-server on a free loopback port with the facility every JVM test expects.
#
#   start_test_server SERVER_BIN WORK LICENSE [CUSTOMER ...]     (CUSTOMER: "licence|name|address")
#
# Sets SERVER_PID (the caller's cleanup kills it), ADDR (host:port), URL (https://ADDR, or http://ADDR
# when there is no write_test_ca beside SERVER_BIN), CA_FILE (the PEM of the throwaway authority
# that issued the server's certificate; empty for http), CODE and OUTBOUND_CODE (one-time enrolment
# codes: one for the count scenario's phones, one for the outbound scenario's). Setup output goes
# to WORK/setup.log, the server's log to WORK/server.log; either is shown on failure.
#
# TLS: write_test_ca (a binary of the custody-e2e crate, built with the workspace) writes a new
# authority and a certificate for 127.0.0.1 into WORK/tls; the server serves it and the phones
# trust that authority (CustodyClient.trustServerAuthority), as in the Rust suites.
#
# The roster, customers and tags are what the scenarios sign in with and ship to:
#   managers M-100/2468, M-101/1470; floor staff F-200/1357, F-201/8642;
#   drivers D-300/9753 (Dee Driver), D-301/5551 (Dan Driver);
#   the customers the caller names; unused tags from ...0900 and ...9000; settings: scales "Bay
#   scale 1" (calibrated) and "Old scale" (past due), potency tolerance 1.5, "Live Resin Cart 1g"
#   in category Vape.
start_test_server() {
    local bin=$1 work=$2 license=$3
    shift 3
    local server=("$bin" --data-dir "$work/server")
    local log=$work/setup.log
    fail() { cat "$log" "$work/server.log" 2>/dev/null; echo "$1" >&2; exit 1; }
    run() { "${server[@]}" "$@" >>"$log" 2>&1 || fail "custody-server $1 failed"; }
    add_user() { CUSTODY_PIN=$4 run user add --facility "$license" --name "$1" --role "$2" --badge "$3"; }
    add_customer() { run customer add --facility "$license" --licence "$1" --name "$2" --address "$3"; }
    code() { "${server[@]}" enrolment-code --facility "$license" 2>>"$log" | awk '/enrolment code:/ {print $3}'; }

    RUST_LOG=warn run facility create --license "$license" --name "Green Valley Distribution" --time-zone America/Los_Angeles
    add_user "Sam Manager" manager M-100 2468
    add_user "Ana Manager" manager M-101 1470
    add_user "Maria Floor" floor_staff F-200 1357
    add_user "Omar Floor" floor_staff F-201 8642
    add_user "Dee Driver" driver D-300 9753
    add_user "Dan Driver" driver D-301 5551
    local customer licence name address
    for customer in "$@"; do
        IFS='|' read -r licence name address <<<"$customer"
        add_customer "$licence" "$name" "$address"
    done
    run tags add --facility "$license" --first 1A4FF0100000000000000900 --count 5
    # The facility's settings the phones get at sync: a calibrated scale, one past its due date,
    # a potency tolerance and a category (reasons stay the built-in list the scenarios use).
    local op=(--operator "test-server.sh")
    run settings scale add --facility "$license" --name "Bay scale 1" --calibration-due "$(date -u -d '+60 days' +%F)" "${op[@]}"
    run settings scale add --facility "$license" --name "Old scale" --calibration-due "$(date -u -d '-1 day' +%F)" "${op[@]}"
    run settings potency-tolerance --facility "$license" 1.5 "${op[@]}"
    run settings category set --facility "$license" --item "Live Resin Cart 1g" --category Vape "${op[@]}"
    run tags add --facility "$license" --first 1A4FF0100000000000009000 --count 10
    CODE=$(code)
    OUTBOUND_CODE=$(code)
    [[ -n $CODE && -n $OUTBOUND_CODE ]] || fail "custody-server issued no enrolment code"

    local tls=() scheme=http
    CA_FILE=
    if [[ -x "$(dirname "$bin")/write_test_ca" ]]; then
        "$(dirname "$bin")/write_test_ca" "$work/tls" >>"$log" 2>&1 || fail "write_test_ca failed"
        tls=(--tls-cert "$work/tls/server-cert.pem" --tls-key "$work/tls/server-key.pem")
        scheme=https
        CA_FILE=$work/tls/ca.pem
    fi

    # Port 0: the server picks a free port and logs it.
    NO_COLOR=1 RUST_LOG=info "${server[@]}" --listen 127.0.0.1:0 ${tls[@]+"${tls[@]}"} serve 2>"$work/server.log" &
    SERVER_PID=$!
    ADDR=
    for _ in $(seq 1 300); do
        ADDR=$(sed 's/\x1b\[[0-9;]*m//g' "$work/server.log" | grep -o 'addr=127\.0\.0\.1:[0-9]*' | head -1 | cut -d= -f2 || true)
        if [[ -n $ADDR ]]; then
            URL=$scheme://$ADDR
            return 0
        fi
        kill -0 "$SERVER_PID" 2>/dev/null || fail "custody-server did not start"
        sleep 0.1
    done
    fail "custody-server did not report its address"
}
