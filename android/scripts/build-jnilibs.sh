#!/usr/bin/env bash
# Builds libcustody_ffi.so for the Android ABIs into app/src/main/jniLibs/<abi>/ with cargo-ndk.
# Gradle runs this before each app build (unless custody.skipRust=true); run it by hand after
# changing the Rust code if you build with Rust skipped.
#
#   scripts/build-jnilibs.sh [ABI ...]          (default: arm64-v8a armeabi-v7a x86_64)
#
# Needs, once:  rustup target add aarch64-linux-android armv7-linux-androideabi x86_64-linux-android
#               cargo install cargo-ndk
#               the Android NDK (Android Studio > SDK Manager > SDK Tools > NDK), found through
#               ANDROID_NDK_HOME, or ANDROID_HOME/ndk/<version>
#               perl and make (the vendored-openssl feature builds OpenSSL for SQLCipher)
# Environment: CUSTODY_PROFILE=release|debug (default release), CUSTODY_FEATURES (default
# vendored-openssl: Android has no libcrypto to link, so SQLCipher's is built from source; TLS is
# always on, rustls with ring).
set -euo pipefail

android="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
profile="${CUSTODY_PROFILE:-release}"
features="${CUSTODY_FEATURES-vendored-openssl}"

abis=("$@")
[ ${#abis[@]} -eq 0 ] && abis=(arm64-v8a armeabi-v7a x86_64)
targets=()
for abi in "${abis[@]}"; do targets+=(-t "$abi"); done

args=(build -p custody-ffi)
[ "$profile" = release ] && args+=(--release)
[ -n "$features" ] && args+=(--features "$features")

# android/ has no Cargo.toml: cargo finds the workspace in the parent folder.
cd "$android"
# --platform 26 = minSdk: the .so links against the API level the app promises to run on.
cargo ndk "${targets[@]}" --platform 26 -o app/src/main/jniLibs "${args[@]}"
