//! Spaces (Webex calls them rooms on the wire), their memberships and messages, and the
//! meeting every space has, as the simulator stores and renders them.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

/// A Webex space: a `group` space made with `POST /v1/rooms`, or the `direct` (1:1) space
/// that the first message to a person creates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Room {
    /// Room id (base64 of a `ciscospark://us/ROOM/…` URI).
    pub id: String,
    /// Title; for a direct space Webex shows the other person's display name instead.
    pub title: String,
    /// `group` or `direct`.
    pub kind: RoomKind,
    /// `isLocked`: a moderated space (its creator becomes a moderator).
    pub is_locked: bool,
    /// `isPublic`.
    pub is_public: bool,
    /// `isAnnouncementOnly`: only moderators post (a locked space only).
    pub is_announcement_only: bool,
    /// `description`, if any.
    pub description: Option<String>,
    /// Person id of the creator.
    pub creator_id: String,
    /// When it was created.
    pub created: DateTime<Utc>,
    /// Last message or membership change.
    pub last_activity: DateTime<Utc>,
    /// The space's meeting, which Webex gives every space.
    pub meeting: SpaceMeeting,
}

/// The type of a space.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoomKind {
    /// A space with a title and any number of members.
    Group,
    /// A 1:1 space between two people.
    Direct,
}

impl RoomKind {
    /// The wire name, `group` or `direct`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Group => "group",
            Self::Direct => "direct",
        }
    }
}

/// The meeting of a space, as `GET /v1/rooms/{roomId}/meetingInfo` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpaceMeeting {
    /// `meetingLink`, `https://{site}.webex.com/m/{uuid}`.
    pub meeting_link: String,
    /// `sipAddress`, `{meetingNumber}@{site}.webex.com`.
    pub sip_address: String,
    /// `meetingNumber` (nine digits, as Webex's space meetings have).
    pub meeting_number: String,
    /// `meetingId` (32 hex digits).
    pub meeting_id: String,
    /// `callInTollFreeNumber`, when the site has a toll-free number.
    pub call_in_toll_free_number: Option<String>,
    /// `callInTollNumber`, when the site has a toll number.
    pub call_in_toll_number: Option<String>,
}

impl Room {
    /// Whether this is a 1:1 space.
    pub fn is_direct(&self) -> bool {
        self.kind == RoomKind::Direct
    }

    /// The room object of `POST /v1/rooms`, `GET /v1/rooms/{id}` and `GET /v1/rooms`.
    /// `title` is what the caller sees: for a direct space, the other person's name.
    pub fn render(&self, title: &str, owner_id: &str) -> Value {
        let mut body = json!({
            "id": self.id,
            "title": title,
            "type": self.kind.as_str(),
            "isLocked": self.is_locked,
            "lastActivity": format_millis(self.last_activity),
            "creatorId": self.creator_id,
            "created": format_millis(self.created),
            "ownerId": owner_id,
            "isAnnouncementOnly": self.is_announcement_only,
            "isReadOnly": false,
            "isPublic": self.is_public,
        });
        if let (Some(obj), Some(description)) = (body.as_object_mut(), &self.description) {
            obj.insert("description".to_owned(), json!(description));
        }
        body
    }

    /// The body of `GET /v1/rooms/{roomId}/meetingInfo`.
    pub fn render_meeting_info(&self) -> Value {
        let m = &self.meeting;
        let mut body = json!({
            "roomId": self.id,
            "meetingLink": m.meeting_link,
            "sipAddress": m.sip_address,
            "meetingNumber": m.meeting_number,
            "meetingId": m.meeting_id,
        });
        if let Some(obj) = body.as_object_mut() {
            if let Some(n) = &m.call_in_toll_free_number {
                obj.insert("callInTollFreeNumber".to_owned(), json!(n));
            }
            if let Some(n) = &m.call_in_toll_number {
                obj.insert("callInTollNumber".to_owned(), json!(n));
            }
        }
        body
    }
}

/// Someone's membership of a space.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    /// Membership id (base64 of a `ciscospark://us/MEMBERSHIP/…` URI).
    pub id: String,
    /// The space.
    pub room_id: String,
    /// The member's person id.
    pub person_id: String,
    /// The member's e-mail address.
    pub person_email: String,
    /// The member's display name.
    pub person_display_name: String,
    /// `isModerator`.
    pub is_moderator: bool,
    /// When it was created.
    pub created: DateTime<Utc>,
}

impl Membership {
    /// The membership object of `POST /v1/memberships` and `GET /v1/memberships`.
    pub fn render(&self, room_kind: RoomKind, org_id: &str) -> Value {
        json!({
            "id": self.id,
            "roomId": self.room_id,
            "personId": self.person_id,
            "personEmail": self.person_email,
            "personDisplayName": self.person_display_name,
            "personOrgId": org_id,
            "isModerator": self.is_moderator,
            "isRoomHidden": false,
            "roomType": room_kind.as_str(),
            "isMonitor": false,
            "created": format_millis(self.created),
        })
    }
}

/// A message posted to a space.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Message id (base64 of a `ciscospark://us/MESSAGE/…` URI).
    pub id: String,
    /// The space it was posted to.
    pub room_id: String,
    /// `text`, if given.
    pub text: Option<String>,
    /// `markdown`, if given.
    pub markdown: Option<String>,
    /// The author's person id.
    pub person_id: String,
    /// The author's e-mail address.
    pub person_email: String,
    /// `toPersonId` of the request that posted it, for a 1:1 message sent that way.
    pub to_person_id: Option<String>,
    /// `toPersonEmail` of the request that posted it, for a 1:1 message sent that way.
    pub to_person_email: Option<String>,
    /// When it was posted.
    pub created: DateTime<Utc>,
}

impl Message {
    /// The message object of `POST /v1/messages` and the message lists.
    pub fn render(&self, room_kind: RoomKind) -> Value {
        let mut body = json!({
            "id": self.id,
            "roomId": self.room_id,
            "roomType": room_kind.as_str(),
            "personId": self.person_id,
            "personEmail": self.person_email,
            "created": format_millis(self.created),
        });
        if let Some(obj) = body.as_object_mut() {
            let optional = [
                ("text", &self.text),
                ("markdown", &self.markdown),
                ("toPersonId", &self.to_person_id),
                ("toPersonEmail", &self.to_person_email),
            ];
            for (name, value) in optional {
                if let Some(value) = value {
                    obj.insert(name.to_owned(), json!(value));
                }
            }
        }
        body
    }
}

/// An instant as the messaging API writes it: UTC with milliseconds, e.g.
/// `2015-10-18T14:26:16.203Z`.
pub fn format_millis(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}
