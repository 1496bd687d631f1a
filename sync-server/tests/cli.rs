//! The admin commands for people and locks, run as an operator runs them: the real
//! `custody-server` binary on a data folder.

use std::path::Path;
use std::process::{Command, Output};

use custody_core::ids::LicenseNumber;
use custody_server::{Db, DbError};

const LIC: &str = "C11-0000001-LIC";

fn lic() -> LicenseNumber {
    LicenseNumber::parse(LIC).unwrap()
}

/// Runs `custody-server --data-dir DIR args...`, with `CUSTODY_PIN` set only if `pin` is.
fn run(dir: &Path, pin: Option<&str>, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_custody-server"));
    cmd.arg("--data-dir").arg(dir).args(args).env_remove("CUSTODY_PIN").env("RUST_LOG", "warn");
    if let Some(pin) = pin {
        cmd.env("CUSTODY_PIN", pin);
    }
    cmd.output().unwrap()
}

fn ok(output: Output) -> String {
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(output.status.success(), "{text}{}", String::from_utf8_lossy(&output.stderr));
    text
}

fn failed(output: Output) -> String {
    assert!(!output.status.success(), "{}", String::from_utf8_lossy(&output.stdout));
    String::from_utf8(output.stderr).unwrap()
}

#[test]
fn people_are_listed_deactivated_given_new_pins_and_unlocked_by_badge() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(run(d, None, &["facility", "create", "--license", LIC, "--name", "North Vault", "--time-zone", "America/Los_Angeles"]));
    ok(run(d, Some("4821"), &["user", "add", "--facility", LIC, "--name", "Mia Manager", "--role", "manager", "--badge", "M-100"]));
    ok(run(d, Some("1357"), &["user", "add", "--facility", LIC, "--name", "Finn Floor", "--role", "floor_staff", "--badge", "F-200"]));

    let list = ok(run(d, None, &["user", "list", "--facility", LIC]));
    assert!(list.contains("Mia Manager") && list.contains("M-100") && list.contains("manager") && list.contains("active"), "{list}");
    assert!(list.contains("Finn Floor") && list.contains("floor_staff"), "{list}");
    assert!(!list.contains("argon2") && !list.contains("locked"), "{list}");

    // Five wrong PINs lock Mia's badge; the list shows it, `user unlock` clears it.
    let db = Db::open(d, custody_server::data_key::load(d).unwrap()).unwrap();
    for _ in 0..5 {
        assert!(matches!(db.check_pin(&lic(), None, "M-100", "0000"), Err(DbError::WrongCredentials)));
    }
    assert!(matches!(db.check_pin(&lic(), None, "M-100", "4821"), Err(DbError::Locked { .. })));
    let list = ok(run(d, None, &["user", "list", "--facility", LIC]));
    let mia_line = list.lines().find(|l| l.contains("Mia Manager")).unwrap();
    assert!(mia_line.contains("locked until"), "{list}");
    ok(run(d, None, &["user", "unlock", "--facility", LIC, "--badge", "M-100"]));
    assert_eq!(db.check_pin(&lic(), None, "M-100", "4821").unwrap().name, "Mia Manager");

    // A new PIN only through the environment; on the command line it is refused.
    let err = failed(run(d, None, &["user", "reset-pin", "--facility", LIC, "--badge", "F-200"]));
    assert!(err.contains("CUSTODY_PIN"), "{err}");
    let err = failed(run(d, None, &["user", "reset-pin", "--facility", LIC, "--badge", "F-200", "--pin", "8642"]));
    assert!(err.contains("--pin"), "{err}");
    let err = failed(run(d, Some("12"), &["user", "reset-pin", "--facility", LIC, "--badge", "F-200"]));
    assert!(err.contains("4 to 12 digits"), "{err}");
    assert_eq!(db.check_pin(&lic(), None, "F-200", "1357").unwrap().name, "Finn Floor", "refusals changed nothing");
    // A reset also unlocks the badge.
    for _ in 0..5 {
        let _ = db.check_pin(&lic(), None, "F-200", "0000");
    }
    let out = ok(run(d, Some("8642"), &["user", "reset-pin", "--facility", LIC, "--badge", "F-200"]));
    assert!(!out.contains("8642"), "{out}");
    assert!(matches!(db.check_pin(&lic(), None, "F-200", "1357"), Err(DbError::WrongCredentials)));
    assert_eq!(db.check_pin(&lic(), None, "F-200", "8642").unwrap().name, "Finn Floor");

    // Deactivated: listed as such, and their right PIN no longer passes.
    ok(run(d, None, &["user", "deactivate", "--facility", LIC, "--badge", "F-200"]));
    let list = ok(run(d, None, &["user", "list", "--facility", LIC]));
    assert!(list.lines().find(|l| l.contains("Finn Floor")).unwrap().contains("deactivated"), "{list}");
    assert!(matches!(db.check_pin(&lic(), None, "F-200", "8642"), Err(DbError::Deactivated { .. })));

    // Unknown badges, facilities and devices are named in the error.
    for cmd in ["deactivate", "unlock"] {
        let err = failed(run(d, None, &["user", cmd, "--facility", LIC, "--badge", "X-999"]));
        assert!(err.contains("nobody with badge \"X-999\"") && err.contains("user list"), "{err}");
    }
    let err = failed(run(d, Some("2468"), &["user", "reset-pin", "--facility", LIC, "--badge", "X-999"]));
    assert!(err.contains("nobody with badge"), "{err}");
    let err = failed(run(d, None, &["user", "list", "--facility", "C11-0000009-LIC"]));
    assert!(err.contains("no facility"), "{err}");
    let err = failed(run(d, None, &["device", "unlock", "--device", &uuid::Uuid::now_v7().to_string()]));
    assert!(err.contains("no device"), "{err}");
}

/// Runs `custody-server --data-dir DIR args...` with the state keys in the environment only.
fn run_with_keys(dir: &Path, keys: Option<(&str, &str)>, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_custody-server"));
    cmd.arg("--data-dir")
        .arg(dir)
        .args(args)
        .env_remove("CUSTODY_STATE_VENDOR_KEY")
        .env_remove("CUSTODY_STATE_USER_KEY")
        .env("RUST_LOG", "info");
    if let Some((vendor, user)) = keys {
        cmd.env("CUSTODY_STATE_VENDOR_KEY", vendor).env("CUSTODY_STATE_USER_KEY", user);
    }
    cmd.output().unwrap()
}

#[test]
fn a_facility_is_connected_to_the_state_with_keys_from_the_environment_sealed_and_never_shown() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(run(d, None, &["facility", "create", "--license", LIC, "--name", "North Vault", "--time-zone", "America/Los_Angeles"]));
    let connect = ["state", "connect", "--facility", LIC, "--state", "ca", "--base-url", "https://sandbox-api-ca.metrc.com"];

    // No keys in the environment: refused, saying where they go; nothing stored.
    let message = failed(run_with_keys(d, None, &connect));
    assert!(message.contains("CUSTODY_STATE_VENDOR_KEY") && message.contains("not read from the command line"), "{message}");
    let status = ok(run(d, None, &["state", "status", "--facility", LIC]));
    assert!(status.contains("not connected"), "{status}");
    // There is no argument for a key.
    let message = failed(run_with_keys(d, None, &[&connect[..], &["--user-key", "x"]].concat()));
    assert!(message.contains("--user-key"), "{message}");

    // A key expiring in ten days: connected, with the warning.
    let expires = (chrono::Utc::now().date_naive() + chrono::Duration::days(10)).to_string();
    let output =
        run_with_keys(d, Some(("VENDORKEY-abc123", "USERKEY-def456")), &[&connect[..], &["--user-key-expires", &expires]].concat());
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    let shown = ok(output);
    assert!(shown.contains("connected to metrc (ca) at https://sandbox-api-ca.metrc.com"), "{shown}");
    assert!(shown.contains(&format!("warning: the state user key expires on {expires} (in 10 days)")), "{shown}");
    let status = ok(run(d, None, &["state", "status", "--facility", LIC]));
    assert!(status.contains("(in 10 days)") && status.contains("0 queued"), "{status}");
    assert!(status.contains("last pull: never") && !status.contains("inbox:"), "nothing pulled yet: {status}");
    let json = ok(run(d, None, &["state", "status", "--facility", LIC, "--json"]));
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["connection"]["connected"], true);

    // The keys appear in no output, log or file in the clear.
    for text in [&shown, &stderr, &status] {
        assert!(!text.contains("VENDORKEY") && !text.contains("USERKEY"), "{text}");
    }
    for entry in std::fs::read_dir(d).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains("VENDORKEY-abc123") && !text.contains("USERKEY-def456"));
    }

    // Plain http to a remote host is refused; disconnect forgets the keys.
    let message = failed(run_with_keys(
        d,
        Some(("V", "U")),
        &["state", "connect", "--facility", LIC, "--state", "ca", "--base-url", "http://api-ca.metrc.com"],
    ));
    assert!(message.contains("https"), "{message}");
    ok(run(d, None, &["state", "disconnect", "--facility", LIC]));
    let status = ok(run(d, None, &["state", "status", "--facility", LIC]));
    assert!(status.contains("disconnected"), "{status}");
    let message = failed(run(d, None, &["state", "disconnect", "--facility", LIC]));
    assert!(message.contains("not connected"), "{message}");
}
