//! `/users/{id}/events`, `/users/{id}/calendar/events`, `…/{id}` and `…/{id}/instances`.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::super::core::{Core, Req, Resp};
use super::super::error::GraphError;
use super::super::model::{Change, ChangeType, EventKind, EventRecord, User};
use super::super::odata::{self, Prefs};
use super::super::recurrence::{self, PatternedRecurrence};
use super::super::render::{self, RenderOpts};
use super::super::store::{Store, etag};
use super::super::teams;
use super::super::wire::{self, ContentType};

/// Most attendees an event may have.
pub const MAX_ATTENDEES: usize = 500;

/// Properties a client may send but that Graph ignores (read-only or computed).
const READ_ONLY: &[&str] = &[
    "@odata.etag",
    "@odata.type",
    "@odata.context",
    "id",
    "changekey",
    "createddatetime",
    "lastmodifieddatetime",
    "icaluid",
    "uid",
    "type",
    "seriesmasterid",
    "webLink",
    "isorganizer",
    "responsestatus",
    "bodypreview",
    "originalstarttimezone",
    "originalendtimezone",
    "hasattachments",
    "onlinemeetingurl",
    "occurrenceid",
    "organizer",
    "iscancelled",
    "isdraft",
    "transactionid",
];

/// Properties the handlers understand when writing.
const WRITABLE: &[&str] = &[
    "subject",
    "body",
    "start",
    "end",
    "isallday",
    "location",
    "locations",
    "attendees",
    "isonlinemeeting",
    "onlinemeetingprovider",
    "sensitivity",
    "showas",
    "importance",
    "categories",
    "recurrence",
    "isreminderon",
    "reminderminutesbeforestart",
    "responserequested",
    "allownewtimeproposals",
    "hideattendees",
    "singlevalueextendedproperties",
];

/// Properties only the script (Outlook or Teams acting for the user) may set.
const SCRIPT_ONLY: &[&str] = &["onlinemeeting", "organizer"];

fn body_read_error(prop: &str) -> GraphError {
    GraphError::new(
        400,
        "RequestBodyRead",
        format!(
            "The property '{prop}' does not exist on type 'microsoft.graph.event'. Make sure to only use property names that are defined by the type or mark the type as open type."
        ),
    )
}

fn one_of(value: &Value, prop: &str, allowed: &[&str]) -> Result<String, GraphError> {
    let s = value
        .as_str()
        .ok_or_else(|| GraphError::new(400, "RequestBodyRead", format!("Invalid value for property '{prop}'.")))?;
    allowed
        .iter()
        .find(|a| a.eq_ignore_ascii_case(s))
        .map(|a| (*a).to_owned())
        .ok_or_else(|| GraphError::new(400, "RequestBodyRead", format!("Requested value '{s}' was not found.")))
}

fn date_time_zone(value: &Value, prop: &str) -> Result<(DateTime<Utc>, String), GraphError> {
    let dt = value
        .get("dateTime")
        .and_then(Value::as_str)
        .and_then(wire::parse_local)
        .ok_or_else(|| GraphError::bad_request(format!("The '{prop}' property needs a valid dateTime.")))?;
    let tz = value.get("timeZone").and_then(Value::as_str).unwrap_or("UTC").to_owned();
    Ok((wire::to_utc(dt, &tz)?, tz))
}

/// Applies a create or PATCH body to an event. `script` lets Outlook-only properties through.
pub fn apply(ev: &mut EventRecord, body: &Value, script: bool) -> Result<(), GraphError> {
    let obj =
        body.as_object().ok_or_else(|| GraphError::new(400, "BadRequest", "Empty Payload. JSON content expected."))?;
    for key in obj.keys() {
        let lower = key.to_ascii_lowercase();
        let known = WRITABLE.contains(&lower.as_str())
            || READ_ONLY.iter().any(|r| r.eq_ignore_ascii_case(key))
            || SCRIPT_ONLY.contains(&lower.as_str());
        if !known {
            return Err(body_read_error(key));
        }
    }
    let get = |name: &str| obj.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v);
    if let Some(v) = get("subject") {
        ev.subject = v.as_str().unwrap_or_default().to_owned();
    }
    if let Some(v) = get("body") {
        let content_type = v.get("contentType").map(|c| one_of(c, "contentType", &["text", "html"])).transpose()?;
        ev.body_type = content_type.as_deref().and_then(ContentType::parse).unwrap_or(ContentType::Text);
        let content = v.get("content").and_then(Value::as_str).unwrap_or_default();
        // Exchange keeps an HTML body as a whole document, wrapping a fragment into one.
        ev.body = match ev.body_type {
            ContentType::Html => wire::store_html(content),
            ContentType::Text => content.to_owned(),
        };
    }
    if let Some(v) = get("start") {
        (ev.start, ev.start_tz) = date_time_zone(v, "start")?;
    }
    if let Some(v) = get("end") {
        (ev.end, ev.end_tz) = date_time_zone(v, "end")?;
    }
    if ev.end < ev.start {
        return Err(GraphError::bad_request("The event's end time must not be before its start time."));
    }
    if let Some(v) = get("isAllDay") {
        ev.is_all_day = v.as_bool().unwrap_or(false);
    }
    match (get("location"), get("locations")) {
        (Some(loc), None) => {
            ev.location = normalise_location(loc);
            let has_name = ev.location.get("displayName").and_then(Value::as_str).is_some_and(|s| !s.is_empty());
            ev.locations = if has_name { vec![ev.location.clone()] } else { Vec::new() };
        }
        (loc, Some(locs)) => {
            ev.locations = locs.as_array().cloned().unwrap_or_default().iter().map(normalise_location).collect();
            ev.location = match loc {
                Some(l) => normalise_location(l),
                None => {
                    let names: Vec<&str> =
                        ev.locations.iter().filter_map(|l| l.get("displayName").and_then(Value::as_str)).collect();
                    normalise_location(&json!({"displayName": names.join("; ")}))
                }
            };
        }
        (None, None) => {}
    }
    if let Some(v) = get("attendees") {
        let list = v.as_array().cloned().unwrap_or_default();
        if list.len() > MAX_ATTENDEES {
            return Err(GraphError::bad_request(format!("An event can have at most {MAX_ATTENDEES} attendees.")));
        }
        ev.attendees = list.iter().map(normalise_attendee).collect::<Result<_, _>>()?;
    }
    if let Some(v) = get("isOnlineMeeting") {
        ev.is_online_meeting = v.as_bool().unwrap_or(false);
    }
    if let Some(v) = get("onlineMeetingProvider") {
        ev.online_meeting_provider = one_of(
            v,
            "onlineMeetingProvider",
            &["unknown", "skypeForBusiness", "skypeForConsumer", "teamsForBusiness"],
        )?;
    }
    if let Some(v) = get("sensitivity") {
        ev.sensitivity = one_of(v, "sensitivity", &["normal", "personal", "private", "confidential"])?;
    }
    if let Some(v) = get("showAs") {
        ev.show_as = one_of(v, "showAs", &["free", "tentative", "busy", "oof", "workingElsewhere", "unknown"])?;
    }
    if let Some(v) = get("importance") {
        ev.importance = one_of(v, "importance", &["low", "normal", "high"])?;
    }
    if let Some(v) = get("categories") {
        ev.categories =
            v.as_array().map(|a| a.iter().filter_map(|c| c.as_str().map(str::to_owned)).collect()).unwrap_or_default();
    }
    if let Some(v) = get("recurrence") {
        if v.is_null() {
            ev.recurrence = None;
        } else {
            if matches!(ev.kind, EventKind::Occurrence | EventKind::Exception) {
                return Err(GraphError::bad_request("An occurrence of a series cannot have its own recurrence."));
            }
            let rec: PatternedRecurrence = serde_json::from_value(v.clone())
                .map_err(|e| GraphError::new(400, "RequestBodyRead", format!("Invalid recurrence: {e}")))?;
            recurrence::validate(&rec).map_err(GraphError::bad_request)?;
            ev.recurrence = Some(rec);
        }
        if ev.kind != EventKind::Exception && ev.kind != EventKind::Occurrence {
            ev.kind = if ev.recurrence.is_some() { EventKind::SeriesMaster } else { EventKind::SingleInstance };
        }
    }
    if let Some(v) = get("singleValueExtendedProperties") {
        for prop in v.as_array().cloned().unwrap_or_default() {
            let id =
                prop.get("id").and_then(Value::as_str).and_then(odata::canonical_property_id).ok_or_else(|| {
                    GraphError::new(400, "ErrorInvalidProperty", "The extended property id is not valid.")
                })?;
            let value = prop.get("value").and_then(Value::as_str).ok_or_else(|| {
                GraphError::new(400, "ErrorInvalidProperty", "An extended property value must be a string.")
            })?;
            ev.extended.insert(id, value.to_owned());
        }
    }
    if script {
        if let Some(v) = get("onlineMeeting") {
            ev.online_meeting = if v.is_null() { None } else { Some(v.clone()) };
        }
        if let Some(v) = get("organizer") {
            ev.organizer = v.clone();
        }
    }
    Ok(())
}

fn normalise_location(loc: &Value) -> Value {
    let name = loc.get("displayName").and_then(Value::as_str).unwrap_or_default();
    let mut out = json!({
        "displayName": name,
        "locationType": loc.get("locationType").cloned().unwrap_or(json!("default")),
        "uniqueIdType": if name.is_empty() { json!("unknown") } else { loc.get("uniqueIdType").cloned().unwrap_or(json!("private")) },
    });
    if let (Some(o), Some(src)) = (out.as_object_mut(), loc.as_object()) {
        for key in ["locationUri", "uniqueId", "address", "coordinates", "locationEmailAddress"] {
            if let Some(v) = src.get(key) {
                o.insert(key.to_owned(), v.clone());
            }
        }
        if name.is_empty() {
            o.insert("uniqueId".into(), Value::Null);
        } else if !o.contains_key("uniqueId") {
            o.insert("uniqueId".into(), json!(name));
        }
    }
    out
}

fn normalise_attendee(a: &Value) -> Result<Value, GraphError> {
    let address = a.pointer("/emailAddress/address").and_then(Value::as_str).unwrap_or_default();
    if !address.contains('@') {
        return Err(GraphError::new(400, "ErrorInvalidRecipients", "At least one recipient isn't valid."));
    }
    let name = a.pointer("/emailAddress/name").and_then(Value::as_str).unwrap_or(address);
    let kind = a.get("type").map(|t| one_of(t, "type", &["required", "optional", "resource"])).transpose()?;
    Ok(json!({
        "type": kind.unwrap_or_else(|| "required".to_owned()),
        "status": a.get("status").cloned().unwrap_or(json!({"response": "none", "time": "0001-01-01T00:00:00Z"})),
        "emailAddress": {"name": name, "address": address},
    }))
}

/// A fresh event owned by `user`.
pub fn blank(core: &Core, user: &User) -> EventRecord {
    let now = core.now();
    EventRecord {
        id: core.item_id(),
        owner: user.id.clone(),
        ical_uid: format!("040000008200E00074C5B7101A82E008{}", core.token(32).to_ascii_uppercase()),
        change_key: core.change_key(),
        created: now,
        last_modified: now,
        subject: String::new(),
        body_type: ContentType::Html,
        body: String::new(),
        start: now,
        end: now,
        start_tz: "UTC".into(),
        end_tz: "UTC".into(),
        is_all_day: false,
        location: normalise_location(&json!({})),
        locations: Vec::new(),
        attendees: Vec::new(),
        organizer: json!({"emailAddress": {"name": user.display_name, "address": user.mail}}),
        is_organizer: true,
        is_online_meeting: false,
        online_meeting_provider: "unknown".into(),
        online_meeting: None,
        kind: EventKind::SingleInstance,
        series_master_id: None,
        original_date: None,
        original_start: None,
        recurrence: None,
        cancelled_dates: BTreeSet::new(),
        exceptions: BTreeMap::new(),
        is_cancelled: false,
        sensitivity: "normal".into(),
        show_as: "busy".into(),
        importance: "normal".into(),
        categories: Vec::new(),
        response_status: json!({"response": "organizer", "time": "0001-01-01T00:00:00Z"}),
        extended: BTreeMap::new(),
        organizer_event: None,
    }
}

fn with_applied(resp: Resp, prefs: &Prefs) -> Resp {
    match prefs.applied() {
        Some(applied) => resp.with_header("Preference-Applied", applied),
        None => resp,
    }
}

fn context(core: &Core, user: &User, what: &str) -> String {
    format!("{}/v1.0/$metadata#users('{}')/{what}", core.base_url(), user.id)
}

/// A page of a collection with `@odata.nextLink` when more remain.
pub fn page(core: &Core, req: &Req, context_url: String, items: Vec<Value>, top: usize, skip: usize) -> Value {
    let total = items.len();
    let value: Vec<Value> = items.into_iter().skip(skip).take(top).collect();
    let mut body = json!({"@odata.context": context_url, "value": value});
    if skip + top < total
        && let Some(obj) = body.as_object_mut()
    {
        let mut query: Vec<(String, String)> = req
            .query
            .iter()
            .filter(|(k, _)| !k.trim_start_matches('$').eq_ignore_ascii_case("skip"))
            .cloned()
            .collect();
        query.push(("$skip".into(), (skip + top).to_string()));
        let encoded: String = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(query).finish();
        obj.insert("@odata.nextLink".into(), json!(format!("{}/v1.0{}?{encoded}", core.base_url(), req.path)));
    }
    body
}

/// `GET …/events`: single instances and series masters.
pub fn list(core: &Core, req: &Req, user: &User) -> Result<Resp, GraphError> {
    let prefs = Prefs::from_req(req)?;
    let expand = odata::expand_ids(req)?;
    let filter = odata::extended_filter(req)?;
    let select = odata::select(req);
    let (top, skip) = odata::paging(req, &prefs, core.config.default_page_size)?;
    let store = core.store.lock();
    let mut events: Vec<&EventRecord> = store
        .events
        .values()
        .filter(|e| e.owner == user.id && matches!(e.kind, EventKind::SingleInstance | EventKind::SeriesMaster))
        .filter(|e| filter.as_ref().is_none_or(|(id, value)| e.extended.get(id) == Some(value)))
        .collect();
    events.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| a.id.cmp(&b.id)));
    let opts = RenderOpts { prefs: prefs.clone(), expand: expand.as_deref(), select: select.as_deref() };
    let items = events.iter().map(|e| render::event(e, &opts)).collect::<Result<Vec<_>, _>>()?;
    let body = page(core, req, context(core, user, "events"), items, top, skip);
    Ok(with_applied(Resp::json(200, body), &prefs))
}

/// `POST …/events`.
pub fn create(core: &Core, req: &Req, user: &User, script: bool) -> Result<Resp, GraphError> {
    let prefs = Prefs::from_req(req)?;
    let body =
        req.body.as_ref().ok_or_else(|| GraphError::new(400, "BadRequest", "Empty Payload. JSON content expected."))?;
    if body.get("start").is_none() || body.get("end").is_none() {
        return Err(GraphError::bad_request("An event needs a start and an end."));
    }
    let mut ev = blank(core, user);
    apply(&mut ev, body, script)?;
    teams::provision(core, user, &mut ev, None, body, script);
    let rendered = render::event(&ev, &RenderOpts { prefs: prefs.clone(), ..Default::default() })?;
    let mut changes = vec![Change {
        user_id: user.id.clone(),
        event_id: ev.id.clone(),
        change_type: ChangeType::Created,
        etag: Some(etag(&ev.change_key)),
    }];
    {
        let mut store = core.store.lock();
        let id = ev.id.clone();
        store.events.insert(id.clone(), ev);
        changes.extend(store.sync_attendee_copies(&id, core.now(), &mut || (core.change_key(), core.item_id())));
    }
    core.emit(changes);
    let mut v = rendered;
    if let Some(o) = v.as_object_mut() {
        o.insert("@odata.context".into(), json!(context(core, user, "events/$entity")));
    }
    Ok(with_applied(Resp::json(201, v), &prefs))
}

/// `GET …/events/{id}`.
pub fn get(core: &Core, req: &Req, user: &User, id: &str) -> Result<Resp, GraphError> {
    let prefs = Prefs::from_req(req)?;
    let expand = odata::expand_ids(req)?;
    let select = odata::select(req);
    maybe_bump_on_read(core, user, id);
    let ev = core.store.lock().resolve(&user.id, id)?;
    let opts = RenderOpts { prefs: prefs.clone(), expand: expand.as_deref(), select: select.as_deref() };
    let mut v = render::event(&ev, &opts)?;
    if let Some(o) = v.as_object_mut() {
        o.insert("@odata.context".into(), json!(context(core, user, "events/$entity")));
    }
    Ok(with_applied(Resp::json(200, v), &prefs))
}

/// The `change_key_bumps_on_read` fault: another writer touches the event just before a read.
fn maybe_bump_on_read(core: &Core, user: &User, id: &str) {
    {
        let mut faults = core.faults.write();
        if faults.change_key_bumps_on_read == 0 {
            return;
        }
        faults.change_key_bumps_on_read -= 1;
    }
    let change = {
        let mut store = core.store.lock();
        let target = store.resolve(&user.id, id).ok().map(|e| match e.kind {
            EventKind::Occurrence => e.series_master_id.unwrap_or(e.id),
            _ => e.id,
        });
        target.and_then(|t| store.events.get_mut(&t)).map(|stored| {
            stored.change_key = core.change_key();
            stored.last_modified = core.now();
            Change {
                user_id: user.id.clone(),
                event_id: stored.id.clone(),
                change_type: ChangeType::Updated,
                etag: Some(etag(&stored.change_key)),
            }
        })
    };
    core.emit(change.into_iter().collect());
}

fn check_if_match(req: &Req, ev: &EventRecord) -> Result<(), GraphError> {
    match req.header("if-match") {
        Some(tag) if tag.trim() != "*" && tag.trim() != etag(&ev.change_key) => Err(GraphError::new(
            412,
            "ErrorIrresolvableConflict",
            "The send or update operation could not be performed because the change key passed in the request does not match the current change key for the item.",
        )),
        _ => Ok(()),
    }
}

/// `PATCH …/events/{id}`. Patching an occurrence turns it into an exception.
pub fn patch(core: &Core, req: &Req, user: &User, id: &str, script: bool) -> Result<Resp, GraphError> {
    let prefs = Prefs::from_req(req)?;
    let body =
        req.body.as_ref().ok_or_else(|| GraphError::new(400, "BadRequest", "Empty Payload. JSON content expected."))?;
    let now = core.now();
    let (updated, changes) = {
        let mut store = core.store.lock();
        let current = store.resolve(&user.id, id)?;
        check_if_match(req, &current)?;
        let mut ev = current.clone();
        let mut changes = Vec::new();
        if ev.kind == EventKind::Occurrence {
            ev.kind = EventKind::Exception;
            ev.id = core.item_id();
            ev.created = now;
            let date = ev.original_date.ok_or_else(GraphError::item_not_found)?;
            let master_id = ev.series_master_id.clone().ok_or_else(GraphError::item_not_found)?;
            let master = store.events.get_mut(&master_id).ok_or_else(GraphError::item_not_found)?;
            master.exceptions.insert(date, ev.id.clone());
            master.change_key = core.change_key();
            master.last_modified = now;
            changes.push(Change {
                user_id: user.id.clone(),
                event_id: master_id,
                change_type: ChangeType::Updated,
                etag: Some(etag(&master.change_key)),
            });
        }
        apply(&mut ev, body, script)?;
        if ev.start != current.start {
            check_occurrence_boundary(&store, &ev)?;
        }
        teams::provision(core, user, &mut ev, Some(&current), body, script);
        ev.change_key = core.change_key();
        ev.last_modified = now;
        changes.push(Change {
            user_id: user.id.clone(),
            event_id: ev.id.clone(),
            change_type: ChangeType::Updated,
            etag: Some(etag(&ev.change_key)),
        });
        let id = ev.id.clone();
        store.events.insert(id.clone(), ev.clone());
        changes.extend(store.sync_attendee_copies(&id, now, &mut || (core.change_key(), core.item_id())));
        (ev, changes)
    };
    core.emit(changes);
    let mut v = render::event(&updated, &RenderOpts { prefs: prefs.clone(), ..Default::default() })?;
    if let Some(o) = v.as_object_mut() {
        o.insert("@odata.context".into(), json!(context(core, user, "events/$entity")));
    }
    Ok(with_applied(Resp::json(200, v), &prefs))
}

/// Outlook's documented restriction on moving an instance of a series: it cannot start on or
/// before the day of the previous occurrence, nor on or after the day of the next one (days in
/// the series' time zone), else 400 `ErrorOccurrenceCrossingBoundary`.
fn check_occurrence_boundary(store: &Store, ev: &EventRecord) -> Result<(), GraphError> {
    let (Some(master_id), Some(date)) = (&ev.series_master_id, ev.original_date) else { return Ok(()) };
    let Some(master) = store.events.get(master_id) else { return Ok(()) };
    let Some(rec) = &master.recurrence else { return Ok(()) };
    let day = wire::from_utc(ev.start, &master.start_tz)?.date();
    // Look back in widening windows, so daily series stay cheap and yearly ones are found.
    let previous = [40, 400, 4000].iter().find_map(|span| {
        let from = date.checked_sub_days(chrono::Days::new(*span))?;
        let to = date.pred_opt()?;
        recurrence::occurrence_dates(rec, from, to, usize::MAX).last().copied()
    });
    let next = date.succ_opt().and_then(|from| {
        let to = from.checked_add_days(chrono::Days::new(4000)).unwrap_or(chrono::NaiveDate::MAX);
        recurrence::occurrence_dates(rec, from, to, 1).first().copied()
    });
    if previous.is_some_and(|p| day <= p) || next.is_some_and(|n| day >= n) {
        return Err(GraphError::new(
            400,
            "ErrorOccurrenceCrossingBoundary",
            "Modified occurrence is crossing or overlapping adjacent occurrence.",
        ));
    }
    Ok(())
}

/// `DELETE …/events/{id}`. The organiser's delete cancels attendees' copies.
pub fn delete(core: &Core, req: &Req, user: &User, id: &str) -> Result<Resp, GraphError> {
    let now = core.now();
    let changes = {
        let mut store = core.store.lock();
        let ev = store.resolve(&user.id, id)?;
        check_if_match(req, &ev)?;
        delete_resolved(core, &mut store, &ev, now)
    };
    core.emit(changes);
    Ok(Resp::empty(204))
}

fn delete_resolved(core: &Core, store: &mut Store, ev: &EventRecord, now: DateTime<Utc>) -> Vec<Change> {
    let mut changes = Vec::new();
    match ev.kind {
        EventKind::Occurrence | EventKind::Exception => {
            if ev.kind == EventKind::Exception {
                store.events.remove(&ev.id);
                changes.push(Change {
                    user_id: ev.owner.clone(),
                    event_id: ev.id.clone(),
                    change_type: ChangeType::Deleted,
                    etag: None,
                });
            }
            if let (Some(master_id), Some(date)) = (&ev.series_master_id, ev.original_date)
                && let Some(master) = store.events.get_mut(master_id)
            {
                master.exceptions.remove(&date);
                master.cancelled_dates.insert(date);
                master.change_key = core.change_key();
                master.last_modified = now;
                changes.push(Change {
                    user_id: ev.owner.clone(),
                    event_id: master_id.clone(),
                    change_type: ChangeType::Updated,
                    etag: Some(etag(&master.change_key)),
                });
            }
        }
        EventKind::SingleInstance | EventKind::SeriesMaster => {
            for exception in ev.exceptions.values() {
                if store.events.remove(exception).is_some() {
                    changes.push(Change {
                        user_id: ev.owner.clone(),
                        event_id: exception.clone(),
                        change_type: ChangeType::Deleted,
                        etag: None,
                    });
                }
            }
            if ev.is_organizer
                && let Some(stored) = store.events.get_mut(&ev.id)
            {
                // Mark cancelled so copies follow, then remove the organiser's own item.
                stored.is_cancelled = true;
                changes.extend(store.sync_attendee_copies(&ev.id, now, &mut || (core.change_key(), core.item_id())));
            }
            store.events.remove(&ev.id);
            changes.push(Change {
                user_id: ev.owner.clone(),
                event_id: ev.id.clone(),
                change_type: ChangeType::Deleted,
                etag: None,
            });
        }
    }
    changes
}

/// Reads the required `startDateTime`/`endDateTime` window.
pub fn window(req: &Req) -> Result<(DateTime<Utc>, DateTime<Utc>), GraphError> {
    let missing = || {
        GraphError::new(
            400,
            "ErrorInvalidParameter",
            "This request requires a time window specified by the query string parameters StartDateTime and EndDateTime.",
        )
    };
    let start = req.query("startDateTime").ok_or_else(missing)?;
    let end = req.query("endDateTime").ok_or_else(missing)?;
    let invalid = |v: &str| {
        GraphError::new(
            400,
            "ErrorInvalidParameter",
            format!("The value '{v}' of parameter 'StartDateTime/EndDateTime' is invalid."),
        )
    };
    let start = wire::parse_instant(start).ok_or_else(|| invalid(start))?;
    let end = wire::parse_instant(end).ok_or_else(|| invalid(end))?;
    if end < start {
        return Err(GraphError::new(
            400,
            "ErrorInvalidParameter",
            "The end of the time window must not be before its start.",
        ));
    }
    Ok((start, end))
}

/// `GET …/events/{masterId}/instances?startDateTime=…&endDateTime=…`.
pub fn instances(core: &Core, req: &Req, user: &User, id: &str) -> Result<Resp, GraphError> {
    let prefs = Prefs::from_req(req)?;
    let (start, end) = window(req)?;
    let expand = odata::expand_ids(req)?;
    let select = odata::select(req);
    let (top, skip) = odata::paging(req, &prefs, core.config.default_page_size)?;
    let store = core.store.lock();
    let master = store.resolve(&user.id, id)?;
    let mut items = match master.kind {
        EventKind::SeriesMaster => {
            let mut all = store.occurrences_in(&master, start, end);
            all.extend(store.exceptions_in(&master, start, end));
            all
        }
        // Graph answers a single instance with itself when it falls in the window.
        _ if master.start < end && master.end > start => vec![master],
        _ => Vec::new(),
    };
    super::super::store::sort_instances(&mut items);
    let opts = RenderOpts { prefs: prefs.clone(), expand: expand.as_deref(), select: select.as_deref() };
    let rendered = items.iter().map(|e| render::event(e, &opts)).collect::<Result<Vec<_>, _>>()?;
    let body = page(core, req, context(core, user, "events"), rendered, top, skip);
    Ok(with_applied(Resp::json(200, body), &prefs))
}

/// Renders events for a view.
pub fn render_all(items: &[EventRecord], prefs: &Prefs) -> Result<Vec<Value>, GraphError> {
    let opts = RenderOpts { prefs: prefs.clone(), ..Default::default() };
    items.iter().map(|e| render::event(e, &opts)).collect()
}

/// Keeps only `@odata.*`-free copies of the fields delta removes entries with.
pub fn removed(id: &str) -> Value {
    let mut m = Map::new();
    m.insert("@odata.type".into(), json!("#microsoft.graph.event"));
    m.insert("id".into(), json!(id));
    m.insert("@removed".into(), json!({"reason": "deleted"}));
    Value::Object(m)
}
