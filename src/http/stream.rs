//! `GET /v1/users/{user}/meetings/stream`: a user's meeting list as it changes, as
//! Server-Sent Events, with that user's token.
//!
//! - `created`, `updated` (data: the meeting as the list shows it) and `cancelled` (data:
//!   `{"eventId"}`), each with `id:` the sequence number of the mailbox event that made it, in
//!   the mailbox's order. A client that reconnects with `Last-Event-ID` first gets what it
//!   missed, or `reset` when more happened than hcal keeps (it then reads the list again).
//! - `join` (data: the meeting) `service.join_notice` (5 minutes) before a meeting starts, and at
//!   once on connecting for a meeting already inside that time and not over; no `id:`, since
//!   it is a moment, not a change.
//! - A comment line every 15 s keeps proxies from closing an idle stream; a closed connection
//!   ends the stream at the next line written.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use hcal_actors::ids::{MailboxId, UserObjectId};
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;

use super::auth::UserCaller;
use super::error::ApiError;
use super::meetings::Meeting;
use crate::app::AppState;
use crate::projections::live::{Change, ChangeKind, Missed};
use crate::projections::meetings::{self as projection, MeetingRow};

/// How often a quiet stream writes a comment.
const KEEPALIVE: Duration = Duration::from_secs(15);

/// How often the join times are looked at (the service clock may be moved in tests, so the
/// stream compares times rather than sleeping until one).
const TICK: Duration = Duration::from_secs(1);

fn frame(id: Option<u64>, event: &str, data: &serde_json::Value) -> web::Bytes {
    let id = id.map(|id| format!("id: {id}\n")).unwrap_or_default();
    web::Bytes::from(format!("{id}event: {event}\ndata: {data}\n\n"))
}

fn change_frame(change: &Change) -> web::Bytes {
    let data = match (&change.kind, &change.row) {
        (ChangeKind::Cancelled, _) | (_, None) => json!({ "eventId": change.event_id }),
        (_, Some(row)) => serde_json::to_value(Meeting::from(row.clone())).unwrap_or_default(),
    };
    let kind = if change.row.is_none() { ChangeKind::Cancelled } else { change.kind };
    frame(Some(change.seq), kind.name(), &data)
}

/// The meetings whose join notice may come within the next day: the list's rows of
/// `[now - 1 day, now + 1 day)`, occurrences expanded.
async fn upcoming(state: &AppState, mailbox: &MailboxId, now: DateTime<Utc>) -> HashMap<String, MeetingRow> {
    let (from, to) = (now - chrono::Duration::days(1), now + chrono::Duration::days(1));
    match projection::meetings(&state.store, &state.ring, mailbox, from, to).await {
        Ok(rows) => rows.into_iter().map(|r| (r.event_id.clone(), r)).collect(),
        Err(e) => {
            tracing::warn!(error = %e, "a stream could not read its list; join notices wait for the next change");
            HashMap::new()
        }
    }
}

/// `GET /v1/users/{user}/meetings/stream`.
pub async fn stream(
    caller: UserCaller,
    state: web::Data<AppState>,
    user: web::Path<UserObjectId>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let mailbox = caller.may_read(user.into_inner())?;
    let last_seen =
        req.headers().get("Last-Event-ID").and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u64>().ok());
    // Subscribed before anything is read, so no change falls between the replay and the feed.
    let feed = state.live.subscribe();
    let (tx, rx) = mpsc::channel::<web::Bytes>(64);
    let state = state.into_inner();
    tokio::spawn(run(state, mailbox, last_seen, feed, tx));
    let body = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|bytes| (Ok::<_, actix_web::Error>(bytes), rx))
    });
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body))
}

async fn run(
    state: Arc<AppState>,
    mailbox: MailboxId,
    last_seen: Option<u64>,
    mut feed: tokio::sync::broadcast::Receiver<Change>,
    tx: mpsc::Sender<web::Bytes>,
) {
    let lead =
        chrono::Duration::from_std(state.config.service.join_notice).unwrap_or_else(|_| chrono::Duration::minutes(5));
    let mut seen = last_seen.unwrap_or(0);
    if tx.send(web::Bytes::from_static(b": hcal meeting stream\n\n")).await.is_err() {
        return;
    }
    if let Some(last) = last_seen {
        match state.live.since(&mailbox, last) {
            Missed::Changes(changes) => {
                for change in changes {
                    seen = seen.max(change.seq);
                    if tx.send(change_frame(&change)).await.is_err() {
                        return;
                    }
                }
            }
            Missed::TooMany => {
                if tx.send(frame(None, "reset", &json!({}))).await.is_err() {
                    return;
                }
            }
        }
    }
    let mut rows = upcoming(&state, &mailbox, state.clock.now()).await;
    let mut noticed: HashSet<(String, DateTime<Utc>)> = HashSet::new();
    let mut tick = tokio::time::interval(TICK);
    let mut quiet_since = tokio::time::Instant::now();
    loop {
        tokio::select! {
            received = feed.recv() => {
                let frame = match received {
                    Ok(change) if change.mailbox == mailbox && change.seq > seen => {
                        seen = change.seq;
                        rows = upcoming(&state, &mailbox, state.clock.now()).await;
                        change_frame(&change)
                    }
                    Ok(_) => continue,
                    // Too slow to keep up: the list must be read again.
                    Err(RecvError::Lagged(_)) => frame(None, "reset", &json!({})),
                    Err(RecvError::Closed) => return,
                };
                if tx.send(frame).await.is_err() {
                    return;
                }
                quiet_since = tokio::time::Instant::now();
            }
            _ = tick.tick() => {
                let now = state.clock.now();
                let mut due: Vec<&MeetingRow> = rows
                    .values()
                    .filter(|r| r.start - lead <= now && now < r.end && !noticed.contains(&(r.event_id.clone(), r.start)))
                    .collect();
                due.sort_by_key(|r| (r.start, r.event_id.clone()));
                for row in due {
                    noticed.insert((row.event_id.clone(), row.start));
                    let data = serde_json::to_value(Meeting::from(row.clone())).unwrap_or_default();
                    if tx.send(frame(None, "join", &data)).await.is_err() {
                        return;
                    }
                    quiet_since = tokio::time::Instant::now();
                }
                if quiet_since.elapsed() >= KEEPALIVE {
                    if tx.send(web::Bytes::from_static(b": keepalive\n\n")).await.is_err() {
                        return;
                    }
                    quiet_since = tokio::time::Instant::now();
                }
            }
        }
    }
}
