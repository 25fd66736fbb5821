//! The user API: `GET /v1/users/{user}/meetings?from=&to=`, a user's meeting list.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Duration, Utc};
use hcal_actors::detect::AddressKind;
use hcal_actors::ids::{MailboxId, UserObjectId};
use hcal_actors::mailbox::events::JoinOrigin;
use serde::{Deserialize, Serialize};

use super::auth::ApiCaller;
use super::error::{ApiError, ErrorKind};
use crate::app::AppState;
use crate::projection::{self, MeetingRow};

/// Query of the meeting list; both ends RFC 3339.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Window {
    /// Start of the window; default now.
    pub from: Option<DateTime<Utc>>,
    /// End of the window; default four weeks after `from`.
    pub to: Option<DateTime<Utc>>,
}

/// The answer: `{"value": [...]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeetingList {
    /// The meetings, by start.
    pub value: Vec<Meeting>,
}

/// One meeting of the list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Meeting {
    /// Graph event id.
    pub event_id: String,
    /// Subject.
    pub subject: String,
    /// Start.
    pub start: DateTime<Utc>,
    /// End.
    pub end: DateTime<Utc>,
    /// All-day flag.
    pub is_all_day: bool,
    /// How to join, when the meeting has a join target.
    pub join: Option<Join>,
}

/// How to join a meeting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Join {
    /// Platform id (`webex`, `zoom`, …).
    pub provider: String,
    /// Kind of address.
    pub kind: AddressKind,
    /// Where the target came from.
    pub origin: JoinOrigin,
    /// The address to dial or open.
    pub address: Option<String>,
    /// The platform's web link.
    pub web_link: Option<String>,
}

impl From<MeetingRow> for Meeting {
    fn from(r: MeetingRow) -> Self {
        let private = r.private;
        Self {
            event_id: r.event_id,
            subject: private.subject,
            start: r.start,
            end: r.end,
            is_all_day: r.is_all_day,
            join: r.join.map(|j| Join {
                provider: j.provider,
                kind: j.kind,
                origin: j.origin,
                address: private.join_address,
                web_link: private.web_link,
            }),
        }
    }
}

/// `GET /v1/users/{user}/meetings?from=&to=`: meetings overlapping the window (default: now to
/// four weeks ahead), by start, with their join target.
pub async fn list(
    _caller: ApiCaller,
    state: web::Data<AppState>,
    user: web::Path<UserObjectId>,
    window: web::Query<Window>,
) -> Result<HttpResponse, ApiError> {
    let mailbox = MailboxId { tenant: state.tenant, user: user.into_inner() };
    let from = window.from.unwrap_or_else(Utc::now);
    let to = window.to.unwrap_or(from + Duration::weeks(4));
    if to < from {
        return Err(ApiError::new(ErrorKind::InvalidWindow, "`to` is before `from`"));
    }
    let rows =
        projection::meetings(&state.store, &state.ring, &mailbox, from, to).await.map_err(ApiError::unavailable)?;
    Ok(HttpResponse::Ok().json(MeetingList { value: rows.into_iter().map(Meeting::from).collect() }))
}
