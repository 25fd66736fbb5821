//! The user API: `GET /v1/users/{user}/presence`, the presence hcal derives from the user's
//! automatic replies (that user's token, like the meeting list).

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use hcal_actors::ids::UserObjectId;
use hcal_actors::presence::{AutoReplyStatus, PresenceStatus};
use serde::Serialize;

use super::auth::UserCaller;
use super::error::{ApiError, ErrorKind};
use crate::app::AppState;

/// The answer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Presence {
    /// The user (Graph object id).
    pub user_id: UserObjectId,
    /// `outOfOffice` or `available`.
    pub status: PresenceStatus,
    /// Since when, once a change was recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<DateTime<Utc>>,
    /// Until when out of office is known to last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<DateTime<Utc>>,
    /// The automatic replies as last read, once read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub automatic_replies: Option<AutomaticReplies>,
}

/// The automatic replies' status and window (never their messages).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AutomaticReplies {
    /// `disabled`, `alwaysEnabled` or `scheduled`.
    pub status: AutoReplyStatus,
    /// The window's start, for `scheduled`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start: Option<DateTime<Utc>>,
    /// The window's end, for `scheduled`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end: Option<DateTime<Utc>>,
}

/// `GET /v1/users/{user}/presence`: 404 `unknown_user` for a mailbox hcal has never enabled.
pub async fn get(
    caller: UserCaller,
    state: web::Data<AppState>,
    user: web::Path<UserObjectId>,
) -> Result<HttpResponse, ApiError> {
    let mailbox = caller.may_read(user.into_inner())?;
    let entry = state
        .presence
        .get(&mailbox)
        .ok_or_else(|| ApiError::new(ErrorKind::UnknownUser, "hcal has never enabled this user's mailbox"))?;
    Ok(HttpResponse::Ok().json(Presence {
        user_id: mailbox.user,
        status: entry.status,
        since: entry.since,
        until: entry.until,
        automatic_replies: entry.auto_replies.map(|r| AutomaticReplies {
            status: r.status,
            start: r.start,
            end: r.end,
        }),
    }))
}
