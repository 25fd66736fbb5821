//! Events as Graph writes them on the wire.

use serde_json::{Map, Value, json};

use super::error::GraphError;
use super::model::{EventKind, EventRecord};
use super::odata::Prefs;
use super::store::etag;
use super::wire::{self, ContentType};

/// Options of one rendering.
#[derive(Debug, Clone, Default)]
pub struct RenderOpts<'a> {
    /// `Prefer` headers.
    pub prefs: Prefs,
    /// Extended properties to expand (canonical ids), when `$expand` asked for them.
    pub expand: Option<&'a [String]>,
    /// `$select`.
    pub select: Option<&'a [String]>,
}

/// Renders an event; start and end in the preferred zone (UTC by default), the body in the
/// preferred content type (HTML by default).
pub fn event(ev: &EventRecord, opts: &RenderOpts<'_>) -> Result<Value, GraphError> {
    let zone = opts.prefs.time_zone.as_deref().unwrap_or("UTC");
    let when = |instant| -> Result<Value, GraphError> {
        Ok(json!({"dateTime": wire::format_local(wire::from_utc(instant, zone)?), "timeZone": zone}))
    };
    let body_type = opts.prefs.body_type.unwrap_or(ContentType::Html);
    let content = wire::convert_body(&ev.body, ev.body_type, body_type);
    let preview = wire::body_preview(&ev.body, ev.body_type);
    let join_url = ev.online_meeting.as_ref().and_then(|m| m.get("joinUrl")).cloned().unwrap_or(Value::Null);
    let mut v = json!({
        "@odata.etag": etag(&ev.change_key),
        "id": ev.id,
        "createdDateTime": wire::format_instant(ev.created),
        "lastModifiedDateTime": wire::format_instant(ev.last_modified),
        "changeKey": ev.change_key,
        "categories": ev.categories,
        "transactionId": null,
        "originalStartTimeZone": ev.start_tz,
        "originalEndTimeZone": ev.end_tz,
        "iCalUId": ev.ical_uid,
        "uid": ev.ical_uid,
        "reminderMinutesBeforeStart": 15,
        "isReminderOn": true,
        "hasAttachments": false,
        "subject": ev.subject,
        "bodyPreview": preview,
        "importance": ev.importance,
        "sensitivity": ev.sensitivity,
        "isAllDay": ev.is_all_day,
        "isCancelled": ev.is_cancelled,
        "isOrganizer": ev.is_organizer,
        "responseRequested": true,
        "seriesMasterId": ev.series_master_id,
        "showAs": ev.show_as,
        "type": ev.kind.as_str(),
        "webLink": format!("https://outlook.office365.com/owa/?itemid={}&exvsurl=1&path=/calendar/item", ev.id),
        "onlineMeetingUrl": null,
        "isOnlineMeeting": ev.is_online_meeting,
        "onlineMeetingProvider": ev.online_meeting_provider,
        "allowNewTimeProposals": true,
        "occurrenceId": if ev.kind == EventKind::Occurrence { json!(format!("OID.{}.{}", ev.series_master_id.as_deref().unwrap_or(""), ev.original_date.map(|d| d.to_string()).unwrap_or_default())) } else { Value::Null },
        "isDraft": false,
        "hideAttendees": false,
        "responseStatus": ev.response_status,
        "body": {"contentType": body_type.as_str(), "content": content},
        "start": when(ev.start)?,
        "end": when(ev.end)?,
        "location": ev.location,
        "locations": ev.locations,
        "recurrence": if ev.kind == EventKind::SeriesMaster { serde_json::to_value(&ev.recurrence).unwrap_or(Value::Null) } else { Value::Null },
        "attendees": ev.attendees,
        "organizer": ev.organizer,
        "onlineMeeting": ev.online_meeting.clone().map_or(Value::Null, |mut m| { if let Some(o) = m.as_object_mut() { o.entry("joinUrl").or_insert(join_url); } m }),
    });
    let Some(obj) = v.as_object_mut() else { return Ok(v) };
    // Graph gives `originalStart` (a UTC DateTimeOffset) only to the instances of a series.
    if matches!(ev.kind, EventKind::Occurrence | EventKind::Exception)
        && let Some(original) = ev.original_start
    {
        obj.insert("originalStart".into(), json!(original.format("%Y-%m-%dT%H:%M:%SZ").to_string()));
    }
    if let Some(ids) = opts.expand {
        let props: Vec<Value> =
            ids.iter().filter_map(|id| ev.extended.get(id).map(|value| json!({"id": id, "value": value}))).collect();
        obj.insert("singleValueExtendedProperties".into(), Value::Array(props));
    }
    if let Some(select) = opts.select {
        let keep: Map<String, Value> = obj
            .iter()
            .filter(|(k, _)| {
                k.as_str() == "id"
                    || k.as_str() == "@odata.etag"
                    || k.as_str() == "singleValueExtendedProperties"
                    || select.iter().any(|s| s.eq_ignore_ascii_case(k))
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        return Ok(Value::Object(keep));
    }
    Ok(v)
}
