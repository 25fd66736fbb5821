//! Messages of the notifications log: what the webhook accepted from Graph, reduced to what
//! the mailbox actor needs. They carry no sensitive data (ids only; the clientState was checked
//! at the door and is not kept).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::ids::{GraphEventId, MailboxId, TenantId, UserObjectId};

/// Change types of Graph notifications.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeType {
    /// An event was created.
    Created,
    /// An event was updated.
    Updated,
    /// An event was deleted.
    Deleted,
}

/// Graph lifecycle events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum LifecycleEvent {
    /// Reauthorize the subscription.
    ReauthorizationRequired,
    /// The subscription is gone.
    SubscriptionRemoved,
    /// Notifications were missed.
    Missed,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum NotificationKind {
    /// A change to an event.
    #[serde(rename_all = "camelCase")]
    Change {
        /// Change type.
        change_type: ChangeType,
        /// Event id (`resourceData.id`).
        event_id: GraphEventId,
    },
    /// A lifecycle notification.
    #[serde(rename_all = "camelCase")]
    Lifecycle {
        /// What Graph reported.
        lifecycle_event: LifecycleEvent,
    },
}

/// One record of the notifications log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationRecord {
    /// Id given at ingestion; the causation id of the events it leads to.
    pub id: Uuid,
    /// When hcal accepted it.
    pub received_at: DateTime<Utc>,
    /// Tenant.
    pub tenant_id: TenantId,
    /// Mailbox user.
    pub user_id: UserObjectId,
    /// Graph subscription.
    pub subscription_id: String,
    /// Payload.
    #[serde(flatten)]
    pub kind: NotificationKind,
}

impl NotificationRecord {
    /// The mailbox it concerns.
    pub fn mailbox(&self) -> MailboxId {
        MailboxId { tenant: self.tenant_id, user: self.user_id }
    }
}
