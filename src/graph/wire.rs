//! Graph's JSON as hcal reads and writes it, kept apart from I/O so the mapping is tested on
//! literal payloads. Reading is tolerant: Graph sends `null` for many absent values and omits
//! others, and every optional field falls back to its default.

use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};
use hcal_actors::ids::{GraphEventId, SubscriptionId, UserObjectId};
use hcal_actors::ports::{EmailAddress, EventType, GraphEvent, Occurrence};
use hcal_actors::presence::{AutoReplies, AutoReplyStatus};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ListedSubscription, MailboxSettings, SubscriptionInfo};

/// Percent-encodes everything but RFC 3986's unreserved characters. Graph ids are URL-safe
/// base64 with `=` padding, and older ids carry `+` and `/`; all of them must survive as one
/// path segment or query value.
pub(crate) fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3 / 2);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `$expand` value that returns hcal's marker and nothing else.
pub(crate) fn marker_expand(marker_property_id: &str) -> String {
    // OData string literals double their single quotes.
    format!("singleValueExtendedProperties($filter=id eq '{}')", marker_property_id.replace('\'', "''"))
}

/// The PATCH body replacing an event's body and setting the marker in one write, so the two
/// can never disagree.
pub(crate) fn patch_body(body_html: &str, marker_property_id: &str, marker: &str) -> Value {
    json!({
        "body": {"contentType": "html", "content": body_html},
        "singleValueExtendedProperties": [{"id": marker_property_id, "value": marker}],
    })
}

/// The `expirationDateTime` Graph expects: UTC with `Z`.
pub(crate) fn format_instant(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Parses a `dateTimeTimeZone`. hcal never sends `Prefer: outlook.timezone`, so Graph answers
/// in UTC with a 7-digit local time (`2014-11-03T17:00:00.0000000`). An explicit offset is
/// honoured too; any other zone is refused rather than guessed.
pub(crate) fn parse_date_time(date_time: &str, time_zone: &str) -> Option<DateTime<Utc>> {
    let date_time = date_time.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(date_time) {
        return Some(at.with_timezone(&Utc));
    }
    let utc = ["", "UTC", "Etc/UTC", "Coordinated Universal Time", "Z", "Etc/GMT"];
    if !utc.iter().any(|z| z.eq_ignore_ascii_case(time_zone.trim())) {
        return None;
    }
    NaiveDateTime::parse_from_str(date_time, "%Y-%m-%dT%H:%M:%S%.f").ok().map(|n| n.and_utc())
}

/// Parses an instant such as `expirationDateTime` (`2025-02-13T10:17:06.1234567Z`).
fn parse_instant(s: &str) -> Option<DateTime<Utc>> {
    parse_date_time(s, "UTC")
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct WireEvent {
    id: Option<String>,
    change_key: Option<String>,
    #[serde(rename = "@odata.etag")]
    etag: Option<String>,
    subject: Option<String>,
    body: Option<WireBody>,
    location: Option<WireLocation>,
    start: Option<WireDateTime>,
    end: Option<WireDateTime>,
    is_all_day: Option<bool>,
    is_cancelled: Option<bool>,
    is_organizer: Option<bool>,
    #[serde(rename = "type")]
    kind: Option<String>,
    series_master_id: Option<String>,
    organizer: Option<WireRecipient>,
    attendees: Option<Vec<WireRecipient>>,
    online_meeting: Option<WireOnlineMeeting>,
    sensitivity: Option<String>,
    response_status: Option<WireResponse>,
    original_start_time_zone: Option<String>,
    single_value_extended_properties: Option<Vec<WireProperty>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct WireResponse {
    response: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct WireBody {
    content_type: Option<String>,
    content: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct WireLocation {
    display_name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct WireDateTime {
    date_time: Option<String>,
    time_zone: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct WireRecipient {
    email_address: Option<WireEmailAddress>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct WireEmailAddress {
    name: Option<String>,
    address: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct WireOnlineMeeting {
    join_url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct WireProperty {
    id: Option<String>,
    value: Option<String>,
}

impl WireRecipient {
    fn into_address(self) -> Option<EmailAddress> {
        let e = self.email_address?;
        let (name, address) = (e.name.unwrap_or_default(), e.address.unwrap_or_default());
        (!name.is_empty() || !address.is_empty()).then_some(EmailAddress { name, address })
    }
}

/// `W/"{changeKey}"` → `changeKey`.
fn change_key_from_etag(etag: &str) -> Option<String> {
    let inner = etag.trim().trim_start_matches("W/").trim_matches('"');
    (!inner.is_empty()).then(|| inner.to_owned())
}

/// Unknown types are read as single instances: the safest reading, since hcal then treats the
/// event on its own rather than as part of a series.
fn event_type(kind: Option<&str>) -> EventType {
    kind.and_then(|k| serde_json::from_value(Value::String(k.to_owned())).ok()).unwrap_or(EventType::SingleInstance)
}

/// HTML for a body Graph returned as text despite our preference.
fn text_to_html(text: &str) -> String {
    let escaped = text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    format!("<html><body>{}</body></html>", escaped.replace("\r\n", "\n").replace('\n', "<br>\n"))
}

/// Maps an event as Graph renders it. `Err` names what is missing (never a value).
pub(crate) fn parse_event(body: &[u8], marker_property_id: &str) -> Result<GraphEvent, String> {
    let ev: WireEvent =
        serde_json::from_slice(body).map_err(|e| format!("event is not valid JSON: {}", json_error_kind(&e)))?;
    let id = ev.id.filter(|i| !i.is_empty()).ok_or("event has no id")?;
    let change_key = ev
        .change_key
        .filter(|c| !c.is_empty())
        .or_else(|| ev.etag.as_deref().and_then(change_key_from_etag))
        .ok_or("event has neither changeKey nor @odata.etag")?;
    let when = |dt: Option<WireDateTime>, what: &str| {
        let dt = dt.unwrap_or_default();
        parse_date_time(dt.date_time.as_deref().unwrap_or_default(), dt.time_zone.as_deref().unwrap_or_default())
            .ok_or_else(|| format!("event {what} is missing or not in UTC"))
    };
    let start = when(ev.start, "start")?;
    let end = when(ev.end, "end")?;
    let body_html = match ev.body {
        Some(WireBody { content_type: Some(t), content }) if t.eq_ignore_ascii_case("text") => {
            text_to_html(&content.unwrap_or_default())
        }
        Some(b) => b.content.unwrap_or_default(),
        None => String::new(),
    };
    // The filter asked for our property only; the id still must match (GUIDs compare
    // case-insensitively, and Graph may normalise their case).
    let marker = ev
        .single_value_extended_properties
        .unwrap_or_default()
        .into_iter()
        .find(|p| p.id.as_deref().is_some_and(|i| i.eq_ignore_ascii_case(marker_property_id)))
        .and_then(|p| p.value);
    Ok(GraphEvent {
        id: GraphEventId::new(id),
        change_key,
        subject: ev.subject.unwrap_or_default(),
        body_html,
        location: ev.location.and_then(|l| l.display_name).unwrap_or_default(),
        start,
        end,
        is_all_day: ev.is_all_day.unwrap_or(false),
        is_cancelled: ev.is_cancelled.unwrap_or(false),
        is_organizer: ev.is_organizer.unwrap_or(false),
        event_type: event_type(ev.kind.as_deref()),
        series_master_id: ev.series_master_id.filter(|s| !s.is_empty()).map(GraphEventId::new),
        organizer: ev.organizer.and_then(WireRecipient::into_address),
        attendees: ev.attendees.unwrap_or_default().into_iter().filter_map(WireRecipient::into_address).collect(),
        online_meeting_url: ev.online_meeting.and_then(|m| m.join_url).filter(|u| !u.is_empty()),
        sensitivity: ev.sensitivity.unwrap_or_else(|| "normal".to_owned()),
        response: ev
            .response_status
            .and_then(|r| r.response)
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| "none".into()),
        time_zone: ev.original_start_time_zone.filter(|z| !z.is_empty() && z != "tzone://Microsoft/Custom"),
        marker,
    })
}

/// The change key of a PATCH answer (the full event).
pub(crate) fn parse_change_key(body: &[u8]) -> Result<String, String> {
    let ev: WireEvent =
        serde_json::from_slice(body).map_err(|e| format!("event is not valid JSON: {}", json_error_kind(&e)))?;
    ev.change_key
        .filter(|c| !c.is_empty())
        .or_else(|| ev.etag.as_deref().and_then(change_key_from_etag))
        .ok_or_else(|| "answer has neither changeKey nor @odata.etag".to_owned())
}

/// `id` and `expirationDateTime` of a subscription.
pub(crate) fn parse_subscription(body: &[u8]) -> Result<SubscriptionInfo, String> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct WireSubscription {
        id: Option<String>,
        expiration_date_time: Option<String>,
    }
    let sub: WireSubscription =
        serde_json::from_slice(body).map_err(|e| format!("subscription is not valid JSON: {}", json_error_kind(&e)))?;
    let id = sub.id.as_deref().and_then(|i| SubscriptionId::parse(i).ok()).ok_or("subscription id is not a GUID")?;
    let expiration =
        sub.expiration_date_time.as_deref().and_then(parse_instant).ok_or("subscription has no expirationDateTime")?;
    Ok(SubscriptionInfo { id, expiration })
}

/// One page of `…/events/{id}/instances`: the occurrences it lists (cancelled ones left out)
/// and the `@odata.nextLink`, if any. An occurrence whose id or times cannot be read is an
/// unreadable answer, not a gap in the list.
pub(crate) fn parse_occurrence_page(body: &[u8]) -> Result<(Vec<Occurrence>, Option<String>), String> {
    #[derive(Deserialize)]
    struct Page {
        #[serde(default)]
        value: Vec<Item>,
        #[serde(rename = "@odata.nextLink")]
        next_link: Option<String>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Item {
        id: Option<String>,
        start: Option<WireDateTime>,
        end: Option<WireDateTime>,
        #[serde(default)]
        is_cancelled: bool,
    }
    let page: Page = serde_json::from_slice(body).map_err(|e| format!("instances: {e}"))?;
    let mut occurrences = Vec::new();
    for item in page.value {
        if item.is_cancelled {
            continue;
        }
        let time = |t: Option<WireDateTime>| {
            t.and_then(|t| parse_date_time(t.date_time.as_deref()?, t.time_zone.as_deref().unwrap_or("")))
        };
        match (item.id, time(item.start), time(item.end)) {
            (Some(id), Some(start), Some(end)) => {
                occurrences.push(Occurrence { id: GraphEventId::new(id), start, end })
            }
            _ => return Err("instances: an occurrence without its id or times".to_owned()),
        }
    }
    Ok((occurrences, page.next_link))
}

/// One page of `GET /subscriptions`: its entries and the `@odata.nextLink`, if any. Entries
/// without a GUID id or a notification URL are left out (hcal created neither), as is
/// everything the sweep does not use; `clientState` is `null` in lists and never read.
pub(crate) fn parse_subscription_page(body: &[u8]) -> Result<(Vec<ListedSubscription>, Option<String>), String> {
    #[derive(Deserialize)]
    struct WirePage {
        value: Option<Vec<WireListed>>,
        #[serde(rename = "@odata.nextLink")]
        next_link: Option<String>,
    }
    #[derive(Default, Deserialize)]
    #[serde(rename_all = "camelCase", default)]
    struct WireListed {
        id: Option<String>,
        notification_url: Option<String>,
        resource: Option<String>,
        expiration_date_time: Option<String>,
    }
    let page: WirePage = serde_json::from_slice(body)
        .map_err(|e| format!("subscription list is not valid JSON: {}", json_error_kind(&e)))?;
    let value = page.value.ok_or("subscription list has no value")?;
    let listed = value
        .into_iter()
        .filter_map(|item| {
            Some(ListedSubscription {
                id: SubscriptionId::parse(item.id.as_deref()?).ok()?,
                notification_url: item.notification_url?,
                user: item.resource.as_deref().and_then(resource_user),
                expiration: item.expiration_date_time.as_deref().and_then(parse_instant),
            })
        })
        .collect();
    Ok((listed, page.next_link.filter(|l| !l.is_empty())))
}

/// The user object id of a `/users/{id}/events` (or `Users/{id}/Events`) resource.
fn resource_user(resource: &str) -> Option<UserObjectId> {
    let mut segments = resource.trim_start_matches('/').split('/');
    match (segments.next(), segments.next()) {
        (Some(users), Some(id)) if users.eq_ignore_ascii_case("users") => UserObjectId::parse(id).ok(),
        _ => None,
    }
}

/// The mailbox settings hcal uses.
pub(crate) fn parse_mailbox_settings(body: &[u8]) -> Result<MailboxSettings, String> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| format!("mailboxSettings is not valid JSON: {}", json_error_kind(&e)))?;
    let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or_default().to_owned();
    Ok(MailboxSettings {
        locale: text(v.get("language").and_then(|l| l.get("locale"))),
        time_zone: text(v.get("timeZone")),
        automatic_replies: v.get("automaticRepliesSetting").and_then(auto_replies),
    })
}

/// `automaticRepliesSetting` as hcal keeps it: the status (any case) and, for `scheduled`, the
/// window's `dateTimeTimeZone` ends as instants. `None` when the status is missing or unknown;
/// a scheduled window whose ends do not read is kept without them (it then never holds).
pub(crate) fn auto_replies(v: &Value) -> Option<AutoReplies> {
    let status = AutoReplyStatus::parse(v.get("status")?.as_str()?)?;
    let end = |name: &str| {
        let dt = v.get(name)?;
        super::zones::instant(
            dt.get("dateTime")?.as_str()?,
            dt.get("timeZone").and_then(Value::as_str).unwrap_or("UTC"),
        )
    };
    Some(AutoReplies::new(status, end("scheduledStartDateTime"), end("scheduledEndDateTime")))
}

/// The body of a `$batch` of `GET /users/{id}/mailboxSettings`, one request per user, the
/// request id being the user's index in `users`.
pub(crate) fn settings_batch(users: &[UserObjectId]) -> Value {
    let requests: Vec<Value> = users
        .iter()
        .enumerate()
        .map(|(i, user)| json!({"id": i.to_string(), "method": "GET", "url": format!("/users/{user}/mailboxSettings")}))
        .collect();
    json!({ "requests": requests })
}

/// One answer of a `$batch`: the index of its request, its status, `Retry-After` (seconds)
/// when it has one, its error code and its body.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct BatchAnswer {
    pub index: usize,
    pub status: u16,
    pub retry_after: Option<f64>,
    pub code: String,
    pub body: Value,
}

/// The answers of a `$batch` response, in any order; answers whose id is not one hcal sent
/// are dropped. Header names are compared without regard to case.
pub(crate) fn parse_batch(body: &[u8], sent: usize) -> Result<Vec<BatchAnswer>, String> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| format!("$batch answer is not valid JSON: {}", json_error_kind(&e)))?;
    let responses = v.get("responses").and_then(Value::as_array).ok_or("$batch answer has no responses")?;
    let mut answers = Vec::with_capacity(responses.len());
    for r in responses {
        let Some(index) = r.get("id").and_then(Value::as_str).and_then(|id| id.parse::<usize>().ok()) else {
            continue;
        };
        if index >= sent {
            continue;
        }
        let status = r.get("status").and_then(Value::as_u64).and_then(|s| u16::try_from(s).ok()).unwrap_or(0);
        let retry_after = r.get("headers").and_then(Value::as_object).and_then(|h| {
            h.iter().find(|(k, _)| k.eq_ignore_ascii_case("retry-after")).and_then(|(_, v)| match v {
                Value::String(s) => s.trim().parse::<f64>().ok(),
                Value::Number(n) => n.as_f64(),
                _ => None,
            })
        });
        let body = r.get("body").cloned().unwrap_or(Value::Null);
        let code = body.pointer("/error/code").and_then(Value::as_str).unwrap_or_default().to_owned();
        answers.push(BatchAnswer { index, status, retry_after, code, body });
    }
    Ok(answers)
}

/// The kind of a JSON error without its text, which can quote the payload.
fn json_error_kind(e: &serde_json::Error) -> &'static str {
    match e.classify() {
        serde_json::error::Category::Io => "I/O error",
        serde_json::error::Category::Syntax => "syntax error",
        serde_json::error::Category::Data => "unexpected shape",
        serde_json::error::Category::Eof => "truncated",
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    const MARKER: &str = "String {1a01a2e5-2d02-4c13-9262-2d08835c19d8} Name hcal.joinInfo";

    #[test]
    fn ids_are_encoded_as_one_segment() {
        assert_eq!(encode_component("AAMkAD+/x_y-z=="), "AAMkAD%2B%2Fx_y-z%3D%3D");
        assert_eq!(encode_component("a b'é"), "a%20b%27%C3%A9");
    }

    #[test]
    fn expand_quotes_the_property_id() {
        assert_eq!(
            marker_expand(MARKER),
            "singleValueExtendedProperties($filter=id eq 'String {1a01a2e5-2d02-4c13-9262-2d08835c19d8} Name hcal.joinInfo')"
        );
        assert_eq!(marker_expand("a'b"), "singleValueExtendedProperties($filter=id eq 'a''b')");
    }

    #[test]
    fn graph_local_times_in_utc() {
        let at = Utc.with_ymd_and_hms(2014, 11, 3, 17, 0, 0).unwrap();
        assert_eq!(parse_date_time("2014-11-03T17:00:00.0000000", "UTC"), Some(at));
        assert_eq!(parse_date_time("2014-11-03T17:00:00", "UTC"), Some(at));
        assert_eq!(parse_date_time("2014-11-03T18:00:00+01:00", "W. Europe Standard Time"), Some(at));
        assert_eq!(
            parse_date_time("2014-11-03T17:00:00.5000000", "UTC"),
            Some(at + chrono::Duration::milliseconds(500))
        );
        assert_eq!(parse_date_time("2014-11-03T17:00:00.0000000", "Pacific Standard Time"), None);
        assert_eq!(parse_date_time("tomorrow", "UTC"), None);
        assert_eq!(format_instant(at), "2014-11-03T17:00:00.000Z");
    }

    #[test]
    fn a_full_event_maps_field_by_field() {
        let body = json!({
            "@odata.etag": "W/\"DwAAABYAAAA\"",
            "id": "AAMkAGI2T=",
            "changeKey": "DwAAABYAAAA",
            "subject": "Planning",
            "body": {"contentType": "html", "content": "<html><body>Hi</body></html>"},
            "start": {"dateTime": "2030-01-02T09:00:00.0000000", "timeZone": "UTC"},
            "end": {"dateTime": "2030-01-02T09:30:00.0000000", "timeZone": "UTC"},
            "isAllDay": false,
            "isCancelled": true,
            "isOrganizer": true,
            "type": "occurrence",
            "seriesMasterId": "AAMkMaster=",
            "location": {"displayName": "Room 1", "locationType": "default"},
            "organizer": {"emailAddress": {"name": "Alice", "address": "alice@contoso.example"}},
            "attendees": [
                {"type": "required", "status": {"response": "none"}, "emailAddress": {"name": "Bob", "address": "bob@contoso.example"}},
                {"type": "optional", "emailAddress": null}
            ],
            "onlineMeeting": {"joinUrl": "https://teams.example/l/meetup-join/1"},
            "sensitivity": "private",
            "singleValueExtendedProperties": [
                {"id": "String {1A01A2E5-2D02-4C13-9262-2D08835C19D8} Name hcal.joinInfo", "value": "v1:abc"}
            ]
        });
        let ev = parse_event(body.to_string().as_bytes(), MARKER).unwrap();
        assert_eq!(ev.id.as_str(), "AAMkAGI2T=");
        assert_eq!(ev.change_key, "DwAAABYAAAA");
        assert_eq!(ev.subject, "Planning");
        assert_eq!(ev.body_html, "<html><body>Hi</body></html>");
        assert_eq!(ev.location, "Room 1");
        assert_eq!(ev.start, Utc.with_ymd_and_hms(2030, 1, 2, 9, 0, 0).unwrap());
        assert_eq!(ev.end, Utc.with_ymd_and_hms(2030, 1, 2, 9, 30, 0).unwrap());
        assert!(!ev.is_all_day && ev.is_cancelled && ev.is_organizer);
        assert_eq!(ev.event_type, EventType::Occurrence);
        assert_eq!(ev.series_master_id, Some(GraphEventId::new("AAMkMaster=")));
        assert_eq!(ev.organizer.as_ref().map(|o| o.address.as_str()), Some("alice@contoso.example"));
        assert_eq!(ev.attendees.len(), 1);
        assert_eq!(ev.attendees[0].name, "Bob");
        assert_eq!(ev.online_meeting_url.as_deref(), Some("https://teams.example/l/meetup-join/1"));
        assert_eq!(ev.sensitivity, "private");
        assert_eq!(ev.marker.as_deref(), Some("v1:abc"));
    }

    #[test]
    fn a_sparse_event_takes_defaults() {
        let body = json!({
            "@odata.etag": "W/\"CK==\"",
            "id": "AAMk=",
            "subject": null,
            "body": null,
            "location": null,
            "organizer": null,
            "onlineMeeting": null,
            "seriesMasterId": null,
            "type": "somethingNew",
            "start": {"dateTime": "2030-01-02T00:00:00.0000000", "timeZone": "UTC"},
            "end": {"dateTime": "2030-01-03T00:00:00.0000000", "timeZone": "UTC"},
            "singleValueExtendedProperties": []
        });
        let ev = parse_event(body.to_string().as_bytes(), MARKER).unwrap();
        assert_eq!(ev.change_key, "CK==");
        assert_eq!((ev.subject.as_str(), ev.body_html.as_str(), ev.location.as_str()), ("", "", ""));
        assert_eq!(ev.event_type, EventType::SingleInstance);
        assert_eq!(ev.sensitivity, "normal");
        assert!(ev.organizer.is_none() && ev.attendees.is_empty() && ev.online_meeting_url.is_none());
        assert!(ev.marker.is_none() && ev.series_master_id.is_none());
    }

    #[test]
    fn text_bodies_become_safe_html_and_broken_events_are_refused() {
        let body = json!({"id": "x", "changeKey": "c", "body": {"contentType": "text", "content": "a<b>\nc"},
            "start": {"dateTime": "2030-01-02T00:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2030-01-02T01:00:00", "timeZone": "UTC"}});
        let ev = parse_event(body.to_string().as_bytes(), MARKER).unwrap();
        assert_eq!(ev.body_html, "<html><body>a&lt;b&gt;<br>\nc</body></html>");
        assert!(parse_event(br#"{"id":"x","changeKey":"c"}"#, MARKER).unwrap_err().contains("start"));
        assert!(parse_event(br#"{"changeKey":"c"}"#, MARKER).unwrap_err().contains("id"));
        let err = parse_event(br#"{"subject":"secret stuff""#, MARKER).unwrap_err();
        assert!(!err.contains("secret"), "errors never quote payloads: {err}");
    }

    #[test]
    fn subscriptions_and_settings() {
        let sub = parse_subscription(
            br#"{"id":"7f105c7d-2dc5-4530-97cd-4e7ae6534c07","resource":"/users/x/events","expirationDateTime":"2030-01-01T00:00:00.1234567Z","clientState":"s"}"#,
        )
        .unwrap();
        assert_eq!(sub.id.to_string(), "7f105c7d-2dc5-4530-97cd-4e7ae6534c07");
        assert_eq!(
            sub.expiration,
            Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap() + chrono::Duration::nanoseconds(123_456_700)
        );
        assert!(parse_subscription(br#"{"id":"nope","expirationDateTime":"2030-01-01T00:00:00Z"}"#).is_err());
        let settings = parse_mailbox_settings(
            br#"{"timeZone":"W. Europe Standard Time","language":{"locale":"de-DE","displayName":"German"},"automaticRepliesSetting":{"status":"scheduled"}}"#,
        )
        .unwrap();
        assert_eq!(settings.locale, "de-DE");
        assert_eq!(settings.time_zone, "W. Europe Standard Time");
        assert_eq!(settings.automatic_replies, Some(AutoReplies::new(AutoReplyStatus::Scheduled, None, None)));
        assert_eq!(parse_mailbox_settings(b"{}").unwrap().automatic_replies, None);
    }

    #[test]
    fn subscription_pages_keep_what_the_sweep_needs_and_the_next_link() {
        let body = json!({
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#subscriptions",
            "value": [
                {"id": "0fc0d6db-0073-42e5-a186-853da75fb308", "resource": "/users/6f0c5b0e-6a4a-4a55-9f4c-2f7c3f8c9d01/events",
                 "applicationId": "24d3b144-21ae-4080-943f-7067b395b913", "changeType": "created,updated,deleted",
                 "clientState": null, "notificationUrl": "https://hcal.example/webhook/graph",
                 "expirationDateTime": "2030-01-01T00:00:00Z", "creatorId": "8ee44408-0679-472c-bc2a-692812af3437"},
                {"id": "7f105c7d-2dc5-4530-97cd-4e7ae6534c07", "resource": "Users", "notificationUrl": "https://other.example/n"},
                {"id": "not-a-guid", "notificationUrl": "https://hcal.example/webhook/graph"},
                {"id": "1c6e3b5a-0000-4000-8000-000000000001"}
            ],
            "@odata.nextLink": "https://graph.microsoft.com/v1.0/subscriptions?$skiptoken=abc"
        });
        let (listed, next) = parse_subscription_page(body.to_string().as_bytes()).unwrap();
        assert_eq!(next.as_deref(), Some("https://graph.microsoft.com/v1.0/subscriptions?$skiptoken=abc"));
        assert_eq!(listed.len(), 2, "entries without a GUID or a URL are left out");
        assert_eq!(listed[0].id.to_string(), "0fc0d6db-0073-42e5-a186-853da75fb308");
        assert_eq!(listed[0].notification_url, "https://hcal.example/webhook/graph");
        assert_eq!(listed[0].user.map(|u| u.to_string()).as_deref(), Some("6f0c5b0e-6a4a-4a55-9f4c-2f7c3f8c9d01"));
        assert_eq!(listed[0].expiration, Some(Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap()));
        assert_eq!((listed[1].user, listed[1].expiration), (None, None));
        let (listed, next) = parse_subscription_page(br#"{"value":[]}"#).unwrap();
        assert!(listed.is_empty() && next.is_none());
        assert!(parse_subscription_page(br#"{"error":{"code":"x"}}"#).is_err());
        assert!(parse_subscription_page(b"[").is_err());
    }

    #[test]
    fn patch_body_has_exactly_body_and_marker() {
        assert_eq!(
            patch_body("<p>x</p>", MARKER, "m"),
            json!({"body": {"contentType": "html", "content": "<p>x</p>"},
                   "singleValueExtendedProperties": [{"id": MARKER, "value": "m"}]})
        );
    }

    #[test]
    fn automatic_replies_keep_the_status_and_the_window_in_utc_and_never_the_messages() {
        let v = json!({
            "status": "Scheduled",
            "externalAudience": "all",
            "internalReplyMessage": "<p>I am away</p>",
            "scheduledStartDateTime": {"dateTime": "2026-12-02T09:00:00.0000000", "timeZone": "W. Europe Standard Time"},
            "scheduledEndDateTime": {"dateTime": "2026-12-04T17:00:00.0000000", "timeZone": "UTC"},
        });
        let replies = auto_replies(&v).unwrap();
        assert_eq!(replies.status, AutoReplyStatus::Scheduled);
        assert_eq!(replies.start, Some("2026-12-02T08:00:00Z".parse().unwrap()));
        assert_eq!(replies.end, Some("2026-12-04T17:00:00Z".parse().unwrap()));
        assert!(!format!("{replies:?}").contains("away"));
        let always =
            auto_replies(&json!({"status": "alwaysEnabled", "scheduledStartDateTime": v["scheduledStartDateTime"]}));
        assert_eq!(always, Some(AutoReplies::new(AutoReplyStatus::AlwaysEnabled, None, None)));
        assert_eq!(auto_replies(&json!({"status": "sometimes"})), None);
        assert_eq!(auto_replies(&json!({})), None);
        let unreadable =
            json!({"status": "scheduled", "scheduledStartDateTime": {"dateTime": "soon", "timeZone": "UTC"}});
        assert_eq!(auto_replies(&unreadable), Some(AutoReplies::new(AutoReplyStatus::Scheduled, None, None)));
    }

    #[test]
    fn batch_answers_are_matched_to_their_requests() {
        let users = [
            UserObjectId::parse("6f0c5b0e-6a4a-4a55-9f4c-2f7c3f8c9d01").unwrap(),
            UserObjectId::parse("6f0c5b0e-6a4a-4a55-9f4c-2f7c3f8c9d02").unwrap(),
        ];
        let body = settings_batch(&users);
        assert_eq!(body["requests"][1]["url"], "/users/6f0c5b0e-6a4a-4a55-9f4c-2f7c3f8c9d02/mailboxSettings");
        assert_eq!(body["requests"][1]["id"], "1");
        let answer = json!({"responses": [
            {"id": "1", "status": 429, "headers": {"retry-after": "7"}, "body": {"error": {"code": "ApplicationThrottled", "message": "m"}}},
            {"id": "0", "status": 200, "headers": {"Content-Type": "application/json"}, "body": {"language": {"locale": "tr-TR"}}},
            {"id": "9", "status": 200, "body": {}},
            {"id": "x", "status": 200, "body": {}},
        ]});
        let answers = parse_batch(answer.to_string().as_bytes(), 2).unwrap();
        assert_eq!(answers.len(), 2);
        assert_eq!((answers[0].index, answers[0].status, answers[0].retry_after), (1, 429, Some(7.0)));
        assert_eq!(answers[0].code, "ApplicationThrottled");
        assert_eq!((answers[1].index, answers[1].status, answers[1].retry_after), (0, 200, None));
        assert!(parse_batch(b"{}", 2).is_err());
        assert!(parse_batch(b"not json", 2).is_err());
    }
}
