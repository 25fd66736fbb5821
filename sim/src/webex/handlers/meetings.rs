//! One-time meetings: `POST /v1/meetings`, `GET /v1/meetings`, `GET`, `PUT` and
//! `DELETE /v1/meetings/{id}`.
//!
//! Every token belongs to the site admin, so the admin is the caller. Webex answers a caller
//! about their own meetings; an admin speaks for a user with `hostEmail` (in the body when
//! scheduling or updating, in the query when reading, listing or deleting). The simulator
//! holds clients to that: a meeting scheduled for Alex is found, changed and deleted with
//! `hostEmail` naming Alex, and is 404 to the admin without it.
//!
//! Webex documents no idempotency header for creating meetings, so none is honoured: a
//! repeated POST schedules a second meeting, exactly as the real service would. Clients that
//! must not book twice look for their own `integrationTags` first.

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Offset as _, TimeZone as _, Utc};
use chrono_tz::Tz;
use serde_json::Value;

use super::body::{Fields, is_email};
use super::{Query, Reply, page};
use crate::webex::core::{Core, Identity, Store};
use crate::webex::error::WebexError;
use crate::webex::model::{Invitee, Meeting, MeetingOptions, RenderContext};

/// Stats key of creating a meeting.
pub const CREATE: &str = "POST /v1/meetings";
/// Stats key of listing meetings.
pub const LIST: &str = "GET /v1/meetings";
/// Stats key of reading a meeting.
pub const GET: &str = "GET /v1/meetings/{id}";
/// Stats key of updating a meeting.
pub const UPDATE: &str = "PUT /v1/meetings/{id}";
/// Stats key of deleting a meeting.
pub const DELETE: &str = "DELETE /v1/meetings/{id}";

/// Longest `title`, in characters.
pub const MAX_TITLE: usize = 128;
/// Longest `agenda`, in characters.
pub const MAX_AGENDA: usize = 1300;
/// Most `integrationTags` on one meeting.
pub const MAX_TAGS: usize = 3;
/// Longest integration tag, in characters.
pub const MAX_TAG_LEN: usize = 64;
/// Most `invitees` in one request.
pub const MAX_INVITEES: usize = 1000;
/// Longest invitee `displayName`, in characters.
pub const MAX_DISPLAY_NAME: usize = 128;

/// Shortest meeting Webex schedules.
fn min_duration() -> Duration {
    Duration::minutes(10)
}

/// Longest meeting Webex schedules: 23 hours 59 minutes.
fn max_duration() -> Duration {
    Duration::hours(23) + Duration::minutes(59)
}

/// How far ahead a meeting may start: less than ten years.
fn max_lead() -> Duration {
    Duration::days(3652)
}

/// Schedules a meeting.
pub fn create(core: &Core, body: Option<&Value>) -> Result<Reply, WebexError> {
    let f = Fields::of(body)?;
    refuse_unsimulated(&f)?;
    let now = core.now();
    let mut store = core.store.lock();
    let s = Schedule::read(&f, &store, now)?;

    // A space meeting belongs to the space and is hosted by the caller, who must be one of
    // its members: Webex ignores hostEmail then, and fails even an admin who is not a member.
    let (host, room_id, invitees) = match f.text("roomId")?.map(str::trim).filter(|r| !r.is_empty()) {
        Some(room_id) => {
            let room = store.rooms.get(room_id).ok_or_else(WebexError::not_found)?;
            if !store.is_member(&room.id, &core.admin_id) {
                return Err(WebexError::new(403, "The caller must be a member of the space specified by roomId."));
            }
            // Without invitees every member of the space but the host is invited, as co-host.
            let invitees = s.invitees.clone().unwrap_or_else(|| {
                store
                    .members_of(room_id)
                    .filter(|m| m.person_id != core.admin_id)
                    .map(|m| Invitee {
                        email: m.person_email.clone(),
                        display_name: m.person_display_name.clone(),
                        co_host: true,
                    })
                    .collect()
            });
            (core.admin(), Some(room_id.to_owned()), invitees)
        }
        None => {
            let host = match f.text("hostEmail")? {
                Some(email) => host_user(core, &store, email)?,
                // Without hostEmail the token's owner hosts, as on the real service.
                None => core.admin(),
            };
            (host, None, s.invitees.clone().unwrap_or_default())
        }
    };

    let site = core.site_host();
    let meeting_number = loop {
        let n = core.digits(11);
        if !store.meetings.values().any(|m| m.meeting_number == n) {
            break n;
        }
    };
    let id = core.hex(32);
    let meeting = Meeting {
        web_link: format!("https://{site}/{}/j.php?MTID=m{}", core.config.site, core.hex(32)),
        sip_address: format!("{meeting_number}@{site}"),
        id: id.clone(),
        meeting_number,
        title: s.title,
        agenda: s.agenda,
        start: s.start,
        end: s.end,
        timezone: s.timezone,
        host_user_id: host.id,
        host_email: host.email,
        host_display_name: host.display_name,
        password: s.password.unwrap_or_else(|| core.password()),
        phone_and_video_system_password: core.digits(8),
        host_key: core.digits(6),
        integration_tags: s.integration_tags,
        invitees,
        room_id,
        options: s.options,
        created: now,
        updates: 0,
    };
    let rendered = meeting.render(&context(core, now, meeting.timezone));
    store.meetings.insert(id, meeting);
    drop(store);
    core.count(|s| &mut s.meetings_created);
    Ok(Reply::Json(rendered))
}

/// Reads a meeting, with start and end in the `timezone` request header's zone (UTC when
/// absent, as Webex does).
pub fn get(core: &Core, id: &str, query: &Query, zone: Option<&str>) -> Result<Reply, WebexError> {
    let zone = header_zone(zone)?;
    query.flag("current")?;
    let store = core.store.lock();
    let acting = acting_user(core, &store, query.get("hostEmail"))?;
    let meeting = store.meetings.get(id).filter(|m| visible_to(m, &acting)).ok_or_else(WebexError::not_found)?;
    Ok(Reply::Json(meeting.render(&context(core, core.now(), zone))))
}

/// Replaces a meeting: `PUT` carries the whole meeting. `title`, `password`, `start` and `end`
/// are required; every other field left out takes its default again, and `integrationTags`
/// left out, null or empty removes the meeting's tags (Webex documents that). The id, meeting
/// number, links, host and invitees stay.
pub fn update(core: &Core, id: &str, body: Option<&Value>) -> Result<Reply, WebexError> {
    let f = Fields::of(body)?;
    refuse_unsimulated(&f)?;
    let now = core.now();
    let mut store = core.store.lock();
    let acting = acting_user(core, &store, f.text("hostEmail")?)?;
    host_check(store.meetings.get(id), &acting)?;
    f.required("password")?;
    let s = Schedule::read(&f, &store, now)?;
    let meeting = store.meetings.get_mut(id).ok_or_else(WebexError::not_found)?;
    meeting.title = s.title;
    meeting.agenda = s.agenda;
    meeting.start = s.start;
    meeting.end = s.end;
    meeting.timezone = s.timezone;
    meeting.integration_tags = s.integration_tags;
    meeting.options = s.options;
    if let Some(password) = s.password {
        meeting.password = password;
    }
    meeting.updates += 1;
    let rendered = meeting.render(&context(core, now, meeting.timezone));
    drop(store);
    core.count(|s| &mut s.meetings_updated);
    Ok(Reply::Json(rendered))
}

/// Deletes a meeting; a second delete finds nothing.
pub fn delete(core: &Core, id: &str, query: &Query) -> Result<Reply, WebexError> {
    query.flag("sendEmail")?;
    let mut store = core.store.lock();
    let acting = acting_user(core, &store, query.get("hostEmail"))?;
    host_check(store.meetings.get(id), &acting)?;
    let meeting = store.meetings.remove(id).ok_or_else(WebexError::not_found)?;
    store.deleted_meetings.push(meeting);
    drop(store);
    core.count(|s| &mut s.meetings_deleted);
    Ok(Reply::NoContent)
}

/// Lists meetings the caller (or the user named by `hostEmail`) hosts or is invited to, as
/// Webex's List Meetings does, with its defaults: `meetingType` `meetingSeries`, a window of
/// `from` (default now, or `to` minus 7 days) to `to` (default `from` plus 7 days) that a
/// meeting must overlap, and pages of `max` (default 10, at most 100). `integrationTag`
/// filters by tag and does not widen the window: a client looking for its tag must pass the
/// window the meeting lies in. `meetingNumber`, `webLink` and `roomId` find meetings
/// whatever their time.
pub fn list(core: &Core, query: &Query, zone: Option<&str>) -> Result<Reply, WebexError> {
    let zone = header_zone(zone)?;
    let now = core.now();
    query.flag("current")?;
    let by_number = query.get("meetingNumber");
    let by_link = query.get("webLink");
    let by_room = query.get("roomId");
    if [by_number, by_link, by_room].iter().filter(|p| p.is_some()).count() > 1 {
        return Err(WebexError::bad_request("meetingNumber, webLink and roomId are mutually exclusive."));
    }
    let meeting_type = query.get("meetingType").unwrap_or("meetingSeries");
    if !matches!(meeting_type, "meetingSeries" | "scheduledMeeting" | "meeting") {
        return Err(WebexError::bad_request(format!("Invalid meetingType: {meeting_type}.")));
    }
    let state = query.get("state");
    let states = ["active", "scheduled", "ready", "lobby", "inProgress", "ended", "missed", "expired"];
    if let Some(s) = state.filter(|s| !states.contains(s)) {
        return Err(WebexError::bad_request(format!("Invalid state: {s}.")));
    }
    let scheduled_type = query.get("scheduledType");
    if let Some(t) = scheduled_type.filter(|t| !["meeting", "webinar", "personalRoomMeeting"].contains(t)) {
        return Err(WebexError::bad_request(format!("Invalid scheduledType: {t}.")));
    }
    let window = window(query, now)?;
    let tag = query.get("integrationTag");
    let series_id = query.get("meetingSeriesId");
    let site = query.get("siteUrl");

    let store = core.store.lock();
    let acting = acting_user(core, &store, query.get("hostEmail"))?;
    let ctx = context(core, now, zone);
    // Another site has none of this site's meetings; only regular meetings are simulated, and
    // Webex ignores scheduledType when listing one series.
    let none_apply = site.is_some_and(|s| !s.eq_ignore_ascii_case(&core.site_host()))
        || (series_id.is_none() && scheduled_type.is_some_and(|t| t != "meeting"));
    let mut found: Vec<&Meeting> = store
        .meetings
        .values()
        .filter(|_| !none_apply)
        .filter(|m| visible_to(m, &acting))
        .filter(|m| match (by_number, by_link, by_room, series_id) {
            (Some(n), ..) => m.meeting_number == n,
            (_, Some(l), ..) => m.web_link == l,
            (_, _, Some(r), _) => m.room_id.as_deref() == Some(r),
            (_, _, _, Some(sid)) => m.id == sid,
            _ => m.start < window.1 && m.end > window.0,
        })
        // Webex ignores integrationTag when listing one series.
        .filter(|m| series_id.is_some() || tag.is_none_or(|t| m.integration_tags.iter().any(|mt| mt == t)))
        .collect();
    found.sort_by(|a, b| a.start.cmp(&b.start).then_with(|| a.id.cmp(&b.id)));

    // One-time meetings have one occurrence each; none ever runs, so there are no instances.
    let by_identity = by_number.is_some() || by_link.is_some() || by_room.is_some();
    let as_occurrences = meeting_type == "scheduledMeeting" || (series_id.is_some() && meeting_type != "meeting");
    let items: Vec<Value> = if meeting_type == "meeting" && !by_identity {
        Vec::new()
    } else if as_occurrences && !by_identity {
        found.iter().map(|m| m.render_occurrence(&ctx)).collect()
    } else {
        found.iter().map(|m| m.render(&ctx)).collect()
    };
    let items = match state.filter(|_| !by_identity) {
        Some(state) => items.into_iter().filter(|i| i["state"] == state).collect(),
        None => items,
    };
    if by_identity {
        // Webex returns every match at once for these lookups and ignores max.
        return Ok(Reply::Page { items, next: None });
    }
    page(items, query, 10, 100)
}

/// What a create or update request asks for, checked.
struct Schedule {
    title: String,
    agenda: String,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    timezone: Tz,
    password: Option<String>,
    integration_tags: Vec<String>,
    invitees: Option<Vec<Invitee>>,
    options: MeetingOptions,
}

impl Schedule {
    fn read(f: &Fields<'_>, store: &Store, now: DateTime<Utc>) -> Result<Self, WebexError> {
        let title = f.required("title")?;
        if title.chars().count() > MAX_TITLE {
            return Err(WebexError::bad_request(format!("title can be at most {MAX_TITLE} characters long.")));
        }
        let (start_raw, end_raw) = (f.required("start")?, f.required("end")?);
        let given_zone = match f.text("timezone")? {
            None => None,
            Some(name) => {
                Some(name.parse::<Tz>().map_err(|_| WebexError::bad_request(format!("Invalid timezone: {name}.")))?)
            }
        };
        let timezone = given_zone.unwrap_or(Tz::UTC);
        let start = parse_time("start", start_raw, timezone, given_zone.is_some())?;
        let end = parse_time("end", end_raw, timezone, given_zone.is_some())?;
        let (start, end) = check_times(start, end, now)?;

        let agenda = f.text("agenda")?.unwrap_or_default();
        if agenda.chars().count() > MAX_AGENDA {
            return Err(WebexError::bad_request(format!("agenda can be at most {MAX_AGENDA} characters long.")));
        }
        let password = match f.text("password")? {
            Some(p) if p.trim().is_empty() => return Err(WebexError::bad_request("password must not be empty.")),
            p => p.map(str::to_owned),
        };
        let integration_tags = f.strings("integrationTags")?.unwrap_or_default();
        if integration_tags.len() > MAX_TAGS {
            return Err(WebexError::bad_request(format!("integrationTags can have at most {MAX_TAGS} items.")));
        }
        if integration_tags.iter().any(|t| t.chars().count() > MAX_TAG_LEN) {
            return Err(WebexError::bad_request(format!(
                "Each item of integrationTags can be at most {MAX_TAG_LEN} characters long."
            )));
        }
        let invitees = match f.array("invitees")? {
            None => None,
            Some(items) => Some(read_invitees(items, store)?),
        };
        Ok(Self {
            title: title.to_owned(),
            agenda: agenda.to_owned(),
            start,
            end,
            timezone,
            password,
            integration_tags: integration_tags.into_iter().map(str::to_owned).collect(),
            invitees,
            options: read_options(f)?,
        })
    }
}

/// Refuses what the simulator does not schedule, rather than scheduling something else:
/// recurring series, webinars, personal-room and ad-hoc meetings, templates.
fn refuse_unsimulated(f: &Fields<'_>) -> Result<(), WebexError> {
    let unsupported = |what: &str| {
        Err(WebexError::bad_request(format!(
            "{what} is not supported by the simulator, which schedules one-time meetings."
        )))
    };
    if f.has("recurrence") {
        return unsupported("recurrence");
    }
    if f.flag("adhoc")? == Some(true) {
        return unsupported("adhoc");
    }
    if f.has("templateId") {
        return unsupported("templateId");
    }
    match f.text("scheduledType")? {
        None | Some("meeting") => Ok(()),
        Some("webinar" | "personalRoomMeeting") => unsupported("This scheduledType"),
        Some(other) => Err(WebexError::bad_request(format!("Invalid scheduledType: {other}."))),
    }
}

fn read_invitees(items: &[Value], store: &Store) -> Result<Vec<Invitee>, WebexError> {
    if items.len() > MAX_INVITEES {
        return Err(WebexError::bad_request(format!("invitees can have at most {MAX_INVITEES} items.")));
    }
    let mut out: Vec<Invitee> = Vec::with_capacity(items.len());
    for item in items {
        let f = Fields::of(Some(item)).map_err(|_| WebexError::bad_request("Each invitee must be an object."))?;
        let email = f.required("email")?.trim();
        if !is_email(email) {
            return Err(WebexError::bad_request(format!("Invalid invitee email: {email}.")));
        }
        let display_name = match f.text("displayName")? {
            Some(name) if name.chars().count() > MAX_DISPLAY_NAME => {
                return Err(WebexError::bad_request(format!(
                    "displayName can be at most {MAX_DISPLAY_NAME} characters long."
                )));
            }
            Some(name) if !name.trim().is_empty() => name.to_owned(),
            // Webex takes the registered name, or the address when it knows no one by it.
            _ => store.person(email).map_or_else(|| email.to_owned(), |p| p.display_name.clone()),
        };
        // The same address twice is one invitee.
        if out.iter().any(|i| i.email.eq_ignore_ascii_case(email)) {
            continue;
        }
        out.push(Invitee { email: email.to_owned(), display_name, co_host: f.flag("coHost")?.unwrap_or(false) });
    }
    Ok(out)
}

fn read_options(f: &Fields<'_>) -> Result<MeetingOptions, WebexError> {
    let d = MeetingOptions::default();
    let flag = |name: &str, default: bool| f.flag(name).map(|v| v.unwrap_or(default));
    let join_before_host_minutes = f.number("joinBeforeHostMinutes")?.unwrap_or(d.join_before_host_minutes);
    if ![0, 5, 10, 15].contains(&join_before_host_minutes) {
        return Err(WebexError::bad_request("joinBeforeHostMinutes must be 0, 5, 10 or 15."));
    }
    let security = f.text("unlockedMeetingJoinSecurity")?.unwrap_or(&d.unlocked_meeting_join_security);
    if !["allowJoin", "allowJoinWithLobby", "blockFromJoin"].contains(&security) {
        return Err(WebexError::bad_request(format!("Invalid unlockedMeetingJoinSecurity: {security}.")));
    }
    Ok(MeetingOptions {
        enabled_auto_record_meeting: flag("enabledAutoRecordMeeting", d.enabled_auto_record_meeting)?,
        allow_any_user_to_be_co_host: flag("allowAnyUserToBeCoHost", d.allow_any_user_to_be_co_host)?,
        enabled_join_before_host: flag("enabledJoinBeforeHost", d.enabled_join_before_host)?,
        enable_connect_audio_before_host: flag("enableConnectAudioBeforeHost", d.enable_connect_audio_before_host)?,
        join_before_host_minutes,
        exclude_password: flag("excludePassword", d.exclude_password)?,
        public_meeting: flag("publicMeeting", d.public_meeting)?,
        reminder_time: f.number("reminderTime")?.unwrap_or(d.reminder_time),
        unlocked_meeting_join_security: security.to_owned(),
        enable_automatic_lock: flag("enableAutomaticLock", d.enable_automatic_lock)?,
        automatic_lock_minutes: f.number("automaticLockMinutes")?.unwrap_or(d.automatic_lock_minutes),
        allow_first_user_to_be_co_host: flag("allowFirstUserToBeCoHost", d.allow_first_user_to_be_co_host)?,
        allow_authenticated_devices: flag("allowAuthenticatedDevices", d.allow_authenticated_devices)?,
        send_email: flag("sendEmail", d.send_email)?,
    })
}

/// The licensed user `email` names as host; the admin's own address names the admin.
fn host_user(core: &Core, store: &Store, email: &str) -> Result<Identity, WebexError> {
    let email = email.trim();
    if email.eq_ignore_ascii_case(&core.config.admin_email) {
        return Ok(core.admin());
    }
    store
        .user(email)
        .map(|p| Identity { id: p.id.clone(), email: p.email.clone(), display_name: p.display_name.clone() })
        .ok_or_else(|| WebexError::bad_request("hostEmail does not belong to a user of this site."))
}

/// Whom a request speaks for: the user named by `hostEmail`, else the caller (the admin).
fn acting_user(core: &Core, store: &Store, host_email: Option<&str>) -> Result<Identity, WebexError> {
    match host_email.map(str::trim).filter(|e| !e.is_empty()) {
        Some(email) => host_user(core, store, email),
        None => Ok(core.admin()),
    }
}

/// Whether `who` hosts or is invited to the meeting (what Webex shows a user).
fn visible_to(m: &Meeting, who: &Identity) -> bool {
    m.host_user_id == who.id || m.invitees.iter().any(|i| i.email.eq_ignore_ascii_case(&who.email))
}

/// Only the host changes or deletes a meeting: 404 when `who` cannot see it at all, 403
/// when they are only invited.
fn host_check(m: Option<&Meeting>, who: &Identity) -> Result<(), WebexError> {
    match m {
        Some(m) if m.host_user_id == who.id => Ok(()),
        Some(m) if visible_to(m, who) => {
            Err(WebexError::new(403, "Only the meeting host can change or delete the meeting."))
        }
        _ => Err(WebexError::not_found()),
    }
}

fn context(core: &Core, now: DateTime<Utc>, zone: Tz) -> RenderContext<'_> {
    RenderContext {
        site: &core.config.site,
        dial_in_ip_address: &core.config.dial_in_ip_address,
        call_in_numbers: &core.config.call_in_numbers,
        now,
        zone,
    }
}

/// The zone of the `timezone` request header, UTC when absent.
fn header_zone(header: Option<&str>) -> Result<Tz, WebexError> {
    match header.map(str::trim).filter(|h| !h.is_empty()) {
        None => Ok(Tz::UTC),
        Some(name) => name.parse::<Tz>().map_err(|_| WebexError::bad_request(format!("Invalid timezone: {name}."))),
    }
}

/// Webex keeps whole minutes: a start within the current minute moves to the next one, other
/// starts and all ends lose their seconds. Then: the start may not be in the past, the end
/// not before the start or now, the meeting lasts 10 minutes to 23 hours 59 minutes, and it
/// starts less than ten years ahead.
fn check_times(
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(DateTime<Utc>, DateTime<Utc>), WebexError> {
    let this_minute = whole_minute(now);
    let mut start = whole_minute(start);
    let end = whole_minute(end);
    if start < this_minute {
        return Err(WebexError::bad_request("start cannot be before the current date and time."));
    }
    if start == this_minute {
        start += Duration::minutes(1);
    }
    if end <= now {
        return Err(WebexError::bad_request("end cannot be before the current date and time."));
    }
    if end <= start {
        return Err(WebexError::bad_request("end cannot be before start."));
    }
    if end - start < min_duration() {
        return Err(WebexError::bad_request("The duration of a meeting cannot be shorter than 10 minutes."));
    }
    if end - start > max_duration() {
        return Err(WebexError::bad_request("The duration of a meeting cannot be longer than 23 hours 59 minutes."));
    }
    if start >= now + max_lead() {
        return Err(WebexError::bad_request("A meeting cannot start 10 years or more in the future."));
    }
    Ok((start, end))
}

fn whole_minute(at: DateTime<Utc>) -> DateTime<Utc> {
    let secs = at.timestamp();
    DateTime::from_timestamp(secs - secs.rem_euclid(60), 0).unwrap_or(at)
}

/// The listing window, with Webex's defaults for `meetingSeries` and `scheduledMeeting`
/// (from now for 7 days) and for `meeting` instances (the 7 days up to now).
fn window(query: &Query, now: DateTime<Utc>) -> Result<(DateTime<Utc>, DateTime<Utc>), WebexError> {
    let week = Duration::days(7);
    let from = query.get("from").map(|v| parse_query_time("from", v)).transpose()?;
    let to = query.get("to").map(|v| parse_query_time("to", v)).transpose()?;
    let instances = query.get("meetingType") == Some("meeting");
    let (from, to) = match (from, to) {
        (Some(f), Some(t)) => (f, t),
        (Some(f), None) => (f, f + week),
        (None, Some(t)) => (t - week, t),
        (None, None) if instances => (now - week, now),
        (None, None) => (now, now + week),
    };
    if from > to {
        return Err(WebexError::bad_request("from cannot be after to."));
    }
    Ok((from, to))
}

/// `from` and `to` "in any ISO 8601 compliant format": with an offset, a UTC local time or a
/// date (midnight UTC).
fn parse_query_time(field: &str, value: &str) -> Result<DateTime<Utc>, WebexError> {
    if let Ok(at) = parse_time(field, value, Tz::UTC, false) {
        return Ok(at);
    }
    NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
        .ok_or_else(|| WebexError::bad_request(format!("Invalid {field}: expected an ISO 8601 date and time.")))
}

/// An ISO 8601 time as Webex accepts it: with an offset, or local time in `timezone`. When the
/// request named a time zone, an offset must be that zone's offset at that time: Webex refuses
/// `"2023-03-27T05:30:00Z"` with `"timezone": "Asia/Calcutta"` (seen from a public client).
fn parse_time(field: &str, value: &str, timezone: Tz, zone_given: bool) -> Result<DateTime<Utc>, WebexError> {
    let invalid = || WebexError::bad_request(format!("Invalid {field}: expected an ISO 8601 date and time."));
    if let Ok(at) = DateTime::parse_from_rfc3339(value) {
        let utc = at.with_timezone(&Utc);
        let zone_offset = utc.with_timezone(&timezone).offset().fix();
        if zone_given && *at.offset() != zone_offset {
            return Err(WebexError::bad_request(format!(
                "timezone '{}' and timezone offset in '{value}' do not match",
                timezone.name()
            )));
        }
        return Ok(utc);
    }
    let naive = ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(value, format).ok())
        .ok_or_else(invalid)?;
    // A local time skipped by a DST change does not exist; one repeated by it is taken at its
    // first occurrence.
    timezone.from_local_datetime(&naive).earliest().map(|at| at.with_timezone(&Utc)).ok_or_else(invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn times_with_offsets_and_local_times_in_the_named_zone() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        assert_eq!(
            parse_time("start", "2026-05-04T10:00:00+02:00", Tz::UTC, false).unwrap(),
            utc("2026-05-04T08:00:00Z")
        );
        assert_eq!(parse_time("start", "2026-05-04T10:00:00", berlin, true).unwrap(), utc("2026-05-04T08:00:00Z"));
        assert_eq!(parse_time("start", "2026-05-04 10:00:00", Tz::UTC, false).unwrap(), utc("2026-05-04T10:00:00Z"));
        assert_eq!(
            parse_time("start", "2026-05-04T10:00:00+02:00", berlin, true).unwrap(),
            utc("2026-05-04T08:00:00Z")
        );
        // 02:30 does not exist in Berlin on the night clocks go forward.
        assert!(parse_time("start", "2026-03-29T02:30:00", berlin, true).is_err());
        assert!(parse_time("start", "tomorrow", Tz::UTC, false).is_err());
    }

    #[test]
    fn an_offset_that_is_not_the_named_zones_is_refused() {
        let kolkata: Tz = "Asia/Kolkata".parse().unwrap();
        let err = parse_time("start", "2026-05-04T05:30:00Z", kolkata, true).unwrap_err();
        assert_eq!(err.message, "timezone 'Asia/Kolkata' and timezone offset in '2026-05-04T05:30:00Z' do not match");
        // Winter time in Berlin is +01:00, so +02:00 in January does not match.
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        assert!(parse_time("start", "2026-01-12T10:00:00+02:00", berlin, true).is_err());
        assert!(parse_time("start", "2026-01-12T10:00:00+01:00", berlin, true).is_ok());
        // Without a named zone any offset is fine.
        assert!(parse_time("start", "2026-05-04T05:30:00Z", Tz::UTC, false).is_ok());
        assert!(parse_time("start", "2026-05-04T05:30:00Z", Tz::UTC, true).is_ok());
    }

    #[test]
    fn times_keep_whole_minutes_and_webex_limits() {
        let now = utc("2026-03-01T10:32:16Z");
        // Within the current minute: the next minute.
        let (s, e) = check_times(utc("2026-03-01T10:32:41Z"), utc("2026-03-01T11:52:28Z"), now).unwrap();
        assert_eq!((s, e), (utc("2026-03-01T10:33:00Z"), utc("2026-03-01T11:52:00Z")));
        // Later starts lose their seconds.
        let (s, _) = check_times(utc("2026-03-01T11:32:28Z"), utc("2026-03-01T12:00:00Z"), now).unwrap();
        assert_eq!(s, utc("2026-03-01T11:32:00Z"));
        let refused = [
            ("2026-03-01T10:31:59Z", "2026-03-01T11:00:00Z"),
            ("2026-03-01T11:00:00Z", "2026-03-01T10:50:00Z"),
            ("2026-03-01T11:00:00Z", "2026-03-01T11:09:00Z"),
            ("2026-03-01T11:00:00Z", "2026-03-02T11:00:00Z"),
            ("2036-03-01T11:00:00Z", "2036-03-01T12:00:00Z"),
        ];
        for (start, end) in refused {
            assert!(check_times(utc(start), utc(end), now).is_err(), "{start} – {end}");
        }
        assert!(check_times(utc("2026-03-01T11:00:00Z"), utc("2026-03-02T10:59:00Z"), now).is_ok());
        assert!(check_times(utc("2026-03-01T11:00:00Z"), utc("2026-03-01T11:10:00Z"), now).is_ok());
    }

    #[test]
    fn listing_windows_default_as_webex_documents() {
        let now = utc("2026-03-01T10:00:00Z");
        let w = |q: &str| window(&Query::parse(q), now);
        assert_eq!(w("").unwrap(), (now, utc("2026-03-08T10:00:00Z")));
        assert_eq!(w("meetingType=meeting").unwrap(), (utc("2026-02-22T10:00:00Z"), now));
        assert_eq!(w("from=2026-04-01").unwrap(), (utc("2026-04-01T00:00:00Z"), utc("2026-04-08T00:00:00Z")));
        assert_eq!(w("to=2026-04-08T00:00:00Z").unwrap(), (utc("2026-04-01T00:00:00Z"), utc("2026-04-08T00:00:00Z")));
        assert!(w("from=2026-04-08&to=2026-04-01").is_err());
        assert!(w("from=soon").is_err());
    }
}
