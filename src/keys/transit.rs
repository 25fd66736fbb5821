//! The Transit secrets engine of OpenBao or Vault as the key service
//! (`/v1/{mount}/datakey/plaintext/{name}`, `/decrypt/{name}`, `/keys/{name}`, `…/rotate`,
//! `…/config`). Each scope has a key-encryption key of its own, so erasing a mailbox deletes its
//! key from the server and no backup of hcal's key store can bring its data keys back.
//!
//! Callers are synchronous (sealing happens inside encoders), so requests go to a thread of
//! their own with its own runtime; the caller waits at most the configured timeout. After a
//! failure to reach the server, calls fail at once for a second instead of each waiting out
//! the timeout again.

use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use hcal_actors::seal::KeyScope;
use parking_lot::Mutex;
use serde_json::{Value, json};

use super::config::TransitConfig;
use super::kms::{Kms, KmsError, bytes_of};

/// How long calls fail at once after the server could not be reached.
const FAIL_FAST: Duration = Duration::from_secs(1);

type Reply = mpsc::SyncSender<Result<Value, KmsError>>;

struct Job {
    method: reqwest::Method,
    path: String,
    body: Option<Value>,
    reply: Reply,
}

/// A Transit engine client.
pub struct Transit {
    prefix: String,
    jobs: tokio::sync::mpsc::UnboundedSender<Job>,
    timeout: Duration,
    down_until: Mutex<Option<Instant>>,
    created: Mutex<std::collections::HashSet<String>>,
}

impl std::fmt::Debug for Transit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transit").field("prefix", &self.prefix).finish_non_exhaustive()
    }
}

impl Transit {
    /// A client of the engine `config` names, authenticating with `token`.
    pub fn new(config: &TransitConfig, token: String) -> Result<Arc<Self>, String> {
        let base = url::Url::parse(&config.url).map_err(|e| format!("keys.transit.url: {e}"))?;
        let base = format!("{}/v1/{}/", base.as_str().trim_end_matches('/'), config.mount.trim_matches('/'));
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .build()
            .map_err(|e| format!("key service client: {e}"))?;
        let (jobs, mut rx) = tokio::sync::mpsc::unbounded_channel::<Job>();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("key service runtime: {e}"))?;
        std::thread::Builder::new()
            .name("hcal-kms".into())
            .spawn(move || {
                runtime.block_on(async move {
                    while let Some(job) = rx.recv().await {
                        let request = http
                            .request(job.method, format!("{base}{}", job.path))
                            .header("X-Vault-Token", &token)
                            .json(&job.body.unwrap_or(json!({})));
                        tokio::spawn(async move {
                            let _ = job.reply.send(answer(request.send().await).await);
                        });
                    }
                });
            })
            .map_err(|e| format!("key service thread: {e}"))?;
        Ok(Arc::new(Self {
            prefix: config.key_prefix.clone(),
            jobs,
            timeout: config.timeout + Duration::from_millis(200),
            down_until: Mutex::new(None),
            created: Mutex::default(),
        }))
    }

    fn call(&self, method: reqwest::Method, path: String, body: Option<Value>) -> Result<Value, KmsError> {
        if let Some(until) = *self.down_until.lock()
            && Instant::now() < until
        {
            return Err(KmsError::Unavailable("not reachable a moment ago".into()));
        }
        let (reply, answer) = mpsc::sync_channel(1);
        self.jobs
            .send(Job { method, path, body, reply })
            .map_err(|_| KmsError::Unavailable("the key service client stopped".into()))?;
        let result = answer
            .recv_timeout(self.timeout)
            .unwrap_or_else(|_| Err(KmsError::Unavailable("no answer in time".into())));
        if matches!(result, Err(KmsError::Unavailable(_))) {
            *self.down_until.lock() = Some(Instant::now() + FAIL_FAST);
        }
        result
    }

    fn ensure(&self, kek: &str) -> Result<(), KmsError> {
        if self.created.lock().contains(kek) {
            return Ok(());
        }
        // Creating a key that exists changes nothing and answers as for a new one.
        self.call(reqwest::Method::POST, format!("keys/{kek}"), Some(json!({"type": "aes256-gcm96"})))?;
        self.created.lock().insert(kek.to_owned());
        Ok(())
    }
}

/// Reads the server's answer: `{"data": …}`, or `{"errors": [...]}` with a status.
async fn answer(sent: Result<reqwest::Response, reqwest::Error>) -> Result<Value, KmsError> {
    let response = sent.map_err(|e| KmsError::Unavailable(class_of(&e)))?;
    let status = response.status();
    let body: Value = if status == reqwest::StatusCode::NO_CONTENT {
        Value::Null
    } else {
        response.json().await.unwrap_or(Value::Null)
    };
    if status.is_success() {
        return Ok(body.get("data").cloned().unwrap_or(Value::Null));
    }
    let errors = body
        .get("errors")
        .and_then(Value::as_array)
        .map(|e| e.iter().filter_map(Value::as_str).collect::<Vec<_>>().join("; "))
        .unwrap_or_default();
    let said = format!("{} {}", status.as_u16(), errors);
    Err(if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        KmsError::Unavailable(said)
    } else if errors.contains("not found") || errors.contains("could be found") {
        KmsError::Gone(said)
    } else {
        KmsError::Refused(said)
    })
}

fn class_of(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "connection failed".into()
    } else {
        "request failed".into()
    }
}

impl Kms for Transit {
    fn kind(&self) -> &'static str {
        "transit"
    }

    fn kek_of(&self, scope: &KeyScope) -> String {
        match scope {
            KeyScope::Service => format!("{}-svc", self.prefix),
            KeyScope::Organisation(t) => format!("{}-org-{t}", self.prefix),
            KeyScope::Mailbox(m) => format!("{}-mbx-{}-{}", self.prefix, m.tenant, m.user),
        }
    }

    fn generate(&self, kek: &str) -> Result<([u8; 32], String), KmsError> {
        self.ensure(kek)?;
        let data = self.call(reqwest::Method::POST, format!("datakey/plaintext/{kek}"), Some(json!({"bits": 256})))?;
        let plain = data.get("plaintext").and_then(Value::as_str).and_then(bytes_of);
        let wrapped = data.get("ciphertext").and_then(Value::as_str);
        match (plain, wrapped) {
            (Some(key), Some(wrapped)) => Ok((key, wrapped.to_owned())),
            _ => Err(KmsError::Refused("datakey answer without a 256-bit plaintext and ciphertext".into())),
        }
    }

    fn unwrap(&self, kek: &str, wrapped: &str) -> Result<[u8; 32], KmsError> {
        let data = self.call(reqwest::Method::POST, format!("decrypt/{kek}"), Some(json!({"ciphertext": wrapped})))?;
        data.get("plaintext")
            .and_then(Value::as_str)
            .and_then(bytes_of)
            .ok_or_else(|| KmsError::Refused("decrypt answer without a 256-bit plaintext".into()))
    }

    fn destroy(&self, kek: &str) -> Result<(), KmsError> {
        match self.call(reqwest::Method::POST, format!("keys/{kek}/config"), Some(json!({"deletion_allowed": true}))) {
            Ok(_) => {}
            Err(KmsError::Gone(_)) => return Ok(()),
            Err(e) => return Err(e),
        }
        self.created.lock().remove(kek);
        match self.call(reqwest::Method::DELETE, format!("keys/{kek}"), None) {
            Ok(_) | Err(KmsError::Gone(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn rotate(&self, kek: &str) -> Result<(), KmsError> {
        self.ensure(kek)?;
        self.call(reqwest::Method::POST, format!("keys/{kek}/rotate"), None).map(|_| ())
    }
}
