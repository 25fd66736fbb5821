//! `decide`: every business rule of a mailbox. Pure: given the state, an input (which carries
//! what an effect returned, failures included, classified), the configuration and the time, it
//! returns the events that happened and the effects the outside world must perform, or an error.
//! The rules of the subscription's life are in [`subscription`], those of meetings and their join
//! details in [`meeting`].

mod access;
pub mod booking;
mod meeting;
mod presence;
mod subscription;

use chrono::{DateTime, Utc};

pub use super::config::{AdminRules, DecideConfig, KeywordRule, MailboxConfig, Maintenance};
use super::effect::Decision;
use super::input::{MailboxInput, SubscriptionCall};
use super::state::MailboxState;

/// Inputs `decide` refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecideError {
    /// The mailbox is not enabled.
    #[error("mailbox is not enabled")]
    NotEnabled,
    /// An outcome about a meeting the mailbox does not know.
    #[error("unknown meeting")]
    UnknownMeeting,
}

/// Decides what happened and what must be done.
pub fn decide(
    state: &MailboxState,
    input: &MailboxInput,
    config: &MailboxConfig,
    now: DateTime<Utc>,
) -> Result<Decision, DecideError> {
    use MailboxInput as I;
    match input {
        // Valid in any state.
        I::EnableMailbox { locale } => Ok(subscription::enable(locale)),
        I::MailboxSettingsRead { locale, locale_hint, automatic_replies } => {
            let mut decision =
                subscription::settings_read(state, locale.clone().or_else(|| locale_hint.clone()), config, now);
            // The language went into `MailboxEnabled`; the replies follow it.
            let observed = presence::observed(state, automatic_replies.as_ref(), None, now);
            decision.events.extend(observed.events);
            Ok(decision)
        }
        I::SetupFailed { step, failure } => Ok(subscription::setup_failed(state, step, failure, config, now)),
        I::Resume => {
            // Deletions owed first: they need no subscription.
            let mut decision = booking::resume(state);
            let resumed = subscription::resume(state, config, now);
            decision.events.extend(resumed.events);
            decision.effects.extend(resumed.effects);
            Ok(decision)
        }
        // A deletion is owed whether or not the mailbox is still enabled.
        I::BookingCancelled { event_id, booking_id } => Ok(booking::cancelled(event_id, booking_id)),
        I::CancelFailed { event_id, booking_id, failure } => Ok(booking::cancel_failed(event_id, booking_id, failure)),
        I::RenewSubscription => Ok(subscription::renew(state, config, now)),
        I::EraseMailbox => {
            let mut decision = subscription::erase(state);
            if state.enabled {
                // Presence goes back to available before the keys go, so every sink hears it.
                decision.events.splice(0..0, presence::disabled(state, now));
            }
            Ok(decision)
        }
        I::KeysDestroyed => Ok(Decision::nothing()),
        I::DisableMailbox => {
            let mut decision = subscription::disable(state);
            if state.enabled {
                decision.events.extend(presence::disabled(state, now));
            }
            Ok(decision)
        }
        // Tokens are the user's, enabled or not: disabling a mailbox does not lock its user
        // out of the list hcal still holds, and revoking must work whatever the state.
        I::IssueToken { token_id, holder, digest } => Ok(access::issue(state, token_id, *holder, digest)),
        I::RevokeToken { token_id } => Ok(access::revoke(state, token_id)),
        I::RegisterDevice { device_id, kind, private } => Ok(access::register_device(state, device_id, kind, private)),
        I::RemoveDevice { device_id } => Ok(access::remove_device(state, device_id)),
        _ if !state.enabled => Err(DecideError::NotEnabled),
        I::SettingsPolled { locale, automatic_replies } => {
            Ok(presence::observed(state, Some(automatic_replies), locale.as_deref(), now))
        }
        I::PresenceDue => Ok(presence::due(state, now)),
        I::SubscriptionDeleted { .. } => Ok(subscription::deleted()),
        I::SubscriptionCallFailed { call: SubscriptionCall::Delete, failure, .. } => {
            Ok(subscription::delete_failed(failure))
        }
        I::RecordSubscription { subscription_id, expires_at, client_state } => {
            Ok(subscription::recorded(subscription_id, *expires_at, client_state))
        }
        I::SubscriptionCreated { subscription_id, expires_at, client_state } => {
            Ok(subscription::created(subscription_id, *expires_at, client_state, config, now))
        }
        I::SubscriptionRenewed { subscription_id, expires_at } => {
            Ok(subscription::renewed(subscription_id, *expires_at))
        }
        I::SubscriptionReauthorized { subscription_id } => {
            Ok(subscription::reauthorized(state, subscription_id, config, now))
        }
        I::SubscriptionNotFound { subscription_id, call } => {
            Ok(subscription::not_found(state, subscription_id, *call, config, now))
        }
        I::SubscriptionCallFailed { subscription_id, call, failure } => {
            Ok(subscription::call_failed(state, subscription_id, *call, failure, config, now))
        }
        I::HandleLifecycle { subscription_id, event } => {
            Ok(subscription::lifecycle(state, subscription_id, *event, config, now))
        }
        I::WindowRead { from, to, changes } => Ok(subscription::window_read(state, *from, *to, changes)),
        I::WindowResynced { from, to, changed, removed } => Ok(subscription::resynced(*from, *to, *changed, *removed)),
        I::ResyncFailed { failure } => Ok(subscription::resync_failed(state, failure, config, now)),
        I::HandleChange { change_type, event_id } => Ok(meeting::change(state, *change_type, event_id)),
        I::EventFetched { event_id, event, conflicts } => {
            let window = config.maintenance.window(now);
            Ok(meeting::fetched(state, event_id, event.as_deref(), *conflicts, &config.domain, now, window))
        }
        I::FetchFailed { failure, .. } => Ok(meeting::fetch_failed(failure)),
        I::RoomFound { event, room, mode, conflicts } => {
            meeting::room_found(state, event, room, mode, *conflicts, &config.domain)
        }
        I::PlatformFailed { event_id, event, failure } => {
            meeting::platform_failed(state, event_id, event.as_deref(), failure, &config.domain)
        }
        I::OccurrencesRead { event_id, from, to, occurrences } => {
            meeting::expanded(state, event_id, *from, *to, occurrences)
        }
        // The lists keep the occurrences read last; the next change or renewal reads again
        // (a failed read never holds up the record that asked for it).
        I::OccurrencesFailed { .. } => Ok(Decision::nothing()),
        I::NoticeWritten { event_id, reason, change_key } => meeting::notified(state, event_id, *reason, change_key),
        I::Booked { event, booking, mode, conflicts } => {
            meeting::booked(state, event, booking, mode, *conflicts, &config.domain)
        }
        I::BookingRescheduled { event_id, booking_id, start, end } => {
            Ok(booking::rescheduled(event_id, booking_id, *start, *end))
        }
        I::JoinInfoCleared { event_id, change_key } => meeting::cleared(state, event_id, change_key),
        I::JoinInfoWritten { event_id, room, mode, change_key } => {
            meeting::written(state, event_id, room, mode, change_key)
        }
        I::PatchConflicted { event_id, conflicts } => Ok(meeting::conflicted(event_id, *conflicts)),
        I::PatchFailed { event_id, failure } => meeting::patch_failed(state, event_id, failure),
    }
}
