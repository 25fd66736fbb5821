//! A real Kafka-protocol broker for tests: a `tansu` process on a free 127.0.0.1 port, storing
//! its topics in a SQLite file in a temporary directory of its own. hcal's Kafka log tests and
//! the end-to-end suites start brokers through this one harness, so they agree on how tansu is
//! found, started, restarted and killed.
//!
//! tansu is not a Rust dependency: it is a separate binary that CI installs
//! (`.ci/install-tansu.sh`). Where it is missing, [`Broker::available`] says so and the tests
//! skip themselves.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

/// How long a broker may take to accept connections after it was spawned. tansu opens its
/// SQLite file and binds within a second on an idle machine; parallel builds slow it down.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a broker could not be started.
#[derive(Debug, thiserror::Error)]
pub enum TansuError {
    /// A file or process operation failed (no free port, no temporary directory, no binary).
    #[error("tansu: {action}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The failure.
        source: std::io::Error,
    },
    /// The process exited or did not listen in time; `output` is what it printed.
    #[error("tansu did not start (exit status {exited:?}):\n{output}")]
    NotStarted {
        /// Its exit status, when it exited.
        exited: Option<ExitStatus>,
        /// Its standard output and error so far.
        output: String,
    },
}

fn io(action: &'static str) -> impl FnOnce(std::io::Error) -> TansuError {
    move |source| TansuError::Io { action, source }
}

/// A tansu broker process; killed (SIGKILL) when dropped.
#[derive(Debug)]
pub struct Broker {
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Broker {
    /// Whether a `tansu` binary is on `PATH`.
    pub fn available() -> bool {
        std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("tansu").is_file()))
    }

    /// Whether the test `what` can run: true when tansu is installed. Otherwise the test says
    /// it was skipped and gets false, except under CI (`CI` set to `true` or `1`), where a tier
    /// whose real broker is missing must fail rather than pass as skipped: this panics.
    pub fn usable_for(what: &str) -> bool {
        if Self::available() {
            return true;
        }
        let ci = std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1");
        assert!(
            !ci,
            "{what}: tansu is not on PATH, and under CI a tier may not be skipped (.ci/install-tansu.sh installs it)"
        );
        println!("{what}: skipped: tansu is not on PATH (.ci/install-tansu.sh installs it)");
        false
    }

    /// Starts a broker on a free port with empty storage, and waits until it accepts
    /// connections.
    pub fn start() -> Result<Self, TansuError> {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .map_err(io("finding a free port"))?;
        let dir = tempfile::tempdir().map_err(io("creating its directory"))?;
        let mut broker = Self { port, dir, child: None };
        broker.restart()?;
        Ok(broker)
    }

    /// Its port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `host:port` for clients' `bootstrap.servers`.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Its directory: the SQLite storage and `tansu.log`.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The file its standard output and error go to.
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("tansu.log")
    }

    /// (Re)starts the broker on the same port and storage (a running one is killed first), and
    /// waits until it accepts connections.
    pub fn restart(&mut self) -> Result<(), TansuError> {
        self.kill();
        let url = format!("tcp://127.0.0.1:{}", self.port);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .map_err(io("opening its log file"))?;
        let stderr = log.try_clone().map_err(io("opening its log file"))?;
        // tansu resolves `sqlite://` paths against its working directory (an absolute path
        // needs four slashes), so it runs in its own directory.
        let child = Command::new("tansu")
            .args(["broker", "--listener-url", &url, "--advertised-listener-url", &url])
            .args(["--storage-engine", "sqlite://kafka.db"])
            .current_dir(self.dir.path())
            .stdout(log)
            .stderr(stderr)
            .spawn()
            .map_err(io("spawning tansu"))?;
        self.child = Some(child);
        let deadline = Instant::now() + START_TIMEOUT;
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            let exited = match self.child.as_mut() {
                Some(child) => child.try_wait().map_err(io("checking on tansu"))?,
                None => None,
            };
            if exited.is_some() || Instant::now() > deadline {
                self.kill();
                let output = std::fs::read_to_string(self.log_path()).unwrap_or_default();
                return Err(TansuError::NotStarted { exited, output });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    /// SIGKILL: no clean shutdown, as in a crash. Storage stays for [`Broker::restart`].
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            // An error means it is gone already, which is what was asked for.
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.kill();
    }
}
