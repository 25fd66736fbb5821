//! Memberships: `POST /v1/memberships`, `GET /v1/memberships`, `GET` and
//! `DELETE /v1/memberships/{id}`.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::body::{Fields, is_email};
use super::{Query, Reply, page};
use crate::webex::core::{Core, Identity, Store};
use crate::webex::error::WebexError;
use crate::webex::space::{Membership, RoomKind};

/// Stats key of adding a member.
pub const CREATE: &str = "POST /v1/memberships";
/// Stats key of listing memberships.
pub const LIST: &str = "GET /v1/memberships";
/// Stats key of reading a membership.
pub const GET: &str = "GET /v1/memberships/{id}";
/// Stats key of removing a member.
pub const DELETE: &str = "DELETE /v1/memberships/{id}";

/// Adds someone to a group space from `{roomId, personId | personEmail, isModerator?}`. An
/// address Webex does not know gets an invited account, as on the real service; a person
/// already in the space is a conflict (409).
pub fn create(core: &Core, body: Option<&Value>) -> Result<Reply, WebexError> {
    let f = Fields::of(body)?;
    let room_id = f.required("roomId")?.trim();
    let person_id = f.text("personId")?.map(str::trim).filter(|s| !s.is_empty());
    let person_email = f.text("personEmail")?.map(str::trim).filter(|s| !s.is_empty());
    let is_moderator = f.flag("isModerator")?.unwrap_or(false);
    let now = core.now();
    let mut store = core.store.lock();
    let kind = room_kind(core, &store, room_id)?;
    if kind == RoomKind::Direct {
        return Err(WebexError::bad_request("People cannot be added to a 1:1 space."));
    }
    let who = match (person_id, person_email) {
        (Some(_), Some(_)) => return Err(WebexError::bad_request("Provide only one of personId and personEmail.")),
        (None, None) => return Err(WebexError::bad_request("personId or personEmail is required.")),
        (Some(id), None) => core.identity_by_id(&store, id).ok_or_else(WebexError::not_found)?,
        (None, Some(email)) if is_email(email) => {
            if store.members_of(room_id).any(|m| m.person_email.eq_ignore_ascii_case(email)) {
                return Err(already_member());
            }
            core.identity_or_invite(&mut store, email)
        }
        (None, Some(email)) => return Err(WebexError::bad_request(format!("Invalid personEmail: {email}."))),
    };
    if store.is_member(room_id, &who.id) {
        return Err(already_member());
    }
    let membership = add_member(core, &mut store, room_id, &who, is_moderator, now);
    Ok(Reply::Json(membership.render(kind, &core.org_id)))
}

/// Lists memberships: of one space with `roomId` (optionally narrowed by `personId` or
/// `personEmail`, which need `roomId`), else the caller's own in every space; `max` default
/// 100.
pub fn list(core: &Core, query: &Query) -> Result<Reply, WebexError> {
    let room_id = query.get("roomId");
    let person_id = query.get("personId");
    let person_email = query.get("personEmail");
    if room_id.is_none() && (person_id.is_some() || person_email.is_some()) {
        return Err(WebexError::bad_request("roomId is required when personId or personEmail is given."));
    }
    let store = core.store.lock();
    if let Some(room_id) = room_id {
        room_kind(core, &store, room_id)?;
    }
    let items = store
        .memberships
        .iter()
        .filter(|m| match room_id {
            Some(r) => m.room_id == r,
            None => m.person_id == core.admin_id,
        })
        .filter(|m| person_id.is_none_or(|p| m.person_id == p))
        .filter(|m| person_email.is_none_or(|e| m.person_email.eq_ignore_ascii_case(e)))
        .filter_map(|m| store.rooms.get(&m.room_id).map(|r| m.render(r.kind, &core.org_id)))
        .collect();
    page(items, query, 100, 1000)
}

/// One membership of a space the caller belongs to.
pub fn get(core: &Core, id: &str) -> Result<Reply, WebexError> {
    let store = core.store.lock();
    let (membership, kind) = visible(core, &store, id)?;
    Ok(Reply::Json(membership.render(kind, &core.org_id)))
}

/// Removes someone from a group space (the caller may remove themself).
pub fn delete(core: &Core, id: &str) -> Result<Reply, WebexError> {
    let mut store = core.store.lock();
    if visible(core, &store, id)?.1 == RoomKind::Direct {
        return Err(WebexError::bad_request("People cannot be removed from a 1:1 space."));
    }
    store.memberships.retain(|m| m.id != id);
    drop(store);
    core.count(|s| &mut s.memberships_deleted);
    Ok(Reply::NoContent)
}

/// Records a membership, touches the space's last activity and counts it.
pub fn add_member(
    core: &Core,
    store: &mut Store,
    room_id: &str,
    who: &Identity,
    is_moderator: bool,
    now: DateTime<Utc>,
) -> Membership {
    let membership = Membership {
        id: core.spark_id("MEMBERSHIP"),
        room_id: room_id.to_owned(),
        person_id: who.id.clone(),
        person_email: who.email.clone(),
        person_display_name: who.display_name.clone(),
        is_moderator,
        created: now,
    };
    store.memberships.push(membership.clone());
    if let Some(room) = store.rooms.get_mut(room_id) {
        room.last_activity = now;
    }
    core.count(|s| &mut s.memberships_created);
    membership
}

fn already_member() -> WebexError {
    WebexError::new(409, "The person is already a member of the space.")
}

/// The type of a space the caller belongs to; 404 for any other.
fn room_kind(core: &Core, store: &Store, room_id: &str) -> Result<RoomKind, WebexError> {
    store
        .rooms
        .get(room_id)
        .filter(|r| store.is_member(&r.id, &core.admin_id))
        .map(|r| r.kind)
        .ok_or_else(WebexError::not_found)
}

fn visible<'a>(core: &Core, store: &'a Store, id: &str) -> Result<(&'a Membership, RoomKind), WebexError> {
    let membership = store.memberships.iter().find(|m| m.id == id).ok_or_else(WebexError::not_found)?;
    Ok((membership, room_kind(core, store, &membership.room_id)?))
}
