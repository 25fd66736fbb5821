//! The simulator's data: tenants, applications, users and their mailboxes, events and
//! subscriptions. Plain data; the rules live in the handlers.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::recurrence::PatternedRecurrence;
use super::wire::ContentType;

/// Kinds of mailbox (`userPurpose`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub enum MailboxKind {
    /// A person's mailbox.
    #[default]
    User,
    /// A room mailbox (auto-accepts invitations).
    Room,
    /// An equipment mailbox.
    Equipment,
    /// A shared mailbox.
    Shared,
}

impl MailboxKind {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Room => "room",
            Self::Equipment => "equipment",
            Self::Shared => "shared",
        }
    }
}

/// Application permissions the simulator checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Permission {
    /// `Calendars.ReadWrite`.
    #[serde(rename = "Calendars.ReadWrite")]
    CalendarsReadWrite,
    /// `MailboxSettings.ReadWrite`.
    #[serde(rename = "MailboxSettings.ReadWrite")]
    MailboxSettingsReadWrite,
    /// `User.Read.All`.
    #[serde(rename = "User.Read.All")]
    UserReadAll,
}

impl Permission {
    /// Every permission hcal asks for.
    pub const ALL: [Permission; 3] = [Self::CalendarsReadWrite, Self::MailboxSettingsReadWrite, Self::UserReadAll];
}

/// An Entra ID tenant.
#[derive(Debug, Clone)]
pub struct Tenant {
    /// Tenant GUID.
    pub id: String,
    /// Verified domain, e.g. `contoso.example`.
    pub domain: String,
}

/// A registered (multi-tenant) application.
#[derive(Debug, Clone)]
pub struct App {
    /// Application (client) id.
    pub client_id: String,
    /// Client secret.
    pub secret: String,
    /// Registered redirect URIs for the admin-consent flow.
    pub redirect_uris: Vec<String>,
    /// Tenants that granted consent, with the permissions granted there.
    pub consents: HashMap<String, HashSet<Permission>>,
}

/// A user (mailbox).
#[derive(Debug, Clone)]
pub struct User {
    /// Object id (GUID).
    pub id: String,
    /// Tenant GUID.
    pub tenant_id: String,
    /// Display name.
    pub display_name: String,
    /// Primary SMTP address (also the user principal name here).
    pub mail: String,
    /// Mailbox kind.
    pub kind: MailboxKind,
    /// Whether the mailbox is licensed and in Exchange Online; if not, REST answers 404
    /// `MailboxNotEnabledForRESTAPI`.
    pub licensed: bool,
    /// Whether an application access policy lets apps in; if not, 403 RAOP.
    pub in_policy: bool,
    /// `mailboxSettings`, as a canonical JSON object.
    pub settings: Value,
}

/// The stored kinds of event; occurrences are computed from their series master.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// `singleInstance`.
    SingleInstance,
    /// `seriesMaster`.
    SeriesMaster,
    /// `exception`: a changed occurrence, stored on its own.
    Exception,
    /// `occurrence`: never stored; views compute it from the master.
    Occurrence,
}

impl EventKind {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SingleInstance => "singleInstance",
            Self::SeriesMaster => "seriesMaster",
            Self::Exception => "exception",
            Self::Occurrence => "occurrence",
        }
    }
}

/// A stored event.
#[derive(Debug, Clone)]
pub struct EventRecord {
    /// Opaque id.
    pub id: String,
    /// The user whose calendar holds it.
    pub owner: String,
    /// iCalendar UID (shared by the organiser's and attendees' copies).
    pub ical_uid: String,
    /// Changes on every change.
    pub change_key: String,
    /// Creation instant.
    pub created: DateTime<Utc>,
    /// Last change instant.
    pub last_modified: DateTime<Utc>,
    /// Subject.
    pub subject: String,
    /// Body content type as stored.
    pub body_type: ContentType,
    /// Body content as stored.
    pub body: String,
    /// Start instant.
    pub start: DateTime<Utc>,
    /// End instant.
    pub end: DateTime<Utc>,
    /// Time zone the start was given in.
    pub start_tz: String,
    /// Time zone the end was given in.
    pub end_tz: String,
    /// All-day flag.
    pub is_all_day: bool,
    /// `location` object.
    pub location: Value,
    /// `locations` array.
    pub locations: Vec<Value>,
    /// `attendees` array.
    pub attendees: Vec<Value>,
    /// `organizer` object.
    pub organizer: Value,
    /// Whether the owner organises it.
    pub is_organizer: bool,
    /// `isOnlineMeeting`.
    pub is_online_meeting: bool,
    /// `onlineMeetingProvider`.
    pub online_meeting_provider: String,
    /// `onlineMeeting` (read-only on the wire; set by scripts).
    pub online_meeting: Option<Value>,
    /// Stored kind.
    pub kind: EventKind,
    /// For exceptions: the master's id.
    pub series_master_id: Option<String>,
    /// For exceptions: the occurrence date they replace (in the master's start zone).
    pub original_date: Option<NaiveDate>,
    /// For occurrences and exceptions: the start the occurrence has in the series
    /// (`originalStart`), which an exception keeps however it is moved.
    pub original_start: Option<DateTime<Utc>>,
    /// For masters: the recurrence.
    pub recurrence: Option<PatternedRecurrence>,
    /// For masters: occurrence dates deleted or replaced by exceptions.
    pub cancelled_dates: BTreeSet<NaiveDate>,
    /// For masters: exceptions by occurrence date.
    pub exceptions: BTreeMap<NaiveDate, String>,
    /// `isCancelled`.
    pub is_cancelled: bool,
    /// `sensitivity`.
    pub sensitivity: String,
    /// `showAs`.
    pub show_as: String,
    /// `importance`.
    pub importance: String,
    /// `categories`.
    pub categories: Vec<String>,
    /// `responseStatus`.
    pub response_status: Value,
    /// Single-value extended properties: canonical id to value.
    pub extended: BTreeMap<String, String>,
    /// For an attendee's copy: the organiser's event id.
    pub organizer_event: Option<String>,
}

/// Change types of subscriptions and notifications.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangeType {
    /// `created`.
    Created,
    /// `updated`.
    Updated,
    /// `deleted`.
    Deleted,
}

impl ChangeType {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Updated => "updated",
            Self::Deleted => "deleted",
        }
    }

    /// Parses a wire name (case-insensitively).
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "created" => Some(Self::Created),
            "updated" => Some(Self::Updated),
            "deleted" => Some(Self::Deleted),
            _ => None,
        }
    }
}

/// A change-notification subscription.
#[derive(Debug, Clone)]
pub struct Subscription {
    /// Subscription GUID.
    pub id: String,
    /// Owning application.
    pub app_id: String,
    /// Tenant of the resource.
    pub tenant_id: String,
    /// Mailbox owning the resource.
    pub user_id: String,
    /// Resource as the client wrote it.
    pub resource: String,
    /// Change types.
    pub change_types: Vec<ChangeType>,
    /// Notification URL.
    pub notification_url: String,
    /// Lifecycle notification URL.
    pub lifecycle_url: Option<String>,
    /// Expiry.
    pub expiration: DateTime<Utc>,
    /// Client state, echoed in every notification.
    pub client_state: Option<String>,
    /// Rich notifications requested.
    pub include_resource_data: bool,
    /// Encryption certificate (rich notifications).
    pub encryption_certificate: Option<String>,
    /// Encryption certificate id.
    pub encryption_certificate_id: Option<String>,
    /// Service principal id of the creator.
    pub creator_id: String,
}

/// A change, as it feeds notifications.
#[derive(Debug, Clone)]
pub struct Change {
    /// Mailbox.
    pub user_id: String,
    /// Event id.
    pub event_id: String,
    /// Kind of change.
    pub change_type: ChangeType,
    /// The event's etag after the change (`None` for deletions).
    pub etag: Option<String>,
}
