//! What hcal pushes to a room device, and the pure renderers of the wire forms.
//!
//! Wire decisions (sources and reasons in `docs/adr/011-device-push.md`):
//! - `Bookings Put` JSON: `Time.Duration` in whole minutes rounded up; the join-before buffer
//!   is `Time.StartTimeBuffer` and the keep-after buffer `Time.EndTimeBuffer`, both in seconds,
//!   the unit `Bookings List` reports them in on the same devices and the unit of the legacy
//!   document (the RoomOS xAPI schema lists both fields for `Bookings Put`; its published
//!   examples do not settle the unit, so it is one constant here, [`BUFFER_UNIT_SECONDS`]).
//! - The schema requires `Number`, `Protocol` and `Organizer.Name`, so a booking without a
//!   join address is sent with `"Number": ""` and `"Protocol": "None"` (the device lists it
//!   without a Join button) and no `MeetingPlatform`; an unknown organiser is `"Name": ""`.
//! - [`JoinPlatform::Other`] renders `"Other"`, a value the schema's `MeetingPlatform` lists.
//! - Legacy document: the organiser's name goes into `FirstName`/`LastName` only when the split
//!   is unambiguous ("Last, First" or exactly two words), otherwise whole into `FirstName`
//!   (devices show the two joined, so nothing is lost); `Email` stays empty: addresses are
//!   sensitive and the device does not need one.

use std::fmt::Write as _;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use quick_xml::escape::escape;
use serde_json::{Value, json};

/// `Time.StartTimeBuffer` and `Time.EndTimeBuffer` of `Bookings Put` count seconds.
pub const BUFFER_UNIT_SECONDS: u64 = 1;

/// Longest buffer either way, 180 minutes, as peers and the devices' own settings allow.
pub const MAX_BUFFER: Duration = Duration::from_secs(180 * 60);

/// One booking as a room device shows it. The projection that builds these has already
/// applied the room's privacy rule (e.g. a private meeting's subject replaced).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceBooking {
    /// Stable id of the booking on this device (the device matches updates by it).
    pub id: String,
    /// What the device shows as the title.
    pub title: String,
    /// The organiser's display name, if it may be shown.
    pub organizer: Option<String>,
    /// Start.
    pub start: DateTime<Utc>,
    /// End.
    pub end: DateTime<Utc>,
    /// Marked private on the device.
    pub private: bool,
    /// What the Join button dials; `None` lists the booking without one.
    pub join: Option<DeviceJoin>,
}

/// What a booking's Join button dials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceJoin {
    /// The address or number to dial, e.g. a SIP URI.
    pub number: String,
    /// How to dial it.
    pub protocol: JoinProtocol,
    /// Which meeting service it is (the device adapts its join flow).
    pub platform: JoinPlatform,
    /// The meeting's id on its platform, when the device can use it.
    pub meeting_id: Option<String>,
}

/// How a device dials a join address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JoinProtocol {
    /// SIP (`"SIP"`).
    Sip,
    /// Webex's own calling (`"Spark"`).
    Spark,
    /// A browser-based guest join, e.g. Teams or Meet (`"WebRTC"`).
    WebRtc,
}

impl JoinProtocol {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sip => "SIP",
            Self::Spark => "Spark",
            Self::WebRtc => "WebRTC",
        }
    }
}

/// The meeting service behind a join address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JoinPlatform {
    /// `"Webex"`.
    Webex,
    /// `"MicrosoftTeams"`.
    MicrosoftTeams,
    /// `"GoogleMeet"`.
    GoogleMeet,
    /// Any other service (Jitsi, BigBlueButton, a SIP bridge): `"Other"`.
    Other,
}

impl JoinPlatform {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Webex => "Webex",
            Self::MicrosoftTeams => "MicrosoftTeams",
            Self::GoogleMeet => "GoogleMeet",
            Self::Other => "Other",
        }
    }
}

/// How long before its start a booking's Join button appears, and how long after its end the
/// booking stays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Buffers {
    /// Join button shown this long before the start. Default 5 minutes, as peers do.
    pub join_before: Duration,
    /// Booking kept this long after the end. Default 0.
    pub keep_after: Duration,
}

impl Default for Buffers {
    fn default() -> Self {
        Self { join_before: Duration::from_secs(5 * 60), keep_after: Duration::ZERO }
    }
}

impl Buffers {
    /// Both buffers held to `0..=180` minutes, the range devices accept.
    pub fn clamped(self) -> Self {
        Self { join_before: self.join_before.min(MAX_BUFFER), keep_after: self.keep_after.min(MAX_BUFFER) }
    }
}

fn wire_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Whole minutes from start to end, rounded up (a booking never shows shorter than it is);
/// 0 when the end is not after the start.
fn duration_minutes(b: &DeviceBooking) -> u64 {
    let millis = u64::try_from((b.end - b.start).num_milliseconds()).unwrap_or(0);
    millis.div_ceil(60_000)
}

/// The body of `xCommand Bookings Put`: `{"Bookings": [...]}` for `bookings`, in order.
pub fn roomos_json(bookings: &[DeviceBooking], buffers: Buffers) -> Value {
    let buffers = buffers.clamped();
    let list: Vec<Value> = bookings
        .iter()
        .map(|b| {
            let mut booking = json!({
                "Id": b.id,
                "Title": b.title,
                "Number": b.join.as_ref().map_or("", |j| j.number.as_str()),
                "Protocol": b.join.as_ref().map_or("None", |j| j.protocol.as_str()),
                "Privacy": if b.private { "Private" } else { "Public" },
                "Organizer": {"Name": b.organizer.as_deref().unwrap_or_default()},
                "Time": {
                    "StartTime": wire_time(b.start),
                    "Duration": duration_minutes(b),
                    "StartTimeBuffer": buffers.join_before.as_secs() / BUFFER_UNIT_SECONDS,
                    "EndTimeBuffer": buffers.keep_after.as_secs() / BUFFER_UNIT_SECONDS,
                },
            });
            if let (Some(join), Some(fields)) = (&b.join, booking.as_object_mut()) {
                fields.insert("MeetingPlatform".to_owned(), json!(join.platform.as_str()));
                if let Some(meeting_id) = &join.meeting_id {
                    fields.insert("MeetingId".to_owned(), json!(meeting_id));
                }
            }
            booking
        })
        .collect();
    json!({ "Bookings": list })
}

/// The `/putxml` command carrying `json` as the multiline body of `Bookings Put`, the JSON
/// XML-escaped so titles with `<` or `&` cannot break the document.
pub fn putxml_command(json: &Value) -> String {
    format!("<Command><Bookings><Put><body>{}</body></Put></Bookings></Command>", escape(json.to_string()))
}

/// `(FirstName, LastName)` for a display name: split only when the split is unambiguous.
fn split_name(name: &str) -> (&str, &str) {
    let name = name.trim();
    if let Some((last, first)) = name.split_once(',') {
        let (first, last) = (first.trim(), last.trim());
        if !first.is_empty() && !last.is_empty() && !first.contains(',') {
            return (first, last);
        }
    }
    let words: Vec<&str> = name.split_whitespace().collect();
    match words.as_slice() {
        [first, last] => (first, last),
        _ => (name, ""),
    }
}

/// The legacy `/bookingsputxml` document for `bookings`: every value escaped, buffers in
/// seconds, no e-mail address.
pub fn legacy_xml(bookings: &[DeviceBooking], buffers: Buffers) -> String {
    let buffers = buffers.clamped();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Bookings status=\"OK\">\n");
    for b in bookings {
        let (first, last) = split_name(b.organizer.as_deref().unwrap_or_default());
        // Writing to a String cannot fail.
        let _ = write!(
            out,
            "<Booking><Id>{}</Id><Title>{}</Title><Agenda></Agenda><Privacy>{}</Privacy>\
             <Organizer><FirstName>{}</FirstName><LastName>{}</LastName><Email></Email></Organizer>\
             <Time><StartTime>{}</StartTime><StartTimeBuffer>{}</StartTimeBuffer><EndTime>{}</EndTime>\
             <EndTimeBuffer>{}</EndTimeBuffer></Time><BookingStatus>OK</BookingStatus>",
            escape(b.id.as_str()),
            escape(b.title.as_str()),
            if b.private { "Private" } else { "Public" },
            escape(first),
            escape(last),
            wire_time(b.start),
            buffers.join_before.as_secs(),
            wire_time(b.end),
            buffers.keep_after.as_secs(),
        );
        if let Some(join) = &b.join {
            let _ = write!(
                out,
                "<DialInfo><Calls><Call><Number>{}</Number><Protocol>{}</Protocol><CallRate>6000</CallRate>\
                 <CallType>Video</CallType></Call></Calls><ConnectMode>OBTP</ConnectMode></DialInfo>",
                escape(join.number.as_str()),
                join.protocol.as_str(),
            );
        }
        out.push_str("</Booking>\n");
    }
    out.push_str("</Bookings>\n");
    out
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::*;

    fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 5, 4, h, m, s).single().unwrap_or_default()
    }

    fn weekly() -> DeviceBooking {
        DeviceBooking {
            id: "b-1".into(),
            title: "Weekly sync".into(),
            organizer: Some("Alex Wilber".into()),
            start: at(10, 0, 0),
            end: at(11, 0, 0),
            private: false,
            join: Some(DeviceJoin {
                number: "room123@video.example.com".into(),
                protocol: JoinProtocol::Sip,
                platform: JoinPlatform::Webex,
                meeting_id: Some("2550001111".into()),
            }),
        }
    }

    fn no_join() -> DeviceBooking {
        DeviceBooking {
            id: "b-2".into(),
            title: "Budget <&> \"plans\" it's".into(),
            organizer: None,
            start: at(12, 0, 0),
            end: at(12, 20, 1),
            private: true,
            join: None,
        }
    }

    #[test]
    fn devices_roomos_json_has_the_bookings_put_shape() {
        let got = roomos_json(&[weekly(), no_join()], Buffers::default());
        assert_eq!(
            got,
            json!({"Bookings": [
                {"Id": "b-1", "Title": "Weekly sync", "Number": "room123@video.example.com", "Protocol": "SIP",
                 "MeetingPlatform": "Webex", "MeetingId": "2550001111", "Privacy": "Public",
                 "Organizer": {"Name": "Alex Wilber"},
                 "Time": {"StartTime": "2026-05-04T10:00:00Z", "Duration": 60, "StartTimeBuffer": 300, "EndTimeBuffer": 0}},
                {"Id": "b-2", "Title": "Budget <&> \"plans\" it's", "Number": "", "Protocol": "None", "Privacy": "Private",
                 "Organizer": {"Name": ""},
                 "Time": {"StartTime": "2026-05-04T12:00:00Z", "Duration": 21, "StartTimeBuffer": 300, "EndTimeBuffer": 0}},
            ]})
        );
    }

    #[test]
    fn devices_buffers_are_held_to_three_hours_and_platforms_render() {
        let long = Buffers { join_before: Duration::from_secs(5 * 3600), keep_after: Duration::from_secs(600) };
        let got = roomos_json(&[weekly()], long);
        assert_eq!(got["Bookings"][0]["Time"]["StartTimeBuffer"], json!(10_800));
        assert_eq!(got["Bookings"][0]["Time"]["EndTimeBuffer"], json!(600));
        let rendered: Vec<&str> =
            [JoinPlatform::Webex, JoinPlatform::MicrosoftTeams, JoinPlatform::GoogleMeet, JoinPlatform::Other]
                .map(JoinPlatform::as_str)
                .to_vec();
        assert_eq!(rendered, ["Webex", "MicrosoftTeams", "GoogleMeet", "Other"]);
        assert_eq!(
            [JoinProtocol::Sip, JoinProtocol::Spark, JoinProtocol::WebRtc].map(JoinProtocol::as_str),
            ["SIP", "Spark", "WebRTC"]
        );
        let mut backwards = weekly();
        backwards.end = at(9, 0, 0);
        assert_eq!(roomos_json(&[backwards], Buffers::default())["Bookings"][0]["Time"]["Duration"], json!(0));
    }

    #[test]
    fn devices_putxml_command_escapes_the_json() {
        let json = roomos_json(&[no_join()], Buffers::default());
        let xml = putxml_command(&json);
        assert!(xml.starts_with("<Command><Bookings><Put><body>{"), "{xml}");
        assert!(xml.ends_with("}</body></Put></Bookings></Command>"), "{xml}");
        assert!(xml.contains("Budget &lt;&amp;&gt; \\&quot;plans\\&quot; it&apos;s"), "{xml}");
        let inner =
            &xml["<Command><Bookings><Put><body>".len()..xml.len() - "</body></Put></Bookings></Command>".len()];
        assert!(!inner.contains('<') && !inner.contains('>'), "{inner}");
        let unescaped = quick_xml::escape::unescape(inner).map(|s| s.into_owned()).unwrap_or_default();
        assert_eq!(serde_json::from_str::<Value>(&unescaped).ok(), Some(json));
    }

    #[test]
    fn devices_legacy_xml_escapes_everything_and_omits_dial_info_without_join() {
        let xml = legacy_xml(&[weekly(), no_join()], Buffers::default());
        assert!(
            xml.contains(
                "<Booking><Id>b-1</Id><Title>Weekly sync</Title><Agenda></Agenda><Privacy>Public</Privacy>\
             <Organizer><FirstName>Alex</FirstName><LastName>Wilber</LastName><Email></Email></Organizer>\
             <Time><StartTime>2026-05-04T10:00:00Z</StartTime><StartTimeBuffer>300</StartTimeBuffer>\
             <EndTime>2026-05-04T11:00:00Z</EndTime><EndTimeBuffer>0</EndTimeBuffer></Time>\
             <BookingStatus>OK</BookingStatus><DialInfo><Calls><Call><Number>room123@video.example.com</Number>\
             <Protocol>SIP</Protocol><CallRate>6000</CallRate><CallType>Video</CallType></Call></Calls>\
             <ConnectMode>OBTP</ConnectMode></DialInfo></Booking>"
            ),
            "{xml}"
        );
        assert!(xml.contains("<Title>Budget &lt;&amp;&gt; &quot;plans&quot; it&apos;s</Title><Agenda></Agenda><Privacy>Private</Privacy>"), "{xml}");
        let second = xml.split("<Booking>").nth(2).unwrap_or_default();
        assert!(!second.contains("DialInfo") && !second.contains("Number"), "{second}");
        assert!(!xml.contains('@') || xml.matches('@').count() == 1, "only the join address has an @: {xml}");
    }

    #[test]
    fn devices_names_split_only_when_unambiguous() {
        assert_eq!(split_name("Alex Wilber"), ("Alex", "Wilber"));
        assert_eq!(split_name("Wilber, Alex"), ("Alex", "Wilber"));
        assert_eq!(split_name("Deniz"), ("Deniz", ""));
        assert_eq!(split_name("Facilities Help Desk"), ("Facilities Help Desk", ""));
        assert_eq!(split_name("  "), ("", ""));
        let mut escaped = weekly();
        escaped.organizer = Some("Help <Desk>, Night & Day's".into());
        let xml = legacy_xml(&[escaped], Buffers::default());
        assert!(
            xml.contains("<FirstName>Night &amp; Day&apos;s</FirstName><LastName>Help &lt;Desk&gt;</LastName>"),
            "{xml}"
        );
    }
}
