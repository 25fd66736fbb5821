//! `POST /v1/meetings`, `GET /v1/meetings/{id}` and `DELETE /v1/meetings/{id}`.
//!
//! Webex documents no idempotency header for creating meetings, so none is honoured: a
//! repeated POST schedules a second meeting, exactly as the real service would.

use chrono::{DateTime, NaiveDateTime, TimeZone as _, Utc};
use chrono_tz::Tz;
use serde_json::Value;

use super::Reply;
use crate::webex::core::Core;
use crate::webex::error::WebexError;
use crate::webex::model::Meeting;

/// Stats key of creating a meeting.
pub const CREATE: &str = "POST /v1/meetings";
/// Stats key of reading a meeting.
pub const GET: &str = "GET /v1/meetings/{id}";
/// Stats key of deleting a meeting.
pub const DELETE: &str = "DELETE /v1/meetings/{id}";

/// Schedules a meeting from `{title, start, end, timezone?, hostEmail?, agenda?}`.
pub fn create(core: &Core, body: Option<&Value>) -> Result<Reply, WebexError> {
    let Some(body) = body.and_then(Value::as_object) else {
        return Err(WebexError::bad_request("The request body must be a JSON object."));
    };
    let text = |name: &str| -> Result<Option<&str>, WebexError> {
        match body.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(_) => Err(WebexError::bad_request(format!("{name} must be a string."))),
        }
    };
    let required = |name: &str| -> Result<&str, WebexError> {
        text(name)?
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| WebexError::bad_request(format!("Missing required field: {name}.")))
    };
    let title = required("title")?;
    let (start, end) = (required("start")?, required("end")?);
    let timezone = match text("timezone")? {
        None => Tz::UTC,
        Some(name) => name.parse::<Tz>().map_err(|_| WebexError::bad_request(format!("Invalid timezone: {name}.")))?,
    };
    let start = parse_time("start", start, timezone)?;
    let end = parse_time("end", end, timezone)?;
    if end <= start {
        return Err(WebexError::bad_request("The end time must be later than the start time."));
    }
    let agenda = text("agenda")?.unwrap_or_default().to_owned();

    let site = core.site_host();
    let mut store = core.store.lock();
    let (host_user_id, host_email, host_display_name) = match text("hostEmail")? {
        Some(email) => {
            let person = store
                .person(email)
                .ok_or_else(|| WebexError::bad_request("hostEmail does not belong to a user of this site."))?;
            (person.id.clone(), person.email.clone(), person.display_name.clone())
        }
        // Without hostEmail the token's owner hosts, as on the real service.
        None => (core.admin_id.clone(), core.config.admin_email.clone(), "Webex Admin".to_owned()),
    };
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
        title: title.to_owned(),
        agenda,
        start,
        end,
        timezone,
        host_user_id,
        host_email,
        host_display_name,
        password: core.password(),
        phone_and_video_system_password: core.digits(8),
    };
    let rendered = render(core, &meeting);
    store.meetings.insert(id, meeting);
    Ok(Reply::Json(rendered))
}

/// Reads a meeting.
pub fn get(core: &Core, id: &str) -> Result<Reply, WebexError> {
    let store = core.store.lock();
    let meeting = store.meetings.get(id).ok_or_else(WebexError::not_found)?;
    Ok(Reply::Json(render(core, meeting)))
}

/// Deletes a meeting; a second delete finds nothing.
pub fn delete(core: &Core, id: &str) -> Result<Reply, WebexError> {
    core.store.lock().meetings.remove(id).map(|_| Reply::NoContent).ok_or_else(WebexError::not_found)
}

fn render(core: &Core, meeting: &Meeting) -> Value {
    meeting.render(&core.config.site, &core.config.dial_in_ip_address, &core.config.call_in_numbers)
}

/// An ISO 8601 time as Webex accepts it: with an offset, or local time in `timezone`.
fn parse_time(field: &str, value: &str, timezone: Tz) -> Result<DateTime<Utc>, WebexError> {
    let invalid = || WebexError::bad_request(format!("Invalid {field}: expected an ISO 8601 date and time."));
    if let Ok(at) = DateTime::parse_from_rfc3339(value) {
        return Ok(at.with_timezone(&Utc));
    }
    let naive = ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M"]
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

    #[test]
    fn times_with_offsets_and_local_times_in_the_named_zone() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        let utc = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        assert_eq!(parse_time("start", "2026-05-04T10:00:00+02:00", Tz::UTC).unwrap(), utc("2026-05-04T08:00:00Z"));
        assert_eq!(parse_time("start", "2026-05-04T10:00:00", berlin).unwrap(), utc("2026-05-04T08:00:00Z"));
        assert_eq!(parse_time("start", "2026-05-04 10:00:00", Tz::UTC).unwrap(), utc("2026-05-04T10:00:00Z"));
        // 02:30 does not exist in Berlin on the night clocks go forward.
        assert!(parse_time("start", "2026-03-29T02:30:00", berlin).is_err());
        assert!(parse_time("start", "tomorrow", Tz::UTC).is_err());
    }
}
