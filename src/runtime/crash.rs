//! Deliberate crash points, for the tests that prove recovery (`[testing] crash_at`): the
//! process aborts right after a piece of work is done and before its outcome is recorded, as a
//! power cut there would. Each is a wrapper of the port that does the work, so the domain
//! crate knows nothing of them. Never set in production.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hcal_actors::ids::{GraphEventId, MailboxId};
use hcal_actors::log::{EventLog, LogError, MAILBOX_EVENTS, Record};
use hcal_actors::ports::{
    Booking, BookingRequest, GraphApi, GraphEvent, GraphFailure, Inbox, MeetingPlatform, MeetingRoom, Occurrence,
    PatchedEvent, PlatformFailure, SubscriptionApi,
};
use serde::{Deserialize, Serialize};

/// Where a test build may abort.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CrashPoint {
    /// Right after join details were written to Graph, before `JoinInfoPatched` is appended.
    AfterJoinPatch,
    /// Right after Graph created a subscription, before `SubscriptionCreated` is appended.
    AfterSubscriptionCreate,
    /// Right after a resync fed the window back to the input log, before `ResyncCompleted`.
    AfterRedelivery,
    /// Right after the meeting platform booked a meeting, before `MeetingBooked` is appended.
    AfterBooking,
    /// Right after a domain event of this type was appended (e.g. `SubscriptionLost`).
    AfterEvent(String),
}

fn abort(point: &CrashPoint) -> ! {
    tracing::error!(?point, "crash point reached; aborting as configured");
    std::process::abort();
}

/// Graph's events, aborting after a write of join details.
pub struct CrashingGraph(pub Arc<dyn GraphApi>, pub CrashPoint);

#[async_trait]
impl GraphApi for CrashingGraph {
    async fn get_event(&self, mailbox: &MailboxId, id: &GraphEventId) -> Result<Option<GraphEvent>, GraphFailure> {
        self.0.get_event(mailbox, id).await
    }

    async fn patch_join_info(
        &self,
        mailbox: &MailboxId,
        id: &GraphEventId,
        expected_change_key: &str,
        body_html: &str,
        marker: &str,
    ) -> Result<PatchedEvent, GraphFailure> {
        let patched = self.0.patch_join_info(mailbox, id, expected_change_key, body_html, marker).await?;
        if self.1 == CrashPoint::AfterJoinPatch {
            abort(&self.1);
        }
        Ok(patched)
    }

    async fn occurrences(
        &self,
        mailbox: &MailboxId,
        series_id: &GraphEventId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Occurrence>, GraphFailure> {
        self.0.occurrences(mailbox, series_id, from, to).await
    }
}

/// The meeting platform, aborting after a booking.
pub struct CrashingPlatform(pub Arc<dyn MeetingPlatform>, pub CrashPoint);

#[async_trait]
impl MeetingPlatform for CrashingPlatform {
    async fn personal_room(&self, platform: &str, organizer_address: &str) -> Result<MeetingRoom, PlatformFailure> {
        self.0.personal_room(platform, organizer_address).await
    }

    async fn book(&self, request: &BookingRequest) -> Result<Booking, PlatformFailure> {
        let booked = self.0.book(request).await?;
        if self.1 == CrashPoint::AfterBooking {
            abort(&self.1);
        }
        Ok(booked)
    }

    async fn reschedule(&self, booking_id: &str, request: &BookingRequest) -> Result<(), PlatformFailure> {
        self.0.reschedule(booking_id, request).await
    }

    async fn cancel(&self, platform: &str, booking_id: &str, organizer_address: &str) -> Result<(), PlatformFailure> {
        self.0.cancel(platform, booking_id, organizer_address).await
    }
}

/// Graph's subscriptions, aborting after a creation.
pub struct CrashingSubscriptions(pub Arc<dyn SubscriptionApi>, pub CrashPoint);

#[async_trait]
impl SubscriptionApi for CrashingSubscriptions {
    async fn create(
        &self,
        mailbox: &MailboxId,
        client_state: &str,
        expiration: DateTime<Utc>,
    ) -> Result<(String, DateTime<Utc>), GraphFailure> {
        let created = self.0.create(mailbox, client_state, expiration).await?;
        if self.1 == CrashPoint::AfterSubscriptionCreate {
            abort(&self.1);
        }
        Ok(created)
    }

    async fn renew(
        &self,
        mailbox: &MailboxId,
        id: &str,
        expiration: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, GraphFailure> {
        self.0.renew(mailbox, id, expiration).await
    }

    async fn delete(&self, mailbox: &MailboxId, id: &str) -> Result<(), GraphFailure> {
        self.0.delete(mailbox, id).await
    }

    async fn mailbox_settings(&self, mailbox: &MailboxId) -> Result<hcal_actors::ports::SettingsRead, GraphFailure> {
        self.0.mailbox_settings(mailbox).await
    }

    async fn reauthorize(&self, mailbox: &MailboxId, id: &str) -> Result<bool, GraphFailure> {
        self.0.reauthorize(mailbox, id).await
    }

    async fn changed_ids(
        &self,
        mailbox: &MailboxId,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<Vec<(GraphEventId, bool)>, GraphFailure> {
        self.0.changed_ids(mailbox, start, end).await
    }
}

/// The input log, aborting after a resync's records are stored.
pub struct CrashingInbox(pub Arc<dyn Inbox>, pub CrashPoint);

#[async_trait]
impl Inbox for CrashingInbox {
    async fn redeliver(
        &self,
        mailbox: MailboxId,
        subscription_id: &str,
        changes: &[(GraphEventId, bool)],
        now: DateTime<Utc>,
    ) -> Result<(), LogError> {
        self.0.redeliver(mailbox, subscription_id, changes, now).await?;
        if self.1 == CrashPoint::AfterRedelivery {
            abort(&self.1);
        }
        Ok(())
    }
}

/// The event log, aborting after a domain event of a given type is appended.
pub struct CrashingLog(pub Arc<dyn EventLog>, pub CrashPoint);

#[async_trait]
impl EventLog for CrashingLog {
    fn partitions(&self, topic: &str) -> u32 {
        self.0.partitions(topic)
    }

    async fn append(&self, topic: &str, key: &str, payloads: Vec<Vec<u8>>) -> Result<Vec<u64>, LogError> {
        let CrashPoint::AfterEvent(wanted) = &self.1 else { return self.0.append(topic, key, payloads).await };
        let hit = topic == MAILBOX_EVENTS
            && payloads.iter().any(|p| {
                serde_json::from_slice::<serde_json::Value>(p)
                    .is_ok_and(|v| v.get("type").and_then(|t| t.as_str()) == Some(wanted.as_str()))
            });
        let offsets = self.0.append(topic, key, payloads).await?;
        if hit {
            abort(&self.1);
        }
        Ok(offsets)
    }

    async fn read(&self, topic: &str, partition: u32, from: u64, max: usize) -> Result<Vec<Record>, LogError> {
        self.0.read(topic, partition, from, max).await
    }

    async fn wait(&self, topic: &str, partition: u32, from: u64, timeout: std::time::Duration) {
        self.0.wait(topic, partition, from, timeout).await;
    }

    async fn committed(&self, group: &str, topic: &str, partition: u32) -> Result<u64, LogError> {
        self.0.committed(group, topic, partition).await
    }

    async fn commit(&self, group: &str, topic: &str, partition: u32, next: u64) -> Result<(), LogError> {
        self.0.commit(group, topic, partition, next).await
    }
}
