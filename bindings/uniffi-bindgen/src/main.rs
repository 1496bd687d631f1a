//! `uniffi-bindgen`, pinned to the workspace's uniffi version. See bindings/README.md.

fn main() {
    uniffi::uniffi_bindgen_main()
}
