//! Meetings booked on Webex for an invite: [`BookingKind::OneTime`] is a scheduled meeting the
//! organiser hosts, [`BookingKind::Space`] a space (a chat room) whose members are the
//! organiser and the attendees, with a meeting scheduled in it.
//!
//! **Never two meetings for one key.** Webex has no idempotency header: the same
//! `POST /v1/meetings` twice schedules two meetings. Every meeting hcal books therefore carries
//! the booking key as its integration tag (`integrationTags: [key]`), and every booking first
//! looks for a meeting with that tag (`GET /v1/meetings?integrationTag=…`), returning it when
//! found. A tag lookup does not widen Webex's default listing window (now to 7 days ahead), so
//! it passes its own: from a day before the earlier of the start and now, to a day after the
//! end. A `POST` that fails in a retryable way (5xx, 429, a timeout, a lost answer) may still
//! have scheduled the meeting, so the lookup is repeated before each retry of the `POST`; a
//! booking repeated after a crash or a transient failure starts with the lookup too.
//! (Only a meeting that ended more than a day before the repeated booking lies outside that
//! window, and would be booked again.)
//!
//! **Webex's scheduling rules, applied here** so that Webex accepts what hcal sends (Webex
//! keeps times to the minute, and so does hcal):
//! - A meeting cannot start in the past. A start before now (a meeting already running, or an
//!   invite hcal sees late) becomes the start of the minute after next: at least one and at
//!   most two minutes from now, so a minute boundary passing while the request travels cannot
//!   put it in the past.
//! - A meeting lasts at least 10 minutes and at most 23 hours 59 minutes: the end is moved to
//!   10 minutes after the start, or to 23 h 59 min after it, when the invite is shorter or
//!   longer. The invite itself keeps its times.
//! - The title is the invite's subject, cut to 128 characters (Webex's limit) on a character
//!   boundary, control characters as spaces; an invite without subject is titled
//!   [`FALLBACK_TITLE`].
//! - Times are sent in UTC (`…Z`, with `"timezone": "UTC"`).
//! - Invitees are the attendees' addresses and display names: the organiser (the host) left
//!   out, each address once, addresses that are not addresses left out, at most 1000.
//! - `sendEmail` is `false`: hcal writes the join details into the invite itself, and Webex's
//!   own invitations would be a second, differently worded invite.
//!
//! **One-time meetings** are scheduled, read, moved and deleted for the organiser with
//! `hostEmail`, which must name a licensed user of the site.
//!
//! **Space meetings.** hcal creates the space (`POST /v1/rooms`), adds the organiser and each
//! attendee (`POST /v1/memberships`; someone already a member is fine, someone Webex refuses
//! as unknown or invalid is left out rather than failing the booking) and schedules the
//! meeting with `roomId`. Webex ignores `hostEmail` there: the token's identity, a member as
//! the space's creator, hosts it, and Webex invites every other member. Moving such a meeting
//! therefore speaks for the token's identity, and deleting one falls back to it when Webex
//! says the organiser is only invited. The meeting carries the tag like a one-time meeting, so
//! it is never booked twice; but a crash or a failure between creating the space and
//! scheduling its meeting leaves that space behind, empty or partly filled, and the repeated
//! booking creates a new one.
//!
//! **Moving a meeting** (`PUT /v1/meetings/{id}`) sends the whole meeting: Webex requires the
//! title, times and the meeting's password (read just before with `GET`, held in memory for
//! that one request, never logged), and a `PUT` without `integrationTags` would remove the
//! tag, so the key is sent again. Invitees are kept by Webex. **Deleting** a meeting Webex no
//! longer has counts as deleted.
//!
//! The response fields `hostKey`, `password` and `phoneAndVideoSystemPassword` are not read
//! into a [`Booking`]; dial-in numbers are not kept either ([`MeetingRoom`] has the meeting
//! number, not the numbers to dial).

use std::collections::HashSet;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use hcal_actors::ports::{Booking, BookingKind, BookingRequest, EmailAddress, MeetingRoom, PlatformFailure};
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Op, Outcome, PLATFORM, Request, WebexClient, decode, non_empty, organizer, served};

/// The title of a meeting booked for an invite without subject (Webex requires a title).
pub const FALLBACK_TITLE: &str = "Meeting";

/// Longest title Webex accepts, in characters.
const MAX_TITLE: usize = 128;
/// Most invitees Webex accepts in one request; also the most members hcal adds to a space.
const MAX_INVITEES: usize = 1000;
/// Longest invitee display name Webex accepts, in characters.
const MAX_DISPLAY_NAME: usize = 128;
/// Longest integration tag Webex accepts, in characters.
const MAX_KEY: usize = 64;

const MEETINGS: [&str; 2] = ["v1", "meetings"];
const ROOMS: [&str; 2] = ["v1", "rooms"];
const MEMBERSHIPS: [&str; 2] = ["v1", "memberships"];

/// Shortest meeting Webex schedules.
fn min_duration() -> TimeDelta {
    TimeDelta::minutes(10)
}

/// Longest meeting Webex schedules: 23 hours 59 minutes.
fn max_duration() -> TimeDelta {
    TimeDelta::hours(23) + TimeDelta::minutes(59)
}

/// Whom a meeting request speaks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Host<'a> {
    /// The organiser, named with `hostEmail`: one-time meetings.
    Organizer(&'a str),
    /// The token's own identity, which hosts the meetings of the spaces it creates.
    Caller,
}

impl<'a> Host<'a> {
    fn of(kind: BookingKind, organizer: &'a str) -> Self {
        match kind {
            BookingKind::OneTime => Self::Organizer(organizer),
            BookingKind::Space => Self::Caller,
        }
    }

    fn email(self) -> Option<&'a str> {
        match self {
            Self::Organizer(address) => Some(address),
            Self::Caller => None,
        }
    }
}

/// A tag lookup: the meeting of `kind` tagged `key`, hosted by `host`, overlapping
/// `from..to`.
struct Lookup<'a> {
    kind: BookingKind,
    key: &'a str,
    host: Host<'a>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
}

impl WebexClient {
    /// [`hcal_actors::ports::MeetingPlatform::book`].
    pub(super) async fn book_meeting(&self, request: &BookingRequest) -> Result<Booking, PlatformFailure> {
        let organizer = checked(request)?;
        let now = Utc::now();
        let (start, end) = schedule(request.start, request.end, now);
        let title = title(&request.title);
        let lookup = Lookup {
            kind: request.kind,
            key: &request.key,
            host: Host::of(request.kind, organizer),
            from: request.start.min(now) - TimeDelta::days(1),
            to: request.end.max(end) + TimeDelta::days(1),
        };
        match request.kind {
            BookingKind::OneTime => {
                let mut body = json!({
                    "title": title,
                    "start": wire_time(start),
                    "end": wire_time(end),
                    "timezone": "UTC",
                    "hostEmail": organizer,
                    "integrationTags": [request.key],
                    "sendEmail": false,
                });
                let invitees = invitees(organizer, &request.attendees);
                if !invitees.is_empty() {
                    body["invitees"] = Value::Array(invitees);
                }
                self.create_meeting(&lookup, body, false).await
            }
            BookingKind::Space => {
                if let Some(found) = self.find(&lookup).await? {
                    tracing::debug!("found the Webex space meeting booked earlier under this key");
                    return Ok(found);
                }
                let room_id = self.create_space(&title).await?;
                self.add_members(&room_id, organizer, &request.attendees).await?;
                // No hostEmail (Webex ignores it for a space) and no invitees: Webex invites
                // the space's members.
                let body = json!({
                    "roomId": room_id,
                    "title": title,
                    "start": wire_time(start),
                    "end": wire_time(end),
                    "timezone": "UTC",
                    "integrationTags": [request.key],
                    "sendEmail": false,
                });
                self.create_meeting(&lookup, body, true).await
            }
        }
    }

    /// [`hcal_actors::ports::MeetingPlatform::reschedule`].
    pub(super) async fn reschedule_meeting(
        &self,
        booking_id: &str,
        request: &BookingRequest,
    ) -> Result<(), PlatformFailure> {
        let organizer = checked(request)?;
        let id = meeting_id(booking_id)?;
        let host = Host::of(request.kind, organizer);
        let path = [MEETINGS[0], MEETINGS[1], id];

        let mut read = Request::new(Op::ReadMeeting, Method::GET, &path);
        if let Some(address) = host.email() {
            read = read.query("hostEmail", address);
        }
        let answer = self.success(Op::ReadMeeting, self.call(&read).await?)?;
        let Some(password) = decode::<PasswordWire>(Op::ReadMeeting, &answer)?.password.filter(|p| !p.0.is_empty())
        else {
            tracing::warn!(tracking_id = %answer.tracking, "Webex returned the meeting without its password");
            return Err(PlatformFailure::Refused(
                "Webex returned the meeting without the password that moving it needs".to_owned(),
            ));
        };

        let (start, end) = schedule(request.start, request.end, Utc::now());
        let mut body = json!({
            "title": title(&request.title),
            "password": password.0,
            "start": wire_time(start),
            "end": wire_time(end),
            "timezone": "UTC",
            // Left out, the tag would be removed and the meeting no longer found by its key.
            "integrationTags": [request.key],
            "sendEmail": false,
        });
        if let Some(address) = host.email() {
            body["hostEmail"] = Value::String(address.to_owned());
        }
        let update = Request::new(Op::UpdateMeeting, Method::PUT, &path).body(body);
        self.success(Op::UpdateMeeting, self.call(&update).await?)?;
        tracing::debug!("moved the Webex meeting");
        Ok(())
    }

    /// [`hcal_actors::ports::MeetingPlatform::cancel`].
    pub(super) async fn cancel_meeting(
        &self,
        platform: &str,
        booking_id: &str,
        organizer_address: &str,
    ) -> Result<(), PlatformFailure> {
        served(platform)?;
        let id = meeting_id(booking_id)?;
        let organizer = organizer(organizer_address)?;
        let path = [MEETINGS[0], MEETINGS[1], id];

        let as_organizer = Request::new(Op::DeleteMeeting, Method::DELETE, &path)
            .query("hostEmail", organizer)
            .query("sendEmail", "false");
        let answer = self.call(&as_organizer).await?;
        match answer.status {
            200..=299 => {
                tracing::debug!("deleted the Webex meeting");
                return Ok(());
            }
            // 403: the organiser is only invited, as to the meeting of a space, which the
            // token's identity hosts. 400: the organiser is no user of the site, so hosts
            // nothing. 404: gone, or a space meeting the organiser was not added to. In each
            // case the meeting may be the token identity's own.
            400 | 403 | 404 => {}
            _ => return Err(self.refused(Op::DeleteMeeting, &answer)),
        }
        let as_caller = Request::new(Op::DeleteMeeting, Method::DELETE, &path).query("sendEmail", "false");
        let answer = self.call(&as_caller).await?;
        match answer.status {
            200..=299 => {
                tracing::debug!("deleted the Webex space meeting");
                Ok(())
            }
            404 => {
                tracing::debug!("the Webex meeting was already deleted");
                Ok(())
            }
            _ => Err(self.refused(Op::DeleteMeeting, &answer)),
        }
    }

    /// Schedules the meeting `body` describes, unless the lookup finds it: before the first
    /// attempt (unless `looked_up`, the caller having just looked) and before every retry,
    /// since a failed attempt may have scheduled it all the same.
    async fn create_meeting(
        &self,
        lookup: &Lookup<'_>,
        body: Value,
        mut looked_up: bool,
    ) -> Result<Booking, PlatformFailure> {
        let create = Request::new(Op::CreateMeeting, Method::POST, &MEETINGS).body(body);
        let mut retries = 0;
        loop {
            if !looked_up && let Some(found) = self.find(lookup).await? {
                tracing::debug!(retries, "found the Webex meeting booked earlier under this key");
                return Ok(found);
            }
            match self.attempt(&create).await {
                Outcome::Answer(answer) => {
                    let answer = self.success(Op::CreateMeeting, answer)?;
                    let booking = decode::<MeetingWire>(Op::CreateMeeting, &answer)?.into_booking()?;
                    tracing::debug!(retries, "booked a Webex meeting");
                    return Ok(booking);
                }
                Outcome::Fail(failure) => return Err(failure),
                Outcome::Retry { reason, retry_after } => {
                    self.pause(retries, &reason, retry_after).await?;
                    retries += 1;
                    looked_up = false;
                }
            }
        }
    }

    /// The meeting of the lookup's kind tagged with its key, if Webex has one.
    async fn find(&self, lookup: &Lookup<'_>) -> Result<Option<Booking>, PlatformFailure> {
        let mut list = Request::new(Op::FindMeeting, Method::GET, &MEETINGS)
            .query("integrationTag", lookup.key)
            .query("from", wire_time(lookup.from))
            .query("to", wire_time(lookup.to));
        if let Some(address) = lookup.host.email() {
            list = list.query("hostEmail", address);
        }
        let answer = self.success(Op::FindMeeting, self.call(&list).await?)?;
        let found = decode::<MeetingList>(Op::FindMeeting, &answer)?;
        // A space meeting has a roomId and a one-time meeting none; an invite whose mode
        // changed keeps its key, and the organiser is invited to the space's meeting.
        let want_space = lookup.kind == BookingKind::Space;
        found
            .items
            .into_iter()
            .find(|m| non_empty(m.room_id.clone()).is_some() == want_space)
            .map(MeetingWire::into_booking)
            .transpose()
    }

    /// Creates a space titled `title`; returns its id.
    async fn create_space(&self, title: &str) -> Result<String, PlatformFailure> {
        let create = Request::new(Op::CreateSpace, Method::POST, &ROOMS).body(json!({ "title": title }));
        let answer = self.success(Op::CreateSpace, self.call(&create).await?)?;
        let space = decode::<IdWire>(Op::CreateSpace, &answer)?;
        non_empty(space.id).ok_or_else(|| {
            PlatformFailure::Transient(format!(
                "Webex answered with a space without an id{}",
                super::tracking_suffix(&answer.tracking)
            ))
        })
    }

    /// Adds the organiser and each attendee to the space. Someone already a member is fine;
    /// someone Webex refuses as unknown (404) or invalid (400) is left out.
    async fn add_members(
        &self,
        room_id: &str,
        organizer: &str,
        attendees: &[EmailAddress],
    ) -> Result<(), PlatformFailure> {
        let people = std::iter::once(organizer).chain(others(organizer, attendees).map(|a| a.address.trim()));
        let mut skipped = 0u32;
        for address in people.take(MAX_INVITEES) {
            let add = Request::new(Op::AddMember, Method::POST, &MEMBERSHIPS)
                .body(json!({ "roomId": room_id, "personEmail": address }));
            let answer = self.call(&add).await?;
            match answer.status {
                200..=299 | 409 => {}
                400 | 404 => skipped += 1,
                _ => return Err(self.refused(Op::AddMember, &answer)),
            }
        }
        if skipped > 0 {
            tracing::debug!(skipped, "left people Webex does not take out of the space");
        }
        Ok(())
    }
}

/// Checks what can be checked without a call; returns the organiser's address, trimmed.
fn checked(request: &BookingRequest) -> Result<&str, PlatformFailure> {
    served(&request.platform)?;
    let organizer = organizer(&request.organizer)?;
    let key = &request.key;
    if key.is_empty() || key.chars().count() > MAX_KEY || !key.chars().all(|c| matches!(c, '0'..='9' | 'a'..='z' | '-'))
    {
        return Err(PlatformFailure::Refused("the booking key is not a valid Webex integration tag".to_owned()));
    }
    Ok(organizer)
}

/// A booking id as a path segment; an empty one is refused without a call.
fn meeting_id(booking_id: &str) -> Result<&str, PlatformFailure> {
    let id = booking_id.trim();
    // `.` and `..` would not stay one path segment.
    if id.is_empty() || id == "." || id == ".." {
        Err(PlatformFailure::Refused("the booking has no valid Webex meeting id".to_owned()))
    } else {
        Ok(id)
    }
}

/// The times to send for an invite from `start` to `end`, judged at `now`: whole minutes, a
/// start no earlier than the minute after next, and 10 minutes to 23 hours 59 minutes long.
pub(super) fn schedule(start: DateTime<Utc>, end: DateTime<Utc>, now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    let earliest = whole_minute(now) + TimeDelta::minutes(2);
    let start = whole_minute(start).max(earliest);
    let end = whole_minute(end).clamp(start + min_duration(), start + max_duration());
    (start, end)
}

/// The start of the minute `at` lies in.
fn whole_minute(at: DateTime<Utc>) -> DateTime<Utc> {
    let secs = at.timestamp();
    DateTime::from_timestamp(secs - secs.rem_euclid(60), 0).unwrap_or(at)
}

/// An instant as sent to Webex: UTC, whole seconds, `Z`.
fn wire_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The meeting's title for an invite's subject: control characters as spaces, trimmed, at
/// most 128 characters, [`FALLBACK_TITLE`] when nothing is left.
pub(super) fn title(subject: &str) -> String {
    let cleaned: String = subject.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let cut: String = cleaned.trim().chars().take(MAX_TITLE).collect();
    let cut = cut.trim_end();
    if cut.is_empty() { FALLBACK_TITLE.to_owned() } else { cut.to_owned() }
}

/// Whether `s` looks like an e-mail address: one `@` with something on both sides, no spaces
/// (Webex refuses a request naming anything else).
fn is_address(s: &str) -> bool {
    let mut parts = s.split('@');
    matches!((parts.next(), parts.next(), parts.next()), (Some(local), Some(domain), None)
        if !local.is_empty() && !domain.is_empty() && !s.contains(char::is_whitespace))
}

/// The attendees besides the organiser: each address once (in any case), addresses that are
/// not addresses left out.
fn others<'a>(organizer: &'a str, attendees: &'a [EmailAddress]) -> impl Iterator<Item = &'a EmailAddress> + 'a {
    let mut seen = HashSet::new();
    attendees.iter().filter(move |a| {
        let address = a.address.trim();
        is_address(address) && !address.eq_ignore_ascii_case(organizer) && seen.insert(address.to_lowercase())
    })
}

/// `invitees` of a one-time meeting: the other attendees, at most 1000, with their display
/// names (cut to 128 characters) when they have one.
pub(super) fn invitees(organizer: &str, attendees: &[EmailAddress]) -> Vec<Value> {
    others(organizer, attendees)
        .take(MAX_INVITEES)
        .map(|a| {
            let mut invitee = json!({ "email": a.address.trim() });
            let name: String = a.name.trim().chars().take(MAX_DISPLAY_NAME).collect();
            if !name.trim().is_empty() {
                invitee["displayName"] = Value::String(name.trim_end().to_owned());
            }
            invitee
        })
        .collect()
}

/// The part of a meeting answer hcal uses. `hostKey`, `password` and
/// `phoneAndVideoSystemPassword` are deliberately absent.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MeetingWire {
    id: Option<String>,
    web_link: Option<String>,
    sip_address: Option<String>,
    meeting_number: Option<String>,
    room_id: Option<String>,
    telephony: Option<super::TelephonyWire>,
}

impl MeetingWire {
    fn into_booking(self) -> Result<Booking, PlatformFailure> {
        let Some(id) = non_empty(self.id) else {
            return Err(PlatformFailure::Transient("Webex answered with a meeting without an id".to_owned()));
        };
        let Some(web_link) = non_empty(self.web_link) else {
            return Err(PlatformFailure::Refused("Webex returned a meeting without a join link".to_owned()));
        };
        Ok(Booking {
            id,
            room: MeetingRoom {
                platform: PLATFORM.to_owned(),
                web_link,
                sip_address: non_empty(self.sip_address),
                meeting_number: non_empty(self.meeting_number),
                dial_in: super::dial_in(self.telephony.as_ref()),
            },
        })
    }
}

/// `GET /v1/meetings`'s answer.
#[derive(Deserialize)]
struct MeetingList {
    #[serde(default)]
    items: Vec<MeetingWire>,
}

/// An answer of which only the id is used.
#[derive(Deserialize)]
struct IdWire {
    id: Option<String>,
}

/// The one secret read from Webex: a meeting's password, which moving the meeting must send.
#[derive(Deserialize)]
struct PasswordWire {
    password: Option<Secret>,
}

/// A secret string that never prints.
#[derive(Deserialize)]
#[serde(transparent)]
struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests;
