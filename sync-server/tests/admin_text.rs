//! The admin commands an operator types, run as the real binary: names that would display as
//! something other than what they say, or span lines, are refused with a sentence and nothing
//! is stored (docs/decisions/0013).

use std::process::{Command, Output};

fn custody_server(data: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_custody-server"))
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env("CUSTODY_PIN", "2468")
        .env("RUST_LOG", "warn")
        .output()
        .expect("custody-server runs")
}

fn refused(output: &Output) -> String {
    assert!(!output.status.success(), "expected a refusal, got {output:?}");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn user_add_and_customer_add_refuse_hidden_direction_characters_and_line_breaks() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    // A time zone that does not exist is refused by name before anything is created.
    let args = ["facility", "create", "--license", "C11-0000001-LIC", "--name", "Green Valley", "--time-zone"];
    let err = refused(&custody_server(data, &[&args[..], &["Pacific Time"]].concat()));
    assert!(err.contains("\"Pacific Time\" is not a time zone name (use one like America/Los_Angeles)"), "{err}");
    let created = custody_server(data, &[&args[..], &["America/Los_Angeles"]].concat());
    assert!(created.status.success(), "{created:?}");

    let user = |name: &str, badge: &str| {
        custody_server(data, &["user", "add", "--facility", "C11-0000001-LIC", "--name", name, "--role", "manager", "--badge", badge])
    };
    let err = refused(&user("Sam \u{202E}reviR", "M-100"));
    assert!(err.contains("error: the name contains a hidden text-direction character (U+202E) at character 5"), "{err}");
    let err = refused(&user("Sam\nRivera", "M-100"));
    assert!(err.contains("error: the name must be on one line; remove the line break"), "{err}");
    let err = refused(&user(&"S".repeat(101), "M-100"));
    assert!(err.contains("the name is longer than 100 characters (101); shorten it"), "{err}");
    assert!(user("Sam Rivera", "M-100").status.success(), "the badge was never taken");

    let customer = |name: &str, address: &str| {
        custody_server(
            data,
            &["customer", "add", "--facility", "C11-0000001-LIC", "--licence", "C10-0000201-LIC", "--name", name, "--address", address],
        )
    };
    let err = refused(&customer("Green \u{2067}Door", "1 Main St"));
    assert!(err.contains("the customer's name contains a hidden text-direction character (U+2067)"), "{err}");
    let err = refused(&customer("Green Door", "1 Main St\nOakland"));
    assert!(err.contains("the customer's address must be on one line"), "{err}");
    let listed = custody_server(data, &["customer", "list", "--facility", "C11-0000001-LIC"]);
    assert!(String::from_utf8_lossy(&listed.stdout).trim().is_empty(), "nothing was stored: {listed:?}");
}
