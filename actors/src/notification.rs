//! Messages of the notifications log: what the webhook accepted from Graph, reduced to what
//! the mailbox actor needs. They carry no sensitive data (ids only; the clientState was checked
//! at the door and is not kept).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::ids::{DeviceId, GraphEventId, MailboxId, TenantId, TokenId, UserObjectId};
use crate::presence::AutoReplies;
use crate::seal::Sealed;

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

/// An admin command, logged like a notification so it enters the mailbox's input order and is
/// applied by whichever process owns the mailbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "camelCase")]
pub enum AdminCommand {
    /// Enable the mailbox.
    #[serde(rename_all = "camelCase")]
    EnableMailbox {
        /// Mailbox language, when known.
        locale: Option<String>,
    },
    /// Disable the mailbox: delete its subscription and stop handling its changes.
    DisableMailbox,
    /// Erase the mailbox (crypto-shredding): disable it and destroy its data keys, so that
    /// nothing recorded of it can be opened again.
    EraseMailbox,
    /// Renew the mailbox's subscription, or recreate it (and resync) when it is gone. Sent by
    /// the scheduler at about half the subscription's lifetime and by the daily sweep.
    RenewSubscription,
    /// Record the mailbox's new Graph subscription.
    #[serde(rename_all = "camelCase")]
    RecordSubscription {
        /// Graph subscription id (named apart from the record's own `subscriptionId`, which is
        /// empty for commands).
        #[serde(rename = "newSubscriptionId")]
        subscription_id: String,
        /// Expiry.
        expires_at: DateTime<Utc>,
        /// The client state, sealed (additional data: the record id).
        sealed: Sealed,
    },
    /// Grant an access token to the mailbox's user: its id and the digest of its secret.
    #[serde(rename_all = "camelCase")]
    IssueToken {
        /// The token's id.
        token_id: TokenId,
        /// Who holds it.
        holder: TokenHolder,
        /// The digest of the token's secret, sealed (additional data: the record id).
        sealed: Sealed,
    },
    /// Revoke an access token of the mailbox.
    #[serde(rename_all = "camelCase")]
    RevokeToken {
        /// The token's id.
        token_id: TokenId,
    },
    /// Register (or re-register, with new settings) a device of this room mailbox.
    #[serde(rename_all = "camelCase")]
    RegisterDevice {
        /// The device's id.
        device_id: DeviceId,
        /// How it is reached: `roomOs`, `legacy` or `webexCloud` (`deviceKind` on the wire:
        /// the record's own `kind` says what the record is).
        #[serde(rename = "deviceKind")]
        kind: String,
        /// Its address and credentials ([`crate::mailbox::events::DevicePrivate`]), sealed
        /// (additional data: the record id).
        sealed: Sealed,
    },
    /// Remove a device of this room mailbox.
    #[serde(rename_all = "camelCase")]
    RemoveDevice {
        /// The device's id.
        device_id: DeviceId,
    },
    /// The mailbox settings as the presence poller read them (only what presence needs: the
    /// language and the automatic replies' status and window). Logged only when they differ
    /// from what the mailbox last recorded.
    #[serde(rename_all = "camelCase")]
    RecordSettings {
        /// `language.locale`, when set.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        locale: Option<String>,
        /// The automatic replies.
        automatic_replies: AutoReplies,
    },
    /// Timer at a scheduled automatic-replies window's start or end: the mailbox records the
    /// presence its setting means now.
    ApplyPresence,
}

/// Who holds an access token hcal issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum TokenHolder {
    /// The mailbox's user: reads that user's meeting list, nothing else.
    User,
    /// A device of the room mailbox: reads that device's bookings, nothing else.
    #[serde(rename_all = "camelCase")]
    Device {
        /// The device.
        device_id: DeviceId,
    },
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
    /// An admin command.
    Command(AdminCommand),
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
    /// Graph subscription (empty for admin commands).
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

    /// A record of `kind` for `mailbox`, received at `now`, with a fresh id.
    pub fn new(mailbox: MailboxId, subscription_id: String, kind: NotificationKind, now: DateTime<Utc>) -> Self {
        Self {
            id: Uuid::new_v4(),
            received_at: now,
            tenant_id: mailbox.tenant,
            user_id: mailbox.user,
            subscription_id,
            kind,
        }
    }

    /// An admin command or timer for `mailbox` (commands carry no subscription id).
    pub fn command(mailbox: MailboxId, command: AdminCommand, now: DateTime<Utc>) -> Self {
        Self::new(mailbox, String::new(), NotificationKind::Command(command), now)
    }

    /// The change notification a resync feeds back for an event of the window: `updated`, or
    /// `deleted` for one Graph reported removed.
    pub fn redelivered(
        mailbox: MailboxId,
        subscription_id: String,
        event_id: GraphEventId,
        removed: bool,
        now: DateTime<Utc>,
    ) -> Self {
        let change_type = if removed { ChangeType::Deleted } else { ChangeType::Updated };
        Self::new(mailbox, subscription_id, NotificationKind::Change { change_type, event_id }, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seal::{DataKey, KeyRing, seal};

    #[test]
    fn commands_round_trip_without_clashing_fields() {
        let ring = KeyRing::new(DataKey::generate("k").unwrap());
        let id = Uuid::new_v4();
        let record = NotificationRecord {
            id,
            received_at: Utc::now(),
            tenant_id: TenantId::parse("72f988bf-86f1-41af-91ab-2d7cd011db47").unwrap(),
            user_id: UserObjectId::parse("00000000-0000-0000-0000-0000000000a1").unwrap(),
            subscription_id: String::new(),
            kind: NotificationKind::Command(AdminCommand::RecordSubscription {
                subscription_id: "sub-1".into(),
                expires_at: Utc::now(),
                sealed: seal(&ring, id.as_bytes(), "secret").unwrap(),
            }),
        };
        let json = serde_json::to_value(&record).unwrap();
        assert_eq!(json["kind"], "command");
        assert_eq!(json["command"], "recordSubscription");
        assert_eq!(json["newSubscriptionId"], "sub-1");
        assert!(!json.to_string().contains("secret"));
        assert_eq!(serde_json::from_value::<NotificationRecord>(json).unwrap(), record);
    }
}

#[cfg(test)]
mod commands {
    use super::*;
    use crate::ids::DeviceId;
    use crate::presence::AutoReplyStatus;

    #[test]
    fn every_command_reads_back_as_written() {
        let mailbox = MailboxId {
            tenant: TenantId::parse("72f988bf-86f1-41af-91ab-2d7cd011db47").unwrap(),
            user: UserObjectId::parse("e7b64acf-f267-4b54-bbb7-c31361954251").unwrap(),
        };
        let sealed: Sealed = serde_json::from_value(serde_json::json!({"kid": "k", "n": "AAAA", "c": "AAAA"})).unwrap();
        let device_id = DeviceId::parse("00000000-0000-4000-8000-00000000d001").unwrap();
        let token_id = TokenId::parse("00000000-0000-4000-8000-00000000a001").unwrap();
        for command in [
            AdminCommand::EnableMailbox { locale: Some("tr-TR".into()) },
            AdminCommand::DisableMailbox,
            AdminCommand::EraseMailbox,
            AdminCommand::RenewSubscription,
            AdminCommand::IssueToken { token_id, holder: TokenHolder::Device { device_id }, sealed: sealed.clone() },
            AdminCommand::RevokeToken { token_id },
            AdminCommand::RegisterDevice { device_id, kind: "roomOs".into(), sealed },
            AdminCommand::RemoveDevice { device_id },
            AdminCommand::RecordSettings {
                locale: Some("de-DE".into()),
                automatic_replies: AutoReplies::new(
                    AutoReplyStatus::Scheduled,
                    Some("2026-12-02T09:00:00Z".parse().unwrap()),
                    Some("2026-12-04T17:00:00Z".parse().unwrap()),
                ),
            },
            AdminCommand::ApplyPresence,
        ] {
            let record = NotificationRecord::command(mailbox, command, Utc::now());
            let text = serde_json::to_string(&record).unwrap();
            assert_eq!(serde_json::from_str::<NotificationRecord>(&text).unwrap(), record, "{text}");
        }
    }
}
