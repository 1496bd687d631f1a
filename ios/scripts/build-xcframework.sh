#!/usr/bin/env bash
# Builds, on a Mac with Xcode and rustup:
#   ios/CustodyKit/CustodyFFI.xcframework                      custody-ffi as a static library
#       for iPhone (arm64) and the simulator (arm64 + x86_64), with uniffi's C headers and
#       module maps (modules CustodyCoreFFI, and CustodyCoreTypesFFI for core's own types)
#   ios/CustodyKit/Sources/CustodyCore/Generated/*.swift        the generated Swift bindings
# Neither is committed (ios/.gitignore). Run it again after any change to core/ or bindings/.
#
# Usage: bash ios/scripts/build-xcframework.sh
# Environment:
#   CUSTODY_FFI_FEATURES       cargo features of custody-ffi (default: none; TLS is always on, and
#                              SQLCipher uses Apple's CommonCrypto: leave OPENSSL_DIR unset)
#   IPHONEOS_DEPLOYMENT_TARGET minimum iOS version of the Rust code (default: 16.0, as Package.swift)
#   CARGO_TARGET_DIR           cargo's output folder (default: <repo>/target)
set -euo pipefail

if [[ "$(uname -s)" != "Darwin" ]]; then
    echo "build-xcframework: needs macOS with Xcode (xcodebuild, lipo); see ios/README.md" >&2
    exit 1
fi
for tool in cargo rustup xcodebuild lipo; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "build-xcframework: '$tool' not found (install Xcode and rustup)" >&2
        exit 1
    fi
done

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ios_dir="$(cd "$here/.." && pwd)"
repo_root="$(cd "$ios_dir/.." && pwd)"
kit_dir="$ios_dir/CustodyKit"
build_dir="$ios_dir/build"
target_dir="${CARGO_TARGET_DIR:-$repo_root/target}"

features="${CUSTODY_FFI_FEATURES-}"
# SQLCipher picks CommonCrypto for Apple targets unless pointed at an OpenSSL.
unset OPENSSL_DIR OPENSSL_LIB_DIR OPENSSL_INCLUDE_DIR
export IPHONEOS_DEPLOYMENT_TARGET="${IPHONEOS_DEPLOYMENT_TARGET:-16.0}"

device_target="aarch64-apple-ios"
sim_targets=("aarch64-apple-ios-sim" "x86_64-apple-ios")
lib_name="libcustody_ffi.a"
# One C module per crate with uniffi types: custody-ffi (bindings/uniffi.toml) and custody-core's
# derived types (core/uniffi.toml); each [bindings.swift] ffi_module_name.
ffi_modules=("CustodyCoreFFI" "CustodyCoreTypesFFI")

cd "$repo_root"

echo "== rustup targets"
rustup target add "$device_target" "${sim_targets[@]}"

feature_args=()
if [[ -n "$features" ]]; then
    feature_args=(--features "$features")
fi

for target in "$device_target" "${sim_targets[@]}"; do
    echo "== cargo build custody-ffi for $target"
    cargo build -p custody-ffi --lib --release --target "$target" "${feature_args[@]}"
done

rm -rf "$build_dir"
mkdir -p "$build_dir/generated" "$build_dir/device" "$build_dir/simulator"

echo "== lipo: one simulator library for arm64 and x86_64"
cp "$target_dir/$device_target/release/$lib_name" "$build_dir/device/$lib_name"
sim_libs=()
for target in "${sim_targets[@]}"; do
    sim_libs+=("$target_dir/$target/release/$lib_name")
done
lipo -create "${sim_libs[@]}" -output "$build_dir/simulator/$lib_name"

echo "== uniffi-bindgen: Swift bindings"
# Library mode reads the metadata uniffi embedded in the library, and bindings/uniffi.toml
# (CustodyCore.swift, FFI module CustodyCoreFFI) and core/uniffi.toml (CustodyCoreTypes.swift,
# FFI module CustodyCoreTypesFFI) through cargo metadata.
cargo run -p custody-uniffi-bindgen --bin uniffi-bindgen -- \
    generate --library "$build_dir/device/$lib_name" --language swift \
    --out-dir "$build_dir/generated" --no-format

# Each C module goes in a folder named after it, so clang finds Headers/CustodyCoreFFI/module.modulemap
# for `import CustodyCoreFFI` and it cannot collide with another framework's module map.
for ffi_module in "${ffi_modules[@]}"; do
    mkdir -p "$build_dir/headers/$ffi_module"
    cp "$build_dir/generated/$ffi_module.h" "$build_dir/headers/$ffi_module/"
    cp "$build_dir/generated/$ffi_module.modulemap" "$build_dir/headers/$ffi_module/module.modulemap"
done

echo "== xcodebuild -create-xcframework"
rm -rf "$kit_dir/CustodyFFI.xcframework"
xcodebuild -create-xcframework \
    -library "$build_dir/device/$lib_name" -headers "$build_dir/headers" \
    -library "$build_dir/simulator/$lib_name" -headers "$build_dir/headers" \
    -output "$kit_dir/CustodyFFI.xcframework"

echo "== generated Swift into CustodyKit"
generated_dir="$kit_dir/Sources/CustodyCore/Generated"
mkdir -p "$generated_dir"
rm -f "$generated_dir"/*.swift
cp "$build_dir"/generated/*.swift "$generated_dir/"

echo "built:"
echo "  $kit_dir/CustodyFFI.xcframework"
ls "$generated_dir"/*.swift | sed 's/^/  /'
echo "next: cd ios && xcodegen generate && open Custody.xcodeproj (ios/README.md)"
