//! The rules of a mailbox's life: enabling (settings, subscription, first resync), set-up
//! failures and their retry schedule, renewal and recreation, lifecycle notifications,
//! resyncs, disabling, and finishing what a crash or a retry cut short.

use chrono::{DateTime, Utc};

use super::super::config::MailboxConfig;
use super::super::effect::{Decision, Effect};
use super::super::events::{MailboxEvent, SubscriptionPrivate};
use super::super::input::{SetupStep, SubscriptionCall};
use super::super::state::MailboxState;
use crate::ids::GraphEventId;
use crate::notification::LifecycleEvent;
use crate::ports::{EventType, GraphFailure};

/// `EnableMailbox`: read the settings first (the language, and proof the mailbox is reachable).
pub(super) fn enable(locale_hint: &Option<String>) -> Decision {
    Decision::effect(Effect::ReadMailboxSettings { locale_hint: locale_hint.clone() })
}

/// The settings were read: the mailbox is enabled (again: enabling clears a set-up error, so
/// an admin's enable retries at once) and, without a subscription, one is created.
pub(super) fn settings_read(
    state: &MailboxState,
    locale: Option<String>,
    config: &MailboxConfig,
    now: DateTime<Utc>,
) -> Decision {
    let decision = Decision::events(enabled_event(state, locale).into_iter().collect());
    if state.subscription.is_some() { decision } else { decision.then(create(config, now)) }
}

/// `MailboxEnabled`, unless the mailbox is already enabled, healthy and of that language.
fn enabled_event(state: &MailboxState, locale: Option<String>) -> Option<MailboxEvent> {
    let unchanged = locale.is_none() || state.locale == locale;
    (!(state.enabled && state.setup_error.is_none() && unchanged)).then_some(MailboxEvent::MailboxEnabled { locale })
}

/// A set-up step failed: the mailbox shows an error with the reason, and a retry time unless
/// an admin must act. A mailbox whose settings could not be read is still enabled (so its
/// status shows the reason).
pub(super) fn setup_failed(
    state: &MailboxState,
    step: &SetupStep,
    failure: &GraphFailure,
    config: &MailboxConfig,
    now: DateTime<Utc>,
) -> Decision {
    let mut events = Vec::new();
    let mut failures = state.setup_failures;
    match step {
        SetupStep::ReadSettings { locale_hint } => {
            if let Some(enabled) = enabled_event(state, locale_hint.clone()) {
                events.push(enabled);
                // Enabling starts the retry schedule afresh.
                failures = 0;
            }
        }
        SetupStep::CreateSubscription if !state.enabled => return Decision::nothing(),
        SetupStep::CreateSubscription => {}
    }
    events.push(setup_failure(failure, failures, config, now));
    Decision::events(events)
}

/// The `MailboxSetupFailed` a failure leads to, after `failures` earlier ones in a row.
fn setup_failure(failure: &GraphFailure, failures: u32, config: &MailboxConfig, now: DateTime<Utc>) -> MailboxEvent {
    let (reason, code, retry) = classify(failure);
    let m = &config.maintenance;
    let wait = if failures == 0 { m.retry_first } else { m.retry_later };
    MailboxEvent::MailboxSetupFailed { reason: reason.to_owned(), code, retry_at: retry.then(|| now + wait) }
}

/// Reason, Graph code and whether the failure may pass by itself. A mailbox outside the
/// application access policy, unlicensed, or an app without consent waits for an admin.
fn classify(failure: &GraphFailure) -> (&'static str, String, bool) {
    match failure {
        GraphFailure::NotInScope { code } => {
            let reason = match code.as_str() {
                "MailboxNotEnabledForRESTAPI" => "mailbox_not_enabled",
                "ErrorAccessDenied" | "ErrorInvalidUser" => "not_in_scope",
                _ => "consent_missing",
            };
            (reason, code.clone(), false)
        }
        GraphFailure::Throttled { .. } => ("throttled", "TooManyRequests".to_owned(), true),
        GraphFailure::Transient(_) | GraphFailure::Conflict => ("unavailable", String::new(), true),
        GraphFailure::Fatal { code, .. } => ("unavailable", code.clone(), true),
    }
}

/// Whether a set-up failure still holds the mailbox back at `now` (its retry time has not come,
/// or an admin must act).
fn waiting(state: &MailboxState, now: DateTime<Utc>) -> bool {
    state.setup_error.as_ref().is_some_and(|(_, retry_at)| retry_at.is_none_or(|at| at > now))
}

fn create(config: &MailboxConfig, now: DateTime<Utc>) -> Effect {
    Effect::CreateSubscription { expiration: now + config.maintenance.lifetime }
}

fn resync(config: &MailboxConfig, now: DateTime<Utc>) -> Effect {
    let (from, to) = config.maintenance.window(now);
    Effect::ReadWindow { from, to }
}

fn retry_later(failure: &GraphFailure) -> Effect {
    let after_secs = match failure {
        GraphFailure::Throttled { retry_after_secs } => Some(*retry_after_secs),
        _ => None,
    };
    Effect::RetryLater { after_secs, reason: failure.to_string() }
}

fn current(state: &MailboxState) -> Option<&str> {
    state.subscription.as_ref().map(|(id, _)| id.as_str())
}

/// `Resume`: an enabled mailbox without a subscription gets one (unless a set-up failure holds
/// it back), and a resync it owes (its subscription is new, or one was begun) is done. This is
/// what makes work cut short by a crash complete: the record that was being handled comes back,
/// and whatever it had recorded says what is left.
pub(super) fn resume(state: &MailboxState, config: &MailboxConfig, now: DateTime<Utc>) -> Decision {
    if !state.enabled || waiting(state, now) {
        return Decision::nothing();
    }
    match (&state.subscription, state.resync_due) {
        (None, _) => Decision::effect(create(config, now)),
        (Some(_), true) => Decision::effect(resync(config, now)),
        (Some(_), false) => Decision::nothing(),
    }
}

/// `RenewSubscription`: forget meetings over for long (the state stays bounded), then renew the
/// subscription, or create one when there is none and no set-up failure holds the mailbox back.
pub(super) fn renew(state: &MailboxState, config: &MailboxConfig, now: DateTime<Utc>) -> Decision {
    if !state.enabled {
        return Decision::nothing();
    }
    let ended_before = now - config.maintenance.forget_after;
    let forgotten = state
        .meetings
        .values()
        // A series master stays: its recurrence may go on.
        .filter(|m| m.details.end < ended_before && m.details.event_type != EventType::SeriesMaster)
        .map(|m| MailboxEvent::MeetingForgotten { event_id: m.details.event_id.clone(), ended_at: m.details.end })
        .collect();
    let mut decision = Decision::events(forgotten);
    // The lists' window moves on: every series' occurrences are read again.
    let window = config.maintenance.window(now);
    for m in state.meetings.values().filter(|m| m.details.event_type == EventType::SeriesMaster) {
        decision.effects.push(super::meeting::expand(&m.details.event_id, window));
    }
    match current(state) {
        Some(id) => decision.then(Effect::RenewSubscription {
            subscription_id: id.to_owned(),
            expiration: now + config.maintenance.lifetime,
        }),
        None if waiting(state, now) => decision,
        None => decision.then(create(config, now)),
    }
}

/// `DisableMailbox`: delete the subscription first, so Graph stops sending.
pub(super) fn disable(state: &MailboxState) -> Decision {
    match (state.enabled, current(state)) {
        (false, _) => Decision::nothing(),
        (true, Some(id)) => Decision::effect(Effect::DeleteSubscription { subscription_id: id.to_owned() }),
        (true, None) => Decision::event(MailboxEvent::MailboxDisabled {}),
    }
}

/// `EraseMailbox`: record the erasure, delete the subscription (so Graph stops sending), then
/// destroy the keys. Asked again (the key service was away), only the keys are destroyed.
pub(super) fn erase(state: &MailboxState) -> Decision {
    if state.erased {
        return Decision::effect(Effect::DestroyKeys);
    }
    let decision = Decision::event(MailboxEvent::MailboxErased {});
    let decision = match current(state) {
        Some(id) => decision.then(Effect::DeleteSubscription { subscription_id: id.to_owned() }),
        None => decision,
    };
    decision.then(Effect::DestroyKeys)
}

pub(super) fn deleted() -> Decision {
    Decision::event(MailboxEvent::MailboxDisabled {})
}

/// The subscription could not be deleted: try again when that may help; otherwise disable
/// anyway (the subscription expires by itself, and its notifications are refused meanwhile).
pub(super) fn delete_failed(failure: &GraphFailure) -> Decision {
    if failure.is_retryable() {
        Decision::effect(retry_later(failure))
    } else {
        Decision::event(MailboxEvent::MailboxDisabled {})
    }
}

/// A subscription recorded by an admin command of earlier versions; the resync it owes is done
/// by the next `Resume`.
pub(super) fn recorded(subscription_id: &str, expires_at: DateTime<Utc>, client_state: &str) -> Decision {
    Decision::event(subscription_created(subscription_id, expires_at, client_state))
}

fn subscription_created(subscription_id: &str, expires_at: DateTime<Utc>, client_state: &str) -> MailboxEvent {
    MailboxEvent::SubscriptionCreated {
        subscription_id: subscription_id.to_owned(),
        expires_at,
        private: SubscriptionPrivate { client_state: client_state.to_owned() },
    }
}

/// A new subscription: recorded, then the window is resynced (anything may have changed while
/// there was none).
pub(super) fn created(
    subscription_id: &str,
    expires_at: DateTime<Utc>,
    client_state: &str,
    config: &MailboxConfig,
    now: DateTime<Utc>,
) -> Decision {
    Decision::event(subscription_created(subscription_id, expires_at, client_state)).then(resync(config, now))
}

pub(super) fn renewed(subscription_id: &str, expires_at: DateTime<Utc>) -> Decision {
    Decision::event(MailboxEvent::SubscriptionRenewed { subscription_id: subscription_id.to_owned(), expires_at })
}

/// Reauthorized: renewed as well, as Graph asks.
pub(super) fn reauthorized(
    state: &MailboxState,
    subscription_id: &str,
    config: &MailboxConfig,
    now: DateTime<Utc>,
) -> Decision {
    if current(state) != Some(subscription_id) {
        return Decision::nothing();
    }
    Decision::effect(Effect::RenewSubscription {
        subscription_id: subscription_id.to_owned(),
        expiration: now + config.maintenance.lifetime,
    })
}

/// Lost: recorded, and a new subscription is created (whose resync covers the gap).
fn lost(subscription_id: &str, reason: &str, config: &MailboxConfig, now: DateTime<Utc>) -> Decision {
    Decision::event(MailboxEvent::SubscriptionLost {
        subscription_id: subscription_id.to_owned(),
        reason: reason.to_owned(),
    })
    .then(create(config, now))
}

/// Graph no longer has the subscription: it expired (found by a renewal) or could not be
/// reauthorized.
pub(super) fn not_found(
    state: &MailboxState,
    subscription_id: &str,
    call: SubscriptionCall,
    config: &MailboxConfig,
    now: DateTime<Utc>,
) -> Decision {
    if current(state) != Some(subscription_id) {
        return Decision::nothing();
    }
    match call {
        SubscriptionCall::Renew => lost(subscription_id, "expired", config, now),
        SubscriptionCall::Reauthorize => lost(subscription_id, "reauthorization_failed", config, now),
        // Deleting one that is gone is a success; the interpreter reports it so.
        SubscriptionCall::Delete => deleted(),
    }
}

/// A renewal that failed changes nothing (the subscription still lives; the scheduler asks
/// again before it lapses). A reauthorization that failed is tried again when that may help;
/// otherwise the subscription is replaced.
pub(super) fn call_failed(
    state: &MailboxState,
    subscription_id: &str,
    call: SubscriptionCall,
    failure: &GraphFailure,
    config: &MailboxConfig,
    now: DateTime<Utc>,
) -> Decision {
    match call {
        SubscriptionCall::Renew => Decision::nothing(),
        SubscriptionCall::Reauthorize if failure.is_retryable() => Decision::effect(retry_later(failure)),
        SubscriptionCall::Reauthorize => not_found(state, subscription_id, call, config, now),
        SubscriptionCall::Delete => delete_failed(failure),
    }
}

/// A lifecycle notification of the current subscription (one about an older subscription is
/// stale: what it asks for was done when that one was replaced).
pub(super) fn lifecycle(
    state: &MailboxState,
    subscription_id: &str,
    event: LifecycleEvent,
    config: &MailboxConfig,
    now: DateTime<Utc>,
) -> Decision {
    if current(state) != Some(subscription_id) {
        return Decision::nothing();
    }
    match event {
        // Recorded first, so a resync cut short is still owed after a restart.
        LifecycleEvent::Missed => {
            Decision::event(MailboxEvent::ResyncRequested { reason: "missed".to_owned() }).then(resync(config, now))
        }
        LifecycleEvent::SubscriptionRemoved => lost(subscription_id, "removed", config, now),
        LifecycleEvent::ReauthorizationRequired => {
            Decision::effect(Effect::ReauthorizeSubscription { subscription_id: subscription_id.to_owned() })
        }
    }
}

/// The window was read: every event in it is fed back as a change notification, and so is
/// every meeting the mailbox knows in the window that the read did not mention. A full delta
/// round names only events that exist; one deleted while hcal heard nothing (no subscription,
/// notifications dropped) is simply absent, and fed back it is read again: gone, it is
/// cancelled; moved out of the window, it is updated.
pub(super) fn window_read(
    state: &MailboxState,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    changes: &[(GraphEventId, bool)],
) -> Decision {
    let mentioned: std::collections::HashSet<&GraphEventId> = changes.iter().map(|(id, _)| id).collect();
    let absent = state
        .meetings
        .values()
        .filter(|m| m.details.end >= from && m.details.start <= to && !mentioned.contains(&m.details.event_id))
        .map(|m| (m.details.event_id.clone(), false));
    let changes = changes.iter().cloned().chain(absent).collect();
    Decision::effect(Effect::Redeliver { from, to, changes })
}

pub(super) fn resynced(from: DateTime<Utc>, to: DateTime<Utc>, changed: u32, removed: u32) -> Decision {
    Decision::event(MailboxEvent::ResyncCompleted { from, to, changed, removed })
}

/// Reading the window failed: tried again when that may help; otherwise the mailbox shows why
/// (the resync stays owed, and `Resume` does it once the failure's retry time has come).
pub(super) fn resync_failed(
    state: &MailboxState,
    failure: &GraphFailure,
    config: &MailboxConfig,
    now: DateTime<Utc>,
) -> Decision {
    if failure.is_retryable() {
        Decision::effect(retry_later(failure))
    } else {
        Decision::event(setup_failure(failure, state.setup_failures, config, now))
    }
}
