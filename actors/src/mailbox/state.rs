//! A mailbox's state: a fold of its events. `apply` cannot fail and decides nothing: every
//! rule is in `decide`, and whatever a rule needs to know later is in an event.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use chrono::{DateTime, Utc};

use super::events::{DevicePrivate, MailboxEvent, MeetingDetails, MeetingPrivate, SkipReason};
use crate::ids::{DeviceId, GraphEventId, TokenId};
use crate::ports::MeetingRoom;
use crate::presence::{AutoReplies, PresenceStatus};

/// What hcal did about a meeting's keyword.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Decoration {
    /// Nothing written or given up yet (whether join details are due is `decide`'s question).
    /// Snapshots of earlier versions say `Pending` for a keyword invite not yet written.
    #[default]
    #[serde(alias = "Pending")]
    NotNeeded,
    /// Written; the echo of hcal's own write carries `change_key`.
    Done {
        /// Change key after the write.
        change_key: String,
    },
    /// hcal will not write (skipped for a reason or failed permanently) until the keyword
    /// changes.
    Abandoned,
    /// The platform refused the organiser: tried again at the invite's next change (the
    /// organiser may have an account by then).
    Refused,
}

/// A meeting hcal booked on a platform for a keyword invite (one-time or space).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookedMeeting {
    /// Platform id.
    pub platform: String,
    /// Keyword action it was booked for.
    pub mode: String,
    /// The platform's id of the meeting.
    pub id: String,
    /// Start it is booked at.
    pub start: DateTime<Utc>,
    /// End it is booked at.
    pub end: DateTime<Utc>,
    /// How to join it.
    pub room: MeetingRoom,
}

/// A booked meeting to delete on its platform: its invite was cancelled or lost its keyword.
/// Kept until the platform confirms, so a crash in between deletes it after the restart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DueCancellation {
    /// The invite it was booked for.
    pub event_id: GraphEventId,
    /// Platform id.
    pub platform: String,
    /// The organiser (the host on the platform).
    pub organizer: String,
}

/// A meeting as the mailbox knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meeting {
    /// Last details seen.
    pub details: MeetingDetails,
    /// Decoration status.
    pub decoration: Decoration,
    /// The meeting booked for it, if any.
    #[serde(default)]
    pub booking: Option<BookedMeeting>,
}

/// The state of one mailbox.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MailboxState {
    /// Enabled.
    pub enabled: bool,
    /// Sequence number of the last applied event (0: none).
    pub seq: u64,
    /// Mailbox language.
    pub locale: Option<String>,
    /// The current subscription: id and expiry.
    pub subscription: Option<(String, chrono::DateTime<chrono::Utc>)>,
    /// The last set-up failure (reason, retry time) since the mailbox was enabled or subscribed.
    pub setup_error: Option<(String, Option<chrono::DateTime<chrono::Utc>>)>,
    /// Set-up failures in a row (for the retry schedule).
    pub setup_failures: u32,
    /// Known meetings.
    pub meetings: BTreeMap<GraphEventId, Meeting>,
    /// A resync of the window is owed: the subscription is new, or notifications were missed,
    /// and no `ResyncCompleted` followed yet. `decide` does it on the next `Resume`, so a resync
    /// a crash cut short is finished after the restart.
    #[serde(default)]
    pub resync_due: bool,
    /// Booked meetings to delete on their platforms, by the platform's id.
    #[serde(default)]
    pub cancellations: BTreeMap<String, DueCancellation>,
    /// Access tokens granted to the mailbox's user, with whether each was revoked since: a
    /// command delivered again neither grants a token twice nor brings a revoked one back.
    #[serde(default)]
    pub tokens: BTreeMap<TokenId, bool>,
    /// Devices registered to this room mailbox, with their settings.
    #[serde(default)]
    pub devices: BTreeMap<DeviceId, (String, DevicePrivate)>,
    /// The automatic replies the last read of the settings found (`None`: never read).
    #[serde(default)]
    pub auto_replies: Option<AutoReplies>,
    /// The presence last recorded (`PresenceChanged`); available until one says otherwise.
    #[serde(default)]
    pub presence: PresenceStatus,
    /// Erased (its keys destroyed); enabling it again starts afresh.
    #[serde(default)]
    pub erased: bool,
}

/// The status an admin sees, from the three facts it depends on: `disabled`, `active`,
/// `error` (a set-up failure and no subscription) or `pending`.
pub fn status_of(enabled: bool, subscribed: bool, failed: bool) -> &'static str {
    match (enabled, subscribed, failed) {
        (false, _, _) => "disabled",
        (true, true, _) => "active",
        (true, false, true) => "error",
        (true, false, false) => "pending",
    }
}

impl MailboxState {
    /// What an admin sees: the status, with the failure reason when it is `error`.
    pub fn status(&self) -> (&'static str, Option<&str>) {
        let status = if self.erased && !self.enabled {
            "erased"
        } else {
            status_of(self.enabled, self.subscription.is_some(), self.setup_error.is_some())
        };
        let reason = self.setup_error.as_ref().filter(|_| status == "error").map(|(r, _)| r.as_str());
        (status, reason)
    }

    /// Folds one event in.
    pub fn apply(&mut self, event: &MailboxEvent) {
        self.seq += 1;
        match event {
            MailboxEvent::MailboxEnabled { locale } => {
                self.enabled = true;
                self.erased = false;
                if locale.is_some() {
                    self.locale.clone_from(locale);
                }
                self.setup_error = None;
                self.setup_failures = 0;
            }
            MailboxEvent::MailboxErased {} => {
                // Everything it knew is gone with the keys; only the count of events stays.
                *self = Self { seq: self.seq, erased: true, ..Self::default() };
            }
            MailboxEvent::MailboxDisabled {} => {
                self.enabled = false;
                self.subscription = None;
                self.setup_error = None;
                self.resync_due = false;
            }
            MailboxEvent::MailboxSetupFailed { reason, retry_at, .. } => {
                self.setup_error = Some((reason.clone(), *retry_at));
                self.setup_failures += 1;
            }
            MailboxEvent::SubscriptionCreated { subscription_id, expires_at, .. } => {
                self.subscription = Some((subscription_id.clone(), *expires_at));
                self.setup_error = None;
                self.setup_failures = 0;
                // Whatever changed while there was no subscription is read by a resync.
                self.resync_due = true;
            }
            MailboxEvent::SubscriptionRenewed { subscription_id, expires_at } => {
                self.subscription = Some((subscription_id.clone(), *expires_at));
            }
            MailboxEvent::SubscriptionLost { subscription_id, .. } => {
                if self.subscription.as_ref().is_some_and(|(id, _)| id == subscription_id) {
                    self.subscription = None;
                }
            }
            MailboxEvent::ResyncRequested { .. } => self.resync_due = true,
            MailboxEvent::ResyncCompleted { .. } => self.resync_due = false,
            MailboxEvent::MeetingScheduled(d) | MailboxEvent::MeetingUpdated(d) => {
                let known = self.meetings.remove(&d.event_id);
                let (decoration, booking) = known.map(|m| (m.decoration, m.booking)).unwrap_or_default();
                self.meetings.insert(d.event_id.clone(), Meeting { details: d.clone(), decoration, booking });
            }
            MailboxEvent::MeetingCancelled { event_id } => {
                if let Some(m) = self.meetings.remove(event_id)
                    && let Some(booking) = &m.booking
                {
                    let (id, due) = DueCancellation::of(&m.details, booking);
                    self.cancellations.insert(id, due);
                }
            }
            MailboxEvent::MeetingForgotten { event_id, .. } => {
                self.meetings.remove(event_id);
            }
            MailboxEvent::MeetingBooked { event_id, platform, mode, booking_id, start, end, private } => {
                if let Some(m) = self.meetings.get_mut(event_id) {
                    m.booking = Some(BookedMeeting {
                        platform: platform.clone(),
                        mode: mode.clone(),
                        id: booking_id.clone(),
                        start: *start,
                        end: *end,
                        room: private.room.clone(),
                    });
                }
            }
            MailboxEvent::BookingMoved { event_id, booking_id, start, end } => {
                if let Some(b) = self.meetings.get_mut(event_id).and_then(|m| m.booking.as_mut())
                    && b.id == *booking_id
                {
                    b.start = *start;
                    b.end = *end;
                }
            }
            MailboxEvent::BookingDeleted { booking_id, .. } => {
                self.cancellations.remove(booking_id);
            }
            MailboxEvent::JoinInfoRemoved { event_id, change_key } => {
                if let Some(m) = self.meetings.get_mut(event_id) {
                    m.decoration = Decoration::NotNeeded;
                    m.details.change_key.clone_from(change_key);
                    m.details.join = None;
                    m.details.private.join_address = None;
                    m.details.private.web_link = None;
                    if let Some(booking) = m.booking.take() {
                        let (id, due) = DueCancellation::of(&m.details, &booking);
                        self.cancellations.insert(id, due);
                    }
                }
            }
            MailboxEvent::JoinInfoPatched { event_id, change_key, join, private, .. } => {
                if let Some(m) = self.meetings.get_mut(event_id) {
                    m.decoration = Decoration::Done { change_key: change_key.clone() };
                    m.details.join = Some(join.clone());
                    merge_join(&mut m.details.private, private);
                }
            }
            MailboxEvent::JoinInfoPatchFailed { event_id, retryable, .. } => {
                if let Some(m) = self.meetings.get_mut(event_id)
                    && !retryable
                {
                    m.decoration = Decoration::Abandoned;
                }
            }
            MailboxEvent::MeetingSkipped { event_id, reason, .. } => {
                if let Some(m) = self.meetings.get_mut(event_id) {
                    m.decoration = match reason {
                        SkipReason::PlatformRefused => Decoration::Refused,
                        _ => Decoration::Abandoned,
                    };
                }
            }
            // For the lists only.
            MailboxEvent::SeriesExpanded { .. } => {}
            MailboxEvent::TokenIssued { token_id, .. } => {
                self.tokens.entry(*token_id).or_insert(false);
            }
            MailboxEvent::OooChanged { status, start, end } => {
                self.auto_replies = Some(AutoReplies::new(*status, *start, *end));
            }
            MailboxEvent::LanguageDetected { locale } => self.locale = Some(locale.clone()),
            MailboxEvent::PresenceChanged { status, .. } => self.presence = *status,
            MailboxEvent::TokenRevoked { token_id } => {
                self.tokens.insert(*token_id, true);
            }
            MailboxEvent::DeviceRegistered { device_id, kind, private } => {
                self.devices.insert(*device_id, (kind.clone(), private.clone()));
            }
            MailboxEvent::DeviceRemoved { device_id } => {
                self.devices.remove(device_id);
            }
            MailboxEvent::OrganizerNotified { event_id, change_key, .. } => {
                // The echo of the write is nothing new.
                if let Some(m) = self.meetings.get_mut(event_id) {
                    m.details.change_key.clone_from(change_key);
                }
            }
        }
    }
}

impl DueCancellation {
    /// The deletion a meeting's booking becomes, keyed by the platform's id of the meeting.
    pub fn of(details: &MeetingDetails, booking: &BookedMeeting) -> (String, Self) {
        let organizer = details.private.organizer.as_ref().map(|o| o.address.clone()).unwrap_or_default();
        (booking.id.clone(), Self { event_id: details.event_id.clone(), platform: booking.platform.clone(), organizer })
    }
}

fn merge_join(into: &mut MeetingPrivate, from: &MeetingPrivate) {
    if from.join_address.is_some() {
        into.join_address.clone_from(&from.join_address);
    }
    if from.web_link.is_some() {
        into.web_link.clone_from(&from.web_link);
    }
}
