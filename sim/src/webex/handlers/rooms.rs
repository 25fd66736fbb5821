//! Spaces: `POST /v1/rooms`, `GET /v1/rooms`, `GET` and `DELETE /v1/rooms/{roomId}`, and the
//! space's meeting at `GET /v1/rooms/{roomId}/meetingInfo`.
//!
//! Webex shows a caller the spaces they belong to; every token belongs to the site admin, so
//! these are the spaces the admin made or was added to. Direct (1:1) spaces are not made
//! here: the first message to a person makes one (see [`super::messages`]).

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::body::Fields;
use super::memberships::add_member;
use super::{Query, Reply, page};
use crate::webex::core::{Core, Identity, Store};
use crate::webex::error::WebexError;
use crate::webex::space::{Room, RoomKind, SpaceMeeting};

/// Stats key of creating a space.
pub const CREATE: &str = "POST /v1/rooms";
/// Stats key of listing spaces.
pub const LIST: &str = "GET /v1/rooms";
/// Stats key of reading a space.
pub const GET: &str = "GET /v1/rooms/{id}";
/// Stats key of deleting a space.
pub const DELETE: &str = "DELETE /v1/rooms/{id}";
/// Stats key of reading a space's meeting details.
pub const MEETING_INFO: &str = "GET /v1/rooms/{id}/meetingInfo";

/// Creates a group space from `{title, isLocked?, isPublic?, description?,
/// isAnnouncementOnly?}`; the caller becomes its first member (a moderator of a locked one).
pub fn create(core: &Core, body: Option<&Value>) -> Result<Reply, WebexError> {
    let f = Fields::of(body)?;
    let title = f.required("title")?;
    if f.has("teamId") {
        return Err(WebexError::bad_request("teamId is not supported by the simulator, which has no teams."));
    }
    let is_locked = f.flag("isLocked")?.unwrap_or(false);
    let is_public = f.flag("isPublic")?.unwrap_or(false);
    let is_announcement_only = f.flag("isAnnouncementOnly")?.unwrap_or(false);
    let description = f.text("description")?.map(str::trim).filter(|d| !d.is_empty());
    if is_public && description.is_none() {
        return Err(WebexError::bad_request("description is required when isPublic is true."));
    }
    if is_announcement_only && !is_locked {
        return Err(WebexError::bad_request("A space can only be put into announcement mode when it is locked."));
    }
    let now = core.now();
    let mut store = core.store.lock();
    let mut room = new_room(core, &store, RoomKind::Group, title, now);
    room.is_locked = is_locked;
    room.is_public = is_public;
    room.is_announcement_only = is_announcement_only;
    room.description = description.map(str::to_owned);
    let rendered = room.render(title, &core.org_id);
    let room_id = room.id.clone();
    store.rooms.insert(room_id.clone(), room);
    add_member(core, &mut store, &room_id, &core.admin(), is_locked, now);
    drop(store);
    core.count(|s| &mut s.rooms_created);
    Ok(Reply::Json(rendered))
}

/// Lists the caller's spaces: `type` (`direct` or `group`), `sortBy` (`id`, `lastactivity`,
/// `created`; default: latest activity first), `max` (default 100, at most 1000).
pub fn list(core: &Core, query: &Query) -> Result<Reply, WebexError> {
    let kind = match query.get("type") {
        None => None,
        Some("direct") => Some(RoomKind::Direct),
        Some("group") => Some(RoomKind::Group),
        Some(other) => return Err(WebexError::bad_request(format!("Invalid type: {other}."))),
    };
    let sort_by = query.get("sortBy").unwrap_or("lastactivity");
    if !["id", "lastactivity", "created"].contains(&sort_by) {
        return Err(WebexError::bad_request(format!("Invalid sortBy: {sort_by}.")));
    }
    let public_spaces = query.flag("orgPublicSpaces")?.unwrap_or(false);
    if public_spaces && (kind.is_some() || query.get("teamId").is_some() || query.get("sortBy").is_some()) {
        return Err(WebexError::bad_request("orgPublicSpaces cannot be combined with type, teamId or sortBy."));
    }
    let store = core.store.lock();
    let mut rooms: Vec<&Room> = store
        .rooms
        .values()
        .filter(|r| if public_spaces { r.is_public } else { store.is_member(&r.id, &core.admin_id) })
        // The simulator has no teams, so a team has no spaces.
        .filter(|_| query.get("teamId").is_none())
        .filter(|r| kind.is_none_or(|k| r.kind == k))
        .collect();
    match sort_by {
        "id" => rooms.sort_by(|a, b| a.id.cmp(&b.id)),
        "created" => rooms.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| a.id.cmp(&b.id))),
        _ => rooms.sort_by(|a, b| b.last_activity.cmp(&a.last_activity).then_with(|| a.id.cmp(&b.id))),
    }
    let items = rooms.iter().map(|r| r.render(&title_for(&store, r, &core.admin_id), &core.org_id)).collect();
    page(items, query, 100, 1000)
}

/// One of the caller's spaces.
pub fn get(core: &Core, id: &str) -> Result<Reply, WebexError> {
    let store = core.store.lock();
    let room = visible(core, &store, id)?;
    Ok(Reply::Json(room.render(&title_for(&store, room, &core.admin_id), &core.org_id)))
}

/// Deletes a group space with its memberships and messages. A 1:1 space cannot be deleted.
pub fn delete(core: &Core, id: &str) -> Result<Reply, WebexError> {
    let mut store = core.store.lock();
    if visible(core, &store, id)?.is_direct() {
        return Err(WebexError::bad_request("A 1:1 space cannot be deleted."));
    }
    store.rooms.remove(id);
    store.memberships.retain(|m| m.room_id != id);
    store.messages.retain(|m| m.room_id != id);
    drop(store);
    core.count(|s| &mut s.rooms_deleted);
    Ok(Reply::NoContent)
}

/// The space's meeting: `{roomId, meetingLink, sipAddress, meetingNumber, meetingId,
/// callInTollFreeNumber, callInTollNumber}`. (Webex has marked this endpoint deprecated; its
/// successor is a meeting scheduled with `roomId` at `POST /v1/meetings`.)
pub fn meeting_info(core: &Core, id: &str) -> Result<Reply, WebexError> {
    let store = core.store.lock();
    Ok(Reply::Json(visible(core, &store, id)?.render_meeting_info()))
}

/// A space the caller belongs to; 404 otherwise, as for a space that does not exist.
fn visible<'a>(core: &Core, store: &'a Store, id: &str) -> Result<&'a Room, WebexError> {
    store.rooms.get(id).filter(|r| store.is_member(&r.id, &core.admin_id)).ok_or_else(WebexError::not_found)
}

/// What the caller sees as a space's title: for a 1:1 space, the other person's name.
pub fn title_for(store: &Store, room: &Room, caller_id: &str) -> String {
    if !room.is_direct() {
        return room.title.clone();
    }
    store
        .members_of(&room.id)
        .find(|m| m.person_id != caller_id)
        .map_or_else(|| room.title.clone(), |m| m.person_display_name.clone())
}

/// A new space with its meeting: a nine-digit meeting number, a link under `/m/` and the
/// site's call-in numbers.
pub fn new_room(core: &Core, store: &Store, kind: RoomKind, title: &str, now: DateTime<Utc>) -> Room {
    let site = core.site_host();
    let meeting_number = loop {
        let n = core.digits(9);
        if !store.rooms.values().any(|r| r.meeting.meeting_number == n) {
            break n;
        }
    };
    let number_of = |toll_type: &str| {
        core.config.call_in_numbers.iter().find(|n| n.toll_type == toll_type).map(|n| n.call_in_number.clone())
    };
    Room {
        id: core.spark_id("ROOM"),
        title: title.to_owned(),
        kind,
        is_locked: false,
        is_public: false,
        is_announcement_only: false,
        description: None,
        creator_id: core.admin_id.clone(),
        created: now,
        last_activity: now,
        meeting: SpaceMeeting {
            meeting_link: format!("https://{site}/m/{}", core.uuid()),
            sip_address: format!("{meeting_number}@{site}"),
            meeting_number,
            meeting_id: core.hex(32),
            call_in_toll_free_number: number_of("tollFree"),
            call_in_toll_number: number_of("toll"),
        },
    }
}

/// Makes the caller's 1:1 space with `other`, both as members.
pub fn new_direct_room(core: &Core, store: &mut Store, other: &Identity, now: DateTime<Utc>) -> String {
    let room = new_room(core, store, RoomKind::Direct, &other.display_name, now);
    let id = room.id.clone();
    store.rooms.insert(id.clone(), room);
    add_member(core, store, &id, &core.admin(), false, now);
    add_member(core, store, &id, other, false, now);
    core.count(|s| &mut s.rooms_created);
    id
}
