//! Writes a throwaway certificate authority and a server certificate for 127.0.0.1 and localhost
//! into a folder, for tests/test-server.sh (the JVM suites' server speaks TLS like the Rust
//! suites' does):
//!
//!     write_test_ca DIR      -> DIR/ca.pem, DIR/server-cert.pem, DIR/server-key.pem (0600)

fn main() {
    let Some(dir) = std::env::args_os().nth(1) else {
        eprintln!("usage: write_test_ca DIR");
        std::process::exit(2);
    };
    let dir = std::path::PathBuf::from(dir);
    let ca = custody_e2e::TestCa::generate();
    ca.write_server_files(&dir);
    std::fs::write(dir.join("ca.pem"), &ca.ca_pem).expect("write ca.pem");
}
