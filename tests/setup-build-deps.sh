#!/usr/bin/env bash
# What the Rust build needs beyond the toolchain, installed when missing (tests/run.sh runs this
# first; CI's fresh machine has only the toolchain, gcc, Python, Node, Java and git):
#
#   - OpenSSL's libcrypto headers (Debian: libssl-dev). The device store is encrypted with
#     SQLCipher (rusqlite's bundled-sqlcipher feature), which is compiled from source and links
#     the system's libcrypto. App builds bundle OpenSSL or use CommonCrypto instead
#     (docs/decisions/0015).
set -euo pipefail

if [[ -f /usr/include/openssl/crypto.h || -n ${OPENSSL_INCLUDE_DIR:-} || -n ${OPENSSL_DIR:-} ]]; then
    exit 0
fi
case "$(uname -s)" in
    Linux)
        if ! command -v apt-get >/dev/null; then
            echo "setup: OpenSSL's development files are missing; install them (libssl-dev, openssl-devel) or set OPENSSL_DIR" >&2
            exit 1
        fi
        SUDO=
        [[ $(id -u) -eq 0 ]] || SUDO=sudo
        echo "== setup: installing libssl-dev (SQLCipher links libcrypto)"
        $SUDO apt-get update -qq
        $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libssl-dev >/dev/null
        ;;
    Darwin)
        # SQLCipher uses CommonCrypto on macOS: nothing to install.
        ;;
    *)
        echo "setup: install OpenSSL's development files or set OPENSSL_DIR" >&2
        ;;
esac
