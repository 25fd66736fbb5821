//! The rules of presence: automatic replies read from the mailbox settings (at enable, by the
//! poller) are recorded when they changed (`OOOChanged`, never the reply messages), a new
//! language as `LanguageDetected`, and whenever the presence they mean differs from the one last
//! recorded, `PresenceChanged`. The timer at a scheduled window's start or end
//! (`PresenceDue`) only does the last step, so presence changes at the window's edges without a
//! read in between. Disabling a mailbox that is out of office makes it available: hcal stops
//! following its replies and must not leave a status behind that nothing will clear.

use chrono::{DateTime, Utc};

use super::super::effect::Decision;
use super::super::events::MailboxEvent;
use super::super::state::MailboxState;
use crate::presence::{AutoReplies, PresenceStatus};

/// The settings were read: what changed in the automatic replies and the language, and the
/// presence they mean now.
pub(super) fn observed(
    state: &MailboxState,
    replies: Option<&AutoReplies>,
    locale: Option<&str>,
    now: DateTime<Utc>,
) -> Decision {
    let mut events = Vec::new();
    if let Some(locale) = locale.filter(|l| state.locale.as_deref() != Some(*l)) {
        events.push(MailboxEvent::LanguageDetected { locale: locale.to_owned() });
    }
    if let Some(replies) = replies {
        if state.auto_replies.as_ref() != Some(replies) {
            events.push(MailboxEvent::OooChanged { status: replies.status, start: replies.start, end: replies.end });
        }
        events.extend(change(state.presence, replies, now));
    }
    Decision::events(events)
}

/// The timer of a window's edge: the presence the recorded setting means now.
pub(super) fn due(state: &MailboxState, now: DateTime<Utc>) -> Decision {
    match &state.auto_replies {
        Some(replies) => Decision::events(change(state.presence, replies, now).into_iter().collect()),
        None => Decision::nothing(),
    }
}

/// The mailbox is being disabled: out of office ends with it.
pub(super) fn disabled(state: &MailboxState, now: DateTime<Utc>) -> Option<MailboxEvent> {
    (state.presence == PresenceStatus::OutOfOffice).then_some(MailboxEvent::PresenceChanged {
        status: PresenceStatus::Available,
        since: now,
        until: None,
    })
}

/// `PresenceChanged` when `replies` at `now` mean other than `current`.
fn change(current: PresenceStatus, replies: &AutoReplies, now: DateTime<Utc>) -> Option<MailboxEvent> {
    let at = replies.presence_at(now);
    (at.status != current).then(|| MailboxEvent::PresenceChanged {
        status: at.status,
        since: at.since.unwrap_or(now),
        until: at.until,
    })
}
