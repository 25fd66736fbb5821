//! Messages: `POST /v1/messages`, `GET /v1/messages?roomId=` and
//! `GET /v1/messages/direct?personEmail=` (or `personId=`).
//!
//! A message to a person (`toPersonEmail` or `toPersonId`) goes to the caller's 1:1 space
//! with them, which the first such message creates; that is the only way Webex makes direct
//! spaces. A client finds the direct space with someone through the direct messages: each
//! carries its `roomId`.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::body::{Fields, is_email};
use super::rooms::new_direct_room;
use super::{Query, Reply, page};
use crate::webex::core::{Core, Store};
use crate::webex::error::WebexError;
use crate::webex::space::{Message, RoomKind};

/// Stats key of posting a message.
pub const CREATE: &str = "POST /v1/messages";
/// Stats key of listing a space's messages.
pub const LIST: &str = "GET /v1/messages";
/// Stats key of listing the messages of a 1:1 space.
pub const DIRECT: &str = "GET /v1/messages/direct";

/// Longest `text` or `markdown`, in bytes.
pub const MAX_MESSAGE_BYTES: usize = 7439;

/// Posts `{roomId | toPersonId | toPersonEmail, text?, markdown?}`: exactly one destination
/// and some text.
pub fn create(core: &Core, body: Option<&Value>) -> Result<Reply, WebexError> {
    let f = Fields::of(body)?;
    let trimmed = |name: &str| f.text(name).map(|v| v.map(str::trim).filter(|s| !s.is_empty()));
    let (room_id, to_id, to_email) = (trimmed("roomId")?, trimmed("toPersonId")?, trimmed("toPersonEmail")?);
    let destinations = [room_id, to_id, to_email].iter().filter(|d| d.is_some()).count();
    if destinations != 1 {
        return Err(WebexError::bad_request(
            "Message destination could not be determined. Provide only one destination in the roomId, toPersonEmail, or toPersonId field",
        ));
    }
    for unsupported in ["files", "attachments", "parentId"] {
        if f.has(unsupported) {
            return Err(WebexError::bad_request(format!("{unsupported} is not supported by the simulator.")));
        }
    }
    let text = f.text("text")?.filter(|t| !t.is_empty());
    let markdown = f.text("markdown")?.filter(|t| !t.is_empty());
    if text.is_none() && markdown.is_none() {
        return Err(WebexError::bad_request("A message needs text or markdown."));
    }
    if [text, markdown].iter().flatten().any(|t| t.len() > MAX_MESSAGE_BYTES) {
        return Err(WebexError::bad_request(format!("The message is longer than {MAX_MESSAGE_BYTES} bytes.")));
    }

    let now = core.now();
    let mut store = core.store.lock();
    let room_id = match (room_id, to_id, to_email) {
        (Some(room_id), ..) => {
            store
                .rooms
                .get(room_id)
                .filter(|r| store.is_member(&r.id, &core.admin_id))
                .ok_or_else(WebexError::not_found)?;
            room_id.to_owned()
        }
        (_, to_id, to_email) => {
            let other = match (to_id, to_email) {
                (Some(id), _) => core.identity_by_id(&store, id).ok_or_else(WebexError::not_found)?,
                (_, Some(email)) if is_email(email) => core.identity_or_invite(&mut store, email),
                (_, email) => {
                    return Err(WebexError::bad_request(format!(
                        "Invalid toPersonEmail: {}.",
                        email.unwrap_or_default()
                    )));
                }
            };
            if other.id == core.admin_id {
                return Err(WebexError::bad_request("A 1:1 message cannot be sent to yourself."));
            }
            match store.direct_room(&core.admin_id, &other.id) {
                Some(room) => room.id.clone(),
                None => new_direct_room(core, &mut store, &other, now),
            }
        }
    };
    let admin = core.admin();
    let message = Message {
        id: core.spark_id("MESSAGE"),
        room_id: room_id.clone(),
        text: text.map(str::to_owned),
        markdown: markdown.map(str::to_owned),
        person_id: admin.id,
        person_email: admin.email,
        to_person_id: to_id.map(str::to_owned),
        to_person_email: to_email.map(str::to_owned),
        created: now,
    };
    let kind = store.rooms.get(&room_id).map_or(RoomKind::Group, |r| r.kind);
    let rendered = message.render(kind);
    if let Some(room) = store.rooms.get_mut(&room_id) {
        room.last_activity = now;
    }
    store.messages.push(message);
    drop(store);
    core.count(|s| &mut s.messages_created);
    Ok(Reply::Json(rendered))
}

/// The messages of a space the caller belongs to, newest first; `roomId` is required,
/// `before` (a time) and `beforeMessage` (an id) narrow it, `max` defaults to 50.
pub fn list(core: &Core, query: &Query) -> Result<Reply, WebexError> {
    let room_id = query.get("roomId").ok_or_else(|| WebexError::bad_request("roomId is required."))?;
    let before = match query.get("before") {
        None => None,
        Some(raw) => Some(
            DateTime::parse_from_rfc3339(raw)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| WebexError::bad_request("Invalid before: expected an ISO 8601 date and time."))?,
        ),
    };
    let store = core.store.lock();
    let room = store
        .rooms
        .get(room_id)
        .filter(|r| store.is_member(&r.id, &core.admin_id))
        .ok_or_else(WebexError::not_found)?;
    let mut messages = newest_first(&store, room_id);
    if let Some(before) = before {
        messages.retain(|m| m.created < before);
    }
    if let Some(anchor) = query.get("beforeMessage") {
        let at = messages.iter().position(|m| m.id == anchor).ok_or_else(WebexError::not_found)?;
        messages.drain(..=at);
    }
    page(messages.iter().map(|m| m.render(room.kind)).collect(), query, 50, 1000)
}

/// The messages of the caller's 1:1 space with the person named by exactly one of
/// `personEmail` and `personId`, newest first. 404 when there is no such person or no 1:1
/// space with them yet.
pub fn direct(core: &Core, query: &Query) -> Result<Reply, WebexError> {
    let store = core.store.lock();
    let person_id = match (query.get("personId"), query.get("personEmail")) {
        (Some(id), None) => id.to_owned(),
        (None, Some(email)) => store.person(email).map(|p| p.id.clone()).ok_or_else(WebexError::not_found)?,
        _ => {
            return Err(WebexError::bad_request("Provide only one destination in the personId and personEmail fields"));
        }
    };
    let room = store.direct_room(&core.admin_id, &person_id).ok_or_else(WebexError::not_found)?;
    let items = newest_first(&store, &room.id).iter().map(|m| m.render(RoomKind::Direct)).collect();
    page(items, query, 50, 1000)
}

fn newest_first<'a>(store: &'a Store, room_id: &str) -> Vec<&'a Message> {
    let mut messages: Vec<&Message> = store.messages.iter().filter(|m| m.room_id == room_id).collect();
    // Posted order breaks ties between messages of the same millisecond.
    messages.reverse();
    messages.sort_by_key(|m| std::cmp::Reverse(m.created));
    messages
}
