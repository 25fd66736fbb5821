//! Change notifications, invites becoming meetings, keywords and their join details, skips with
//! their reasons, and every outcome of the platform and of the write.

use crate::ids::GraphEventId;
use crate::join::{BlockTexts, Language, Marker, NoticeReason, insert_block, render_block};
use crate::mailbox::config::{DecideConfig, UNKNOWN_MODIFIER};
use crate::mailbox::decide::DecideError;
use crate::mailbox::effect::Effect;
use crate::mailbox::events::{JoinOrigin, MailboxEvent, SkipReason};
use crate::mailbox::input::MailboxInput as I;
use crate::mailbox::state::Decoration;
use crate::mailbox::testing::*;
use crate::notification::ChangeType;
use crate::ports::{EventType, GraphEvent, GraphFailure, Occurrence, PlatformFailure};

fn id() -> GraphEventId {
    GraphEventId::new("AAMkE1")
}

fn find_room(event: GraphEvent, conflicts: u32) -> Effect {
    Effect::FindPersonalRoom {
        event: Box::new(event),
        platform: "webex".into(),
        organizer: "alice@contoso.example".into(),
        mode: "myroom".into(),
        conflicts,
    }
}

fn room_found(event: GraphEvent) -> I {
    I::RoomFound { event: Box::new(event), room: room(), mode: "myroom".into(), conflicts: 0 }
}

/// The meeting's scheduling events, as `decide` records them for `event`.
fn scheduled(event: GraphEvent) -> Vec<MailboxEvent> {
    given(active()).when(fetched(event)).events().to_vec()
}

#[test]
fn a_change_is_read_first_and_a_deletion_cancels() {
    given(active())
        .when(I::HandleChange { change_type: ChangeType::Created, event_id: id() })
        .then_expect_events([])
        .then_expect_effects([Effect::FetchEvent { event_id: id(), conflicts: 0 }]);
    let known = [active(), scheduled(invite("Room 1", "", "ck1"))].concat();
    given(known.clone())
        .when(I::HandleChange { change_type: ChangeType::Deleted, event_id: id() })
        .then_expect_events([MailboxEvent::MeetingCancelled { event_id: id() }]);
    given(known)
        .when(I::EventFetched { event_id: id(), event: None, conflicts: 0 })
        .then_expect_events([MailboxEvent::MeetingCancelled { event_id: id() }]);
    given(active()).when(I::HandleChange { change_type: ChangeType::Deleted, event_id: id() }).then_expect_nothing();
}

#[test]
fn a_keyword_invite_is_scheduled_and_the_organisers_room_looked_up() {
    let event = invite("@webex", "<p>Agenda</p>", "ck1");
    let then = given(active()).when(fetched(event.clone()));
    let [MailboxEvent::MeetingScheduled(d)] = then.events() else { panic!("{:?}", then.events()) };
    assert_eq!(d.keyword.as_ref().map(|k| k.name.as_str()), Some("webex"));
    assert_eq!(d.join, None);
    then.then_expect_effects([find_room(event, 0)]);
}

/// `[domain]` with these `[domain.join]` settings (and the default keywords).
fn join_domain(join: serde_json::Value) -> DecideConfig {
    serde_json::from_value(serde_json::json!({ "join": join })).unwrap()
}

/// An enabled, subscribed mailbox of `locale` that knows the keyword invite `event`.
fn speaking(locale: Option<&str>, event: &GraphEvent) -> Vec<MailboxEvent> {
    [
        vec![MailboxEvent::MailboxEnabled { locale: locale.map(str::to_owned) }, subscribed("sub-1")],
        scheduled(event.clone()),
    ]
    .concat()
}

/// The body of the one write decided.
#[track_caller]
fn written_body(then: &Then) -> String {
    match then.effects() {
        [Effect::WriteJoinInfo { body_html, .. }] => body_html.clone(),
        other => panic!("expected one write, got {other:?}"),
    }
}

#[test]
fn the_block_is_written_in_the_mailbox_language_with_the_marker_only_if_unchanged() {
    let event = invite("@webex", "<html><body><p>Agenda</p></body></html>", "ck1");
    let history = [enabled(), vec![subscribed("sub-1")], scheduled(event.clone())].concat();
    let expected = |language: &str| Effect::WriteJoinInfo {
        event_id: id(),
        expected_change_key: "ck1".into(),
        body_html: insert_block(
            &event.body_html,
            &render_block(&room(), Language::resolve(language).unwrap(), &BlockTexts::default()),
        ),
        marker: Marker::new(&room(), "myroom").encode(),
        room: room(),
        mode: "myroom".into(),
        conflicts: 0,
    };
    given(history.clone()).when(room_found(event.clone())).then_expect_events([]).then_expect_effects([expected("en")]);
    let turkish = [vec![MailboxEvent::MailboxEnabled { locale: Some("tr-TR".into()) }], history[1..].to_vec()].concat();
    let then = given(turkish).when(room_found(event.clone()));
    then.then_expect_effects([expected("tr")]);
    let body_html = written_body(&then);
    assert!(body_html.contains("Webex toplantısına katılın") && body_html.contains("<p>Agenda</p>"), "{body_html}");
}

#[test]
fn the_mailbox_language_is_matched_exactly_then_by_its_language() {
    let event = invite("@webex", "", "ck1");
    for (locale, heading) in [
        ("pt-BR", "Participar da reunião do Webex"),
        ("pt_PT", "Participar da reunião do Webex"),
        ("de-AT", "Am Webex-Meeting teilnehmen"),
        ("JA-jp", "Webex ミーティングに参加"),
        ("zh-CN", "加入 Webex 会议"),
        ("pl-PL", "Dołącz do spotkania Webex"),
    ] {
        let body = written_body(&given(speaking(Some(locale), &event)).when(room_found(event.clone())));
        assert!(body.contains(heading), "{locale}: {body}");
    }
}

#[test]
fn without_a_known_language_the_block_is_in_english() {
    let event = invite("@webex", "", "ck1");
    for locale in [None, Some("sv-SE"), Some("zh-TW")] {
        let body = written_body(&given(speaking(locale, &event)).when(room_found(event.clone())));
        assert!(body.contains("Join Webex meeting") && body.contains("lang=\"en\""), "{locale:?}: {body}");
    }
}

#[test]
fn without_a_translation_of_the_mailbox_language_the_block_is_in_the_fallback_language() {
    let event = invite("@webex", "", "ck1");
    let domain = join_domain(serde_json::json!({ "fallback_language": "de" }));
    for locale in [None, Some("sv-SE")] {
        let then = given(speaking(locale, &event)).with_domain(domain.clone()).when(room_found(event.clone()));
        assert!(written_body(&then).contains("Am Webex-Meeting teilnehmen"), "{locale:?}");
    }
    // A language hcal has wins over the fallback.
    let then = given(speaking(Some("fr-FR"), &event)).with_domain(domain).when(room_found(event.clone()));
    assert!(written_body(&then).contains("Rejoindre la réunion Webex"));
}

#[test]
fn the_organisation_default_language_wins_over_the_mailbox_language() {
    let event = invite("@webex", "", "ck1");
    let domain = join_domain(serde_json::json!({ "default_language": "fr-FR", "fallback_language": "de" }));
    for locale in [Some("tr-TR"), Some("en-US"), None, Some("sv-SE")] {
        let then = given(speaking(locale, &event)).with_domain(domain.clone()).when(room_found(event.clone()));
        let body = written_body(&then);
        assert!(body.contains("Rejoindre la réunion Webex") && body.contains("lang=\"fr\""), "{locale:?}: {body}");
    }
}

#[test]
fn the_header_and_footer_are_those_of_the_language_of_the_block() {
    let event = invite("@webex", "<p>Agenda</p>", "ck1");
    let domain = join_domain(serde_json::json!({ "languages": {
        "tr": { "header": "Yardım için BT'yi arayın", "footer": "<b>Gizli</b>" },
        "en": { "footer": "Need help? Call IT." },
    }}));
    let turkish = written_body(
        &given(speaking(Some("tr-TR"), &event)).with_domain(domain.clone()).when(room_found(event.clone())),
    );
    assert!(turkish.contains("<p class=\"hcal-join-header\">Yardım için BT&#39;yi arayın</p>"), "{turkish}");
    assert!(turkish.contains("<p class=\"hcal-join-footer\">&lt;b&gt;Gizli&lt;/b&gt;</p>"), "escaped: {turkish}");
    assert!(!turkish.contains("Call IT"), "{turkish}");
    let english = written_body(
        &given(speaking(Some("en-GB"), &event)).with_domain(domain.clone()).when(room_found(event.clone())),
    );
    assert!(english.contains("Need help? Call IT.") && !english.contains("hcal-join-header"), "{english}");
    // A language without texts gets none.
    let german = written_body(&given(speaking(Some("de-DE"), &event)).with_domain(domain).when(room_found(event)));
    assert!(!german.contains("hcal-join-header") && !german.contains("hcal-join-footer"), "{german}");
}

#[test]
fn a_later_language_change_does_not_rewrite_a_decorated_invite() {
    let event = invite("@webex", "<p>Agenda</p>", "ck1");
    let history = [
        speaking(Some("tr-TR"), &event),
        vec![MailboxEvent::JoinInfoPatched {
            event_id: id(),
            platform: "webex".into(),
            mode: "myroom".into(),
            template: crate::join::TEMPLATE_VERSION,
            change_key: "ck2".into(),
            recovered: false,
            join: crate::mailbox::events::JoinTarget {
                provider: "webex".into(),
                kind: crate::detect::AddressKind::Sip,
                origin: JoinOrigin::Hcal,
            },
            private: Default::default(),
        }],
    ]
    .concat();
    let mut edited = invite("@webex", "<p>Agenda</p><div class=\"hcal-join\">…</div>", "ck3");
    edited.subject = "Quarterly review (moved)".into();
    edited.marker = Some(Marker::new(&room(), "myroom").encode());
    let mut unmarked = edited.clone();
    unmarked.marker = None;
    // The mailbox's language changes (its settings read again), or the organisation sets a
    // default language: an edit of the invite is recorded, and nothing is written.
    let relocalised = [history.clone(), vec![MailboxEvent::MailboxEnabled { locale: Some("de-DE".into()) }]].concat();
    assert_eq!(given(relocalised.clone()).state().locale.as_deref(), Some("de-DE"));
    let org_default = join_domain(serde_json::json!({ "default_language": "fr" }));
    for then in [
        given(relocalised.clone()).when(fetched(edited.clone())),
        given(relocalised).when(fetched(unmarked.clone())),
        given(history.clone()).with_domain(org_default.clone()).when(fetched(edited)),
        given(history).with_domain(org_default).when(fetched(unmarked)),
    ] {
        assert!(matches!(then.events(), [MailboxEvent::MeetingUpdated(_)]), "{:?}", then.events());
        then.then_expect_effects([]);
    }
}

#[test]
fn the_write_is_recorded_and_its_echo_ignored() {
    let event = invite("@webex", "", "ck1");
    let history = [active(), scheduled(event)].concat();
    let written = given(history.clone()).when(I::JoinInfoWritten {
        event_id: id(),
        room: room(),
        mode: "myroom".into(),
        change_key: "ck2".into(),
    });
    let [MailboxEvent::JoinInfoPatched { change_key, recovered, join, private, .. }] = written.events() else {
        panic!("{:?}", written.events())
    };
    assert_eq!((change_key.as_str(), *recovered, join.origin), ("ck2", false, JoinOrigin::Hcal));
    assert_eq!(private.join_address.as_deref(), Some("sip:alice@acme.webex.com"));
    let mut echo = invite("@webex", "<p>Join</p>", "ck2");
    echo.marker = Some(Marker::new(&room(), "myroom").encode());
    written.next().when(fetched(echo)).then_expect_nothing();
}

#[test]
fn a_conflict_reads_the_invite_again_twice_then_the_record_waits() {
    let history = [active(), scheduled(invite("@webex", "", "ck1"))].concat();
    given(history.clone())
        .when(I::PatchConflicted { event_id: id(), conflicts: 0 })
        .then_expect_effects([Effect::FetchEvent { event_id: id(), conflicts: 1 }]);
    given(history.clone())
        .when(I::PatchConflicted { event_id: id(), conflicts: 1 })
        .then_expect_effects([Effect::FetchEvent { event_id: id(), conflicts: 2 }]);
    given(history).when(I::PatchConflicted { event_id: id(), conflicts: 2 }).then_expect_effects([
        Effect::RetryLater {
            after_secs: None,
            reason: "the invite kept changing while join details were written".into(),
        },
    ]);
}

#[test]
fn a_failed_write_is_retried_or_given_up_with_its_reason() {
    let history = [active(), scheduled(invite("@webex", "", "ck1"))].concat();
    given(history.clone())
        .when(I::PatchFailed { event_id: id(), failure: GraphFailure::Throttled { retry_after_secs: 1.5 } })
        .then_expect_events([])
        .then_expect_effects([Effect::RetryLater {
            after_secs: Some(1.5),
            reason: "throttled by Graph; retry after 1.5 s".into(),
        }]);
    let failed =
        |reason: &str| MailboxEvent::JoinInfoPatchFailed { event_id: id(), reason: reason.into(), retryable: false };
    let then = given(history.clone()).when(I::PatchFailed {
        event_id: id(),
        failure: GraphFailure::NotInScope { code: "ErrorAccessDenied".into() },
    });
    then.then_expect_events([failed("not_in_scope")]);
    assert_eq!(then.next().state().meetings[&id()].decoration, Decoration::Abandoned);
    given(history)
        .when(I::PatchFailed { event_id: id(), failure: GraphFailure::Fatal { status: 400, code: "x".into() } })
        .then_expect_events([failed("fatal")]);
}

#[test]
fn a_platform_that_refuses_the_organiser_skips_the_invite_and_an_outage_waits() {
    let history = [active(), scheduled(invite("@webex", "", "ck1"))].concat();
    let refused = given(history.clone()).when(I::PlatformFailed {
        event_id: id(),
        event: None,
        failure: PlatformFailure::Refused("no personal room".into()),
    });
    let [MailboxEvent::MeetingSkipped { reason: SkipReason::PlatformRefused, .. }] = refused.events() else {
        panic!("{:?}", refused.events())
    };
    // Refused once, the invite is left alone from then on.
    refused.next().when(fetched(invite("@webex", "", "ck1"))).then_expect_nothing();
    given(history)
        .when(I::PlatformFailed { event_id: id(), event: None, failure: PlatformFailure::Transient("503".into()) })
        .then_expect_effects([Effect::RetryLater { after_secs: None, reason: "503".into() }]);
}

#[test]
fn a_failed_read_is_retried_or_dropped() {
    given(active())
        .when(I::FetchFailed { event_id: id(), failure: GraphFailure::Transient("reset".into()) })
        .then_expect_effects([Effect::RetryLater {
            after_secs: None,
            reason: "transient Graph failure: reset".into(),
        }]);
    given(active())
        .when(I::FetchFailed { event_id: id(), failure: GraphFailure::Fatal { status: 400, code: "x".into() } })
        .then_expect_nothing();
}

#[test]
fn an_invite_without_organiser_is_given_up() {
    let mut anonymous = invite("@webex", "", "ck1");
    anonymous.organizer = None;
    let then = given(active()).when(fetched(anonymous));
    assert!(
        matches!(then.events(), [_, MailboxEvent::JoinInfoPatchFailed { reason, .. }] if reason == "no_organizer"),
        "{:?}",
        then.events()
    );
}

#[test]
fn an_unknown_modifier_is_skipped_with_its_reason_and_nothing_is_booked_on_a_guess() {
    let then = given(active()).when(fetched(invite("@webex:zzqx", "", "ck1")));
    let [MailboxEvent::MeetingScheduled(_), MailboxEvent::MeetingSkipped { reason, explain, .. }] = then.events()
    else {
        panic!("{:?}", then.events())
    };
    assert_eq!(*reason, SkipReason::UnknownModifier);
    assert!(!explain.contains("zzqx"), "the typed text stays out of the unsealed explanation: {explain}");
    // Nor is it in any event: an unknown modifier is recorded as `?`.
    let all = serde_json::to_string(then.events()).unwrap();
    assert!(!all.contains("zzqx"), "typed text in an event: {all}");
    let MailboxEvent::MeetingScheduled(details) = &then.events()[0] else { unreachable!() };
    assert_eq!(details.keyword.as_ref().and_then(|k| k.modifier.as_deref()), Some(UNKNOWN_MODIFIER));
    let [Effect::WriteNotice { reason, body_html, expected_change_key, .. }] = then.effects() else {
        panic!("{:?}", then.effects())
    };
    assert_eq!((*reason, expected_change_key.as_str()), (NoticeReason::UnknownModifier, "ck1"));
    assert!(body_html.contains(":myroom, :onetime or :space") && !body_html.contains("zzqx"), "{body_html}");
    // Not again for the same keyword; the typo fixed, the invite is decorated.
    let notified = then.next().when(I::NoticeWritten {
        event_id: id(),
        reason: NoticeReason::UnknownModifier,
        change_key: "ck2".into(),
    });
    let with_notice = invite("@webex:zzqx", body_html, "ck2");
    notified.next().when(fetched(with_notice)).then_expect_nothing();
    let fixed = invite("@webex:myroom", body_html, "ck3");
    let then = notified.next().when(fetched(fixed.clone()));
    then.then_expect_effects([Effect::FindPersonalRoom {
        event: Box::new(fixed),
        platform: "webex".into(),
        organizer: "alice@contoso.example".into(),
        mode: "myroom".into(),
        conflicts: 0,
    }]);
}

#[test]
fn notices_can_be_turned_off_and_never_go_into_an_attendees_copy() {
    let off: DecideConfig = serde_json::from_value(serde_json::json!({ "notify_organizer": false })).unwrap();
    given(active()).with_domain(off).when(fetched(invite("@webex:zzqx", "", "ck1"))).then_expect_effects([]);
    let attendee = GraphEvent { is_organizer: false, ..invite("@webex:zzqx", "", "ck1") };
    given(active()).when(fetched(attendee)).then_expect_effects([]);
}

#[test]
fn the_keyword_books_on_its_configured_platform() {
    let event = invite("@webex", "", "ck1");
    let then = given(active()).when(fetched(event));
    let Effect::FindPersonalRoom { platform, mode, .. } = &then.effects()[0] else { panic!("{:?}", then.effects()) };
    assert_eq!((platform.as_str(), mode.as_str()), ("webex", "myroom"));
}

#[test]
fn a_decoration_cut_short_is_finished_when_the_invite_is_read_again() {
    // Recorded as scheduled, then the process died before the write: the same invite, read
    // again, looks up the room once more (and records nothing new).
    let event = invite("@webex", "", "ck1");
    let history = [active(), scheduled(event.clone())].concat();
    given(history).when(fetched(event.clone())).then_expect_events([]).then_expect_effects([find_room(event, 0)]);
}

#[test]
fn a_marker_without_a_record_is_recovered_not_rewritten() {
    let history = [active(), scheduled(invite("@webex", "", "ck1"))].concat();
    let mut after_crash = invite("@webex", "<p>block</p>", "ck2");
    after_crash.marker = Some(Marker::new(&room(), "myroom").encode());
    let then = given(history).when(fetched(after_crash));
    assert!(
        matches!(then.events().last(), Some(MailboxEvent::JoinInfoPatched { recovered: true, .. })),
        "{:?}",
        then.events()
    );
    then.then_expect_effects([]);
    assert!(matches!(then.next().state().meetings[&id()].decoration, Decoration::Done { .. }));
}

#[test]
fn replays_decide_nothing() {
    let event = invite("Room 1", "", "ck1");
    given([active(), scheduled(event.clone())].concat()).when(fetched(event)).then_expect_nothing();
}

#[test]
fn an_existing_zoom_link_is_listed_not_rewritten() {
    let body = "<a href=\"https://us02web.zoom.us/j/8512345678?pwd=x\">Join Zoom</a>";
    let then = given(active()).when(fetched(invite("Room 1", body, "ck1")));
    let [MailboxEvent::MeetingScheduled(d)] = then.events() else { panic!("{:?}", then.events()) };
    assert_eq!(d.join.as_ref().map(|j| (j.provider.as_str(), j.origin)), Some(("zoom", JoinOrigin::Detected)));
    then.then_expect_effects([]);
}

#[test]
fn a_keyword_with_webex_details_already_in_the_invite_is_skipped_with_an_explanation() {
    let then = given(active()).when(fetched(invite("@webex", "<p>https://acme.webex.com/meet/bob</p>", "ck1")));
    let Some(MailboxEvent::MeetingSkipped { event_id, reason, explain }) = then.events().last() else {
        panic!("{:?}", then.events())
    };
    assert_eq!((event_id, *reason), (&id(), SkipReason::AlreadyHasJoinDetails));
    assert_eq!(
        explain,
        "the invite already carries join details of the keyword's platform; detection: keyword @webex; \
         join address: webex url from body (best of 1)"
    );
    assert!(!explain.contains("acme.webex.com"), "no address in an unsealed field: {explain}");
    then.then_expect_effects([]);
}

#[test]
fn an_attendee_copy_is_not_decorated() {
    let mut copy = invite("@webex", "", "ck1");
    copy.is_organizer = false;
    let then = given(active()).when(fetched(copy));
    let Some(MailboxEvent::MeetingSkipped { reason, explain, .. }) = then.events().last() else {
        panic!("{:?}", then.events())
    };
    assert_eq!(*reason, SkipReason::NotOrganizer);
    assert!(explain.starts_with("the keyword is in an attendee's copy"), "{explain}");
    assert!(explain.ends_with("no join address found"), "{explain}");
    then.then_expect_effects([]);
}

#[test]
fn subject_edits_update_and_cancellation_removes() {
    let history = [active(), scheduled(invite("Room", "", "ck1"))].concat();
    let mut edited = invite("Room", "", "ck2");
    edited.subject = "Quarterly review (moved)".into();
    let then = given(history.clone()).when(fetched(edited));
    assert!(
        matches!(then.events(), [MailboxEvent::MeetingUpdated(d)] if d.private.subject == "Quarterly review (moved)")
    );
    // A new change key alone is not a visible change.
    given(history.clone()).when(fetched(invite("Room", "", "ck3"))).then_expect_nothing();
    let mut cancelled = invite("Room", "", "ck4");
    cancelled.is_cancelled = true;
    given(history).when(fetched(cancelled)).then_expect_events([MailboxEvent::MeetingCancelled { event_id: id() }]);
}

#[test]
fn admin_rules_find_what_the_catalogue_does_not_and_bad_rules_are_refused() {
    let domain: DecideConfig = serde_json::from_value(serde_json::json!({
        "keywords": [{"keyword": "webex", "platform": "webex", "default_mode": "myroom"}],
        "rules": [{"name": "vmr", "priority": 1, "pattern": "VMR (\\d{6})", "replacement": "$1@vc.contoso.example"}]
    }))
    .unwrap();
    let then = given(active()).with_domain(domain).when(fetched(invite("Room 1", "<p>Dial VMR 123456</p>", "ck1")));
    let [MailboxEvent::MeetingScheduled(d)] = then.events() else { panic!("{:?}", then.events()) };
    assert_eq!(d.private.join_address.as_deref(), Some("sip:123456@vc.contoso.example"));
    let bad = serde_json::from_value::<DecideConfig>(serde_json::json!({
        "rules": [{"name": "broken", "priority": 1, "pattern": "(", "replacement": "x"}]
    }));
    assert!(bad.unwrap_err().to_string().contains("broken"));
}

#[test]
fn join_settings_are_checked_when_the_configuration_is_read() {
    let refusal = |join: serde_json::Value| {
        serde_json::from_value::<DecideConfig>(serde_json::json!({ "join": join })).unwrap_err().to_string()
    };
    let long = "é".repeat(1025);
    let why = refusal(serde_json::json!({
        "default_language": "sv",
        "fallback_language": "xx-YY",
        "languages": {
            "de": { "header": long },
            "klingon": { "footer": "Qapla'" },
            "fr": { "footer": "bell\u{7}" },
        },
    }));
    for expected in [
        "domain.join.default_language: hcal has no translation for \"sv\" (it has en, tr, de, fr, es, it, pt-BR, nl, ja, zh-CN, ko, pl)",
        "domain.join.fallback_language: hcal has no translation for \"xx-YY\"",
        "domain.join.languages.\"de\".header has 1025 characters, at most 1024",
        "domain.join.languages.\"klingon\": hcal has no translation for \"klingon\"",
        "domain.join.languages.\"fr\".footer contains a control character",
    ] {
        assert!(why.contains(expected), "{expected:?} in {why}");
    }
    assert!(!why.contains("Qapla"), "texts are not repeated in messages: {why}");
    let twice = refusal(serde_json::json!({ "languages": { "de": {}, "de-DE": {} } }));
    assert!(twice.contains("\"de\" and \"de-DE\" both name the de translation"), "{twice}");
    let unknown = refusal(serde_json::json!({ "language": "de" }));
    assert!(unknown.contains("unknown field `language`"), "{unknown}");
    let unknown = refusal(serde_json::json!({ "languages": { "de": { "headline": "x" } } }));
    assert!(unknown.contains("unknown field `headline`"), "{unknown}");
    // At the limit, in another case and separator, is fine.
    let domain = join_domain(serde_json::json!({
        "default_language": "PT_br",
        "languages": { "pt-br": { "header": "é".repeat(1024) }, "zh_CN": {} },
    }));
    assert_eq!(domain.join.default_language().map(Language::tag), Some("pt-BR"));
    assert_eq!(domain.join.fallback_language(), Language::ENGLISH);
    assert_eq!(
        domain.join.texts(Language::resolve("pt-BR").unwrap()).header.as_ref().map(|h| h.chars().count()),
        Some(1024)
    );
    // It reads back as it was meant.
    let again: DecideConfig = serde_json::from_value(serde_json::to_value(&domain).unwrap()).unwrap();
    assert_eq!(again, domain);
}

#[test]
fn outcomes_about_unknown_meetings_are_refused() {
    given(active())
        .when(I::JoinInfoWritten { event_id: id(), room: room(), mode: "myroom".into(), change_key: "ck2".into() })
        .then_expect_error(DecideError::UnknownMeeting);
    given(active()).when(room_found(invite("@webex", "", "ck1"))).then_expect_error(DecideError::UnknownMeeting);
}

#[test]
fn an_attendees_copy_lists_the_organisers_join_target() {
    let block = render_block(&room(), Language::ENGLISH, &BlockTexts::default());
    let organiser = invite("@webex", &insert_block("<p>Agenda</p>", &block), "ck1");
    let attendee = GraphEvent { is_organizer: false, ..organiser.clone() };
    let marked = GraphEvent { marker: Some(Marker::new(&room(), "myroom").encode()), ..organiser };
    let target = |event: GraphEvent| {
        let then = given(active()).when(fetched(event));
        let Some(MailboxEvent::MeetingScheduled(d)) = then.events().first() else { panic!("{:?}", then.events()) };
        (d.join.clone(), d.private.join_address.clone(), d.private.web_link.clone())
    };
    let expected = target(marked);
    assert_eq!(expected.0.as_ref().map(|j| (j.provider.as_str(), j.origin)), Some(("webex", JoinOrigin::Hcal)));
    assert_eq!(target(attendee), expected, "the same platform, kind, address and link as the organiser's");
}

#[test]
fn a_block_without_its_marker_is_not_written_again() {
    let block = render_block(&room(), Language::ENGLISH, &BlockTexts::default());
    let then = given(active()).when(fetched(invite("@webex", &insert_block("<p>x</p>", &block), "ck1")));
    assert!(then.effects().is_empty(), "{:?}", then.effects());
}

#[test]
fn a_series_has_its_occurrences_read_when_it_appears_or_changes_and_at_each_renewal() {
    let master = GraphEvent { event_type: EventType::SeriesMaster, ..invite("Room 1", "", "ck1") };
    let (from, to) = window();
    let read = Effect::ReadOccurrences { event_id: id(), from, to };
    let then = given(active()).when(fetched(master.clone()));
    then.then_expect_effects([read.clone()]);
    let occurrences = vec![Occurrence {
        id: GraphEventId::new("AAMkE1-occ1"),
        start: now(),
        end: now() + chrono::Duration::hours(1),
    }];
    then.next()
        .when(I::OccurrencesRead { event_id: id(), from, to, occurrences: occurrences.clone() })
        .then_expect_events([MailboxEvent::SeriesExpanded { event_id: id(), from, to, occurrences }]);
    // The same series again: nothing to read; changed in a way the lists do not show (an
    // occurrence cancelled): read again.
    then.next().when(fetched(master.clone())).then_expect_nothing();
    then.next()
        .when(fetched(GraphEvent { change_key: "ck2".into(), ..master.clone() }))
        .then_expect_effects([read.clone()]);
    // One of its occurrences changed: the series' occurrences are read again.
    let exception = GraphEvent {
        id: GraphEventId::new("AAMkE1-exc"),
        event_type: EventType::Exception,
        series_master_id: Some(id()),
        ..invite("Room 1", "", "ck9")
    };
    let with_exception = then.next().when(fetched(exception));
    with_exception.then_expect_effects([read.clone()]);
    // A failed read holds nothing up.
    then.next()
        .when(I::OccurrencesFailed { event_id: id(), failure: GraphFailure::Transient("reset".into()) })
        .then_expect_nothing();
    let renewal = then.next().when(I::RenewSubscription);
    assert_eq!(renewal.effects().first(), Some(&read), "{:?}", renewal.effects());
    // A single meeting has no occurrences to read.
    given(active()).when(fetched(invite("Room 1", "", "ck1"))).then_expect_effects([]);
}
