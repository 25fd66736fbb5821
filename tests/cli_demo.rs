//! `hcal demo`, the quick start's run command: on the embedded default with the bundled
//! simulators it plays the scripted scenario through the real APIs and exits 0 with `--exit`;
//! with `--data-dir` its state is real files on disk; its presence act is heard by the bundled
//! webhook receiver.

// Test helpers: a failed set-up call must fail the test loudly.
#![allow(clippy::unwrap_used)]

use std::process::Command;

#[test]
fn the_demo_plays_its_scenario_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_hcal"))
        .args(["demo", "--exit", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {:?}\n{stdout}\n{stderr}", out.status);
    assert!(stdout.contains("Every step was observed through the real APIs."), "{stdout}");
    // Its bundled webhook receiver heard Deniz go out of office and come back.
    assert!(stdout.contains("said Deniz is out of office"), "{stdout}");
    assert!(stdout.contains("said Deniz is available again"), "{stdout}");
    // The embedded store and the key were written where asked.
    let files: Vec<String> = walk(dir.path());
    let under = |rel: &str| dir.path().join(rel).display().to_string();
    assert!(files.contains(&under("store/hcal.db")), "{files:?}");
    assert!(files.contains(&under("keys/local.key")), "{files:?}");
    // Every file hcal wrote is its user's alone.
    #[cfg(unix)]
    for file in &files {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode & 0o077, 0, "{file} has mode {mode:o}");
    }
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path.display().to_string());
        }
    }
    out
}
