//! The rules of meetings: what a change notification leads to, how an invite read from Graph
//! becomes a meeting (scheduled, updated, cancelled), when a keyword gets join details and when
//! it is skipped (and why), how the join block is written (in the organisation's or the
//! mailbox's language, with the marker), and what each outcome of the platform and of the write
//! leads to.

use super::super::config::{DecideConfig, Mode};
use super::super::effect::{Decision, Effect};
use super::super::events::{JoinOrigin, JoinTarget, MailboxEvent, MeetingDetails, MeetingPrivate, SkipReason};
use super::super::state::{Decoration, MailboxState, Meeting};
use super::DecideError;
use crate::detect::{self, AddressKind, Keyword};
use crate::ids::GraphEventId;
use crate::join::{Language, Marker, TEMPLATE_VERSION, insert_block, render_block};
use crate::notification::ChangeType;
use crate::ports::{GraphEvent, GraphFailure, MeetingRoom, PlatformFailure};

/// Attempts at writing join details into one change before the record is retried later: each
/// conflict means someone edited the invite between hcal's read and its write.
const MAX_WRITE_ATTEMPTS: u32 = 3;

/// A change notification: a deletion cancels a known meeting; anything else is read first.
pub(super) fn change(state: &MailboxState, change_type: ChangeType, event_id: &GraphEventId) -> Decision {
    match change_type {
        ChangeType::Deleted => cancelled(state, event_id),
        ChangeType::Created | ChangeType::Updated => {
            Decision::effect(Effect::FetchEvent { event_id: event_id.clone(), conflicts: 0 })
        }
    }
}

fn cancelled(state: &MailboxState, event_id: &GraphEventId) -> Decision {
    if state.meetings.contains_key(event_id) {
        Decision::event(MailboxEvent::MeetingCancelled { event_id: event_id.clone() })
    } else {
        Decision::nothing()
    }
}

/// A failed read: tried again when that may help; otherwise the notification is dropped (the
/// next change or resync reads the event again).
pub(super) fn fetch_failed(failure: &GraphFailure) -> Decision {
    if failure.is_retryable() { Decision::effect(retry_later(failure)) } else { Decision::nothing() }
}

fn retry_later(failure: &GraphFailure) -> Effect {
    let after_secs = match failure {
        GraphFailure::Throttled { retry_after_secs } => Some(*retry_after_secs),
        _ => None,
    };
    Effect::RetryLater { after_secs, reason: failure.to_string() }
}

fn settled(decoration: &Decoration) -> bool {
    matches!(decoration, Decoration::Done { .. } | Decoration::Abandoned)
}

fn hcal_target(platform: &str, has_sip: bool) -> JoinTarget {
    JoinTarget {
        provider: platform.to_owned(),
        kind: if has_sip { AddressKind::Sip } else { AddressKind::Url },
        origin: JoinOrigin::Hcal,
    }
}

/// The event as Graph returned it (or its absence).
pub(super) fn fetched(
    state: &MailboxState,
    event_id: &GraphEventId,
    event: Option<&GraphEvent>,
    conflicts: u32,
    config: &DecideConfig,
) -> Decision {
    let Some(event) = event else { return cancelled(state, event_id) };
    let existing = state.meetings.get(&event.id);
    if event.is_cancelled {
        return cancelled(state, &event.id);
    }
    if let Some(m) = existing {
        let echo = matches!(&m.decoration, Decoration::Done { change_key } if *change_key == event.change_key);
        if m.details.change_key == event.change_key || echo {
            // Nothing new (a replay, or the echo of hcal's own write); a decoration a crash or a
            // retry cut short is finished.
            return match &m.details.keyword {
                Some(keyword) if decoration_due(m) => decorate(event, keyword, conflicts, config),
                _ => Decision::nothing(),
            };
        }
    }
    observe(existing, event, conflicts, config)
}

/// Whether a known meeting still waits for its join details: an organiser's keyword invite
/// without hcal's block, neither written nor given up.
fn decoration_due(m: &Meeting) -> bool {
    m.details.keyword.is_some()
        && m.details.is_organizer
        && !m.details.join.as_ref().is_some_and(|j| j.origin == JoinOrigin::Hcal)
        && !settled(&m.decoration)
}

/// A new or changed invite: what detection finds in it, what users see of it, and what its
/// keyword leads to.
fn observe(existing: Option<&Meeting>, event: &GraphEvent, conflicts: u32, config: &DecideConfig) -> Decision {
    let invite = detect::Invite {
        location: &event.location,
        body: detect::Body::Html(&event.body_html),
        online_meeting_url: event.online_meeting_url.as_deref(),
    };
    let detection = config.rules.detector().detect(&invite, &config.keyword_names());
    let marker = event.marker.as_deref().and_then(Marker::decode);
    let details = details(event, &detection, marker.as_ref());
    let mut decision = Decision::nothing();
    match existing {
        None => decision.events.push(MailboxEvent::MeetingScheduled(details.clone())),
        Some(m) if visible_change(&m.details, &details) => {
            decision.events.push(MailboxEvent::MeetingUpdated(details.clone()))
        }
        Some(_) => {}
    }
    let decoration = existing.map(|m| &m.decoration);
    if let Some(m) = &marker {
        // hcal wrote this invite but the record of it was lost (a crash between the write and
        // the append): record it from the marker instead of writing again.
        if !matches!(decoration, Some(Decoration::Done { .. })) {
            decision.events.push(MailboxEvent::JoinInfoPatched {
                event_id: event.id.clone(),
                platform: m.platform.clone(),
                mode: m.mode.clone(),
                template: m.tpl,
                change_key: event.change_key.clone(),
                recovered: true,
                join: hcal_target(&m.platform, m.sip.is_some()),
                private: MeetingPrivate {
                    join_address: details.private.join_address.clone(),
                    web_link: Some(m.web.clone()),
                    ..MeetingPrivate::default()
                },
            });
        }
        return decision;
    }
    let Some(keyword) = &detection.keyword else { return decision };
    if decoration.is_some_and(settled) {
        return decision;
    }
    let reason = match config.rule(&keyword.name) {
        None => Some(SkipReason::UnsupportedKeyword),
        Some(_) if !event.is_organizer => Some(SkipReason::NotOrganizer),
        Some(rule) if detection.join.as_ref().is_some_and(|j| j.provider == rule.platform) => {
            Some(SkipReason::AlreadyHasJoinDetails)
        }
        Some(_) => None,
    };
    match reason {
        Some(reason) => {
            let explain = skip_explain(reason, Some(&detection));
            decision.events.push(MailboxEvent::MeetingSkipped { event_id: event.id.clone(), reason, explain });
            decision
        }
        None => {
            let decorated = decorate(event, keyword, conflicts, config);
            decision.events.extend(decorated.events);
            decision.effects.extend(decorated.effects);
            decision
        }
    }
}

/// What users see of an invite: times, type, organiser flag, keyword, join target and the
/// sealed details. A marker hcal wrote names the join target; otherwise detection's best.
fn details(event: &GraphEvent, detection: &detect::Detection, marker: Option<&Marker>) -> MeetingDetails {
    let (join, join_address, web_link) = match (marker, &detection.join) {
        (Some(m), _) => (
            Some(hcal_target(&m.platform, m.sip.is_some())),
            Some(m.sip.as_ref().map_or_else(|| m.web.clone(), |s| format!("sip:{s}"))),
            Some(m.web.clone()),
        ),
        (None, Some(c)) => (
            Some(JoinTarget { provider: c.provider.clone(), kind: c.kind, origin: JoinOrigin::Detected }),
            Some(c.address.clone()),
            None,
        ),
        (None, None) => (None, None, None),
    };
    MeetingDetails {
        event_id: event.id.clone(),
        change_key: event.change_key.clone(),
        start: event.start,
        end: event.end,
        is_all_day: event.is_all_day,
        event_type: event.event_type,
        is_organizer: event.is_organizer,
        keyword: detection.keyword.clone(),
        join,
        private: MeetingPrivate {
            subject: event.subject.clone(),
            organizer: event.organizer.clone(),
            attendees: event.attendees.clone(),
            join_address,
            web_link,
        },
    }
}

/// The first step of writing join details for a keyword: the action (the modifier, else the
/// keyword's default) must be one hcal knows and books, and the invite must name its organiser.
fn decorate(event: &GraphEvent, keyword: &Keyword, conflicts: u32, config: &DecideConfig) -> Decision {
    let Some(rule) = config.rule(&keyword.name) else { return Decision::nothing() };
    let mode = match &keyword.modifier {
        None => rule.default_mode,
        Some(modifier) => match Mode::parse(modifier) {
            Some(mode) => mode,
            // A typo is the organiser's to fix: say so instead of booking a default.
            None => {
                return Decision::event(MailboxEvent::MeetingSkipped {
                    event_id: event.id.clone(),
                    reason: SkipReason::UnknownModifier,
                    explain: skip_explain(SkipReason::UnknownModifier, None),
                });
            }
        },
    };
    let failed = |reason: &str| {
        Decision::event(MailboxEvent::JoinInfoPatchFailed {
            event_id: event.id.clone(),
            reason: reason.to_owned(),
            retryable: false,
        })
    };
    if mode != Mode::MyRoom {
        return failed("unsupported_mode");
    }
    let Some(organizer) = event.organizer.as_ref().map(|o| o.address.clone()) else {
        return failed("no_organizer");
    };
    Decision::effect(Effect::FindPersonalRoom {
        event: Box::new(event.clone()),
        platform: rule.platform.clone(),
        organizer,
        mode: mode.as_str().to_owned(),
        conflicts,
    })
}

fn known<'a>(state: &'a MailboxState, event_id: &GraphEventId) -> Result<&'a Meeting, DecideError> {
    state.meetings.get(event_id).ok_or(DecideError::UnknownMeeting)
}

/// The room is known: the block goes into the body, with the marker, only if the invite has not
/// changed since it was read. It is in the organisation's language when one is configured, else
/// in the mailbox's (its translation, or that of its language), else in the fallback language;
/// with the organisation's header and footer of that language. The language is chosen once,
/// here: a decorated invite is never written again (its marker and `Decoration::Done` say so),
/// so a later change of either language leaves it as it was.
pub(super) fn room_found(
    state: &MailboxState,
    event: &GraphEvent,
    room: &MeetingRoom,
    mode: &str,
    conflicts: u32,
    config: &DecideConfig,
) -> Result<Decision, DecideError> {
    known(state, &event.id)?;
    let join = &config.join;
    let language = join
        .default_language()
        .or_else(|| state.locale.as_deref().and_then(Language::resolve))
        .unwrap_or(join.fallback_language());
    Ok(Decision::effect(Effect::WriteJoinInfo {
        event_id: event.id.clone(),
        expected_change_key: event.change_key.clone(),
        body_html: insert_block(&event.body_html, &render_block(room, language, join.texts(language))),
        marker: Marker::new(room, mode).encode(),
        room: room.clone(),
        mode: mode.to_owned(),
        conflicts,
    }))
}

/// The platform refused the organiser (no account, no personal room): skipped, for good; an
/// outage is tried again later.
pub(super) fn platform_failed(
    state: &MailboxState,
    event_id: &GraphEventId,
    failure: &PlatformFailure,
) -> Result<Decision, DecideError> {
    let meeting = known(state, event_id)?;
    Ok(match failure {
        PlatformFailure::Transient(reason) => {
            Decision::effect(Effect::RetryLater { after_secs: None, reason: reason.clone() })
        }
        PlatformFailure::Refused(_) if settled(&meeting.decoration) => Decision::nothing(),
        PlatformFailure::Refused(_) => Decision::event(MailboxEvent::MeetingSkipped {
            event_id: event_id.clone(),
            reason: SkipReason::PlatformRefused,
            explain: skip_explain(SkipReason::PlatformRefused, None),
        }),
    })
}

/// Written: recorded with what the invite now carries.
pub(super) fn written(
    state: &MailboxState,
    event_id: &GraphEventId,
    room: &MeetingRoom,
    mode: &str,
    change_key: &str,
) -> Result<Decision, DecideError> {
    known(state, event_id)?;
    let private = MeetingPrivate {
        join_address: Some(room.sip_address.as_ref().map_or_else(|| room.web_link.clone(), |s| format!("sip:{s}"))),
        web_link: Some(room.web_link.clone()),
        ..MeetingPrivate::default()
    };
    Ok(Decision::event(MailboxEvent::JoinInfoPatched {
        event_id: event_id.clone(),
        platform: room.platform.clone(),
        mode: mode.to_owned(),
        template: TEMPLATE_VERSION,
        change_key: change_key.to_owned(),
        recovered: false,
        join: hcal_target(&room.platform, room.sip_address.is_some()),
        private,
    }))
}

/// Someone edited the invite between the read and the write: read it again, a few times, then
/// leave the record for later.
pub(super) fn conflicted(event_id: &GraphEventId, conflicts: u32) -> Decision {
    let conflicts = conflicts + 1;
    if conflicts < MAX_WRITE_ATTEMPTS {
        Decision::effect(Effect::FetchEvent { event_id: event_id.clone(), conflicts })
    } else {
        Decision::effect(Effect::RetryLater {
            after_secs: None,
            reason: "the invite kept changing while join details were written".to_owned(),
        })
    }
}

/// The write failed: tried again when that may help; otherwise given up with the reason.
pub(super) fn patch_failed(
    state: &MailboxState,
    event_id: &GraphEventId,
    failure: &GraphFailure,
) -> Result<Decision, DecideError> {
    known(state, event_id)?;
    if failure.is_retryable() {
        return Ok(Decision::effect(retry_later(failure)));
    }
    let reason = match failure {
        GraphFailure::NotInScope { .. } => "not_in_scope",
        _ => "fatal",
    };
    Ok(Decision::event(MailboxEvent::JoinInfoPatchFailed {
        event_id: event_id.clone(),
        reason: reason.to_owned(),
        retryable: false,
    }))
}

/// The words `MeetingSkipped` carries: the reason, then what detection found (no addresses).
fn skip_explain(reason: SkipReason, detection: Option<&detect::Detection>) -> String {
    let why = match reason {
        SkipReason::NotOrganizer => "the keyword is in an attendee's copy; only the organiser's copy is decorated",
        SkipReason::AlreadyHasJoinDetails => "the invite already carries join details of the keyword's platform",
        SkipReason::UnsupportedKeyword => "the keyword is not configured for a platform hcal can book",
        SkipReason::PlatformRefused => "the meeting platform refused to book (no account or no personal room)",
        SkipReason::UnknownModifier => {
            "the keyword's modifier is not one hcal knows (myroom, onetime, space); the invite was left alone"
        }
    };
    match detection {
        Some(d) => format!("{why}; detection: {}", d.summary()),
        None => why.to_owned(),
    }
}

/// Whether users would see a difference (the change key alone is not one).
fn visible_change(before: &MeetingDetails, after: &MeetingDetails) -> bool {
    let strip = |d: &MeetingDetails| MeetingDetails { change_key: String::new(), ..d.clone() };
    strip(before) != strip(after)
}
