//! The binary on its own, as for a demo: seed directory and keys from flags and environment.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::client;
use serde_json::Value;

/// Kills the emulator process when the test ends, passed or failed.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn the_binary_serves_the_sample_seed_with_keys_from_flags_and_environment() {
    let seed = concat!(env!("CARGO_MANIFEST_DIR"), "/seed");
    let mut child = Child(
        Command::new(env!("CARGO_BIN_EXE_custody-metrc-emulator"))
            .args(["--seed", seed, "--listen", "127.0.0.1:0", "--vendor-key", "flag-vendor"])
            .env("METRC_EMU_USER_KEY", "env-user")
            .env("NO_COLOR", "1")
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the emulator binary starts"),
    );
    let stdout = child.0.stdout.take().unwrap();
    let line = tokio::task::spawn_blocking(move || {
        BufReader::new(stdout).lines().map_while(Result::ok).find(|l| l.contains("listening")).expect("a listening line")
    })
    .await
    .unwrap();
    assert!(!line.contains("flag-vendor") && !line.contains("env-user"), "keys are not logged: {line}");
    let at = line.find("http://").expect("the URL is logged");
    let url: String = line[at..].chars().take_while(|c| !c.is_whitespace()).collect();

    let incoming = format!("{url}/transfers/v2/incoming?licenseNumber=C11-0000001-LIC");
    let http = client();
    let r = http.get(&incoming).basic_auth("flag-vendor", Some("env-user")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["Data"][0]["ManifestNumber"], "0000123456");
    // The seed's own demo keys work too; a made-up one does not.
    let r = http.get(&incoming).basic_auth("demo-vendor-key", Some("demo-user-key")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = http.get(&incoming).basic_auth("flag-vendor", Some("nobody")).send().await.unwrap();
    assert_eq!(r.status(), 401);
}

#[test]
fn the_binary_refuses_to_start_without_a_vendor_key() {
    let out = Command::new(env!("CARGO_BIN_EXE_custody-metrc-emulator"))
        .args(["--listen", "127.0.0.1:0"])
        .env_remove("METRC_EMU_VENDOR_KEY")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--vendor-key"), "{err}");
}
