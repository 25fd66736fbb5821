//! One process per data directory: while `hcal serve` runs, a second `hcal serve`, an
//! `hcal replay` and an `hcal demo` on the same data directory refuse at once, naming the
//! directory and the running process's pid, with a non-zero exit; after the first is killed
//! (SIGKILL, no chance to clean up) the next one starts.

// Test helpers: a failed set-up call must fail the test loudly.
#![allow(clippy::unwrap_used)]

mod support;

use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

use support::Env;

/// Longest a refusal may take: it happens before anything is opened or bound, but a debug
/// build on a busy machine starts slowly.
const REFUSED_WITHIN: Duration = Duration::from_secs(15);

/// What a process that should refuse did: its exit status, what it printed, how long it ran.
struct Refusal {
    status: ExitStatus,
    output: String,
    took: Duration,
}

/// Runs `command` with its output in files of the test directory and waits for it to exit;
/// one still running after [`REFUSED_WITHIN`] is killed and fails the test.
fn refused(env: &Env, name: &str, mut command: Command) -> Refusal {
    let (out, err) = (env.dir.path().join(format!("{name}-out.txt")), env.dir.path().join(format!("{name}-err.txt")));
    let started = Instant::now();
    let mut child = command
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > REFUSED_WITHIN {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{name} was still running on a data directory in use after {REFUSED_WITHIN:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let output = format!("{}{}", std::fs::read_to_string(out).unwrap(), std::fs::read_to_string(err).unwrap());
    Refusal { status, output, took: started.elapsed() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_directory_in_use_refuses_a_second_process_until_the_first_is_gone() {
    let env = Env::new().await;
    let first = env.start("").await;
    let pid = first.child.id();
    let data = env.data_dir();
    let holder = format!("pid {pid}");
    let config = env.dir.path().join("hcal.toml");

    // A second `hcal serve` on the same directory (on another port, so only the directory is
    // shared).
    let mut second = env.serve_command(&config);
    second.args(["--listen", &format!("127.0.0.1:{}", support::port())]);
    let refusal = refused(&env, "second-serve", second);
    assert!(!refusal.status.success(), "a second serve ran: {}", refusal.output);
    assert!(refusal.took < REFUSED_WITHIN);
    assert!(refusal.output.contains(&format!("{} is in use", data.display())), "{}", refusal.output);
    assert!(refusal.output.contains(&holder), "{}", refusal.output);
    assert!(!refusal.output.contains("hcal listening"), "{}", refusal.output);

    // `hcal replay` refuses too, and so does `hcal demo` given the directory.
    let mut replay = Command::new(env!("CARGO_BIN_EXE_hcal"));
    replay.args(["replay", "--config"]).arg(&config).env("RUST_LOG", "warn");
    let refusal = refused(&env, "replay", replay);
    assert!(!refusal.status.success(), "replay ran beside serve: {}", refusal.output);
    assert!(refusal.output.contains(&holder) && !refusal.output.contains("replayed"), "{}", refusal.output);
    let mut demo = Command::new(env!("CARGO_BIN_EXE_hcal"));
    demo.args(["demo", "--exit", "--listen", "127.0.0.1:0", "--data-dir"]).arg(&data).env("RUST_LOG", "warn");
    let refusal = refused(&env, "demo", demo);
    assert!(!refusal.status.success(), "demo ran beside serve: {}", refusal.output);
    assert!(refusal.output.contains(&holder), "{}", refusal.output);

    // The running service recorded its pid, and the refusals left it and its lock file alone.
    let health = env.http.get(format!("{}/healthz", first.url)).send().await.unwrap();
    assert!(health.status().is_success());
    assert_eq!(std::fs::read_to_string(data.join("hcal.lock")).unwrap().trim(), pid.to_string());

    // Killed, the first leaves its pid in the file but no lock: the next one starts.
    first.kill();
    assert_eq!(std::fs::read_to_string(data.join("hcal.lock")).unwrap().trim(), pid.to_string());
    let next = env.start("").await;
    assert_eq!(std::fs::read_to_string(data.join("hcal.lock")).unwrap().trim(), next.child.id().to_string());
    next.kill();
    // Stopped, the service holds nothing either: replay runs.
    let out = env.cli(&["replay"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}
