//! What an operator sees when a command fails: one line on standard error naming the problem,
//! exit status 1, no backtrace even with `RUST_BACKTRACE` set.

#![allow(clippy::unwrap_used)]

use std::process::Command;

#[test]
fn a_failing_command_says_why_in_one_line_without_a_backtrace() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.toml");
    let out = Command::new(env!("CARGO_BIN_EXE_hcal"))
        .args(["serve", "--config"])
        .arg(&missing)
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(lines[0].starts_with("error: reading ") && lines[0].contains("missing.toml"), "{stderr}");
    assert_eq!(lines[0].matches("No such file").count(), 1, "each cause once: {stderr}");
    assert!(!stderr.contains("backtrace"), "{stderr}");
}

#[test]
fn an_unknown_log_format_is_refused_by_name() {
    let out = Command::new(env!("CARGO_BIN_EXE_hcal")).args(["--log-format", "xml", "detect"]).output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("xml") && stderr.contains("json"), "{stderr}");
}
