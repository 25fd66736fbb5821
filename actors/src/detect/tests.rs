//! Tests of the detector as a whole: the invites Outlook, Teams, Zoom, Google Calendar and
//! Webex produce (some localised), every platform of the catalogue, negatives, wrappers, ranking
//! and admin rules; property tests bound its time on hostile input.

use std::time::{Duration, Instant};

use proptest::prelude::*;

use super::*;

fn kw() -> Vec<String> {
    vec!["webex".into(), "meet".into()]
}

fn body(html: &str) -> Detection {
    detect("", html, None, &kw())
}

fn join(d: &Detection) -> (&str, AddressKind, &str, Source) {
    let j = d.join.as_ref().unwrap_or_else(|| panic!("no join in {:#?}", d.explain));
    (j.provider.as_str(), j.kind, j.address.as_str(), j.source)
}

fn has(d: &Detection, provider: &str, kind: AddressKind, address: &str) -> bool {
    d.candidates.iter().any(|c| c.provider == provider && c.kind == kind && c.address == address)
}

/// An Outlook (desktop) HTML wrapper, with its head, conditional comments and styles.
fn outlook(inner: &str) -> String {
    format!(
        r##"<html xmlns:v="urn:schemas-microsoft-com:vml" xmlns:o="urn:schemas-microsoft-com:office:office" xmlns:w="urn:schemas-microsoft-com:office:word" xmlns="http://www.w3.org/TR/REC-html40"><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8"><meta name="Generator" content="Microsoft Word 15 (filtered medium)"><!--[if !mso]><style>v\:* {{behavior:url(#default#VML);}}</style><![endif]--><style><!-- @font-face {{font-family:"Segoe UI";}} p.MsoNormal {{margin:0cm;font-size:11.0pt;font-family:"Calibri",sans-serif;}} a:link {{color:#0563C1;}} @page WordSection1 {{size:612.0pt 792.0pt;}} --></style><!--[if gte mso 9]><xml><o:shapedefaults v:ext="edit" spidmax="1026" /></xml><![endif]--></head><body lang="EN-US" link="#0563C1" vlink="#954F72" style="word-wrap:break-word"><div class="WordSection1"><p class="MsoNormal"><o:p>&nbsp;</o:p></p>{inner}</div></body></html>"##
    )
}

const TEAMS_URL: &str = "https://teams.microsoft.com/l/meetup-join/19%3ameeting_NjQ5ZTY4YjktNzI2Zi00ODk4LWI4ZjAtYzU4OGE2Y2I2MjE2%40thread.v2/0?context=%7b%22Tid%22%3a%2272f988bf-86f1-41af-91ab-2d7cd011db47%22%2c%22Oid%22%3a%22d5e3b2a1-1c2d-4e5f-8a9b-0c1d2e3f4a5b%22%7d";

fn teams_block(title: &str, join: &str, cvi: &str, url: &str) -> String {
    format!(
        r#"<div><p class="MsoNormal"><span style="color:#5F5F5F">________________________________________________________________________________</span></p><div style="margin-top:.25in;margin-bottom:.25in"><p class="MsoNormal"><b><span style="font-size:18.0pt;font-family:&quot;Segoe UI&quot;,sans-serif;color:#242424">{title}</span></b></p><p class="MsoNormal"><span style="font-size:10.5pt;font-family:&quot;Segoe UI&quot;,sans-serif;color:#242424"><a href="{href}" title="Meeting join link" target="_blank"><b><span style="font-size:10.5pt;color:#5B5FC7;text-decoration:none">{join}</span></b></a> </span></p><p class="MsoNormal"><span style="font-size:10.5pt;color:#616161">Meeting ID: </span><span style="font-size:10.5pt;color:#242424">234&nbsp;567&nbsp;890&nbsp;123&nbsp;4</span></p><p class="MsoNormal"><span style="font-size:10.5pt;color:#616161">Passcode: </span><span style="font-size:10.5pt;color:#242424">aB3cD4</span></p></div><div style="margin-bottom:.25in"><p class="MsoNormal"><span style="font-size:10.5pt;color:#242424">Dial in by phone</span></p><p class="MsoNormal"><a href="tel:+14255550100,,123456789#"><span style="font-size:10.5pt;color:#5B5FC7">+1 425-555-0100,,123456789#</span></a><span style="font-size:10.5pt"> United States, Seattle</span></p><p class="MsoNormal"><a href="https://dialin.teams.microsoft.com/8551f4c1-bea3-441a-8738-69aa517a91c5?id=123456789"><span style="font-size:10.5pt;color:#5B5FC7">Find a local number</span></a></p></div><div style="margin-bottom:.25in"><p class="MsoNormal"><span style="font-size:10.5pt;color:#242424">{cvi}</span></p><p class="MsoNormal"><span style="font-size:10.5pt;color:#242424">teams@vc.contoso.com</span></p><p class="MsoNormal"><span style="font-size:10.5pt;color:#616161">Video Conference ID: </span><span style="font-size:10.5pt;color:#242424">123 456 789 0</span></p><p class="MsoNormal"><a href="https://dialin.plcm.vc/teams/?key=contoso&amp;conf=1234567890"><span style="font-size:10.5pt;color:#5B5FC7">Alternate VTC instructions</span></a></p></div><div style="margin-bottom:.25in"><p class="MsoNormal"><span style="font-size:10.5pt;color:#242424">For organizers: </span><a href="https://teams.microsoft.com/meetingOptions/?organizerId=d5e3b2a1&amp;tenantId=72f988bf&amp;threadId=19_meeting_NjQ5@thread.v2&amp;messageId=0&amp;language=en-US"><span style="font-size:10.5pt;color:#5B5FC7">Meeting options</span></a><span style="font-size:10.5pt;color:#242424"> | </span><a href="https://aka.ms/JoinTeamsMeeting?omkt=en-US"><span style="font-size:10.5pt;color:#5B5FC7">Help</span></a></p></div><p class="MsoNormal"><span style="color:#5F5F5F">________________________________________________________________________________</span></p></div>"#,
        href = url.replace('&', "&amp;"),
    )
}

#[test]
fn teams_invite_from_outlook() {
    let html = outlook(&format!(
        "<p class=MsoNormal>Hi all, agenda below.</p>{}",
        teams_block(
            "Microsoft Teams meeting",
            "Join the meeting now",
            "Join with a video conferencing device",
            TEAMS_URL
        )
    ));
    let d = detect("Microsoft Teams Meeting", &html, None, &kw());
    assert_eq!(join(&d), ("teams", AddressKind::Url, TEAMS_URL, Source::Body));
    // The video-interop address under its label is a candidate too; the help link, the
    // meeting-options page and the phone numbers are not.
    assert!(has(&d, "sip", AddressKind::Sip, "sip:teams@vc.contoso.com"), "{:#?}", d.candidates);
    assert!(d.candidates.iter().all(|c| !c.address.contains("aka.ms") && !c.address.contains("meetingOptions")));
    assert!(d.candidates.iter().all(|c| c.kind != AddressKind::Tel), "{:#?}", d.candidates);
    assert!(d.explain.iter().any(|l| l.step == Step::Ignored && l.message.contains("aka.ms/JoinTeamsMeeting")));
    assert!(d.explain.iter().any(|l| l.step == Step::Ignored && l.message.contains("meeting options")));
    assert_eq!(d.keyword, None);
}

#[test]
fn teams_invite_localised_and_with_the_new_link_format() {
    let url = "https://teams.microsoft.com/meet/2345678901234?p=aB3cD4eF5gH6";
    let html = outlook(&teams_block(
        "Microsoft Teams-Besprechung",
        "Jetzt an der Besprechung teilnehmen",
        "Mit einem Videokonferenzger&auml;t teilnehmen",
        url,
    ));
    let d = body(&html);
    assert_eq!(join(&d), ("teams", AddressKind::Url, url, Source::Body));
    assert!(has(&d, "sip", AddressKind::Sip, "sip:teams@vc.contoso.com"), "{:#?}", d.candidates);
    let french = outlook(&teams_block(
        "R&eacute;union Microsoft&nbsp;Teams",
        "Rejoindre la r&eacute;union maintenant",
        "Participer &agrave; l&rsquo;aide d&rsquo;un appareil de visioconf&eacute;rence",
        TEAMS_URL,
    ));
    let d = body(&french);
    assert_eq!(join(&d).0, "teams");
    assert!(has(&d, "sip", AddressKind::Sip, "sip:teams@vc.contoso.com"), "{:#?}", d.candidates);
}

#[test]
fn teams_government_clouds_and_the_structured_field() {
    for url in [
        "https://gov.teams.microsoft.us/l/meetup-join/19%3ameeting_abc%40thread.v2/0?context=%7b%7d",
        "https://dod.teams.microsoft.us/l/meetup-join/19%3ameeting_abc%40thread.v2/0",
        "https://teams.live.com/meet/9387654321?p=XyZ",
    ] {
        let d = detect("", "", Some(url), &kw());
        assert_eq!(join(&d), ("teams", AddressKind::Url, url, Source::OnlineMeeting), "{url}");
    }
}

fn safe(url: &str) -> String {
    format!(
        "https://nam12.safelinks.protection.outlook.com/?url={}&amp;data=05%7C02%7Calice%40contoso.com%7C5b1%7C0%7C638%7CUnknown&amp;sdata=q1w2e3r4%3D&amp;reserved=0",
        url::form_urlencoded::byte_serialize(url.as_bytes()).collect::<String>()
    )
}

#[test]
fn safe_links_are_unwrapped_and_link_text_may_differ() {
    let html = outlook(&format!(
        r#"<p class="MsoNormal"><a href="{}" originalsrc="{TEAMS_URL}" shash="abc">Click here to join the meeting</a></p>"#,
        safe(TEAMS_URL)
    ));
    assert_eq!(join(&body(&html)), ("teams", AddressKind::Url, TEAMS_URL, Source::Body));
    // Without Outlook's originalsrc attribute, the wrapper is unwrapped (nested twice here).
    let zoom = "https://us06web.zoom.us/j/81234567890?pwd=Q2FsZW5kYXJUZXN0.1";
    let twice = safe(&safe(zoom).replace("&amp;", "&"));
    let d = body(&format!(r#"<a href="{twice}">Join</a>"#));
    assert_eq!(join(&d), ("zoom", AddressKind::Url, zoom, Source::Body));
    assert!(d.explain.iter().any(|l| l.step == Step::Unwrapped && l.message.starts_with("2 link wrapper(s)")));
}

#[test]
fn entities_wbr_and_invisible_characters_inside_urls() {
    let d = body(
        "<div>Join:&nbsp;https:&#x2F;&#x2F;acme.webex.com/acme/j.php?MTID=<wbr>m8a5f0e3c1b2d4a6f8e0c2b4d6f8a0c2e&amp;from=<wbr>invite</div>",
    );
    assert_eq!(
        join(&d),
        (
            "webex",
            AddressKind::Url,
            "https://acme.webex.com/acme/j.php?MTID=m8a5f0e3c1b2d4a6f8e0c2b4d6f8a0c2e&from=invite",
            Source::Body
        )
    );
    let d = body("<p>https://meet.goo\u{200b}gle.com/<span>abc-</span><span>defg-hij</span>&shy;</p>");
    assert_eq!(join(&d), ("google_meet", AddressKind::Url, "https://meet.google.com/abc-defg-hij", Source::Body));
}

fn zoom_body(lang_join: &str, sip_label: &str, h323_label: &str) -> String {
    format!(
        r#"<div><p>Alex Kim is inviting you to a scheduled Zoom meeting.</p><p>Topic: Design review<br>Time: Dec 1, 2026 09:00 AM Amsterdam</p><p>{lang_join}<br><a href="https://us02web.zoom.us/j/85123456789?pwd=bXlQd0RHb1ZpcHhvZ3lXQ3R1dz09">https://us02web.zoom.us/j/85123456789?pwd=bXlQd0RHb1ZpcHhvZ3lXQ3R1dz09</a></p><p>Meeting ID: 851 2345 6789<br>Passcode: 472913</p><p>---<br>One tap mobile<br>+13126266799,,85123456789#,,,,*472913# US (Chicago)<br>+16465588656,,85123456789#,,,,*472913# US (New York)</p><p>---<br>Dial by your location<br>• +1 312 626 6799 US (Chicago)<br>• +1 646 558 8656 US (New York)<br>Find your local number: <a href="https://us02web.zoom.us/u/kdqL5Yz8Tb">https://us02web.zoom.us/u/kdqL5Yz8Tb</a></p><p>---<br>{sip_label}<br>85123456789@zoomcrc.com</p><p>---<br>{h323_label}<br>162.255.37.11 (US West)<br>162.255.36.11 (US East)<br>Meeting ID: 851 2345 6789<br>Passcode: 472913</p></div>"#
    )
}

#[test]
fn zoom_invites_in_english_and_french() {
    let url = "https://us02web.zoom.us/j/85123456789?pwd=bXlQd0RHb1ZpcHhvZ3lXQ3R1dz09";
    for html in [
        zoom_body("Join Zoom Meeting", "Join by SIP", "Join by H.323"),
        zoom_body("Participer &agrave; la r&eacute;union Zoom", "Rejoindre par SIP", "Rejoindre par H.323"),
    ] {
        let d = body(&html);
        assert_eq!(join(&d), ("zoom", AddressKind::Url, url, Source::Body));
        assert!(has(&d, "zoom", AddressKind::Sip, "sip:85123456789@zoomcrc.com"), "{:#?}", d.candidates);
        assert!(has(&d, "h323", AddressKind::H323, "162.255.37.11##85123456789"), "{:#?}", d.candidates);
        // "Find your local number" is a Zoom page, not a meeting; the phone numbers are audio.
        assert!(d.candidates.iter().all(|c| !c.address.contains("/u/") && c.kind != AddressKind::Tel));
    }
}

#[test]
fn google_calendar_invite_in_english_and_spanish() {
    for (join_label, learn) in [
        ("Join with Google Meet", "Learn more about Meet at"),
        ("Unirse con Google Meet", "Más información sobre Meet"),
    ] {
        let html = format!(
            r#"<p>Weekly sync</p><br>-::~:~::~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~::~:~::-<br>{join_label}: <a href="https://www.google.com/url?q=https://meet.google.com/abc-defg-hij&amp;sa=D&amp;source=calendar&amp;usg=AOvVaw0">https://meet.google.com/abc-defg-hij</a><br><br>Join by phone<br>(US) <a href="tel:+1-234-567-8901;123456789#">+1 234-567-8901</a> PIN: 123 456 789#<br><br>More phone numbers: <a href="https://tel.meet/abc-defg-hij?pin=1234567890123">https://tel.meet/abc-defg-hij?pin=1234567890123</a><br><br>{learn}: <a href="https://support.google.com/a/users/answer/9282720">https://support.google.com/a/users/answer/9282720</a><br><br>Please do not edit this section.<br>-::~:~::~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~::~:~::-"#
        );
        let d = body(&html);
        assert_eq!(join(&d), ("google_meet", AddressKind::Url, "https://meet.google.com/abc-defg-hij", Source::Body));
        assert_eq!(d.candidates.len(), 1, "{:#?}", d.candidates);
        assert!(d.explain.iter().any(|l| l.step == Step::Ignored && l.message.contains("support.google.com")));
    }
}

fn webex_body(join_here: &str, video_label: &str, also_dial: &str) -> String {
    outlook(&format!(
        r#"<table width="747" style="width:448.2pt"><tr><td><p class="MsoNormal"><span style="font-size:10.5pt;font-family:Arial;color:#333333">{join_here}</span></p><p class="MsoNormal"><a href="https://acme.webex.com/acme/j.php?MTID=m4c0f8f6c3a1d1e5b7e9a2c4d6f8b0a1c"><b><span style="font-size:13.5pt;color:white;background:#00823B">Join meeting</span></b></a></p><p class="MsoNormal"><b>Meeting number (access code):</b> 2550 123 4567</p><p class="MsoNormal"><b>Meeting password:</b> Xy7pQ2mR</p></td></tr><tr><td><p class="MsoNormal"><b>{video_label}</b><br>Dial <a href="sip:25501234567@acme.webex.com">25501234567@acme.webex.com</a><br>{also_dial} 173.243.2.68</p><p class="MsoNormal"><b>Join by phone</b><br>+1-415-655-0001 US Toll<br>Access code: 2550 123 4567</p><p class="MsoNormal">Need help? Go to <a href="https://help.webex.com">https://help.webex.com</a></p></td></tr></table>"#
    ))
}

#[test]
fn webex_invites_in_english_and_japanese() {
    for html in [
        webex_body("When it's time, join the Webex meeting here.", "Join by video system", "You can also dial"),
        webex_body(
            "時間になったら、ここから Webex ミーティングに参加してください。",
            "ビデオ システムから参加",
            "または次の番号にダイヤルします",
        ),
    ] {
        let d = body(&html);
        assert_eq!(
            join(&d),
            (
                "webex",
                AddressKind::Url,
                "https://acme.webex.com/acme/j.php?MTID=m4c0f8f6c3a1d1e5b7e9a2c4d6f8b0a1c",
                Source::Body
            )
        );
        assert!(has(&d, "webex", AddressKind::Sip, "sip:25501234567@acme.webex.com"), "{:#?}", d.candidates);
        assert!(has(&d, "h323", AddressKind::H323, "173.243.2.68##25501234567"), "{:#?}", d.candidates);
        assert!(d.explain.iter().any(|l| l.step == Step::Ignored && l.message.contains("help.webex.com")));
    }
}

#[test]
fn video_addresses_without_a_url() {
    let d = detect("sip:alice@acme.webex.com", "", None, &kw());
    assert_eq!(join(&d), ("webex", AddressKind::Sip, "sip:alice@acme.webex.com", Source::Location));
    let d = body("<p>Dial 12345@video.example.com from the room</p>");
    assert_eq!(join(&d), ("sip", AddressKind::Sip, "sip:12345@video.example.com", Source::Body));
    let d = body("<p>Personal room: alice@acme.webex.com</p>");
    assert_eq!(join(&d), ("webex", AddressKind::Sip, "sip:alice@acme.webex.com", Source::Body));
    let d = body("<p>Board room VMR: meet.board@video.contoso.com</p>");
    assert_eq!(join(&d).0, "pexip");
    let d = body("<p>Gatekeeper: h323:boardroom@gk.contoso.com</p>");
    assert_eq!(join(&d), ("h323", AddressKind::H323, "h323:boardroom@gk.contoso.com", Source::Body));
    let d = body("<p>Video dial-in: +31 20 794 0000</p><p>Audio: +31 20 123 4567</p>");
    assert_eq!(join(&d), ("tel", AddressKind::Tel, "tel:+31207940000", Source::Body));
    assert_eq!(d.candidates.len(), 1, "{:#?}", d.candidates);
    let d = body("<p>GoTo: join from a video-conferencing room or system.<br>Dial 67.217.95.2##123456789</p>");
    assert!(has(&d, "h323", AddressKind::H323, "67.217.95.2##123456789"), "{:#?}", d.candidates);
    let d = body("<p>Join via Skype for Business: sip:alice@contoso.com;gruu;opaque=app:conf:focus:id:4FNRHN16</p>");
    assert_eq!(join(&d).0, "skype_for_business");
}

#[test]
fn negatives() {
    for html in [
        "<p>Agenda: budget, hiring</p>",
        "<p>Questions to alice@contoso.com or +1 425 555 0100</p>",
        "<p>Gossip: nothing at all</p>",
        r#"<a href="https://aka.ms/JoinTeamsMeeting">Learn more about Teams</a>"#,
        r#"<a href="https://zoom.us/">Zoom</a> <a href="https://zoom.us/download">download</a> https://www.webex.com/ https://meet.google.com/ https://meet.google.com/new"#,
        "https://us02web.zoom.us/rec/share/AbCdEfGh1234 (recording) https://support.zoom.us/hc/en-us/articles/201362193",
        "https://teams.microsoft.com/l/channel/19%3a123%40thread.tacv2/General?groupId=1 https://whereby.com/pricing https://join.me/",
        "https://www.youtube.com/ https://github.com/hcal/hcal https://www.contoso.com/meet/now",
        "<p>Call me at tel 0612345678 or on 12.5.2026</p>",
        "mailto:12345@video.example.com",
    ] {
        let d = body(html);
        assert_eq!(d.join, None, "{html}: {:#?}", d.candidates);
    }
    let d = detect("Room 4.12 (Building B)", "", None, &kw());
    assert_eq!(d.join, None);
    assert_eq!(d.explain.last().map(|l| l.step), Some(Step::Chosen));
}

/// One realistic meeting URL per platform; the test below checks that every platform has one.
const SAMPLES: &[(&str, &str)] = &[
    ("webex", "https://acme.webex.com/meet/alice.smith"),
    ("webex", "https://acme.webex.com/acme/j.php?MTID=m0123456789abcdef0123456789abcdef"),
    ("webex", "https://acme.webex.com/wbxmjs/joinservice/sites/acme/meeting/download/0123abcd"),
    ("teams", TEAMS_URL),
    ("teams", "https://teams.microsoft.com/meet/2345678901234?p=aB3cD4"),
    ("zoom", "https://us02web.zoom.us/j/85123456789?pwd=abc"),
    ("zoom", "https://zoom.us/my/alice.smith"),
    ("zoom", "https://acme.zoom.us/w/91234567890?tk=abc"),
    ("zoom", "https://zoom.com.cn/j/6123456789"),
    ("zoom", "zoommtg://zoom.us/join?action=join&confno=85123456789&pwd=abc"),
    ("zoomgov", "https://acme.zoomgov.com/j/1612345678?pwd=abc"),
    ("google_meet", "https://meet.google.com/abc-defg-hij?authuser=0"),
    ("google_meet", "https://g.co/meet/weekly-sync"),
    ("google_hangouts", "https://hangouts.google.com/call/AbCdEf123456"),
    ("jitsi", "https://meet.jit.si/AcmeWeeklySync"),
    ("jitsi", "https://jitsi.example.org/BoardMeeting2026"),
    ("gotomeeting", "https://global.gotomeeting.com/join/123456789"),
    ("gotomeeting", "https://meet.goto.com/123456789"),
    ("gotowebinar", "https://attendee.gotowebinar.com/register/1234567890123456789"),
    ("gototraining", "https://global.gototraining.com/join/training/1234567890"),
    ("bluejeans", "https://bluejeans.com/123456789/1234"),
    ("chime", "https://chime.aws/1234567890"),
    ("ringcentral", "https://meetings.ringcentral.com/j/1234567890"),
    ("ringcentral", "https://v.ringcentral.com/join/123456789"),
    ("whereby", "https://whereby.com/acme-standup"),
    ("skype", "https://join.skype.com/AbCdEfGh1234"),
    ("skype_for_business", "https://meet.lync.com/contoso/alice/ABCD1234"),
    ("skype_for_business", "https://meet.contoso.com/alice/4FNRHN16"),
    ("lifesize", "https://call.lifesize.com/1234567"),
    ("starleaf", "https://meet.starleaf.com/4012345678"),
    ("zoho", "https://meeting.zoho.com/meeting/join?key=1234567890"),
    ("zoho", "https://meeting.zoho.eu/join?key=1234567890"),
    ("vonage", "https://meetings.vonage.com/123456789"),
    ("eight_by_eight", "https://8x8.vc/acme/weekly-sync"),
    ("pexip", "https://video.contoso.com/webapp/#/?conference=meet.board&pin=1234"),
    ("pexip", "https://video.contoso.com/webapp3/m/board/express"),
    ("bigbluebutton", "https://bbb.university.example/b/ali-x7k-9qz"),
    ("bigbluebutton", "https://greenlight.example.net/rooms/abc-def-ghi-jkl/join"),
    ("slack_huddle", "https://app.slack.com/huddle/T01ABCDEF/C02GHIJKL"),
    ("discord", "https://discord.gg/abcDEF12"),
    ("discord", "https://discord.com/channels/123456789012345678/234567890123456789"),
    ("livestorm", "https://app.livestorm.co/acme/product-demo"),
    ("voov", "https://voovmeeting.com/dm/AbCdEf12"),
    ("tencent_meeting", "https://meeting.tencent.com/dm/AbCdEf12"),
    ("lark", "https://vc.larksuite.com/j/123456789"),
    ("lark", "https://vc.feishu.cn/j/123456789"),
    ("dingtalk", "https://meeting.dingtalk.com/j/AbCdEf12"),
    ("around", "https://meet.around.co/r/acme-sync"),
    ("gather", "https://app.gather.town/app/AbCdEf123/AcmeOffice"),
    ("livekit", "https://meet.livekit.io/rooms/abcd-1234"),
    ("cal_video", "https://app.cal.com/video/3Kq9ZtUvWxYz"),
    ("demio", "https://my.demio.com/ref/AbCdEf123"),
    ("teamviewer", "https://go.teamviewer.com/m12345678"),
    ("vsee", "https://vsee.com/u/alice"),
    ("join_me", "https://join.me/acme-sales"),
    ("facetime", "https://facetime.apple.com/join#v=1&p=AbCdEf&k=GhIjKl"),
    ("youtube", "https://www.youtube.com/live/AbCdEf12345"),
    ("youtube", "https://youtu.be/AbCdEf12345"),
    ("vimeo", "https://vimeo.com/event/1234567"),
    ("streamyard", "https://streamyard.com/abcdefgh12"),
    ("riverside", "https://riverside.fm/studio/acme-podcast"),
    ("adobe_connect", "https://acme.adobeconnect.com/weekly-review/"),
    ("clickmeeting", "https://acme.clickmeeting.com/product-webinar"),
    ("dialpad", "https://meetings.dialpad.com/alice"),
    ("dialpad", "https://www.uberconference.com/alice"),
    ("workplace", "https://acme.workplace.com/meet/AbCdEf"),
    ("messenger", "https://msngr.com/AbCdEf12"),
    ("whatsapp", "https://call.whatsapp.com/video/AbCdEf123456"),
    ("signal", "https://signal.link/call/#key=abcd-efgh-ijkl"),
    ("telegram", "https://t.me/acme_team?videochat"),
    ("webinarjam", "https://event.webinarjam.com/go/live/12/abc"),
    ("on24", "https://event.on24.com/wcc/r/1234567/ABCDEF0123456789"),
    ("hopin", "https://hopin.com/events/acme-summit"),
    ("airmeet", "https://www.airmeet.com/e/0a1b2c3d-4e5f-6789-abcd-ef0123456789"),
    ("bigmarker", "https://www.bigmarker.com/acme/Quarterly-Update"),
    ("crowdcast", "https://www.crowdcast.io/e/acme-launch"),
    ("pop", "https://pop.com/j/123-456-789"),
    ("tuple", "https://tuple.app/c/acme/abcdef"),
    ("mirotalk", "https://p2p.mirotalk.com/join/acme-sync"),
    ("nextcloud_talk", "https://cloud.example.org/index.php/call/ab12cd34"),
    ("element_call", "https://call.element.io/acme-standup"),
    ("daily", "https://acme.daily.co/standup"),
    ("yandex_telemost", "https://telemost.yandex.ru/j/12345678901234"),
    ("vk_calls", "https://vk.com/call/join/AbCdEf_123"),
    ("kumospace", "https://www.kumospace.com/acme"),
    ("livewebinar", "https://www.livewebinar.com/123-456-789"),
    ("avaya_spaces", "https://spaces.avayacloud.com/spaces/5f1a2b3c4d5e"),
    ("freeconferencecall", "https://join.freeconferencecall.com/alice"),
    ("three_cx", "https://acme.3cx.eu/meet/alice"),
    ("kmeet", "https://kmeet.infomaniak.com/acme-weekly"),
    ("talky", "https://talky.io/acme-sync"),
    ("blackboard_collaborate", "https://eu.bbcollab.com/guest/0a1b2c3d4e5f"),
    ("doxy_me", "https://doxy.me/drsmith"),
    ("twitch", "https://www.twitch.tv/acme_live"),
    ("remo", "https://live.remo.co/e/acme-mixer"),
    ("wonder", "https://www.wonder.me/r?id=abc123"),
    ("spatialchat", "https://app.spatial.chat/s/acme"),
    ("webinargeek", "https://acme.webinargeek.com/watch/AbCdEf"),
    ("vidyo", "https://acme.vidyocloud.com/join/AbCdEf1234"),
    ("huddle01", "https://app.huddle01.com/abc-defg-hij"),
    ("linkedin_live", "https://www.linkedin.com/events/7123456789012345678"),
    ("x_spaces", "https://x.com/i/spaces/1AbCdEfGhIjKl"),
];

#[test]
fn every_platform_has_a_sample_and_each_sample_is_detected_in_an_invite() {
    for id in platforms::ids() {
        assert!(SAMPLES.iter().any(|(p, _)| *p == id), "no sample for {id}");
    }
    let mut failures = Vec::new();
    for (id, url) in SAMPLES {
        let html = outlook(&format!(
            r#"<p class="MsoNormal">Join the meeting: <a href="{}">{}</a></p>"#,
            url.replace('&', "&amp;"),
            url.replace('&', "&amp;")
        ));
        let d = body(&html);
        let got = d.join.as_ref().map(|j| (j.provider.as_str(), j.kind, j.address.as_str(), j.source));
        if got != Some((*id, AddressKind::Url, *url, Source::Body)) {
            failures.push(format!("{url}: {got:?}"));
        }
        let d = detect(url, "", None, &kw());
        let got = d.join.as_ref().map(|j| (j.provider.as_str(), j.kind, j.address.as_str(), j.source));
        if got != Some((*id, AddressKind::Url, *url, Source::Location)) {
            failures.push(format!("{url} in Location: {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn the_catalogue_has_the_required_ids() {
    let ids: Vec<&str> = platforms::ids().collect();
    assert!(ids.len() >= 75, "{} platforms", ids.len());
    for required in [
        "webex",
        "teams",
        "zoom",
        "google_meet",
        "jitsi",
        "gotomeeting",
        "gotowebinar",
        "bluejeans",
        "chime",
        "ringcentral",
        "whereby",
        "skype",
        "skype_for_business",
        "lifesize",
        "starleaf",
        "zoho",
        "vonage",
        "eight_by_eight",
        "pexip",
        "bigbluebutton",
        "slack_huddle",
        "discord",
        "livestorm",
        "voov",
        "lark",
        "around",
        "gather",
        "livekit",
        "cal_video",
        "zoomgov",
        "demio",
        "teamviewer",
        "vsee",
        "join_me",
        "facetime",
        "youtube",
        "vimeo",
        "streamyard",
        "riverside",
    ] {
        assert!(ids.contains(&required), "{required} missing");
    }
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), ids.len(), "duplicate ids");
    for id in &ids {
        assert!(id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'), "{id}");
        assert!(!["sip", "h323", "tel", "online_meeting", "custom"].contains(id), "{id} is reserved");
    }
    // Every pattern compiles (a broken one would silently match nothing).
    for p in platforms::PLATFORMS {
        for m in p.meetings.iter().chain(p.self_hosted) {
            assert!(Regex::new(m).is_ok(), "{}: {m}", p.id);
        }
    }
    for (_, re) in platforms::baseline_patterns() {
        assert!(Regex::new(&re).is_ok(), "{re}");
    }
}

#[test]
fn structured_field_then_location_then_body() {
    let zoom = "https://us02web.zoom.us/j/85123456789";
    let meet = "https://meet.google.com/abc-defg-hij";
    let d = detect(meet, &format!("<p>{zoom}</p>"), Some(TEAMS_URL), &kw());
    assert_eq!(join(&d), ("teams", AddressKind::Url, TEAMS_URL, Source::OnlineMeeting));
    let sources: Vec<Source> = d.candidates.iter().map(|c| c.source).collect();
    assert_eq!(sources, vec![Source::OnlineMeeting, Source::Location, Source::Body]);
    let d = detect(meet, &format!("<p>{zoom}</p>"), None, &kw());
    assert_eq!(join(&d).3, Source::Location);
    // An unknown structured URL is still a join URL; a help link there is not.
    let d = detect("", "", Some("https://meet.contoso.example/x/ABCDEFGH12"), &kw());
    assert_eq!(join(&d).0, "online_meeting");
    assert_eq!(detect("", "", Some("https://aka.ms/JoinTeamsMeeting"), &kw()).join, None);
}

#[test]
fn within_a_source_the_most_specific_wins_deterministically() {
    // A meeting URL beats a video address, a platform's address beats a generic one, and the
    // earlier of two equals wins; the same input always gives the same answer.
    let html = "<p>Dial 12345@video.example.com or sip:alice@acme.webex.com</p><p>https://acme.webex.com/meet/alice https://acme.webex.com/meet/bob</p>";
    let first = body(html);
    assert_eq!(join(&first), ("webex", AddressKind::Url, "https://acme.webex.com/meet/alice", Source::Body));
    let order: Vec<&str> = first.candidates.iter().map(|c| c.address.as_str()).collect();
    assert_eq!(
        order,
        vec![
            "https://acme.webex.com/meet/alice",
            "https://acme.webex.com/meet/bob",
            "sip:alice@acme.webex.com",
            "sip:12345@video.example.com"
        ]
    );
    for _ in 0..5 {
        assert_eq!(body(html), first);
    }
    // The same link in the text and as an href is one candidate; the href with its passcode
    // is the more specific of the two.
    let d = body(r#"<a href="https://zoom.us/j/85123456789?pwd=abc">https://zoom.us/j/85123456789</a>"#);
    assert_eq!(join(&d).2, "https://zoom.us/j/85123456789?pwd=abc");
}

#[test]
fn location_field_forms() {
    let d = detect("zoom.us/j/85123456789", "", None, &kw());
    assert_eq!(join(&d), ("zoom", AddressKind::Url, "https://zoom.us/j/85123456789", Source::Location));
    let d = detect("Board room; @webex:onetime; https://meet.google.com/abc-defg-hij.", "", None, &kw());
    assert_eq!(d.keyword, Some(Keyword { name: "webex".into(), modifier: Some("onetime".into()) }));
    assert_eq!(join(&d).2, "https://meet.google.com/abc-defg-hij");
    let d = detect("(see https://acme.webex.com/meet/alice)", "", None, &kw());
    assert_eq!(join(&d).2, "https://acme.webex.com/meet/alice");
}

#[test]
fn plain_text_bodies() {
    let d = Detector::default().detect(
        &Invite {
            location: "",
            body: Body::Text(
                "Join Zoom Meetinghttps://us02web.zoom.us/j/85123456789?pwd=abc\nMeeting ID: 851 2345 6789",
            ),
            online_meeting_url: None,
        },
        &kw(),
    );
    assert_eq!(join(&d), ("zoom", AddressKind::Url, "https://us02web.zoom.us/j/85123456789?pwd=abc", Source::Body));
}

#[test]
fn admin_rules_outrank_built_in_detection_in_their_source() {
    let rules = Rules::load(&[
        RuleSpec {
            name: "teams via interop".into(),
            priority: 10,
            pattern: r"Video Conference ID:\s*(?P<id>\d{3}) ?(?P<b>\d{3}) ?(?P<c>\d{3}) ?(?P<d>\d)".into(),
            replacement: "${id}${b}${c}${d}.contoso@m.example.com".into(),
            kind: AddressKind::Sip,
            provider: "teams".into(),
        },
        RuleSpec {
            name: "room alias".into(),
            priority: 20,
            pattern: r"(?i)\broom (\d{3})\b".into(),
            replacement: "room$1@video.contoso.com".into(),
            kind: AddressKind::Sip,
            provider: "custom".into(),
        },
    ])
    .unwrap();
    let detector = Detector::new(rules);
    let html =
        outlook(&teams_block("Microsoft Teams meeting", "Join", "Join with a video conferencing device", TEAMS_URL));
    let d = detector.detect(&Invite { location: "Room 101", body: Body::Html(&html), online_meeting_url: None }, &kw());
    assert_eq!(join(&d), ("custom", AddressKind::Sip, "sip:room101@video.contoso.com", Source::Location));
    assert!(has(&d, "teams", AddressKind::Sip, "sip:1234567890.contoso@m.example.com"), "{:#?}", d.candidates);
    let body_first: Vec<&JoinCandidate> = d.candidates.iter().filter(|c| c.source == Source::Body).collect();
    assert_eq!(body_first[0].address, "sip:1234567890.contoso@m.example.com");
    assert!(d.explain.iter().any(|l| l.step == Step::Rule && l.message.contains("teams via interop")));
}

#[test]
fn the_explanation_reads_as_an_account_and_the_summary_quotes_no_address() {
    let d = detect("@webex", &zoom_body("Join Zoom Meeting", "Join by SIP", "Join by H.323"), None, &kw());
    let steps: Vec<Step> = d.explain.iter().map(|l| l.step).collect();
    assert_eq!(steps.first(), Some(&Step::Keyword));
    assert_eq!(steps.last(), Some(&Step::Chosen));
    let last = &d.explain[d.explain.len() - 1].message;
    assert!(last.starts_with("chose zoom url from body: nothing in the structured field or Location"), "{last}");
    let summary = d.summary();
    assert_eq!(summary, "keyword @webex; join address: zoom url from body (best of 3); 1 link(s) ignored");
    let json = serde_json::to_value(&d).unwrap();
    assert_eq!(json["join"]["source"], "body");
    assert_eq!(json["keyword"]["name"], "webex");
    assert!(json["explain"][0]["step"].is_string());
}

#[test]
fn hostile_inputs_finish_quickly() {
    let mb = 1 << 20;
    let inputs = [
        "@".repeat(mb),
        "a@".repeat(mb / 2),
        "1@1.".repeat(mb / 4),
        "<div>".repeat(mb / 5),
        "<a href=\"https://zoom.us/j/123456789\">".repeat(mb / 40),
        "sip:".repeat(mb / 4),
        "https://".repeat(mb / 8),
        "video system ".repeat(mb / 13),
        "x.".repeat(mb / 2) + "com/",
        format!("https://{}.zoom.us/j/1", "a.".repeat(mb / 2)),
        "&#64;&amp;".repeat(mb / 10),
        "<".repeat(mb),
        (0..60_000).map(|i| format!("sip:{i}@a.example ")).collect::<String>(),
        (0..60_000).map(|i| format!("<a href=\"https://zoom.us/j/{i:011}\">x</a>")).collect::<String>(),
    ];
    for input in &inputs {
        let start = Instant::now();
        let d = detect(input, input, Some(input), &kw());
        assert!(d.explain.len() <= explain::MAX_LINES);
        assert!(d.candidates.len() <= MAX_CANDIDATES);
        let took = start.elapsed();
        // Generous for unoptimised test builds; optimised builds take milliseconds.
        assert!(took < Duration::from_secs(20), "{took:?} for {:?}…", &input[..20]);
    }
}

fn htmlish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("<a href=\"".to_owned()),
        Just("\">".to_owned()),
        Just("</a>".to_owned()),
        Just("<div>".to_owned()),
        Just("<wbr>".to_owned()),
        Just("&amp;".to_owned()),
        Just("&#x40;".to_owned()),
        Just("https://".to_owned()),
        Just("zoom.us/j/".to_owned()),
        Just("teams.microsoft.com/l/meetup-join/".to_owned()),
        Just("safelinks.protection.outlook.com/?url=".to_owned()),
        Just("sip:".to_owned()),
        Just("@".to_owned()),
        Just("webex.com".to_owned()),
        Just("Video system: ".to_owned()),
        Just("162.255.37.11##".to_owned()),
        Just("<style>".to_owned()),
        "[0-9]{1,12}".prop_map(|s| s),
        "[a-zA-Z%.:/?#=&;<>\"' \n-]{0,12}".prop_map(|s| s),
        any::<char>().prop_map(|c| c.to_string()),
    ];
    prop::collection::vec(piece, 0..64).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn never_panics_and_answers_consistently(location in htmlish(), html in htmlish(), structured in proptest::option::of(htmlish())) {
        let d = detect(&location, &html, structured.as_deref(), &kw());
        prop_assert_eq!(d.join.as_ref(), d.candidates.first());
        prop_assert!(d.explain.len() <= explain::MAX_LINES);
        prop_assert_eq!(d.explain.last().map(|l| l.step), Some(Step::Chosen));
        prop_assert_eq!(&detect(&location, &html, structured.as_deref(), &kw()), &d);
        let summary = d.summary();
        for c in &d.candidates {
            prop_assert!(!summary.contains(&c.address));
        }
    }

    #[test]
    fn arbitrary_text_never_panics(s in any::<String>()) {
        let _ = detect(&s, &s, Some(&s), &kw());
        let _ = keyword(&s, &kw());
    }
}
