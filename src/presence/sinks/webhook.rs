//! The webhook sink: one signed JSON `POST` per change, as the Standard Webhooks
//! specification describes them.
//!
//! ```text
//! POST {url}
//! content-type: application/json
//! webhook-id: {the change's id, the same when it is offered again}
//! webhook-timestamp: {unix seconds of this attempt}
//! webhook-signature: v1,{base64 of HMAC-SHA256(key, "{id}.{timestamp}.{body}")}
//!
//! {"type": "presence.changed", "timestamp": "…",
//!  "data": {"tenantId": "…", "userId": "…", "status": "outOfOffice", "since": "…", "until": "…"}}
//! ```
//!
//! The user is named by Graph object id only (no address, no name). The secret is configured
//! as the specification serialises it, `whsec_` and the base64 of the key. Any 2xx is taken;
//! the receiver drops repeats by `webhook-id`.

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, SecondsFormat, Utc};
use hmac::{KeyInit as _, Mac as _};
use serde_json::{Value, json};

use super::{base, exchange, judge};
use crate::presence::sink::{PresenceSink, PresenceUpdate, SinkFailure};

/// The `type` of every payload.
pub const EVENT_TYPE: &str = "presence.changed";

/// A webhook receiver.
pub struct WebhookSink {
    http: reqwest::Client,
    url: String,
    key: Vec<u8>,
}

impl WebhookSink {
    /// A sink posting to `url`, signing with `secret` (`whsec_…`).
    pub fn new(http: reqwest::Client, url: &str, secret: &str) -> Result<Self, String> {
        let url = base(url)?;
        let key = key_of(secret)?;
        Ok(Self { http, url, key })
    }
}

/// The key of a `whsec_` secret.
pub fn key_of(secret: &str) -> Result<Vec<u8>, String> {
    let encoded = secret.trim();
    let encoded = encoded.strip_prefix("whsec_").unwrap_or(encoded);
    match STANDARD.decode(encoded) {
        // The specification asks for keys of 24 to 64 bytes.
        Ok(key) if (24..=64).contains(&key.len()) => Ok(key),
        Ok(_) => Err("the signing secret's key must be 24 to 64 bytes".to_owned()),
        Err(_) => Err("the signing secret is not `whsec_` and base64".to_owned()),
    }
}

/// The payload of `update` (pure).
pub fn payload(update: &PresenceUpdate, now: DateTime<Utc>) -> Value {
    let at = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
    json!({
        "type": EVENT_TYPE,
        "timestamp": at(now),
        "data": {
            "tenantId": update.tenant.to_string(),
            "userId": update.user.to_string(),
            "status": update.status.as_str(),
            "since": at(update.since),
            "until": update.until.map(at),
        },
    })
}

/// `webhook-signature` of `body` sent as `id` at `timestamp` (pure).
pub fn signature(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    // An HMAC takes a key of any length.
    let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(key) else { return String::new() };
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

#[async_trait]
impl PresenceSink for WebhookSink {
    async fn deliver(&self, update: &PresenceUpdate) -> Result<(), SinkFailure> {
        // The timestamp is the wall clock of this attempt: receivers check it against theirs.
        let now = Utc::now();
        let body = serde_json::to_vec(&payload(update, now)).unwrap_or_default();
        let timestamp = now.timestamp();
        let request = self
            .http
            .post(&self.url)
            .header("content-type", "application/json")
            .header("webhook-id", &update.id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature(&self.key, &update.id, timestamp, &body))
            .body(body);
        let answer = exchange(request).await?;
        if (200..300).contains(&answer.status) { Ok(()) } else { Err(judge(&answer, None)) }
    }

    /// Webhooks name users by Graph object id only.
    fn needs_address(&self) -> bool {
        false
    }
}
