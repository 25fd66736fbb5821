//! `decide`: every business rule of a mailbox. Pure: given the state and an input (which
//! carries what the actor fetched), it returns the events that happened, or an error.

use serde::{Deserialize, Serialize};

use super::events::{JoinOrigin, JoinTarget, MailboxEvent, MeetingDetails, MeetingPrivate, SkipReason};
use super::input::{MailboxEventFact, MailboxInput, Observation, PatchResult};
use super::state::{Decoration, MailboxState};
use crate::detect::{self, AddressKind};
use crate::join::Marker;
use crate::ports::{EventType, GraphEvent};

/// A keyword and what it books.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeywordRule {
    /// Keyword without `@`, e.g. `webex`.
    pub keyword: String,
    /// Platform id it books on, e.g. `webex`.
    pub platform: String,
    /// Default action when no modifier is given (`myroom`, `onetime`, `space`).
    pub default_mode: String,
}

/// Admin detection rules, compiled when the configuration is read: an invalid rule refuses the
/// whole configuration with a message naming it.
#[derive(Debug, Clone, Default)]
pub struct AdminRules {
    specs: Vec<detect::RuleSpec>,
    detector: std::sync::Arc<detect::Detector>,
}

impl AdminRules {
    /// Compiles rules.
    pub fn new(specs: Vec<detect::RuleSpec>) -> Result<Self, detect::RuleError> {
        let rules = detect::Rules::load(&specs)?;
        Ok(Self { specs, detector: std::sync::Arc::new(detect::Detector::new(rules)) })
    }

    /// The detector applying them before the built-in catalogue.
    pub fn detector(&self) -> &detect::Detector {
        &self.detector
    }
}

impl PartialEq for AdminRules {
    fn eq(&self, other: &Self) -> bool {
        self.specs == other.specs
    }
}

impl Eq for AdminRules {}

impl Serialize for AdminRules {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.specs.serialize(s)
    }
}

impl<'de> Deserialize<'de> for AdminRules {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let specs = Vec::<detect::RuleSpec>::deserialize(d)?;
        Self::new(specs).map_err(serde::de::Error::custom)
    }
}

/// Organisation-level rules `decide` applies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DecideConfig {
    /// Keywords. Default: `@webex` books the organiser's Webex personal room.
    pub keywords: Vec<KeywordRule>,
    /// Admin detection rules (`[[domain.rules]]`: name, priority, pattern, replacement, kind,
    /// provider; see docs/detection.md). Default none.
    pub rules: AdminRules,
}

impl Default for DecideConfig {
    fn default() -> Self {
        Self {
            keywords: vec![KeywordRule {
                keyword: "webex".into(),
                platform: "webex".into(),
                default_mode: "myroom".into(),
            }],
            rules: AdminRules::default(),
        }
    }
}

impl DecideConfig {
    fn keyword_names(&self) -> Vec<String> {
        self.keywords.iter().map(|k| k.keyword.clone()).collect()
    }

    /// The rule of a keyword.
    pub fn rule(&self, keyword: &str) -> Option<&KeywordRule> {
        self.keywords.iter().find(|k| k.keyword.eq_ignore_ascii_case(keyword))
    }
}

/// Inputs `decide` refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecideError {
    /// The mailbox is not enabled.
    #[error("mailbox is not enabled")]
    NotEnabled,
    /// A patch result for a meeting the mailbox does not know.
    #[error("unknown meeting")]
    UnknownMeeting,
}

/// Decides what happened.
pub fn decide(
    state: &MailboxState,
    input: &MailboxInput,
    config: &DecideConfig,
) -> Result<Vec<MailboxEvent>, DecideError> {
    match input {
        MailboxInput::EnableMailbox { locale } => {
            if state.enabled && state.locale == *locale {
                Ok(Vec::new())
            } else {
                Ok(vec![MailboxEvent::MailboxEnabled { locale: locale.clone() }])
            }
        }
        MailboxInput::ForgetMeetings { ended_before } => Ok(state
            .meetings
            .values()
            .filter(|m| m.details.end < *ended_before && m.details.event_type != EventType::SeriesMaster)
            .map(|m| MailboxEvent::MeetingForgotten { event_id: m.details.event_id.clone(), ended_at: m.details.end })
            .collect()),
        _ if !state.enabled => Err(DecideError::NotEnabled),
        MailboxInput::RecordSubscription { subscription_id, expires_at, client_state } => {
            Ok(vec![MailboxEvent::SubscriptionCreated {
                subscription_id: subscription_id.clone(),
                expires_at: *expires_at,
                private: super::events::SubscriptionPrivate { client_state: client_state.clone() },
            }])
        }
        MailboxInput::RecordMaintenance(fact) => Ok(vec![match fact {
            MailboxEventFact::Renewed { subscription_id, expires_at } => {
                MailboxEvent::SubscriptionRenewed { subscription_id: subscription_id.clone(), expires_at: *expires_at }
            }
            MailboxEventFact::Lost { subscription_id, reason } => {
                MailboxEvent::SubscriptionLost { subscription_id: subscription_id.clone(), reason: reason.clone() }
            }
            MailboxEventFact::SetupFailed { reason, code, retry_at } => {
                MailboxEvent::MailboxSetupFailed { reason: reason.clone(), code: code.clone(), retry_at: *retry_at }
            }
            MailboxEventFact::Disabled => MailboxEvent::MailboxDisabled {},
            MailboxEventFact::Resynced { from, to, changed, removed } => {
                MailboxEvent::ResyncCompleted { from: *from, to: *to, changed: *changed, removed: *removed }
            }
        }]),
        MailboxInput::HandleObservation(Observation::Gone(id)) => Ok(if state.meetings.contains_key(id) {
            vec![MailboxEvent::MeetingCancelled { event_id: id.clone() }]
        } else {
            Vec::new()
        }),
        MailboxInput::HandleObservation(Observation::Present(event)) => Ok(observe(state, event, config)),
        MailboxInput::RecordPatch { event_id, result } => {
            let meeting = state.meetings.get(event_id).ok_or(DecideError::UnknownMeeting)?;
            Ok(match result {
                PatchResult::Written { room, mode, change_key } => {
                    let private = MeetingPrivate {
                        join_address: Some(
                            room.sip_address.as_ref().map_or_else(|| room.web_link.clone(), |s| format!("sip:{s}")),
                        ),
                        web_link: Some(room.web_link.clone()),
                        ..MeetingPrivate::default()
                    };
                    vec![MailboxEvent::JoinInfoPatched {
                        event_id: event_id.clone(),
                        platform: room.platform.clone(),
                        mode: mode.clone(),
                        template: crate::join::TEMPLATE_VERSION,
                        change_key: change_key.clone(),
                        recovered: false,
                        join: hcal_target(&room.platform, room.sip_address.is_some()),
                        private,
                    }]
                }
                PatchResult::PlatformRefused if meeting.decoration == Decoration::Pending => {
                    vec![MailboxEvent::MeetingSkipped {
                        event_id: event_id.clone(),
                        reason: SkipReason::PlatformRefused,
                        explain: skip_explain(SkipReason::PlatformRefused, None),
                    }]
                }
                PatchResult::Failed { reason, retryable } => vec![MailboxEvent::JoinInfoPatchFailed {
                    event_id: event_id.clone(),
                    reason: reason.clone(),
                    retryable: *retryable,
                }],
                PatchResult::PlatformRefused => Vec::new(),
            })
        }
    }
}

fn hcal_target(platform: &str, has_sip: bool) -> JoinTarget {
    JoinTarget {
        provider: platform.to_owned(),
        kind: if has_sip { AddressKind::Sip } else { AddressKind::Url },
        origin: JoinOrigin::Hcal,
    }
}

fn observe(state: &MailboxState, event: &GraphEvent, config: &DecideConfig) -> Vec<MailboxEvent> {
    let existing = state.meetings.get(&event.id);
    if event.is_cancelled {
        return match existing {
            Some(_) => vec![MailboxEvent::MeetingCancelled { event_id: event.id.clone() }],
            None => Vec::new(),
        };
    }
    if let Some(m) = existing {
        // Nothing new: a replay, or the echo of hcal's own write.
        let echo = matches!(&m.decoration, Decoration::Done { change_key } if *change_key == event.change_key);
        if m.details.change_key == event.change_key || echo {
            return Vec::new();
        }
    }
    let invite = detect::Invite {
        location: &event.location,
        body: detect::Body::Html(&event.body_html),
        online_meeting_url: event.online_meeting_url.as_deref(),
    };
    let detection = config.rules.detector().detect(&invite, &config.keyword_names());
    let marker = event.marker.as_deref().and_then(Marker::decode);
    let (join, join_address, web_link) = match (&marker, &detection.join) {
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
    let details = MeetingDetails {
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
    };
    let mut events = Vec::new();
    match existing {
        None => events.push(MailboxEvent::MeetingScheduled(details.clone())),
        Some(m) if visible_change(&m.details, &details) => events.push(MailboxEvent::MeetingUpdated(details.clone())),
        Some(_) => {}
    }
    let decoration = existing.map(|m| m.decoration.clone());
    let settled = matches!(decoration, Some(Decoration::Done { .. } | Decoration::Abandoned));
    if let Some(m) = &marker {
        // hcal wrote this invite but the record of it was lost (a crash between the write and
        // the append): record it from the marker instead of writing again.
        if !matches!(decoration, Some(Decoration::Done { .. })) {
            events.push(MailboxEvent::JoinInfoPatched {
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
    } else if let (Some(keyword), false) = (&detection.keyword, settled) {
        let reason = match config.rule(&keyword.name) {
            None => Some(SkipReason::UnsupportedKeyword),
            Some(_) if !event.is_organizer => Some(SkipReason::NotOrganizer),
            Some(rule) if detection.join.as_ref().is_some_and(|j| j.provider == rule.platform) => {
                Some(SkipReason::AlreadyHasJoinDetails)
            }
            Some(_) => None,
        };
        if let Some(reason) = reason {
            let explain = skip_explain(reason, Some(&detection));
            events.push(MailboxEvent::MeetingSkipped { event_id: event.id.clone(), reason, explain });
        }
    }
    events
}

/// The words `MeetingSkipped` carries: the reason, then what detection found (no addresses).
fn skip_explain(reason: SkipReason, detection: Option<&detect::Detection>) -> String {
    let why = match reason {
        SkipReason::NotOrganizer => "the keyword is in an attendee's copy; only the organiser's copy is decorated",
        SkipReason::AlreadyHasJoinDetails => "the invite already carries join details of the keyword's platform",
        SkipReason::UnsupportedKeyword => "the keyword is not configured for a platform hcal can book",
        SkipReason::PlatformRefused => "the meeting platform refused to book (no account or no personal room)",
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

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::ids::GraphEventId;
    use crate::ports::{EmailAddress, EventType, MeetingRoom};

    fn enabled() -> Vec<MailboxEvent> {
        vec![MailboxEvent::MailboxEnabled { locale: Some("en-US".into()) }]
    }

    fn given(events: &[MailboxEvent]) -> MailboxState {
        let mut s = MailboxState::default();
        for e in events {
            s.apply(e);
        }
        s
    }

    fn when(state: &MailboxState, input: MailboxInput) -> Vec<MailboxEvent> {
        decide(state, &input, &DecideConfig::default()).unwrap()
    }

    fn invite(location: &str, body: &str, change_key: &str) -> GraphEvent {
        GraphEvent {
            id: GraphEventId::new("AAMkE1"),
            change_key: change_key.into(),
            subject: "Quarterly review".into(),
            body_html: body.into(),
            location: location.into(),
            start: Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap(),
            end: Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap(),
            is_all_day: false,
            is_cancelled: false,
            is_organizer: true,
            event_type: EventType::SingleInstance,
            series_master_id: None,
            organizer: Some(EmailAddress { name: "Alice".into(), address: "alice@contoso.example".into() }),
            attendees: vec![],
            online_meeting_url: None,
            sensitivity: "normal".into(),
            marker: None,
        }
    }

    fn observe(e: GraphEvent) -> MailboxInput {
        MailboxInput::HandleObservation(Observation::Present(Box::new(e)))
    }

    fn room() -> MeetingRoom {
        MeetingRoom {
            platform: "webex".into(),
            web_link: "https://acme.webex.com/meet/alice".into(),
            sip_address: Some("alice@acme.webex.com".into()),
            meeting_number: None,
        }
    }

    #[test]
    fn a_keyword_invite_is_scheduled_and_left_pending_for_decoration() {
        let state = given(&enabled());
        let events = when(&state, observe(invite("@webex", "<p>Agenda</p>", "ck1")));
        assert_eq!(events.len(), 1);
        let MailboxEvent::MeetingScheduled(d) = &events[0] else { panic!("{events:?}") };
        assert_eq!(d.keyword.as_ref().map(|k| k.name.as_str()), Some("webex"));
        assert_eq!(d.join, None);
        let after = given(&[enabled(), events].concat());
        assert_eq!(after.meetings[&GraphEventId::new("AAMkE1")].decoration, Decoration::Pending);
    }

    #[test]
    fn the_patch_result_is_recorded_and_its_echo_ignored() {
        let scheduled = when(&given(&enabled()), observe(invite("@webex", "", "ck1")));
        let state = given(&[enabled(), scheduled.clone()].concat());
        let patched = when(
            &state,
            MailboxInput::RecordPatch {
                event_id: GraphEventId::new("AAMkE1"),
                result: PatchResult::Written { room: room(), mode: "myroom".into(), change_key: "ck2".into() },
            },
        );
        let MailboxEvent::JoinInfoPatched { change_key, recovered, join, private, .. } = &patched[0] else { panic!() };
        assert_eq!((change_key.as_str(), *recovered), ("ck2", false));
        assert_eq!(join.origin, JoinOrigin::Hcal);
        assert_eq!(private.join_address.as_deref(), Some("sip:alice@acme.webex.com"));
        let state = given(&[enabled(), scheduled, patched].concat());
        let mut echo = invite("@webex", "<p>Join</p>", "ck2");
        echo.marker = Some(Marker::new(&room(), "myroom").encode());
        assert_eq!(when(&state, observe(echo)), vec![]);
    }

    #[test]
    fn meetings_that_ended_before_the_horizon_are_forgotten_but_series_masters_are_kept() {
        let at = |day: u32| Utc.with_ymd_and_hms(2026, 12, day, 9, 0, 0).unwrap();
        let meeting = |id: &str, day: u32, event_type: EventType| GraphEvent {
            id: GraphEventId::new(id),
            start: at(day),
            end: at(day) + chrono::Duration::hours(1),
            event_type,
            ..invite("@webex", "", "ck1")
        };
        let mut history = enabled();
        for m in [
            meeting("old", 1, EventType::SingleInstance),
            meeting("old-occurrence", 2, EventType::Occurrence),
            meeting("series", 1, EventType::SeriesMaster),
            meeting("recent", 20, EventType::SingleInstance),
        ] {
            let state = given(&history);
            history.extend(when(&state, observe(m)));
        }
        let state = given(&history);
        let forget = MailboxInput::ForgetMeetings { ended_before: at(10) };
        let mut forgotten = when(&state, forget.clone());
        forgotten.sort_by_key(|e| e.event_id().map(|id| id.as_str().to_owned()));
        assert_eq!(
            forgotten,
            vec![
                MailboxEvent::MeetingForgotten {
                    event_id: GraphEventId::new("old"),
                    ended_at: at(1) + chrono::Duration::hours(1)
                },
                MailboxEvent::MeetingForgotten {
                    event_id: GraphEventId::new("old-occurrence"),
                    ended_at: at(2) + chrono::Duration::hours(1)
                },
            ]
        );
        let after = given(&[history, forgotten].concat());
        let kept: Vec<_> = after.meetings.keys().map(GraphEventId::as_str).collect();
        assert_eq!(kept, vec!["recent", "series"]);
        // Nothing left to forget: nothing to record.
        assert_eq!(when(&after, forget), vec![]);
    }

    #[test]
    fn a_marker_without_a_record_is_recovered_not_rewritten() {
        let scheduled = when(&given(&enabled()), observe(invite("@webex", "", "ck1")));
        let state = given(&[enabled(), scheduled].concat());
        let mut after_crash = invite("@webex", "<p>block</p>", "ck2");
        after_crash.marker = Some(Marker::new(&room(), "myroom").encode());
        let events = when(&state, observe(after_crash));
        assert!(matches!(events.last(), Some(MailboxEvent::JoinInfoPatched { recovered: true, .. })), "{events:?}");
        let state =
            given(&[enabled(), when(&given(&enabled()), observe(invite("@webex", "", "ck1"))), events].concat());
        assert!(matches!(state.meetings[&GraphEventId::new("AAMkE1")].decoration, Decoration::Done { .. }));
    }

    #[test]
    fn replays_decide_nothing() {
        let first = when(&given(&enabled()), observe(invite("@webex", "", "ck1")));
        let state = given(&[enabled(), first].concat());
        assert_eq!(when(&state, observe(invite("@webex", "", "ck1"))), vec![]);
    }

    #[test]
    fn existing_zoom_link_is_listed_not_rewritten() {
        let body = "<a href=\"https://us02web.zoom.us/j/8512345678?pwd=x\">Join Zoom</a>";
        let events = when(&given(&enabled()), observe(invite("Room 1", body, "ck1")));
        let MailboxEvent::MeetingScheduled(d) = &events[0] else { panic!() };
        assert_eq!(d.join.as_ref().map(|j| (j.provider.as_str(), j.origin)), Some(("zoom", JoinOrigin::Detected)));
        let state = given(&[enabled(), events].concat());
        assert_eq!(state.meetings[&GraphEventId::new("AAMkE1")].decoration, Decoration::NotNeeded);
    }

    #[test]
    fn keyword_with_existing_webex_details_is_skipped() {
        let body = "<p>https://acme.webex.com/meet/bob</p>";
        let events = when(&given(&enabled()), observe(invite("@webex", body, "ck1")));
        let Some(MailboxEvent::MeetingSkipped { event_id, reason, explain }) = events.last() else {
            panic!("{events:?}")
        };
        assert_eq!((event_id, *reason), (&GraphEventId::new("AAMkE1"), SkipReason::AlreadyHasJoinDetails));
        assert_eq!(
            explain,
            "the invite already carries join details of the keyword's platform; detection: keyword @webex; \
             join address: webex url from body (best of 1)"
        );
        assert!(!explain.contains("acme.webex.com"), "no address in an unsealed field: {explain}");
    }

    #[test]
    fn an_attendee_copy_is_not_decorated() {
        let mut copy = invite("@webex", "", "ck1");
        copy.is_organizer = false;
        let events = when(&given(&enabled()), observe(copy));
        let Some(MailboxEvent::MeetingSkipped { reason, explain, .. }) = events.last() else { panic!("{events:?}") };
        assert_eq!(*reason, SkipReason::NotOrganizer);
        assert!(explain.starts_with("the keyword is in an attendee's copy"), "{explain}");
        assert!(explain.ends_with("no join address found"), "{explain}");
    }

    #[test]
    fn subject_edits_update_and_cancellation_removes() {
        let first = when(&given(&enabled()), observe(invite("Room", "", "ck1")));
        let state = given(&[enabled(), first.clone()].concat());
        let mut edited = invite("Room", "", "ck2");
        edited.subject = "Quarterly review (moved)".into();
        let updated = when(&state, observe(edited));
        assert!(
            matches!(&updated[..], [MailboxEvent::MeetingUpdated(d)] if d.private.subject == "Quarterly review (moved)")
        );
        // A new change key alone is not a visible change.
        assert_eq!(when(&state, observe(invite("Room", "", "ck3"))), vec![]);
        let gone = when(&state, MailboxInput::HandleObservation(Observation::Gone(GraphEventId::new("AAMkE1"))));
        assert_eq!(gone, vec![MailboxEvent::MeetingCancelled { event_id: GraphEventId::new("AAMkE1") }]);
        let mut cancelled = invite("Room", "", "ck4");
        cancelled.is_cancelled = true;
        assert_eq!(when(&state, observe(cancelled)), gone);
    }

    #[test]
    fn admin_rules_find_what_the_catalogue_does_not_and_bad_rules_are_refused() {
        let config: DecideConfig = serde_json::from_value(serde_json::json!({
            "keywords": [{"keyword": "webex", "platform": "webex", "default_mode": "myroom"}],
            "rules": [{"name": "vmr", "priority": 1, "pattern": "VMR (\\d{6})", "replacement": "$1@vc.contoso.example"}]
        }))
        .unwrap();
        let state = given(&enabled());
        let events = decide(&state, &observe(invite("Room 1", "<p>Dial VMR 123456</p>", "ck1")), &config).unwrap();
        let MailboxEvent::MeetingScheduled(d) = &events[0] else { panic!("{events:?}") };
        assert_eq!(d.private.join_address.as_deref(), Some("sip:123456@vc.contoso.example"));
        let bad = serde_json::from_value::<DecideConfig>(serde_json::json!({
            "rules": [{"name": "broken", "priority": 1, "pattern": "(", "replacement": "x"}]
        }));
        assert!(bad.unwrap_err().to_string().contains("broken"));
    }

    #[test]
    fn disabled_mailboxes_refuse_observations() {
        let err = decide(&MailboxState::default(), &observe(invite("", "", "ck")), &DecideConfig::default());
        assert_eq!(err, Err(DecideError::NotEnabled));
    }
}
