//! The `presence` topic (kafka mode): each user's presence as out of office made it, for
//! downstream consumers that follow hcal's topics rather than its API.
//!
//! Written by a delivery of its own (`presence-sink/@topic`, [`super::deliver`]), so the topic
//! gets every `PresenceChanged` in the mailbox's order, at least once, after a crash too. The
//! key is `tenant/user` and the topic is compacted: a consumer keeps the latest record per key.
//! A record holds nothing sensitive (ids, a status, times), so nothing is sealed; the schema is
//! `schemas/presence.v1.json`.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::SecondsFormat;
use hcal_actors::log::{EventLog, PRESENCE};
use serde_json::{Value, json};

use super::sink::{PresenceSink, PresenceUpdate, SinkFailure};

/// The name the topic's delivery keeps its positions under (`@` keeps it apart from the names
/// of configured sinks).
pub const NAME: &str = "@topic";

/// Appends each change to the `presence` topic.
pub struct TopicSink {
    log: Arc<dyn EventLog>,
}

impl TopicSink {
    /// Writing to `log`.
    pub fn new(log: Arc<dyn EventLog>) -> Self {
        Self { log }
    }
}

/// The key and value of `update`'s record (pure).
pub fn record(update: &PresenceUpdate) -> (String, Value) {
    let at = |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
    let key = format!("{}/{}", update.tenant, update.user);
    let value = json!({
        "tenantId": update.tenant.to_string(),
        "userId": update.user.to_string(),
        "changeId": update.id,
        "status": update.status.as_str(),
        "since": at(update.since),
        "until": update.until.map(at),
    });
    (key, value)
}

#[async_trait]
impl PresenceSink for TopicSink {
    async fn deliver(&self, update: &PresenceUpdate) -> Result<(), SinkFailure> {
        let (key, value) = record(update);
        let payload = serde_json::to_vec(&value).unwrap_or_default();
        self.log
            .append(PRESENCE, &key, vec![payload])
            .await
            .map(|_| ())
            .map_err(|e| SinkFailure::Retry { reason: format!("the presence topic: {e}"), after: None })
    }

    /// Records name users by Graph object id only.
    fn needs_address(&self) -> bool {
        false
    }
}
