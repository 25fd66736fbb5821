//! What the simulator stores: people, their personal rooms and scheduled meetings, and how
//! each renders on the wire. Spaces, memberships and messages are in [`super::space`].

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
    /// A licensed user of the site (added by the test or the control surface), who may host
    /// meetings; false for someone Webex invited because a space or message named an address
    /// it did not know.
    pub licensed: bool,
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

/// A scheduled meeting: a Webex "meeting series" with a single occurrence, which is what
/// scheduling without `recurrence` makes.
#[derive(Debug, Clone, PartialEq)]
pub struct Meeting {
    /// Meeting id (32 hex digits).
    pub id: String,
    /// Meeting number (digits), also the telephony access code.
    pub meeting_number: String,
    /// Title.
    pub title: String,
    /// Agenda, if any.
    pub agenda: String,
    /// Start instant, whole minutes as Webex keeps it.
    pub start: DateTime<Utc>,
    /// End instant, whole minutes as Webex keeps it.
    pub end: DateTime<Utc>,
    /// Time zone the meeting was scheduled in; create and update answers render in it.
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
    /// Six-digit key for joining as host.
    pub host_key: String,
    /// Web join link.
    pub web_link: String,
    /// Video address.
    pub sip_address: String,
    /// `integrationTags`: external keys of the integration that scheduled it (at most 3).
    pub integration_tags: Vec<String>,
    /// Invitees (Webex keeps them with the meeting and lists them at `/v1/meetingInvitees`;
    /// the simulator only keeps them for tests to read).
    pub invitees: Vec<Invitee>,
    /// The space the meeting belongs to, for a meeting scheduled with `roomId`.
    pub room_id: Option<String>,
    /// The settings a request may set.
    pub options: MeetingOptions,
    /// When it was created (simulated clock).
    pub created: DateTime<Utc>,
    /// How many times it was changed with `PUT`.
    pub updates: u32,
}

/// One invitee of a meeting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitee {
    /// E-mail address.
    pub email: String,
    /// Display name (the address when none was given and Webex knows no one by it).
    pub display_name: String,
    /// Whether the invitee may act as co-host.
    pub co_host: bool,
}

/// The settings of a meeting that a create or update request sets, with Webex's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeetingOptions {
    /// `enabledAutoRecordMeeting`, default false.
    pub enabled_auto_record_meeting: bool,
    /// `allowAnyUserToBeCoHost`, default false.
    pub allow_any_user_to_be_co_host: bool,
    /// `enabledJoinBeforeHost`, default false.
    pub enabled_join_before_host: bool,
    /// `enableConnectAudioBeforeHost`, default false.
    pub enable_connect_audio_before_host: bool,
    /// `joinBeforeHostMinutes`: 0, 5, 10 or 15; default 0.
    pub join_before_host_minutes: u64,
    /// `excludePassword`, default false.
    pub exclude_password: bool,
    /// `publicMeeting`, default false.
    pub public_meeting: bool,
    /// `reminderTime` in minutes, default 10 (what Webex sites default to).
    pub reminder_time: u64,
    /// `unlockedMeetingJoinSecurity`: `allowJoin`, `allowJoinWithLobby` or `blockFromJoin`;
    /// default `allowJoin`.
    pub unlocked_meeting_join_security: String,
    /// `enableAutomaticLock`, default false.
    pub enable_automatic_lock: bool,
    /// `automaticLockMinutes`, default 0.
    pub automatic_lock_minutes: u64,
    /// `allowFirstUserToBeCoHost`, default false.
    pub allow_first_user_to_be_co_host: bool,
    /// `allowAuthenticatedDevices`, default false.
    pub allow_authenticated_devices: bool,
    /// `sendEmail`: whether Webex mails host and invitees (it sends nothing here), default true.
    pub send_email: bool,
}

impl Default for MeetingOptions {
    fn default() -> Self {
        Self {
            enabled_auto_record_meeting: false,
            allow_any_user_to_be_co_host: false,
            enabled_join_before_host: false,
            enable_connect_audio_before_host: false,
            join_before_host_minutes: 0,
            exclude_password: false,
            public_meeting: false,
            reminder_time: 10,
            unlocked_meeting_join_security: "allowJoin".to_owned(),
            enable_automatic_lock: false,
            automatic_lock_minutes: 0,
            allow_first_user_to_be_co_host: false,
            allow_authenticated_devices: false,
            send_email: true,
        }
    }
}

/// What rendering a meeting needs besides the meeting.
#[derive(Debug, Clone, Copy)]
pub struct RenderContext<'a> {
    /// The Webex site name.
    pub site: &'a str,
    /// `dialInIpAddress`.
    pub dial_in_ip_address: &'a str,
    /// `telephony.callInNumbers`.
    pub call_in_numbers: &'a [CallInNumber],
    /// The simulated now, which decides `state`.
    pub now: DateTime<Utc>,
    /// The zone `start` and `end` are written in, named by `timezone`.
    pub zone: Tz,
}

impl Meeting {
    /// `state` of the series: `active` while its occurrence is still to come or running
    /// (nobody ever joins a simulated meeting, so it is never `inProgress`), `expired` after.
    pub fn state(&self, now: DateTime<Utc>) -> &'static str {
        if now < self.end { "active" } else { "expired" }
    }

    /// The body of the meeting series, as `POST`, `PUT` and `GET /v1/meetings/{id}` and the
    /// items of `GET /v1/meetings` show it.
    pub fn render(&self, ctx: &RenderContext<'_>) -> Value {
        let o = &self.options;
        let mut body = json!({
            "id": self.id,
            "meetingNumber": self.meeting_number,
            "title": self.title,
            "agenda": self.agenda,
            "password": self.password,
            "phoneAndVideoSystemPassword": self.phone_and_video_system_password,
            "meetingType": "meetingSeries",
            "state": self.state(ctx.now),
            "timezone": ctx.zone.name(),
            "start": format_instant(self.start, ctx.zone),
            "end": format_instant(self.end, ctx.zone),
            "hostUserId": self.host_user_id,
            "hostDisplayName": self.host_display_name,
            "hostEmail": self.host_email,
            "hostKey": self.host_key,
            "siteUrl": format!("{}.webex.com", ctx.site),
            "webLink": self.web_link,
            "sipAddress": self.sip_address,
            "dialInIpAddress": ctx.dial_in_ip_address,
            "enabledAutoRecordMeeting": o.enabled_auto_record_meeting,
            "allowAnyUserToBeCoHost": o.allow_any_user_to_be_co_host,
            "enabledJoinBeforeHost": o.enabled_join_before_host,
            "enableConnectAudioBeforeHost": o.enable_connect_audio_before_host,
            "joinBeforeHostMinutes": o.join_before_host_minutes,
            "excludePassword": o.exclude_password,
            "publicMeeting": o.public_meeting,
            "reminderTime": o.reminder_time,
            "unlockedMeetingJoinSecurity": o.unlocked_meeting_join_security,
            "sessionTypeId": 3,
            "scheduledType": "meeting",
            "enableAutomaticLock": o.enable_automatic_lock,
            "automaticLockMinutes": o.automatic_lock_minutes,
            "allowFirstUserToBeCoHost": o.allow_first_user_to_be_co_host,
            "allowAuthenticatedDevices": o.allow_authenticated_devices,
            "telephony": {
                "accessCode": self.meeting_number,
                "callInNumbers": ctx.call_in_numbers,
                "links": [{
                    "rel": "globalCallinNumbers",
                    "href": format!("/v1/meetings/{}/globalCallinNumbers", self.id),
                    "method": "GET",
                }],
            },
        });
        // Webex leaves out what a meeting does not have rather than sending empty values.
        if let Some(obj) = body.as_object_mut() {
            if !self.integration_tags.is_empty() {
                obj.insert("integrationTags".to_owned(), json!(self.integration_tags));
            }
            if let Some(room_id) = &self.room_id {
                obj.insert("roomId".to_owned(), json!(room_id));
            }
        }
        body
    }

    /// The id of the meeting's one scheduled occurrence: the series id, `_` and the start in
    /// UTC as `YYYYMMDDTHHMMSSZ`, the form Webex gives occurrences.
    pub fn occurrence_id(&self) -> String {
        format!("{}_{}", self.id, self.start.format("%Y%m%dT%H%M%SZ"))
    }

    /// The meeting's one occurrence as `GET /v1/meetings?meetingType=scheduledMeeting` lists
    /// it: `scheduled` before it starts, `ready` while it runs, `missed` after (nobody joins a
    /// simulated meeting).
    pub fn render_occurrence(&self, ctx: &RenderContext<'_>) -> Value {
        let state = if ctx.now < self.start {
            "scheduled"
        } else if ctx.now < self.end {
            "ready"
        } else {
            "missed"
        };
        let mut body = self.render(ctx);
        if let Some(obj) = body.as_object_mut() {
            obj.insert("id".to_owned(), json!(self.occurrence_id()));
            obj.insert("meetingSeriesId".to_owned(), json!(self.id));
            obj.insert("meetingType".to_owned(), json!("scheduledMeeting"));
            obj.insert("state".to_owned(), json!(state));
            obj.insert("isModified".to_owned(), json!(false));
        }
        body
    }
}

/// An instant in `tz` as Webex writes it: seconds precision, `Z` for UTC, else the offset.
pub fn format_instant(at: DateTime<Utc>, tz: Tz) -> String {
    at.with_timezone(&tz).to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A RoomOS device registered to Webex, reached through the cloud xAPI.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CloudDevice {
    /// The device's list as the last `Bookings.Put` left it, each booking in the shape the
    /// command takes.
    pub bookings: Vec<Value>,
    /// `Bookings.Put` commands it carried out.
    pub puts: u64,
}
