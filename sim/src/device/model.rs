//! The bookings a device stores, and the two ways they arrive: the JSON of `Bookings Put`
//! (checked as the device checks it) and the TMS-era `/bookingsputxml` document (normalised to
//! the same JSON, so both read back alike).
//!
//! The field set and the required fields follow the RoomOS xAPI schema of `Bookings Put`:
//! `Id`, `Title`, `Number`, `Protocol`, `Organizer.Name`, `Time.StartTime` and `Time.Duration`
//! (minutes) are required; `MeetingId`, `Agenda`, `Privacy`, `MeetingPlatform`, `MetaInfo`,
//! `Time.StartTimeBuffer`, `Time.EndTimeBuffer` (seconds, as `Bookings List` reports them and
//! as `/bookingsputxml` takes them), `Organizer.Email` / `Organizer.Id`, `CallType` and
//! `Encryption` are optional. The simulator is stricter than a device may be in two ways that
//! catch client mistakes: it refuses fields outside that set and two bookings with one `Id`.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use super::xml::Element;

/// `Protocol` values the schema lists.
pub const PROTOCOLS: &[&str] = &["SIP", "H323", "ISDN", "IP", "Spark", "WebRTC", "None"];

/// `MeetingPlatform` values the schema lists.
pub const PLATFORMS: &[&str] = &["GoogleMeet", "MicrosoftTeams", "Zoom", "Webex", "Other", "None"];

const BOOKING_FIELDS: &[&str] = &[
    "Id",
    "MeetingId",
    "Agenda",
    "Title",
    "Privacy",
    "Protocol",
    "MeetingPlatform",
    "MetaInfo",
    "Time",
    "Organizer",
    "Number",
    "CallType",
    "Encryption",
];
const TIME_FIELDS: &[&str] = &["StartTime", "Duration", "StartTimeBuffer", "EndTimeBuffer"];
const ORGANIZER_FIELDS: &[&str] = &["Name", "Email", "Id"];

/// Checks the body of `Bookings Put` and returns its bookings, as given, to store.
pub fn bookings_put(body: &Value) -> Result<Vec<Value>, String> {
    let top = body.as_object().ok_or("the body must be a JSON object")?;
    if let Some(other) = top.keys().find(|k| *k != "Bookings") {
        return Err(format!("unknown field {other}"));
    }
    let list = top.get("Bookings").and_then(Value::as_array).ok_or("Bookings must be an array")?;
    let mut ids = std::collections::HashSet::new();
    for (i, booking) in list.iter().enumerate() {
        let at = format!("Bookings[{i}]");
        check_booking(booking, &at)?;
        let id = booking.get("Id").and_then(Value::as_str).unwrap_or_default();
        if !ids.insert(id) {
            return Err(format!("{at}.Id: duplicate booking id"));
        }
    }
    Ok(list.clone())
}

fn check_booking(booking: &Value, at: &str) -> Result<(), String> {
    let b = object(booking, at, BOOKING_FIELDS)?;
    let id = string(b, at, "Id", true)?.unwrap_or_default();
    if id.is_empty() || id.chars().count() > 128 {
        return Err(format!("{at}.Id: must be 1 to 128 characters"));
    }
    string(b, at, "Title", true)?;
    string(b, at, "Number", true)?;
    one_of(b, at, "Protocol", PROTOCOLS, true)?;
    one_of(b, at, "MeetingPlatform", PLATFORMS, false)?;
    one_of(b, at, "Privacy", &["Public", "Private"], false)?;
    for name in ["MeetingId", "Agenda", "MetaInfo", "CallType", "Encryption"] {
        string(b, at, name, false)?;
    }
    let organizer_at = format!("{at}.Organizer");
    let organizer = object(b.get("Organizer").unwrap_or(&Value::Null), &organizer_at, ORGANIZER_FIELDS)?;
    string(organizer, &organizer_at, "Name", true)?;
    string(organizer, &organizer_at, "Email", false)?;
    string(organizer, &organizer_at, "Id", false)?;
    let time_at = format!("{at}.Time");
    let time = object(b.get("Time").unwrap_or(&Value::Null), &time_at, TIME_FIELDS)?;
    let start = string(time, &time_at, "StartTime", true)?.unwrap_or_default();
    if DateTime::parse_from_rfc3339(start).is_err() {
        return Err(format!("{time_at}.StartTime: not an ISO 8601 time"));
    }
    whole(time, &time_at, "Duration", true)?;
    whole(time, &time_at, "StartTimeBuffer", false)?;
    whole(time, &time_at, "EndTimeBuffer", false)?;
    Ok(())
}

fn object<'a>(v: &'a Value, at: &str, fields: &[&str]) -> Result<&'a Map<String, Value>, String> {
    let o = v.as_object().ok_or_else(|| format!("{at}: must be an object"))?;
    match o.keys().find(|k| !fields.contains(&k.as_str())) {
        Some(unknown) => Err(format!("{at}: unknown field {unknown}")),
        None => Ok(o),
    }
}

fn string<'a>(o: &'a Map<String, Value>, at: &str, name: &str, required: bool) -> Result<Option<&'a str>, String> {
    match o.get(name) {
        None if !required => Ok(None),
        None => Err(format!("{at}.{name}: required")),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(format!("{at}.{name}: must be a string")),
    }
}

fn one_of(o: &Map<String, Value>, at: &str, name: &str, allowed: &[&str], required: bool) -> Result<(), String> {
    match string(o, at, name, required)? {
        Some(v) if !allowed.contains(&v) => Err(format!("{at}.{name}: must be one of {}", allowed.join(", "))),
        _ => Ok(()),
    }
}

fn whole(o: &Map<String, Value>, at: &str, name: &str, required: bool) -> Result<(), String> {
    match o.get(name) {
        None if !required => Ok(()),
        None => Err(format!("{at}.{name}: required")),
        Some(v) if v.as_u64().is_some() => Ok(()),
        Some(_) => Err(format!("{at}.{name}: must be a non-negative whole number")),
    }
}

/// Reads a `/bookingsputxml` document (`<Bookings status="OK"><Booking>…`) into bookings in
/// the `Bookings Put` shape: the organiser's first and last names joined, the first call's
/// number and protocol (`""` and `None` without `DialInfo`), the duration in whole minutes
/// rounded up, the buffers in seconds as given.
pub fn legacy_document(root: &Element) -> Result<Vec<Value>, String> {
    if root.name != "Bookings" {
        return Err(format!("the root element must be Bookings, not {}", root.name));
    }
    root.children_named("Booking").enumerate().map(|(i, b)| legacy_booking(b, &format!("Booking[{i}]"))).collect()
}

fn legacy_booking(b: &Element, at: &str) -> Result<Value, String> {
    let id = b.text_at(&["Id"]).filter(|id| !id.is_empty()).ok_or_else(|| format!("{at}: Id is required"))?;
    let time = |name: &str| -> Result<DateTime<Utc>, String> {
        let raw = b.text_at(&["Time", name]).ok_or_else(|| format!("{at}: Time/{name} is required"))?;
        DateTime::parse_from_rfc3339(raw)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| format!("{at}: Time/{name} is not an ISO 8601 time"))
    };
    let seconds = |name: &str| -> Result<u64, String> {
        match b.text_at(&["Time", name]) {
            None | Some("") => Ok(0),
            Some(raw) => raw.parse().map_err(|_| format!("{at}: Time/{name} must be whole seconds")),
        }
    };
    let (start, end) = (time("StartTime")?, time("EndTime")?);
    let millis = (end - start).num_milliseconds();
    if millis < 0 {
        return Err(format!("{at}: Time/EndTime is before Time/StartTime"));
    }
    let privacy = match b.text_at(&["Privacy"]) {
        None | Some("") | Some("Public") => "Public",
        Some("Private") => "Private",
        Some(_) => return Err(format!("{at}: Privacy must be Public or Private")),
    };
    let name: Vec<&str> = [b.text_at(&["Organizer", "FirstName"]), b.text_at(&["Organizer", "LastName"])]
        .into_iter()
        .flatten()
        .filter(|s| !s.is_empty())
        .collect();
    let call = b.at(&["DialInfo", "Calls", "Call"]);
    let number = call.and_then(|c| c.text_at(&["Number"])).unwrap_or_default();
    let protocol = match call.and_then(|c| c.text_at(&["Protocol"])) {
        _ if number.is_empty() => "None",
        None | Some("") => "SIP",
        Some(p) => p,
    };
    let minutes = u64::try_from(millis).unwrap_or(0).div_ceil(60_000);
    Ok(json!({
        "Id": id,
        "Title": b.text_at(&["Title"]).unwrap_or_default(),
        "Number": number,
        "Protocol": protocol,
        "Privacy": privacy,
        "Organizer": {"Name": name.join(" ")},
        "Time": {
            "StartTime": start.to_rfc3339_opts(SecondsFormat::Secs, true),
            "Duration": minutes,
            "StartTimeBuffer": seconds("StartTimeBuffer")?,
            "EndTimeBuffer": seconds("EndTimeBuffer")?,
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn booking() -> Value {
        json!({"Id": "1", "Title": "Weekly sync", "Number": "room@video.example.com", "Protocol": "SIP",
            "MeetingPlatform": "Webex", "Organizer": {"Name": "Alex Wilber"},
            "Time": {"StartTime": "2026-05-04T10:00:00Z", "Duration": 60, "EndTimeBuffer": 0}})
    }

    #[test]
    fn a_complete_booking_is_taken_as_given() {
        let body = json!({"Bookings": [booking()]});
        assert_eq!(bookings_put(&body), Ok(vec![booking()]));
        assert_eq!(bookings_put(&json!({"Bookings": []})), Ok(vec![]));
    }

    #[test]
    fn required_fields_types_and_values_are_checked() {
        type Change = Box<dyn Fn(&mut Value)>;
        let cases: Vec<(&str, Change)> = vec![
            ("Id: required", Box::new(|b| drop(b.as_object_mut().map(|o| o.remove("Id"))))),
            ("Number: required", Box::new(|b| drop(b.as_object_mut().map(|o| o.remove("Number"))))),
            ("Protocol: must be one of", Box::new(|b| b["Protocol"] = json!("Teams"))),
            ("MeetingPlatform: must be one of", Box::new(|b| b["MeetingPlatform"] = json!("Jitsi"))),
            ("StartTime: not an ISO 8601", Box::new(|b| b["Time"]["StartTime"] = json!("tomorrow"))),
            ("Duration: must be a non-negative", Box::new(|b| b["Time"]["Duration"] = json!(-5))),
            ("Organizer.Name: required", Box::new(|b| b["Organizer"] = json!({}))),
            ("unknown field Colour", Box::new(|b| b["Colour"] = json!("red"))),
        ];
        for (expected, change) in cases {
            let mut b = booking();
            change(&mut b);
            let err = bookings_put(&json!({"Bookings": [b]})).err().unwrap_or_default();
            assert!(err.contains(expected), "{expected}: {err}");
        }
        let twice = json!({"Bookings": [booking(), booking()]});
        assert!(bookings_put(&twice).err().unwrap_or_default().contains("duplicate"));
        assert!(bookings_put(&json!([booking()])).is_err());
    }

    #[test]
    fn a_legacy_document_reads_as_the_json_shape() {
        let doc = r#"<Bookings status="OK"><Booking><Id>7</Id><Title>Budget &amp; plans</Title>
            <Privacy>Private</Privacy><Organizer><FirstName>Alex</FirstName><LastName>Wilber</LastName>
            <Email/></Organizer><Time><StartTime>2026-05-04T10:00:00Z</StartTime>
            <StartTimeBuffer>300</StartTimeBuffer><EndTime>2026-05-04T10:30:30Z</EndTime>
            <EndTimeBuffer>0</EndTimeBuffer></Time><DialInfo><Calls><Call><Number>room@video.example.com</Number>
            <Protocol>SIP</Protocol></Call></Calls><ConnectMode>OBTP</ConnectMode></DialInfo></Booking>
            <Booking><Id>8</Id><Time><StartTime>2026-05-04T11:00:00Z</StartTime>
            <EndTime>2026-05-04T11:15:00Z</EndTime></Time></Booking></Bookings>"#;
        let root = Element::parse(doc).unwrap_or_default();
        let got = legacy_document(&root).unwrap_or_default();
        assert_eq!(
            got,
            vec![
                json!({"Id": "7", "Title": "Budget & plans", "Number": "room@video.example.com", "Protocol": "SIP",
                    "Privacy": "Private", "Organizer": {"Name": "Alex Wilber"},
                    "Time": {"StartTime": "2026-05-04T10:00:00Z", "Duration": 31, "StartTimeBuffer": 300, "EndTimeBuffer": 0}}),
                json!({"Id": "8", "Title": "", "Number": "", "Protocol": "None", "Privacy": "Public",
                    "Organizer": {"Name": ""},
                    "Time": {"StartTime": "2026-05-04T11:00:00Z", "Duration": 15, "StartTimeBuffer": 0, "EndTimeBuffer": 0}}),
            ]
        );
        // What the normaliser produces is itself a valid `Bookings Put` body.
        assert!(bookings_put(&json!({"Bookings": got})).is_ok());
    }
}
