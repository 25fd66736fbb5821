//! Teams meetings as Exchange creates them for events: `isOnlineMeeting: true` with
//! `onlineMeetingProvider: "teamsForBusiness"` makes Graph fill the read-only `onlineMeeting`
//! (`joinUrl`, and `conferenceId`/`tollNumber` where the tenant has audio conferencing) and
//! Exchange add a join block to the HTML body. The documented rules kept here:
//!
//! - once the meeting exists, later changes of `isOnlineMeeting` are ignored and the provider
//!   cannot change: the meeting stays online;
//! - removing the meeting block from the body (a body PATCH without the join URL) disables the
//!   online meeting, unless the same PATCH asks for one again, which makes a new meeting;
//! - `onlineMeeting` and `onlineMeetingUrl` in a request body are ignored, as Graph ignores
//!   read-only properties; only the script (Teams itself) sets `onlineMeeting` directly.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::core::Core;
use super::model::{EventRecord, User};
use super::wire::{self, ContentType};

/// The provider whose meetings the simulator creates.
pub const TEAMS: &str = "teamsForBusiness";

/// Whether `body` (a create or PATCH body) names `property`, in any case.
fn names(body: &Value, property: &str) -> bool {
    body.as_object().is_some_and(|o| o.keys().any(|k| k.eq_ignore_ascii_case(property)))
}

/// The join URL of an event's meeting, if it has one.
fn join_url(ev: &EventRecord) -> Option<&str> {
    ev.online_meeting.as_ref().and_then(|m| m.get("joinUrl")).and_then(Value::as_str)
}

/// Applies Exchange's online-meeting rules after `body` was applied to `ev`; `previous` is the
/// event before a PATCH (`None` on create). `organizer` owns the event.
pub fn provision(
    core: &Core,
    organizer: &User,
    ev: &mut EventRecord,
    previous: Option<&EventRecord>,
    body: &Value,
    script: bool,
) {
    if script && names(body, "onlineMeeting") {
        // Teams (the script) set the meeting itself.
        return;
    }
    let asked = names(body, "isOnlineMeeting") && ev.is_online_meeting;
    if let Some(before) = previous.filter(|p| p.online_meeting.is_some()) {
        // The meeting stays online whatever isOnlineMeeting and onlineMeetingProvider say now.
        ev.is_online_meeting = true;
        ev.online_meeting_provider.clone_from(&before.online_meeting_provider);
        let blob_removed = names(body, "body")
            && join_url(before).is_some_and(|url| before.body.contains(url) && !ev.body.contains(url));
        if !blob_removed {
            return;
        }
        ev.online_meeting = None;
        if !asked {
            ev.is_online_meeting = false;
            ev.online_meeting_provider = "unknown".into();
            return;
        }
    }
    if !ev.is_online_meeting || ev.online_meeting.is_some() {
        return;
    }
    // Without a provider, Graph uses the calendar's default one, Teams in Microsoft 365.
    if ev.online_meeting_provider == "unknown" {
        ev.online_meeting_provider = TEAMS.into();
    }
    if ev.online_meeting_provider != TEAMS {
        // Skype meetings are not simulated.
        return;
    }
    create(core, organizer, ev);
}

/// Creates a Teams meeting for `ev`: fills `onlineMeeting` and appends the join block.
fn create(core: &Core, organizer: &User, ev: &mut EventRecord) {
    // Teams thread ids are base64 of a GUID; the context names the tenant and the organiser.
    let thread = STANDARD.encode(core.guid());
    let join_url = format!(
        "https://teams.microsoft.com/l/meetup-join/19%3ameeting_{thread}%40thread.v2/0?context=%7b%22Tid%22%3a%22{}%22%2c%22Oid%22%3a%22{}%22%7d",
        organizer.tenant_id, organizer.id
    );
    let meeting_id: Vec<String> = (0..4).map(|_| core.digits(3)).collect();
    let meeting_id = meeting_id.join(" ");
    let passcode = core.token(6);
    let mut meeting = json!({"joinUrl": join_url});
    let mut dial_in = String::new();
    if let (Some(toll), Some(obj)) = (&core.config.teams_toll_number, meeting.as_object_mut()) {
        let conference_id = core.digits(9);
        dial_in = format!(
            "<div><span>Dial in by phone</span><br>\r\n<span>{} ,,{conference_id}#</span><br>\r\n<span>Phone conference ID: {conference_id}#</span></div>\r\n",
            wire::escape_html(toll)
        );
        obj.insert("conferenceId".into(), json!(conference_id));
        obj.insert("tollNumber".into(), json!(toll));
    }
    let rule = "<div>________________________________________________________________________________</div>\r\n";
    let block = format!(
        "<div class=\"teams-meeting\">\r\n{rule}<div><span>Microsoft Teams meeting</span></div>\r\n<div><span>Join on your computer, mobile app or room device</span></div>\r\n<div><a href=\"{href}\" target=\"_blank\" rel=\"noreferrer noopener\">Join the meeting now</a></div>\r\n<div><span>Meeting ID: </span><span>{meeting_id}</span><br>\r\n<span>Passcode: </span><span>{passcode}</span></div>\r\n{dial_in}{rule}</div>",
        href = wire::escape_html(&join_url),
    );
    // Exchange writes the block into an HTML body; a text body becomes HTML for it.
    let html = match ev.body_type {
        ContentType::Html => ev.body.clone(),
        ContentType::Text if ev.body.is_empty() => String::new(),
        ContentType::Text => wire::convert_body(&ev.body, ContentType::Text, ContentType::Html),
    };
    ev.body_type = ContentType::Html;
    ev.body = if html.trim().is_empty() { wire::html_document(&block) } else { wire::append_to_body(&html, &block) };
    ev.online_meeting = Some(meeting);
}
