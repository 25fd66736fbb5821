//! The admin API's access tokens: issue one to a user, list them, revoke one.
//!
//! A token is drawn here, answered once, and only its digest travels on: sealed in an
//! `issueToken` command to the user's mailbox, which records `TokenIssued`, which the access
//! index of every process folds in. The answer waits (a few seconds at most) until this
//! process's index holds the grant, so the token works the moment the caller has it; a
//! revocation waits likewise until the token opens nothing here.

use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use hcal_actors::ids::{DeviceId, MailboxId, TokenId, UserObjectId};
use hcal_actors::mailbox::events::TokenHolder;
use hcal_actors::notification::{AdminCommand, NotificationKind, NotificationRecord};
use serde::{Deserialize, Serialize};

use super::auth::AdminCaller;
use super::error::{ApiError, ErrorKind};
use super::invalid_user_id;
use crate::access::NewToken;
use crate::app::AppState;
use crate::projections::access::Grant;

/// How long an answer waits for the access index to take a grant or revocation in.
const SETTLE: Duration = Duration::from_secs(5);

/// Body of `POST /admin/v1/tokens`: exactly one of the two.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IssueRequest {
    /// A user's object id: a token for that user's meeting list (text, so that a wrong one
    /// gets its own error code).
    #[serde(default)]
    pub user_id: Option<String>,
    /// A device's id: a token for that device's bookings.
    #[serde(default)]
    pub device_id: Option<String>,
}

/// A token as the admin API shows it; `token` only in the answer that issued it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenInfo {
    /// The token's id (what `revoke` takes).
    pub id: TokenId,
    /// Its user: the holder's, or for a device token the device's room mailbox.
    pub user_id: UserObjectId,
    /// Who holds it.
    pub holder: TokenHolder,
    /// When it was granted; none while the grant is not in this process's index yet.
    pub issued_at: Option<DateTime<Utc>>,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
    /// The token itself: shown once, never stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

impl TokenInfo {
    fn of(id: TokenId, grant: &Grant) -> Self {
        Self {
            id,
            user_id: grant.mailbox.user,
            holder: grant.holder,
            issued_at: Some(grant.issued_at),
            revoked_at: grant.revoked_at,
            token: None,
        }
    }
}

/// The answer of `GET /admin/v1/tokens`: `{"value": [...]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenList {
    /// Tokens by time of issue.
    pub value: Vec<TokenInfo>,
}

/// Query of `GET /admin/v1/tokens`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    /// Only this user's tokens.
    pub user_id: Option<String>,
}

async fn settle(what: impl Fn() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + SETTLE;
    loop {
        if what() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `POST /admin/v1/tokens {"userId"} | {"deviceId"}`: issues a user or a device token. 201
/// with the token once it works on this process, 202 with it when the grant is recorded but
/// not in this process's index within 5 s (it works moments later); 404 `unknown_user` for a
/// user hcal never enabled, `unknown_device` for a device it does not know.
pub async fn issue(
    _caller: AdminCaller,
    state: web::Data<AppState>,
    body: web::Json<IssueRequest>,
) -> Result<HttpResponse, ApiError> {
    let (mailbox, holder) = match (&body.user_id, &body.device_id) {
        (Some(user), None) => {
            let user = UserObjectId::parse(user).map_err(|_| invalid_user_id())?;
            (MailboxId { tenant: state.tenant, user }, TokenHolder::User)
        }
        (None, Some(device)) => {
            let unknown = || ApiError::new(ErrorKind::UnknownDevice, "hcal knows no such device");
            let device_id = DeviceId::parse(device).map_err(|_| unknown())?;
            let room = state.devices.get(&device_id).ok_or_else(unknown)?.room;
            (room, TokenHolder::Device { device_id })
        }
        _ => return Err(ApiError::new(ErrorKind::InvalidRequest, "give either userId or deviceId")),
    };
    let user = mailbox.user;
    // A mailbox enabled a moment ago may not be in the index yet: it gets the time to read
    // what was appended before this request.
    let arrived = tokio::time::Instant::now();
    let known = state.subscriptions.knows(&mailbox)
        || (state.subscriptions.wait_caught_up(arrived, SETTLE).await && state.subscriptions.knows(&mailbox));
    if !known {
        return Err(ApiError::new(ErrorKind::UnknownUser, "hcal knows no such user; enable the mailbox first"));
    }
    let token = NewToken::generate();
    let mut record =
        NotificationRecord::command(mailbox, AdminCommand::RevokeToken { token_id: token.id }, state.clock.now());
    let sealed = hcal_actors::seal::seal(&state.ring, record.id.as_bytes(), &token.digest())
        .map_err(|e| ApiError::internal(e.to_string()))?;
    record.kind = NotificationKind::Command(AdminCommand::IssueToken { token_id: token.id, holder, sealed });
    state.inbox.append(std::slice::from_ref(&record)).await.map_err(ApiError::unavailable)?;
    state.metrics.inc("hcal_token_commands_total", "command", "issue");
    let active = settle(|| state.access.get(&token.id).is_some()).await;
    let mut info = state.access.get(&token.id).map_or(
        TokenInfo { id: token.id, user_id: user, holder, issued_at: None, revoked_at: None, token: None },
        |grant| TokenInfo::of(token.id, &grant),
    );
    info.token = Some(token.text());
    let mut answer = if active { HttpResponse::Created() } else { HttpResponse::Accepted() };
    Ok(answer.insert_header(("Cache-Control", "no-store")).json(info))
}

/// `GET /admin/v1/tokens[?userId=]`: every token (of one user), by time of issue, without the
/// tokens themselves.
pub async fn list(
    _caller: AdminCaller,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let query =
        web::Query::<ListQuery>::from_query(req.query_string()).map_err(|_| super::invalid_query())?.into_inner();
    let mailbox = match query.user_id {
        Some(user) => {
            Some(MailboxId { tenant: state.tenant, user: UserObjectId::parse(&user).map_err(|_| invalid_user_id())? })
        }
        None => None,
    };
    let value = state.access.list(mailbox.as_ref()).iter().map(|(id, grant)| TokenInfo::of(*id, grant)).collect();
    Ok(HttpResponse::Ok().json(TokenList { value }))
}

/// `DELETE /admin/v1/tokens/{id}`: revokes a token. 200 once it opens nothing on this process
/// (202 when that takes longer than 5 s); 404 `unknown_token` for one hcal never issued.
/// Revoking a revoked token answers 200 again.
pub async fn revoke(
    _caller: AdminCaller,
    state: web::Data<AppState>,
    id: web::Path<TokenId>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let grant = state
        .access
        .get(&id)
        .ok_or_else(|| ApiError::new(ErrorKind::UnknownToken, "hcal issued no token with this id"))?;
    if grant.revoked_at.is_none() {
        let record =
            NotificationRecord::command(grant.mailbox, AdminCommand::RevokeToken { token_id: id }, state.clock.now());
        state.inbox.append(std::slice::from_ref(&record)).await.map_err(ApiError::unavailable)?;
        state.metrics.inc("hcal_token_commands_total", "command", "revoke");
    }
    let revoked = settle(|| state.access.get(&id).is_some_and(|g| g.revoked_at.is_some())).await;
    let info = state.access.get(&id).map_or_else(|| TokenInfo::of(id, &grant), |g| TokenInfo::of(id, &g));
    Ok(if revoked { HttpResponse::Ok().json(info) } else { HttpResponse::Accepted().json(info) })
}
