//! The admin API's view of the logs: `GET /admin/v1/logs/{topic}`.

use actix_web::{HttpResponse, web};
use hcal_actors::log::{MAILBOX_EVENTS, MAILBOX_SNAPSHOTS, NOTIFICATIONS};
use serde::{Deserialize, Serialize};

use super::auth::AdminCaller;
use super::error::ApiError;
use crate::app::AppState;

/// Most records one answer carries.
const MAX_LOG_RECORDS: usize = 100_000;

/// Message of a path naming no log (the path's own text is not quoted back).
pub(crate) const UNKNOWN_LOG_MESSAGE: &str = "the log must be notifications, mailbox-events or mailbox-snapshots";

/// A log an operator may read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Topic {
    /// The mailboxes' input log.
    #[serde(rename = "notifications")]
    Notifications,
    /// The domain events.
    #[serde(rename = "mailbox-events")]
    MailboxEvents,
    /// The mailboxes' snapshots.
    #[serde(rename = "mailbox-snapshots")]
    MailboxSnapshots,
}

impl Topic {
    /// The log's logical name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Notifications => NOTIFICATIONS,
            Self::MailboxEvents => MAILBOX_EVENTS,
            Self::MailboxSnapshots => MAILBOX_SNAPSHOTS,
        }
    }
}

/// The answer: `{"topic", "records": [...]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogRecords {
    /// The log.
    pub topic: Topic,
    /// Its records in partition and offset order, at most 100 000.
    pub records: Vec<LogRecord>,
}

/// One record as stored (sensitive parts sealed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogRecord {
    /// Partition.
    pub partition: u32,
    /// Offset within the partition.
    pub offset: u64,
    /// Key (a mailbox's `tenant/user`).
    pub key: String,
    /// The payload as JSON (`null` when it is not JSON); its schemas are in `schemas/`.
    pub value: serde_json::Value,
}

/// `GET /admin/v1/logs/{topic}`: the records of a log as stored (sensitive parts sealed), in
/// partition and offset order; for operators and for checking the downstream contract.
pub async fn records(
    _caller: AdminCaller,
    state: web::Data<AppState>,
    topic: web::Path<Topic>,
) -> Result<HttpResponse, ApiError> {
    let topic = topic.into_inner();
    let mut records = Vec::new();
    for partition in 0..state.log.partitions(topic.name()) {
        let mut from = 0;
        while records.len() < MAX_LOG_RECORDS {
            let batch = state.log.read(topic.name(), partition, from, 1000).await.map_err(ApiError::unavailable)?;
            let Some(last) = batch.last() else { break };
            from = last.offset + 1;
            for r in batch {
                let value = serde_json::from_slice(&r.payload).unwrap_or(serde_json::Value::Null);
                records.push(LogRecord { partition: r.partition, offset: r.offset, key: r.key, value });
            }
        }
    }
    Ok(HttpResponse::Ok().json(LogRecords { topic, records }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_are_named_as_the_logs() {
        for topic in [Topic::Notifications, Topic::MailboxEvents, Topic::MailboxSnapshots] {
            assert_eq!(serde_json::to_value(topic).unwrap(), topic.name());
        }
    }
}
