//! What the simulator stores: people, their personal rooms and scheduled meetings, and how
//! each renders on the wire.

use chrono::{DateTime, SecondsFormat, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::config::CallInNumber;

/// A Webex user the admin token may act for.
#[derive(Debug, Clone)]
pub struct Person {
    /// Webex person id (base64 of a `ciscospark://` URI, as Webex's are).
    pub id: String,
    /// Primary e-mail address, as added.
    pub email: String,
    /// Display name.
    pub display_name: String,
    /// The person's personal room, if they have one.
    pub personal_room: Option<PersonalRoom>,
}

/// A personal room as stored: the spec plus the id its links refer to.
#[derive(Debug, Clone)]
pub struct PersonalRoom {
    /// Internal id, used in `telephony.links[].href`.
    pub id: String,
    /// What the room looks like.
    pub spec: PersonalRoomSpec,
}

/// Everything about a personal room that a test may want to set or read back. The simulator
/// makes one for each person it adds (see [`crate::webex::WebexSimConfig::auto_personal_rooms`]);
/// read it with [`crate::webex::WebexSim::personal_room`], change it and set it back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PersonalRoomSpec {
    /// `topic`, e.g. `Alice Adams's Personal Room`.
    pub topic: String,
    /// `hostPin`: the host's secret PIN, which Webex returns to the owner and admins.
    pub host_pin: String,
    /// `personalMeetingRoomLink`, e.g. `https://hcal.webex.com/meet/alice`.
    pub personal_meeting_room_link: String,
    /// `sipAddress`, e.g. `alice@hcal.webex.com`.
    pub sip_address: String,
    /// `telephony.accessCode`: the digits callers enter after dialling in.
    pub access_code: String,
    /// `telephony.callInNumbers`.
    pub call_in_numbers: Vec<CallInNumber>,
    /// `supportCoHost`.
    #[serde(default)]
    pub support_co_host: bool,
}

impl PersonalRoom {
    /// The body of `GET /v1/meetingPreferences/personalMeetingRoom`.
    pub fn render(&self, dial_in_ip_address: &str) -> Value {
        let s = &self.spec;
        json!({
            "topic": s.topic,
            "hostPin": s.host_pin,
            "personalMeetingRoomLink": s.personal_meeting_room_link,
            "enabledAutoLock": false,
            "autoLockMinutes": 10,
            "enabledNotifyHost": true,
            "supportCoHost": s.support_co_host,
            "supportAnyoneAsCoHost": false,
            "allowFirstUserToBeCoHost": false,
            "allowAuthenticatedDevices": false,
            "coHosts": [],
            "sipAddress": s.sip_address,
            "dialInIpAddress": dial_in_ip_address,
            "telephony": {
                "accessCode": s.access_code,
                "callInNumbers": s.call_in_numbers,
                "links": [{
                    "rel": "globalCallinNumbers",
                    "href": format!("/v1/meetings/{}/globalCallinNumbers", self.id),
                    "method": "GET",
                }],
            },
        })
    }
}

/// A scheduled meeting (a Webex "meeting series" of one).
#[derive(Debug, Clone)]
pub struct Meeting {
    /// Meeting id (32 hex digits).
    pub id: String,
    /// Meeting number (digits), also the telephony access code.
    pub meeting_number: String,
    /// Title.
    pub title: String,
    /// Agenda, if any.
    pub agenda: String,
    /// Start instant.
    pub start: DateTime<Utc>,
    /// End instant.
    pub end: DateTime<Utc>,
    /// Time zone the request named; start and end render in it.
    pub timezone: Tz,
    /// Host's person id.
    pub host_user_id: String,
    /// Host's e-mail address.
    pub host_email: String,
    /// Host's display name.
    pub host_display_name: String,
    /// Attendee password.
    pub password: String,
    /// Numeric password for phones and video systems.
    pub phone_and_video_system_password: String,
    /// Web join link.
    pub web_link: String,
    /// Video address.
    pub sip_address: String,
}

impl Meeting {
    /// The body of `POST /v1/meetings` and `GET /v1/meetings/{id}`.
    pub fn render(&self, site: &str, dial_in_ip_address: &str, call_in_numbers: &[CallInNumber]) -> Value {
        json!({
            "id": self.id,
            "meetingNumber": self.meeting_number,
            "title": self.title,
            "agenda": self.agenda,
            "password": self.password,
            "phoneAndVideoSystemPassword": self.phone_and_video_system_password,
            "meetingType": "meetingSeries",
            "state": "active",
            "timezone": self.timezone.name(),
            "start": format_instant(self.start, self.timezone),
            "end": format_instant(self.end, self.timezone),
            "hostUserId": self.host_user_id,
            "hostDisplayName": self.host_display_name,
            "hostEmail": self.host_email,
            "webLink": self.web_link,
            "sipAddress": self.sip_address,
            "dialInIpAddress": dial_in_ip_address,
            "siteUrl": format!("{site}.webex.com"),
            "enabledAutoRecordMeeting": false,
            "allowAnyUserToBeCoHost": false,
            "telephony": {
                "accessCode": self.meeting_number,
                "callInNumbers": call_in_numbers,
                "links": [{
                    "rel": "globalCallinNumbers",
                    "href": format!("/v1/meetings/{}/globalCallinNumbers", self.id),
                    "method": "GET",
                }],
            },
        })
    }
}

/// An instant in `tz` as Webex writes it: seconds precision, `Z` for UTC, else the offset.
pub fn format_instant(at: DateTime<Utc>, tz: Tz) -> String {
    at.with_timezone(&tz).to_rfc3339_opts(SecondsFormat::Secs, true)
}
