// swift-tools-version:5.9
// CustodyKit: the Swift face of custody-core.
//
// - `CustodyFFI`: a binary target, CustodyFFI.xcframework, holding the Rust static library
//   (libcustody_ffi.a) for device and simulator with uniffi's C header and module map
//   (module `CustodyCoreFFI`). Built on a Mac by ../scripts/build-xcframework.sh; not committed.
// - `CustodyCore`: the Swift bindings uniffi generates (Sources/CustodyCore/Generated/, not
//   committed) plus a few small platform helpers (Keychain key, background sync).
//
// The generated code's module name comes from bindings/uniffi.toml (`module_name = "CustodyCore"`);
// the app writes `import CustodyCore`.
import PackageDescription

let package = Package(
    name: "CustodyKit",
    platforms: [.iOS(.v16)],
    products: [
        .library(name: "CustodyCore", targets: ["CustodyCore"]),
    ],
    targets: [
        .binaryTarget(
            name: "CustodyFFI",
            path: "CustodyFFI.xcframework"
        ),
        .target(
            name: "CustodyCore",
            dependencies: ["CustodyFFI"],
            path: "Sources/CustodyCore",
            linkerSettings: [
                // What the Rust static library needs from the system (TLS certificate checks,
                // network reachability); the Swift files' own imports link themselves.
                .linkedFramework("Security"),
                .linkedFramework("SystemConfiguration"),
            ]
        ),
    ]
)
