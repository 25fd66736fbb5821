//! The rules of meetings: what a change notification leads to, how an invite read from Graph
//! becomes a meeting (scheduled, updated, cancelled), when a keyword gets join details and when
//! it is skipped (and why), how the join block is written (in the organisation's or the
//! mailbox's language, with the marker), and what each outcome of the platform and of the write
//! leads to.

use super::super::config::{DecideConfig, Mode, UNKNOWN_MODIFIER};
use super::super::effect::{Decision, Effect};
use super::super::events::{JoinOrigin, JoinTarget, MailboxEvent, MeetingDetails, MeetingPrivate, SkipReason};
use super::super::state::{Decoration, MailboxState, Meeting};
use super::{DecideError, booking};
use crate::detect::{self, AddressKind, Keyword};
use crate::ids::GraphEventId;
use crate::join::{
    Language, Marker, NoticeReason, TEMPLATE_VERSION, has_block, insert_block, read_block, remove_block, render_block,
    render_notice,
};
use crate::notification::ChangeType;
use crate::ports::{Booking, EventType, GraphEvent, GraphFailure, MeetingRoom, Occurrence, PlatformFailure};
use chrono::{DateTime, Utc};

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

/// A cancelled invite: the meeting is gone, and so is the meeting booked for it.
fn cancelled(state: &MailboxState, event_id: &GraphEventId) -> Decision {
    match state.meetings.get(event_id) {
        Some(m) => {
            let mut decision = Decision::event(MailboxEvent::MeetingCancelled { event_id: event_id.clone() });
            decision.effects.extend(booking::cancel(m));
            decision
        }
        None => Decision::nothing(),
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
    matches!(decoration, Decoration::Done { .. } | Decoration::Abandoned | Decoration::Refused)
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
    now: DateTime<Utc>,
    window: (DateTime<Utc>, DateTime<Utc>),
) -> Decision {
    let Some(event) = event else { return cancelled(state, event_id) };
    let existing = state.meetings.get(&event.id);
    if event.is_cancelled {
        return cancelled(state, &event.id);
    }
    if let Some(m) = existing {
        let echo = matches!(&m.decoration, Decoration::Done { change_key } if *change_key == event.change_key);
        if m.details.change_key == event.change_key || echo {
            // Nothing new (a replay, or the echo of hcal's own write); a decoration or a move a
            // crash or a retry cut short is finished.
            return match &m.details.keyword {
                Some(keyword) if decoration_due(m) => decorate(state, event, keyword, conflicts, config),
                Some(_) if matches!(m.decoration, Decoration::Done { .. }) => {
                    Decision { events: Vec::new(), effects: booking::follow(m, event).into_iter().collect() }
                }
                _ => Decision::nothing(),
            };
        }
    }
    let mut decision = observe(state, existing, event, conflicts, config, now);
    // A series that appeared or changed (an occurrence cancelled changes it too), or one of
    // its occurrences that changed: the series' occurrences are read again, for the lists.
    let series = match (event.event_type, &event.series_master_id) {
        (EventType::SeriesMaster, _) => Some(&event.id),
        (EventType::Occurrence | EventType::Exception, Some(master)) if state.meetings.contains_key(master) => {
            Some(master)
        }
        _ => None,
    };
    if let Some(series) = series {
        decision.effects.push(expand(series, window));
    }
    decision
}

/// Reading a series' occurrences in the window.
pub(super) fn expand(event_id: &GraphEventId, (from, to): (DateTime<Utc>, DateTime<Utc>)) -> Effect {
    Effect::ReadOccurrences { event_id: event_id.clone(), from, to }
}

/// The occurrences are read: recorded for the lists (a series cancelled meanwhile is unknown).
pub(super) fn expanded(
    state: &MailboxState,
    event_id: &GraphEventId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    occurrences: &[Occurrence],
) -> Result<Decision, DecideError> {
    known(state, event_id)?;
    Ok(Decision::event(MailboxEvent::SeriesExpanded {
        event_id: event_id.clone(),
        from,
        to,
        occurrences: occurrences.to_vec(),
    }))
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
fn observe(
    state: &MailboxState,
    existing: Option<&Meeting>,
    event: &GraphEvent,
    conflicts: u32,
    config: &DecideConfig,
    now: DateTime<Utc>,
) -> Decision {
    let invite = detect::Invite {
        location: &event.location,
        body: detect::Body::Html(&event.body_html),
        online_meeting_url: event.online_meeting_url.as_deref(),
    };
    let mut detection = config.rules.detector().detect(&invite, &config.keyword_names());
    // What the organiser typed after a keyword never reaches an event (events are stored with
    // this part in clear): a modifier is recorded as the mode it names, or as `?`.
    if let Some(modifier) = detection.keyword.as_mut().and_then(|k| k.modifier.as_mut()) {
        *modifier = Mode::parse(modifier).map_or(UNKNOWN_MODIFIER, Mode::as_str).to_owned();
    }
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
    // hcal's block in the organiser's copy counts even without the marker (lost, or stripped).
    let decorated = marker.is_some()
        || matches!(decoration, Some(Decoration::Done { .. }))
        || (event.is_organizer && has_block(&event.body_html));
    if detection.keyword.is_none() && decorated {
        // The organiser removed the keyword: hcal's block goes, and the meeting booked for it.
        decision.effects.push(remove(event));
        return decision;
    }
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
        // A booked meeting moves with its invite.
        decision.effects.extend(existing.and_then(|m| booking::follow(m, event)));
        return decision;
    }
    let Some(keyword) = &detection.keyword else { return decision };
    // Given up, until what stood in the way may have changed: the keyword (a typo fixed), or,
    // for an organiser the platform refused, any later change of the invite.
    let retry = match (decoration, existing) {
        (Some(Decoration::Refused), _) => true,
        (Some(Decoration::Abandoned), Some(m)) => m.details.keyword != detection.keyword,
        _ => false,
    };
    if decoration.is_some_and(settled) && !retry {
        return decision;
    }
    let reason = match config.rule(&keyword.name) {
        None => Some(SkipReason::UnsupportedKeyword),
        Some(_) if !event.is_organizer => Some(SkipReason::NotOrganizer),
        Some(rule) if detection.join.as_ref().is_some_and(|j| j.provider == rule.platform) => {
            Some(SkipReason::AlreadyHasJoinDetails)
        }
        // An invite whose time is over gets nothing booked or written (a series goes on).
        Some(_) if event.end <= now && event.event_type != EventType::SeriesMaster => Some(SkipReason::MeetingOver),
        Some(_) => None,
    };
    match reason {
        Some(reason) => {
            let explain = skip_explain(reason, Some(&detection));
            decision.events.push(MailboxEvent::MeetingSkipped { event_id: event.id.clone(), reason, explain });
            decision
        }
        None => {
            let decorated = decorate(state, event, keyword, conflicts, config);
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
        // An attendee's copy: the block without the marker, the organiser's join target.
        (None, _) if let Some(links) = read_block(&event.body_html) => {
            let provider = links
                .platform
                .clone()
                .or_else(|| detection.join.as_ref().map(|c| c.provider.clone()))
                .unwrap_or_default();
            (
                Some(hcal_target(&provider, links.sip.is_some())),
                Some(links.sip.as_ref().map_or_else(|| links.web.clone(), |s| format!("sip:{s}"))),
                Some(links.web),
            )
        }
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
        is_private: matches!(event.sensitivity.as_str(), "private" | "confidential"),
        response: Some(event.response.clone()),
        time_zone: event.time_zone.clone(),
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
fn decorate(
    state: &MailboxState,
    event: &GraphEvent,
    keyword: &Keyword,
    conflicts: u32,
    config: &DecideConfig,
) -> Decision {
    let Some(rule) = config.rule(&keyword.name) else { return Decision::nothing() };
    let mode = match &keyword.modifier {
        None => rule.default_mode,
        Some(modifier) => match Mode::parse(modifier) {
            Some(mode) => mode,
            // A typo is the organiser's to fix: say so instead of booking a default.
            None => {
                let skipped = Decision::event(MailboxEvent::MeetingSkipped {
                    event_id: event.id.clone(),
                    reason: SkipReason::UnknownModifier,
                    explain: skip_explain(SkipReason::UnknownModifier, None),
                });
                return with_notice(skipped, state, event, NoticeReason::UnknownModifier, &rule.platform, config);
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
    let Some(organizer) = event.organizer.as_ref().map(|o| o.address.clone()) else {
        return failed("no_organizer");
    };
    if let Some(kind) = booking::kind(mode) {
        if event.event_type == EventType::SeriesMaster {
            // A booked meeting has one time; a series needs a room that every occurrence shares.
            let given_up = failed("series_not_bookable");
            return with_notice(given_up, state, event, NoticeReason::SeriesNotBookable, &rule.platform, config);
        }
        // Booked already (the write that follows was cut short or conflicted): written again
        // from the booking, never booked twice.
        if let Some(b) = state.meetings.get(&event.id).and_then(|m| m.booking.as_ref())
            && b.platform == rule.platform
        {
            return write_join(state, event, &b.room, mode.as_str(), conflicts, config);
        }
        return Decision::effect(Effect::BookMeeting {
            event: Box::new(event.clone()),
            request: booking::request(event, &rule.platform, kind, &organizer),
            mode: mode.as_str().to_owned(),
            conflicts,
        });
    }
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
    Ok(write_join(state, event, room, mode, conflicts, config))
}

/// A meeting was booked: recorded, then its join details written as a room's are.
pub(super) fn booked(
    state: &MailboxState,
    event: &GraphEvent,
    booked: &Booking,
    mode: &str,
    conflicts: u32,
    config: &DecideConfig,
) -> Result<Decision, DecideError> {
    known(state, &event.id)?;
    let mut decision = Decision::event(booking::booked_event(event, booked, mode));
    decision.effects.extend(write_join(state, event, &booked.room, mode, conflicts, config).effects);
    Ok(decision)
}

fn write_join(
    state: &MailboxState,
    event: &GraphEvent,
    room: &MeetingRoom,
    mode: &str,
    conflicts: u32,
    config: &DecideConfig,
) -> Decision {
    let join = &config.join;
    let language = language(state, config);
    Decision::effect(Effect::WriteJoinInfo {
        event_id: event.id.clone(),
        expected_change_key: event.change_key.clone(),
        // Whatever block the invite carries (a notice, an older one) gives way to this one.
        body_html: insert_block(
            &remove_block(&event.body_html).unwrap_or_else(|| event.body_html.clone()),
            &render_block(room, language, join.texts(language)),
        ),
        marker: Marker::new(room, mode).encode(),
        room: room.clone(),
        mode: mode.to_owned(),
        conflicts,
    })
}

/// The keyword is gone from a decorated invite: the body without hcal's block and without the
/// marker is written (only if the invite has not changed since it was read).
fn remove(event: &GraphEvent) -> Effect {
    Effect::RemoveJoinInfo {
        event_id: event.id.clone(),
        expected_change_key: event.change_key.clone(),
        body_html: remove_block(&event.body_html).unwrap_or_else(|| event.body_html.clone()),
        conflicts: 0,
    }
}

/// The block is out: recorded, and the meeting booked for it is deleted.
pub(super) fn cleared(
    state: &MailboxState,
    event_id: &GraphEventId,
    change_key: &str,
) -> Result<Decision, DecideError> {
    let meeting = known(state, event_id)?;
    let mut decision = Decision::event(MailboxEvent::JoinInfoRemoved {
        event_id: event_id.clone(),
        change_key: change_key.to_owned(),
    });
    decision.effects.extend(booking::cancel(meeting));
    Ok(decision)
}

/// The platform refused the organiser (no account, no personal room): skipped until the invite
/// changes again, and the organiser told; an outage is tried again later.
pub(super) fn platform_failed(
    state: &MailboxState,
    event_id: &GraphEventId,
    event: Option<&GraphEvent>,
    failure: &PlatformFailure,
    config: &DecideConfig,
) -> Result<Decision, DecideError> {
    let meeting = known(state, event_id)?;
    Ok(match failure {
        PlatformFailure::Transient(reason) => {
            Decision::effect(Effect::RetryLater { after_secs: None, reason: reason.clone() })
        }
        PlatformFailure::Refused(_) if settled(&meeting.decoration) => Decision::nothing(),
        PlatformFailure::Refused(_) => {
            let skipped = Decision::event(MailboxEvent::MeetingSkipped {
                event_id: event_id.clone(),
                reason: SkipReason::PlatformRefused,
                explain: skip_explain(SkipReason::PlatformRefused, None),
            });
            let platform =
                meeting.details.keyword.as_ref().and_then(|k| config.rule(&k.name)).map_or("", |r| r.platform.as_str());
            match event {
                Some(event) => with_notice(skipped, state, event, NoticeReason::PlatformRefused, platform, config),
                None => skipped,
            }
        }
    })
}

/// `decision`, then a notice to the organiser written into the invite in the block's language
/// (unless the organisation turned notices off, the copy is not the organiser's, or the invite
/// already says exactly this). It replaces whatever block the invite carries, and the block
/// replaces it once join details can be added.
fn with_notice(
    mut decision: Decision,
    state: &MailboxState,
    event: &GraphEvent,
    reason: NoticeReason,
    platform: &str,
    config: &DecideConfig,
) -> Decision {
    if !config.notify_organizer || !event.is_organizer {
        return decision;
    }
    let notice = render_notice(reason, platform, language(state, config));
    if event.body_html.contains(&notice) {
        return decision;
    }
    let body = remove_block(&event.body_html).unwrap_or_else(|| event.body_html.clone());
    decision.effects.push(Effect::WriteNotice {
        event_id: event.id.clone(),
        expected_change_key: event.change_key.clone(),
        body_html: insert_block(&body, &notice),
        reason,
    });
    decision
}

/// The notice is in the invite: recorded (its echo is then nothing new).
pub(super) fn notified(
    state: &MailboxState,
    event_id: &GraphEventId,
    reason: NoticeReason,
    change_key: &str,
) -> Result<Decision, DecideError> {
    known(state, event_id)?;
    Ok(Decision::event(MailboxEvent::OrganizerNotified {
        event_id: event_id.clone(),
        reason,
        change_key: change_key.to_owned(),
    }))
}

/// The block's language: the organisation's when configured, else the mailbox's (its
/// translation, or that of its language), else the fallback language.
fn language(state: &MailboxState, config: &DecideConfig) -> Language {
    let join = &config.join;
    join.default_language()
        .or_else(|| state.locale.as_deref().and_then(Language::resolve))
        .unwrap_or(join.fallback_language())
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
        SkipReason::MeetingOver => "the meeting was already over when hcal first saw its keyword",
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
