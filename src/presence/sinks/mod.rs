//! The presence sinks, one module per kind of tool, and what they share: an HTTP client that
//! does not follow redirects (credentials stay with the configured host) and one reading of
//! HTTP answers into [`SinkFailure`]s.
//!
//! The policy every sink follows: a connection failure, a timeout, 408, 429 and 5xx are
//! [`SinkFailure::Retry`] (with the tool's `Retry-After` when it gave one); so are refused
//! credentials (401, 403), which an operator can fix without losing changes. An answer that
//! says the tool will never take this update (an unknown user, a body it refuses) is
//! [`SinkFailure::Skip`]. Error reasons carry status codes and the tool's error codes, never
//! the user's address or a token.

pub mod matrix;
pub mod mattermost;
pub mod slack;
pub mod webhook;

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use super::config::{SinkConfig, SinkKind};
use super::sink::{PresenceSink, SinkFailure};

/// What a sink shows while a user is out of office, unless configured otherwise.
pub const DEFAULT_TEXT: &str = "Out of office";
/// The emoji a sink shows while a user is out of office (Mattermost and Slack), by name.
pub const DEFAULT_EMOJI: &str = "palm_tree";

/// The sink a `[[presence.sinks]]` entry describes, with its secret.
pub fn build(config: &SinkConfig, secret: String) -> Result<Arc<dyn PresenceSink>, String> {
    let http = client()?;
    let text = config.text.clone().unwrap_or_else(|| DEFAULT_TEXT.to_owned());
    let emoji = config.emoji.clone().unwrap_or_else(|| DEFAULT_EMOJI.to_owned());
    let url = config.url.clone();
    let needs_url = || url.clone().ok_or_else(|| "url is required".to_owned());
    Ok(match config.kind {
        SinkKind::Webhook => Arc::new(webhook::WebhookSink::new(http, &needs_url()?, &secret)?),
        SinkKind::Matrix => {
            Arc::new(matrix::MatrixSink::new(http, &needs_url()?, &secret, config.server_name.clone(), text)?)
        }
        SinkKind::Mattermost => Arc::new(mattermost::MattermostSink::new(http, &needs_url()?, &secret, text, emoji)?),
        SinkKind::Slack => {
            Arc::new(slack::SlackSink::new(http, url.as_deref().unwrap_or(slack::DEFAULT_URL), &secret, text, emoji)?)
        }
    })
}

/// Who users are in a tool that finds them by e-mail address: the map entry of the update when
/// it has one, else the tool's answer for the address, remembered (in memory only: addresses
/// are sensitive).
#[derive(Default)]
pub(crate) struct KnownUsers(parking_lot::Mutex<std::collections::HashMap<String, String>>);

impl KnownUsers {
    /// The tool's id of `update`'s user; `look_up` asks the tool for an address (lower case).
    pub async fn id<F, Fut>(&self, update: &super::sink::PresenceUpdate, look_up: F) -> Result<String, SinkFailure>
    where
        F: FnOnce(String) -> Fut,
        Fut: std::future::Future<Output = Result<String, SinkFailure>>,
    {
        if let Some(id) = &update.sink_user {
            return Ok(id.clone());
        }
        let Some(address) = update.address.as_deref().map(str::to_lowercase) else {
            return Err(SinkFailure::Skip { reason: "the user has no e-mail address and no mapped user".to_owned() });
        };
        if let Some(id) = self.0.lock().get(&address) {
            return Ok(id.clone());
        }
        let id = look_up(address.clone()).await?;
        self.0.lock().insert(address, id.clone());
        Ok(id)
    }
}

/// How long a sink's tool may take to accept a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one request to a sink's tool may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// The HTTP client of the sinks.
pub(crate) fn client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("hcal/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("no HTTP client: {e}"))
}

/// A tool's answer: status, `Retry-After` and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Answer {
    pub status: u16,
    pub retry_after: Option<Duration>,
    pub body: String,
}

/// Sends `request`; a failure to connect or a timeout is [`SinkFailure::Retry`].
pub(crate) async fn exchange(request: reqwest::RequestBuilder) -> Result<Answer, SinkFailure> {
    let response = request.send().await.map_err(|e| SinkFailure::Retry { reason: transport(&e), after: None })?;
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    // A body that cannot be read is judged by its status alone.
    let body = response.text().await.unwrap_or_default();
    Ok(Answer { status, retry_after, body })
}

/// What went wrong on the way, without the URL (it may name a user).
fn transport(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        "could not connect".to_owned()
    } else {
        "the request failed".to_owned()
    }
}

/// The common reading of an answer that is not a success: `code` is the tool's error code
/// when its body had one.
pub(crate) fn judge(answer: &Answer, code: Option<&str>) -> SinkFailure {
    let reason = match code {
        Some(code) => format!("HTTP {} {code}", answer.status),
        None => format!("HTTP {}", answer.status),
    };
    match answer.status {
        401 | 403 => SinkFailure::Retry { reason: format!("{reason}: credentials refused"), after: None },
        408 | 425 | 429 | 500..=599 => SinkFailure::Retry { reason, after: answer.retry_after },
        _ => SinkFailure::Skip { reason },
    }
}

/// Percent-encodes one path segment (a user id, an address).
pub(crate) fn segment(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect::<String>().replace('+', "%20")
}

/// The base URL without its trailing slashes.
pub(crate) fn base(url: &str) -> Result<String, String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("url is not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err("url must be an http(s) URL".to_owned());
    }
    Ok(url.trim_end_matches('/').to_owned())
}
