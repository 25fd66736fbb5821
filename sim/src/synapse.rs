//! A real Matrix homeserver for tests: a Synapse process on a free 127.0.0.1 port, with its
//! configuration, SQLite database, media store and log in a temporary directory of its own.
//! hcal's Matrix presence tests start homeservers through this one harness, so they agree on how
//! Synapse is found, configured, started and killed, and on how test users get their tokens.
//!
//! Synapse is not a Rust dependency: it is a Python program that CI installs into a virtual
//! environment of its own (`.ci/install-synapse.sh`), at `$HCAL_SYNAPSE_VENV` or else
//! `$HOME/.local/share/hcal-ci/synapse`. Where it is missing, [`Homeserver::available`] says so
//! and the tests skip themselves.
//!
//! The configuration is the one `--generate-config` writes (`hs.yaml`: server name `localhost`,
//! SQLite database, signing key, secrets), overlaid by `hcal.yaml`, which Synapse reads after it
//! and whose top-level keys replace the generated ones: the listener (the free port, 127.0.0.1
//! only, client and admin APIs), presence on, a registration shared secret of the harness's own,
//! no trusted key servers (a test homeserver asks nothing of the outside world), logging to
//! standard error, and rate limits high enough that no test meets them. The last matters for
//! presence in particular: past `rc_presence.per_user` (by default one update per ten seconds)
//! Synapse answers a presence PUT with 429 and drops the update.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// How long a homeserver may take to answer `/_matrix/client/versions` after it was spawned.
/// Synapse 1.163 creates its SQLite schema and listens in about two seconds on an idle machine;
/// Python imports are slow when parallel builds keep both cores busy.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// How long one HTTP request of the harness may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// How many of the last lines of the homeserver's output an error shows.
const OUTPUT_LINES: usize = 80;

/// The server name, and so the domain part of every user ID.
const SERVER_NAME: &str = "localhost";

/// The rate limiters Synapse reads from its configuration, by the key path of their settings.
/// Each gets [`NO_LIMIT`]; keys an older Synapse does not know are ignored by it.
const RATE_LIMITS: &[&[&str]] = &[
    &["rc_message"],
    &["rc_registration"],
    &["rc_registration_token_validity"],
    &["rc_login", "address"],
    &["rc_login", "account"],
    &["rc_login", "failed_attempts"],
    &["rc_presence", "per_user"],
    &["rc_joins", "local"],
    &["rc_joins", "remote"],
    &["rc_joins_per_room"],
    &["rc_invites", "per_room"],
    &["rc_invites", "per_user"],
    &["rc_invites", "per_issuer"],
    &["rc_3pid_validation"],
    &["rc_admin_redaction"],
    &["rc_room_creation"],
    &["rc_profile"],
    &["rc_user_directory"],
    &["rc_delayed_event_mgmt"],
    &["rc_reports"],
    &["rc_media_create"],
];

/// Per-second rate and burst that tests do not reach.
const NO_LIMIT: f64 = 1000.0;

/// Why a homeserver could not be started, or a request to it failed.
#[derive(Debug, thiserror::Error)]
pub enum SynapseError {
    /// A file or process operation failed (no free port, no temporary directory, no Python).
    #[error("synapse: {action}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The failure.
        source: std::io::Error,
    },
    /// `--generate-config` failed; `output` is what it printed.
    #[error("synapse: generating its configuration failed (exit status {status}):\n{output}")]
    Config {
        /// Its exit status.
        status: ExitStatus,
        /// Its standard output and error.
        output: String,
    },
    /// The process exited or did not answer in time; `output` is the end of what it printed.
    #[error("synapse did not start (exit status {exited:?}):\n{output}")]
    NotStarted {
        /// Its exit status, when it exited.
        exited: Option<ExitStatus>,
        /// The last lines of its standard output and error.
        output: String,
    },
    /// `register_new_matrix_user` failed; `output` is what it printed.
    #[error("synapse: registering {localpart} failed (exit status {status:?}):\n{output}")]
    Register {
        /// The user's localpart.
        localpart: String,
        /// Its exit status, when it ran.
        status: Option<ExitStatus>,
        /// Its standard output and error.
        output: String,
    },
    /// An HTTP request got no answer, or an answer that was not the JSON expected.
    #[error("synapse: {what}: {source}")]
    Http {
        /// What was asked.
        what: &'static str,
        /// The failure.
        source: reqwest::Error,
    },
    /// The homeserver answered with an error status (or without a field that was needed).
    #[error("synapse: {what}: HTTP {status} {errcode:?}: {body}")]
    Refused {
        /// What was asked.
        what: &'static str,
        /// The HTTP status.
        status: u16,
        /// The Matrix `errcode` of the body (`M_FORBIDDEN`, `M_UNKNOWN_TOKEN`, ...), if any.
        errcode: Option<String>,
        /// The body as received.
        body: String,
    },
}

fn io(action: &'static str) -> impl FnOnce(std::io::Error) -> SynapseError {
    move |source| SynapseError::Io { action, source }
}

fn http(what: &'static str) -> impl FnOnce(reqwest::Error) -> SynapseError {
    move |source| SynapseError::Http { what, source }
}

/// A Synapse process; killed (SIGKILL) when dropped.
#[derive(Debug)]
pub struct Homeserver {
    port: u16,
    venv: PathBuf,
    dir: tempfile::TempDir,
    child: Option<Child>,
    client: reqwest::Client,
    as_token: String,
}

impl Homeserver {
    /// The virtual environment Synapse is looked for in: `$HCAL_SYNAPSE_VENV`, else
    /// `$HOME/.local/share/hcal-ci/synapse` (where `.ci/install-synapse.sh` puts it); `None`
    /// when neither variable is set.
    pub fn venv() -> Option<PathBuf> {
        if let Some(venv) = std::env::var_os("HCAL_SYNAPSE_VENV").filter(|v| !v.is_empty()) {
            return Some(PathBuf::from(venv));
        }
        let home = std::env::var_os("HOME").filter(|v| !v.is_empty())?;
        Some(Path::new(&home).join(".local/share/hcal-ci/synapse"))
    }

    /// Whether the virtual environment has its Python, which is what Synapse runs on.
    pub fn available() -> bool {
        Self::venv().is_some_and(|v| v.join("bin/python").is_file())
    }

    /// Whether the test `what` can run: true when Synapse is installed. Otherwise the test says
    /// it was skipped and gets false, except under CI (`CI` set to `true` or `1`), where a tier
    /// whose real homeserver is missing must fail rather than pass as skipped: this panics.
    pub fn usable_for(what: &str) -> bool {
        if Self::available() {
            return true;
        }
        let ci = std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1");
        assert!(
            !ci,
            "{what}: Synapse is not installed, and under CI a tier may not be skipped (.ci/install-synapse.sh installs it)"
        );
        println!("{what}: skipped: Synapse is not installed (.ci/install-synapse.sh installs it)");
        false
    }

    /// Generates a configuration in a new temporary directory, starts a homeserver on a free
    /// port with an empty database, and waits until its client API answers.
    pub fn start() -> Result<Self, SynapseError> {
        let venv = Self::venv().ok_or_else(|| SynapseError::Io {
            action: "finding its virtual environment",
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "neither HCAL_SYNAPSE_VENV nor HOME is set"),
        })?;
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .map_err(io("finding a free port"))?;
        let dir = tempfile::tempdir().map_err(io("creating its directory"))?;
        let client =
            reqwest::Client::builder().timeout(REQUEST_TIMEOUT).build().map_err(http("building an HTTP client"))?;
        let as_token = format!("as_{}", uuid::Uuid::new_v4().simple());
        let mut server = Self { port, venv, dir, child: None, client, as_token };
        server.generate_config()?;
        server.spawn()?;
        Ok(server)
    }

    /// Its base URL, `http://127.0.0.1:PORT`, for the client-server and admin APIs.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Its port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its server name: `localhost`, the domain part of its user IDs.
    pub fn server_name(&self) -> &'static str {
        SERVER_NAME
    }

    /// The user ID of a local user: `@LOCALPART:localhost`.
    pub fn user_id(&self, localpart: &str) -> String {
        format!("@{localpart}:{SERVER_NAME}")
    }

    /// The `as_token` of the application service registered with it (`hcal-presence`, whose
    /// user namespace is every local user, not exclusive): with it a request may act as any
    /// registered local user by naming them in `?user_id=`.
    pub fn appservice_token(&self) -> &str {
        &self.as_token
    }

    /// Its directory: the configuration files, the `data/` directory with the SQLite database,
    /// and `synapse.log`.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The file its standard output and error (its whole log) go to.
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("synapse.log")
    }

    /// Registers a regular (not admin) user through the shared-secret registration API (with
    /// Synapse's `register_new_matrix_user`), logs in with the password, and returns the access
    /// token of that login. The user ID is [`Homeserver::user_id`] of `localpart`.
    pub async fn register(&self, localpart: &str, password: &str) -> Result<String, SynapseError> {
        let mut command = Command::new(self.venv.join("bin/register_new_matrix_user"));
        command
            .arg("--config")
            .arg(self.overlay_path())
            .args(["--user", localpart, "--password", password, "--no-admin"])
            .arg(self.url())
            .current_dir(self.dir.path());
        // The script is a Python process that takes most of a second: not on the runtime's thread.
        let output = tokio::task::spawn_blocking(move || command.output())
            .await
            .map_err(|e| SynapseError::Io { action: "running register_new_matrix_user", source: e.into() })?
            .map_err(io("running register_new_matrix_user"))?;
        if !output.status.success() {
            let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
            text.push_str(&String::from_utf8_lossy(&output.stderr));
            return Err(SynapseError::Register {
                localpart: localpart.to_owned(),
                status: Some(output.status),
                output: text,
            });
        }
        let body = json!({
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": localpart},
            "password": password,
        });
        let request = self.client.post(format!("{}/_matrix/client/v3/login", self.url())).json(&body);
        let answer = Self::json_answer("logging in", request).await?;
        match answer.get("access_token").and_then(Value::as_str) {
            Some(token) => Ok(token.to_owned()),
            None => Err(SynapseError::Refused {
                what: "logging in (no access_token)",
                status: 200,
                errcode: None,
                body: answer.to_string(),
            }),
        }
    }

    /// `GET /_matrix/client/v3/presence/{user_id}/status` with `token`: the presence object, as
    /// `{"presence": "unavailable", "status_msg": "..."}` (with `last_active_ago` and
    /// `currently_active` when Synapse has them). Another user's presence is refused (403
    /// `M_FORBIDDEN`) unless the two share a room.
    pub async fn presence(&self, token: &str, user_id: &str) -> Result<Value, SynapseError> {
        let url = self.presence_url(user_id)?;
        Self::json_answer("getting presence", self.client.get(url).bearer_auth(token)).await
    }

    /// The URL of `user_id`'s presence status, with the user ID as one percent-encoded path
    /// segment: `{url}/_matrix/client/v3/presence/{user_id}/status`.
    pub fn presence_url(&self, user_id: &str) -> Result<url::Url, SynapseError> {
        let mut url = url::Url::parse(&self.url()).map_err(|e| SynapseError::Io {
            action: "building a presence URL",
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, e),
        })?;
        url.path_segments_mut()
            .map_err(|()| SynapseError::Io {
                action: "building a presence URL",
                source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "base URL cannot have a path"),
            })?
            .extend(["_matrix", "client", "v3", "presence", user_id, "status"]);
        Ok(url)
    }

    /// Sends `request` and returns the JSON body of a 2xx answer; any other status is
    /// [`SynapseError::Refused`] with the body's `errcode`.
    async fn json_answer(what: &'static str, request: reqwest::RequestBuilder) -> Result<Value, SynapseError> {
        let response = request.send().await.map_err(http(what))?;
        let status = response.status();
        let body = response.text().await.map_err(http(what))?;
        let parsed = serde_json::from_str::<Value>(&body);
        if !status.is_success() {
            let errcode = parsed.ok().and_then(|v| v.get("errcode").and_then(Value::as_str).map(str::to_owned));
            return Err(SynapseError::Refused { what, status: status.as_u16(), errcode, body });
        }
        parsed.map_err(|_| SynapseError::Refused { what, status: status.as_u16(), errcode: None, body })
    }

    fn config_path(&self) -> PathBuf {
        self.dir.path().join("hs.yaml")
    }

    fn overlay_path(&self) -> PathBuf {
        self.dir.path().join("hcal.yaml")
    }

    fn python(&self) -> PathBuf {
        self.venv.join("bin/python")
    }

    /// Writes `hs.yaml` with `--generate-config`, then the overlay `hcal.yaml` and its logging
    /// configuration `log.yaml` (both JSON, which YAML reads as it is).
    fn generate_config(&self) -> Result<(), SynapseError> {
        let dir = self.dir.path();
        let output = Command::new(self.python())
            .args(["-m", "synapse.app.homeserver", "--generate-config"])
            .args(["--server-name", SERVER_NAME, "--report-stats=no"])
            .arg("--config-path")
            .arg(self.config_path())
            .arg("--data-directory")
            .arg(dir.join("data"))
            .current_dir(dir)
            .output()
            .map_err(io("running --generate-config"))?;
        if !output.status.success() {
            let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
            text.push_str(&String::from_utf8_lossy(&output.stderr));
            return Err(SynapseError::Config { status: output.status, output: text });
        }

        let logging = json!({
            "version": 1,
            "formatters": {"precise": {"format": "%(asctime)s - %(name)s - %(lineno)d - %(levelname)s - %(request)s - %(message)s"}},
            "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "precise"}},
            "loggers": {"synapse.storage.SQL": {"level": "INFO"}},
            "root": {"level": "INFO", "handlers": ["console"]},
            "disable_existing_loggers": false,
        });
        let log_config = dir.join("log.yaml");
        write_json(&log_config, "# Synapse's logging for hcal's tests: everything to standard error.", &logging)?;

        // An application service that may act as any local user (no events are pushed to it:
        // its url is null).
        let registration = json!({
            "id": "hcal-presence",
            "url": null,
            "as_token": self.as_token,
            "hs_token": format!("hs_{}", uuid::Uuid::new_v4().simple()),
            "sender_localpart": "hcal-presence",
            "rate_limited": false,
            "namespaces": {"users": [{"exclusive": false, "regex": format!("@.*:{SERVER_NAME}")}], "aliases": [], "rooms": []},
        });
        let registration_path = dir.join("appservice.yaml");
        write_json(&registration_path, "# The application service hcal's presence sink may use.", &registration)?;

        let mut overlay = json!({
            "app_service_config_files": [registration_path.to_string_lossy()],
            "listeners": [{
                "port": self.port,
                "bind_addresses": ["127.0.0.1"],
                "type": "http",
                "tls": false,
                "x_forwarded": false,
                // `client` serves the client-server API and the admin API (`/_synapse/admin`).
                "resources": [{"names": ["client"], "compress": false}],
            }],
            "presence": {"enabled": true},
            "registration_shared_secret": uuid::Uuid::new_v4().simple().to_string(),
            "trusted_key_servers": [],
            "log_config": log_config.to_string_lossy(),
            "enable_metrics": false,
        });
        for path in RATE_LIMITS {
            let mut node = &mut overlay;
            for key in *path {
                node = &mut node[*key];
            }
            *node = json!({"per_second": NO_LIMIT, "burst_count": NO_LIMIT});
        }
        write_json(
            &self.overlay_path(),
            "# hcal's test settings, read after hs.yaml: each top-level key here replaces the generated one.",
            &overlay,
        )
    }

    /// Spawns the homeserver and waits until `/_matrix/client/versions` answers 200.
    fn spawn(&mut self) -> Result<(), SynapseError> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .map_err(io("opening its log file"))?;
        let stderr = log.try_clone().map_err(io("opening its log file"))?;
        let child = Command::new(self.python())
            .args(["-m", "synapse.app.homeserver"])
            .arg("--config-path")
            .arg(self.config_path())
            .arg("--config-path")
            .arg(self.overlay_path())
            .current_dir(self.dir.path())
            .stdout(log)
            .stderr(stderr)
            .spawn()
            .map_err(io("spawning synapse"))?;
        self.child = Some(child);
        let address = SocketAddr::from(([127, 0, 0, 1], self.port));
        let deadline = Instant::now() + START_TIMEOUT;
        while !answers_versions(address) {
            let exited = match self.child.as_mut() {
                Some(child) => child.try_wait().map_err(io("checking on synapse"))?,
                None => None,
            };
            if exited.is_some() || Instant::now() > deadline {
                self.kill();
                let output = std::fs::read_to_string(self.log_path()).unwrap_or_default();
                let lines: Vec<&str> = output.lines().collect();
                let tail = lines[lines.len().saturating_sub(OUTPUT_LINES)..].join("\n");
                return Err(SynapseError::NotStarted { exited, output: tail });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(())
    }

    /// SIGKILL: no clean shutdown, as in a crash.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            // An error means it is gone already, which is what was asked for.
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Homeserver {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Writes `value` as pretty JSON (valid YAML) after a YAML comment line.
fn write_json(path: &Path, comment: &str, value: &Value) -> Result<(), SynapseError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| SynapseError::Io { action: "writing its configuration", source: e.into() })?;
    std::fs::write(path, format!("{comment}\n{text}\n")).map_err(io("writing its configuration"))
}

/// Whether `GET /_matrix/client/versions` on `address` answers 200: a plain HTTP/1.1 request
/// over a socket, since the harness waits synchronously (as the tansu one does) and reqwest's
/// client here is async.
fn answers_versions(address: SocketAddr) -> bool {
    let probe = || -> std::io::Result<bool> {
        let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(1))?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        stream.set_write_timeout(Some(Duration::from_secs(5)))?;
        stream.write_all(b"GET /_matrix/client/versions HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")?;
        let mut head = [0u8; 12];
        stream.read_exact(&mut head)?;
        Ok(head.starts_with(b"HTTP/1.") && &head[8..12] == b" 200")
    };
    probe().unwrap_or(false)
}
