//! The admin API's mailboxes: enable, disable, list and inspect.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use hcal_actors::ids::{MailboxId, UserObjectId};
use hcal_actors::notification::AdminCommand;
use serde::{Deserialize, Serialize};

use super::auth::AdminCaller;
use super::error::ApiError;
use super::invalid_user_id;
use crate::app::AppState;

/// Body of `POST /admin/v1/mailboxes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnableRequest {
    /// The user's object id. Text rather than a typed id, so that a wrong one gets its own
    /// error code rather than the body's.
    pub user_id: String,
}

/// Answer of enabling or disabling: `{"userId", "status"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommandAccepted {
    /// The mailbox's user.
    pub user_id: UserObjectId,
    /// `pending` (enable) or `disabling` (disable).
    pub status: String,
}

/// One mailbox of `GET /admin/v1/mailboxes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MailboxSummary {
    /// The mailbox's user.
    pub user_id: UserObjectId,
    /// `pending`, `active`, `disabled` or `error`.
    pub status: String,
    /// With `error`: why.
    pub reason: Option<String>,
    /// With `error`: when hcal tries again (none for states an admin must fix).
    pub retry_at: Option<DateTime<Utc>>,
    /// Expiry of the current subscription.
    pub subscription_expires_at: Option<DateTime<Utc>>,
}

/// The answer of `GET /admin/v1/mailboxes`: `{"value": [...]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailboxList {
    /// Every known mailbox.
    pub value: Vec<MailboxSummary>,
}

/// The answer of `GET /admin/v1/mailboxes/{user}`: the state its owner holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MailboxStatus {
    /// The mailbox's user.
    pub user_id: UserObjectId,
    /// `pending`, `active`, `disabled` or `error`.
    pub status: String,
    /// With `error`: why.
    pub reason: Option<String>,
    /// When hcal retries the set-up.
    pub retry_at: Option<DateTime<Utc>>,
    /// The mailbox's language.
    pub locale: Option<String>,
    /// The current subscription.
    pub subscription: Option<SubscriptionStatus>,
    /// Meetings the mailbox's owner knows.
    pub meetings: usize,
    /// What became of its keyword invites.
    pub join_details: JoinCounts,
    /// Sequence number of the last applied event.
    pub seq: u64,
}

/// A mailbox's keyword invites by what hcal did about them (the reasons, by outcome, are in
/// `hcal_join_details_total` and in the mailbox's events).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JoinCounts {
    /// Join details written.
    pub written: usize,
    /// The platform refused the organiser; tried again at the invite's next change.
    pub platform_refused: usize,
    /// Given up until the keyword changes (unknown modifier, not the organiser, …).
    pub given_up: usize,
}

fn join_counts(state: &hcal_actors::mailbox::state::MailboxState) -> JoinCounts {
    use hcal_actors::mailbox::state::Decoration;
    let mut counts = JoinCounts::default();
    for m in state.meetings.values() {
        match m.decoration {
            Decoration::Done { .. } => counts.written += 1,
            Decoration::Refused => counts.platform_refused += 1,
            Decoration::Abandoned => counts.given_up += 1,
            Decoration::NotNeeded => {}
        }
    }
    counts
}

/// A mailbox's subscription.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionStatus {
    /// Graph's subscription id.
    pub id: String,
    /// Its expiry.
    pub expires_at: DateTime<Utc>,
    /// Whether this process's webhook already accepts the subscription's notifications.
    pub webhook_ready: bool,
}

fn mailbox(state: &AppState, user: UserObjectId) -> MailboxId {
    MailboxId { tenant: state.tenant, user }
}

/// Appends an admin command to the mailbox's input log, so the process that owns the mailbox
/// applies it in order with the mailbox's notifications.
async fn command(state: &AppState, mailbox: MailboxId, command: AdminCommand) -> Result<(), ApiError> {
    state.inbox.command(mailbox, command, state.clock.now()).await.map_err(ApiError::unavailable)?;
    Ok(())
}

/// `POST /admin/v1/mailboxes {"userId"}`: enables a mailbox. Logs `EnableMailbox` for the
/// process that owns the mailbox, which reads the mailbox's language (proving it can reach it),
/// subscribes to its calendar and resyncs the window.
/// Answers 202 `pending`; the status turns `active`, or `error` with a reason (`not_in_scope`,
/// `mailbox_not_enabled`, `consent_missing`, `throttled`, `unavailable`). Enabling again
/// retries at once.
pub async fn enable(
    _caller: AdminCaller,
    state: web::Data<AppState>,
    body: web::Json<EnableRequest>,
) -> Result<HttpResponse, ApiError> {
    let user = UserObjectId::parse(&body.user_id).map_err(|_| invalid_user_id())?;
    let mailbox = mailbox(&state, user);
    command(&state, mailbox, AdminCommand::EnableMailbox { locale: None }).await?;
    state.metrics.inc("hcal_mailbox_commands_total", "command", "enable");
    Ok(HttpResponse::Accepted().json(CommandAccepted { user_id: user, status: "pending".into() }))
}

/// `?erase=true` of a disable.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DisableQuery {
    /// Erase too: destroy the mailbox's data keys.
    #[serde(default)]
    erase: bool,
}

/// `DELETE /admin/v1/mailboxes/{user}`: disables a mailbox (its subscription is deleted);
/// `?erase=true` erases it too (its data keys destroyed, at the KMS as well, and every
/// projection forgets it). Answers 202 `disabling` or `erasing`; the status turns `disabled`
/// or `erased`.
pub async fn disable(
    _caller: AdminCaller,
    state: web::Data<AppState>,
    user: web::Path<UserObjectId>,
    query: web::Query<DisableQuery>,
) -> Result<HttpResponse, ApiError> {
    let user = user.into_inner();
    let (command_of, name, status) = if query.erase {
        (AdminCommand::EraseMailbox, "erase", "erasing")
    } else {
        (AdminCommand::DisableMailbox, "disable", "disabling")
    };
    command(&state, mailbox(&state, user), command_of).await?;
    state.metrics.inc("hcal_mailbox_commands_total", "command", name);
    Ok(HttpResponse::Accepted().json(CommandAccepted { user_id: user, status: status.into() }))
}

/// `GET /admin/v1/mailboxes`: every known mailbox with its status.
pub async fn list(_caller: AdminCaller, state: web::Data<AppState>) -> HttpResponse {
    let value = state
        .subscriptions
        .mailboxes()
        .into_iter()
        .map(|(mailbox, entry)| {
            let status = entry.status();
            let error = entry.error.as_ref().filter(|_| status == "error");
            MailboxSummary {
                user_id: mailbox.user,
                status: status.to_owned(),
                reason: error.map(|(reason, _)| reason.clone()),
                retry_at: error.and_then(|(_, at)| *at),
                subscription_expires_at: entry.subscription.as_ref().map(|(_, at)| *at),
            }
        })
        .collect();
    HttpResponse::Ok().json(MailboxList { value })
}

/// `GET /admin/v1/mailboxes/{user}`: the mailbox as its owner holds it.
pub async fn status(
    _caller: AdminCaller,
    state: web::Data<AppState>,
    user: web::Path<UserObjectId>,
) -> Result<HttpResponse, ApiError> {
    let user = user.into_inner();
    let s = state.registry.state(mailbox(&state, user)).await.map_err(ApiError::unavailable)?;
    let (status, reason) = s.status();
    Ok(HttpResponse::Ok().json(MailboxStatus {
        user_id: user,
        status: status.to_owned(),
        reason: reason.map(str::to_owned),
        retry_at: s.setup_error.as_ref().and_then(|(_, at)| *at),
        locale: s.locale.clone(),
        subscription: s.subscription.clone().map(|(id, expires_at)| SubscriptionStatus {
            webhook_ready: state.subscriptions.get(&id).is_some(),
            id,
            expires_at,
        }),
        meetings: s.meetings.len(),
        join_details: join_counts(&s),
        seq: s.seq,
    }))
}

/// Query of `GET /admin/v1/mailboxes/{user}/story`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StoryQuery {
    /// The Graph event id of the invite.
    pub event_id: String,
}

/// One step of an invite's story.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StoryStep {
    /// The mailbox's sequence number of the event.
    pub seq: u64,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// The event's type (`MeetingScheduled`, `JoinInfoPatched`, `MeetingSkipped`, …).
    #[serde(rename = "type")]
    pub kind: String,
    /// The event, its sealed parts opened (subject, addresses): for the operator only.
    pub data: serde_json::Value,
}

/// `GET /admin/v1/mailboxes/{user}/story?eventId=…`: every domain event of the mailbox about
/// one invite, in order, opened (what was detected, written, booked, skipped and why). Reads
/// the mailbox's partition of `mailbox-events` from its start: an operator's tool, not a hot
/// path. 404 `unknown_user` when the mailbox has no events at all.
pub async fn story(
    _caller: AdminCaller,
    state: web::Data<AppState>,
    user: web::Path<UserObjectId>,
    query: web::Query<StoryQuery>,
) -> Result<HttpResponse, ApiError> {
    use hcal_actors::log::{MAILBOX_EVENTS, partition_for};
    use hcal_actors::mailbox::envelope;
    let mailbox = mailbox(&state, user.into_inner());
    let wanted = serde_json::Value::String(query.into_inner().event_id);
    let key = mailbox.to_string();
    let partition = partition_for(&key, state.log.partitions(MAILBOX_EVENTS));
    let (mut offset, mut seen, mut steps) = (0, false, Vec::new());
    loop {
        let records = state.log.read(MAILBOX_EVENTS, partition, offset, 1000).await.map_err(ApiError::unavailable)?;
        let Some(last) = records.last().map(|r| r.offset) else { break };
        offset = last + 1;
        // Other mailboxes' records are passed over by their key, without opening them.
        for record in records.into_iter().filter(|r| r.key == key) {
            let Ok(env) = envelope::decode(&record.payload, &state.ring) else { continue };
            seen = true;
            let Ok(value) = serde_json::to_value(&env.event) else { continue };
            if value["data"]["eventId"] == wanted {
                steps.push(StoryStep {
                    seq: env.seq,
                    at: env.occurred_at,
                    kind: env.event.type_name().to_owned(),
                    data: value["data"].clone(),
                });
            }
        }
    }
    if !seen {
        return Err(ApiError::new(super::error::ErrorKind::UnknownUser, "hcal holds no events of this mailbox"));
    }
    Ok(HttpResponse::Ok().json(serde_json::json!({ "userId": mailbox.user, "eventId": wanted, "story": steps })))
}
