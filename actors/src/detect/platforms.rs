//! The catalogue of meeting platforms: stable ids, the hosts each one serves, the URL shapes
//! that are meetings (as opposed to home, help or settings pages), and the SIP domains of their
//! video addresses.
//!
//! Matching is indexed: a URL's host is looked up label by label in a map built once, so only
//! the few patterns of the platforms serving that host are tried. URLs on hosts no platform
//! claims go through one `RegexSet` of the self-hosted shapes (Jitsi, BigBlueButton, Pexip, ...).
//! Nothing depends on hash-map iteration order: the map is only probed, and ties resolve by
//! catalogue order.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::LazyLock;

use regex::{Regex, RegexSet};

use super::safelinks::host_of;

/// One platform of the catalogue.
#[derive(Debug)]
pub struct PlatformDef {
    /// Stable lowercase id, part of the public output.
    pub id: &'static str,
    /// Display name.
    pub name: &'static str,
    /// Host suffixes the platform serves (`zoom.us` also covers `us02web.zoom.us`).
    pub hosts: &'static [&'static str],
    /// Meeting URL shapes, matched against `host + path?query#fragment` from the start.
    /// A named group `room` is checked against words that name pages, not rooms.
    pub meetings: &'static [&'static str],
    /// Meeting URL shapes on any host (self-hosted deployments), matched the same way.
    pub self_hosted: &'static [&'static str],
    /// Domain suffixes of the platform's SIP video addresses.
    pub sip_domains: &'static [&'static str],
}

macro_rules! p {
    ($id:literal, $name:literal, [$($h:literal),*], [$($m:expr),*] $(, self_hosted = [$($s:expr),*])? $(, sip = [$($d:literal),*])?) => {
        PlatformDef {
            id: $id,
            name: $name,
            hosts: &[$($h),*],
            meetings: &[$($m),*],
            self_hosted: &[$($($s),*)?],
            sip_domains: &[$($($d),*)?],
        }
    };
}

/// Any number of subdomain labels.
macro_rules! sub {
    () => {
        r"(?:[a-z0-9-]+\.)*"
    };
}

/// Path segments that name a site's own pages, never a meeting room.
const RESERVED: &[&str] = &[
    "about",
    "account",
    "api",
    "app",
    "apps",
    "assets",
    "blog",
    "business",
    "careers",
    "contact",
    "de",
    "docs",
    "download",
    "downloads",
    "en",
    "enterprise",
    "es",
    "faq",
    "features",
    "fr",
    "help",
    "home",
    "index.html",
    "info",
    "information",
    "integrations",
    "it",
    "ja",
    "jobs",
    "legal",
    "login",
    "logout",
    "nl",
    "plans",
    "press",
    "pricing",
    "privacy",
    "product",
    "products",
    "profile",
    "pt",
    "register",
    "resources",
    "security",
    "settings",
    "signin",
    "signup",
    "solutions",
    "static",
    "support",
    "terms",
    "user",
    "users",
    "www",
];

/// The catalogue, in tie-breaking order.
pub static PLATFORMS: &[PlatformDef] = &[
    p!(
        "webex",
        "Webex",
        ["webex.com"],
        [
            concat!(sub!(), r"webex\.com/[^/?#]+/[jek]\.php\?(?:[^#]*&)?mtid=[0-9a-z]+"),
            concat!(sub!(), r"webex\.com/(?:meet|join)/[^/?#\s]+"),
            concat!(sub!(), r"webex\.com/wbxmjs/joinservice/"),
            concat!(sub!(), r"webex\.com/webappng/sites/[^/?#]+/meeting/"),
            concat!(sub!(), r"webex\.com/[^/?#]+/k2/j\.php\?")
        ],
        sip = ["webex.com"]
    ),
    p!(
        "teams",
        "Microsoft Teams",
        ["teams.microsoft.com", "teams.live.com", "teams.microsoft.us", "teams.cloud.microsoft"],
        [
            concat!(
                sub!(),
                r"teams\.(?:microsoft\.com|live\.com|microsoft\.us|cloud\.microsoft)/(?:_?#/)?l/meetup-join/\S+"
            ),
            concat!(sub!(), r"teams\.(?:microsoft\.com|live\.com|microsoft\.us|cloud\.microsoft)/meet/\d{6,}"),
            concat!(
                sub!(),
                r"teams\.(?:microsoft\.com|live\.com|microsoft\.us|cloud\.microsoft)/dl/launcher/launcher\.html\?(?:[^#]*&)?url=%2f_%23%2fl%2fmeetup-join"
            ),
            concat!(
                sub!(),
                r"teams\.(?:microsoft\.com|live\.com|microsoft\.us|cloud\.microsoft)/v2/\?meetingjoin=true"
            ),
            concat!(sub!(), r"teams\.(?:microsoft\.com|live\.com|microsoft\.us|cloud\.microsoft)/convene/townhall\?")
        ]
    ),
    p!(
        "zoom",
        "Zoom",
        ["zoom.us", "zoom.com", "zoom.com.cn", "zoom.de"],
        [
            concat!(sub!(), r"zoom\.(?:us|com|com\.cn|de)/(?:j|w|s|wc/join|wc)/\d{9,12}"),
            concat!(sub!(), r"zoom\.(?:us|com|com\.cn|de)/my/[a-z0-9._-]+"),
            concat!(sub!(), r"zoom\.(?:us|com|com\.cn|de)/(?:meeting|webinar)/register/[a-z0-9_-]+"),
            concat!(sub!(), r"zoom\.(?:us|com|com\.cn|de)/join\?(?:[^#]*&)?confno=\d+")
        ],
        sip = ["zoomcrc.com"]
    ),
    p!(
        "zoomgov",
        "ZoomGov",
        ["zoomgov.com"],
        [
            concat!(sub!(), r"zoomgov\.com/(?:j|w|s|wc/join|wc)/\d{9,12}"),
            concat!(sub!(), r"zoomgov\.com/my/[a-z0-9._-]+"),
            concat!(sub!(), r"zoomgov\.com/(?:meeting|webinar)/register/[a-z0-9_-]+"),
            concat!(sub!(), r"zoomgov\.com/join\?(?:[^#]*&)?confno=\d+")
        ],
        sip = ["zoomgov.com"]
    ),
    p!(
        "google_meet",
        "Google Meet",
        ["meet.google.com", "g.co"],
        [
            r"meet\.google\.com/[a-z]{3}-[a-z]{4}-[a-z]{3}(?:[/?#]|$)",
            r"meet\.google\.com/lookup/[a-z0-9_-]+",
            r"g\.co/meet/[a-z0-9_-]+"
        ]
    ),
    p!(
        "google_hangouts",
        "Google Hangouts",
        ["hangouts.google.com"],
        [r"hangouts\.google\.com/(?:call|hangouts/_/[^/?#]+)/[a-z0-9_-]+"]
    ),
    p!(
        "jitsi",
        "Jitsi Meet",
        ["meet.jit.si", "framatalk.org"],
        [r"(?:meet\.jit\.si|framatalk\.org)/(?P<room>[a-z0-9_%.-]{3,})(?:[?#]|$)"],
        self_hosted = [r"jitsi\.[a-z0-9.-]+/(?P<room>[a-z0-9_%-]{3,})(?:[?#]|$)"]
    ),
    p!(
        "gotomeeting",
        "GoTo Meeting",
        ["gotomeeting.com", "gotomeet.me", "meet.goto.com", "app.goto.com", "inroomlink.goto.com"],
        [
            concat!(sub!(), r"gotomeeting\.com/join/\d{9}"),
            r"gotomeet\.me/(?P<room>[a-z0-9_.-]{3,})",
            r"meet\.goto\.com/(?P<room>\d{9}|[a-z][a-z0-9_.-]{2,})(?:[/?#]|$)",
            r"app\.goto\.com/meeting/\d{9}"
        ],
        sip = ["inroomlink.goto.com"]
    ),
    p!(
        "gotowebinar",
        "GoTo Webinar",
        ["gotowebinar.com"],
        [concat!(sub!(), r"gotowebinar\.com/(?:join|register|rt)/\d+")]
    ),
    p!(
        "gototraining",
        "GoTo Training",
        ["gototraining.com"],
        [concat!(sub!(), r"gototraining\.com/(?:join|register|rt)/")]
    ),
    p!(
        "bluejeans",
        "BlueJeans",
        ["bluejeans.com", "bjn.vc"],
        [
            concat!(sub!(), r"bluejeans\.com/\d{6,}(?:/\d+)?(?:[/?#]|$)"),
            concat!(sub!(), r"bluejeans\.com/(?:a2m/live-event|event)/[a-z0-9]+"),
            r"bjn\.vc/(?:j/)?\d{6,}"
        ],
        sip = ["bjn.vc", "sip.bluejeans.com"]
    ),
    p!(
        "chime",
        "Amazon Chime",
        ["chime.aws", "meet.chime.in"],
        [r"chime\.aws/\d{10}", r"app\.chime\.aws/meetings/", r"chime\.aws/(?P<room>[a-z0-9]{6,})(?:[?#]|$)"],
        sip = ["meet.chime.in"]
    ),
    p!(
        "ringcentral",
        "RingCentral",
        ["ringcentral.com"],
        [
            r"meetings\.ringcentral\.com/j/\d+",
            r"v\.ringcentral\.com/(?:join|conf)/[a-z0-9]+",
            r"video\.ringcentral\.com/(?:join/)?\d+"
        ]
    ),
    p!(
        "whereby",
        "Whereby",
        ["whereby.com"],
        [r"(?:[a-z0-9-]+\.)?whereby\.com/(?P<room>[a-z0-9][a-z0-9_-]+)(?:[/?#]|$)"]
    ),
    p!("skype", "Skype", ["join.skype.com"], [r"join\.skype\.com/(?:invite/)?[a-z0-9]{8,}"]),
    p!(
        "skype_for_business",
        "Skype for Business",
        ["lync.com"],
        [concat!(sub!(), r"lync\.com/[^/?#]+/[^/?#]+/[a-z0-9]{6,}(?:[?#]|$)")],
        self_hosted = [r"(?:meet|lync|lyncweb|sfb)\.[a-z0-9.-]+/[a-z0-9._-]+/[a-z0-9]{8}(?:[?#]|$)"]
    ),
    p!(
        "lifesize",
        "Lifesize",
        ["lifesize.com", "lifesizecloud.com"],
        [r"call\.lifesize\.com/\d+", concat!(sub!(), r"lifesizecloud\.com/(?:extension/)?\d+")],
        sip = ["lifesizecloud.com"]
    ),
    p!(
        "starleaf",
        "StarLeaf",
        ["starleaf.com"],
        [r"meet\.starleaf\.com/\d+", concat!(sub!(), r"starleaf\.com/(?:join|meet)/[a-z0-9]+")],
        sip = ["call.sl", "starleaf.com"]
    ),
    p!(
        "zoho",
        "Zoho Meeting",
        ["zoho.com", "zoho.eu", "zoho.in", "zoho.com.au", "zoho.jp"],
        [r"meeting\.zoho\.(?:com|eu|in|com\.au|jp)/(?:meeting/)?(?:join|register)(?:[/?#]|$)"]
    ),
    p!("vonage", "Vonage Meetings", ["vonage.com"], [r"meetings\.vonage\.com/\d+"]),
    p!("eight_by_eight", "8x8 Meet", ["8x8.vc"], [r"(?:[a-z0-9-]+\.)?8x8\.vc/(?P<room>[a-z0-9_.-]+)(?:/[^/?#]+)?"]),
    p!(
        "pexip",
        "Pexip",
        ["pexip.me", "pexip.com"],
        [concat!(sub!(), r"pexip\.(?:me|com)/webapp\d?/")],
        self_hosted = [
            r"[a-z0-9.-]+/webapp\d?/(?:#/)?\?(?:[^#]*&)?conference=",
            r"[a-z0-9.-]+/webapp\d?/(?:m|conference)/[^/?#]+"
        ],
        sip = ["pexip.me"]
    ),
    p!(
        "bigbluebutton",
        "BigBlueButton",
        ["bigbluebutton.org", "blindsidenetworks.com"],
        [concat!(
            sub!(),
            r"(?:bigbluebutton\.org|blindsidenetworks\.com)/(?:b/|rooms/|bigbluebutton/api/join|html5client/join)"
        )],
        self_hosted = [
            r"[a-z0-9.-]+/(?:[a-z0-9_-]+/)?b/[a-z0-9]{3}-[a-z0-9]{3}-[a-z0-9]{3}(?:-[a-z0-9]{3})?(?:[/?#]|$)",
            r"[a-z0-9.-]+/rooms/[a-z0-9]{3}-[a-z0-9]{3}-[a-z0-9]{3}(?:-[a-z0-9]{3})?(?:/join)?(?:[?#]|$)",
            r"[a-z0-9.-]+/bigbluebutton/api/join\?"
        ]
    ),
    p!("slack_huddle", "Slack huddle", ["slack.com"], [concat!(sub!(), r"slack\.com/huddle/[a-z0-9]+/[a-z0-9]+")]),
    p!(
        "discord",
        "Discord",
        ["discord.gg", "discord.com", "discordapp.com"],
        [
            r"discord\.gg/[a-z0-9-]+",
            concat!(sub!(), r"discord(?:app)?\.com/(?:invite/[a-z0-9-]+|channels/\d+/\d+|events/\d+/\d+)")
        ]
    ),
    p!(
        "livestorm",
        "Livestorm",
        ["livestorm.co"],
        [r"app\.livestorm\.co/(?:p/[0-9a-f-]+/(?:live|form|event)|[a-z0-9-]+/[a-z0-9-]+)"]
    ),
    p!("voov", "VooV Meeting", ["voovmeeting.com"], [concat!(sub!(), r"voovmeeting\.com/(?:dm|s|p|j)/[a-z0-9]+")]),
    p!(
        "tencent_meeting",
        "Tencent Meeting",
        ["meeting.tencent.com"],
        [r"meeting\.tencent\.com/(?:dm|s|p|l|j)/[a-z0-9]+"]
    ),
    p!(
        "lark",
        "Lark / Feishu",
        ["larksuite.com", "feishu.cn"],
        [concat!(sub!(), r"(?:larksuite\.com|feishu\.cn)/j/\d+")]
    ),
    p!("dingtalk", "DingTalk", ["meeting.dingtalk.com"], [r"meeting\.dingtalk\.com/j/[a-z0-9]+"]),
    p!("around", "Around", ["around.co"], [r"(?:meet\.)?around\.co/r/[a-z0-9_-]+"]),
    p!(
        "gather",
        "Gather",
        ["gather.town"],
        [concat!(sub!(), r"gather\.town/(?:app/[a-z0-9]+/[^/?#]+|invite\?|events/[a-z0-9]+)")]
    ),
    p!("livekit", "LiveKit Meet", ["meet.livekit.io"], [r"meet\.livekit\.io/rooms/[a-z0-9_-]+"]),
    p!("cal_video", "Cal Video", ["cal.com"], [r"(?:app\.)?cal\.com/video/[a-z0-9_-]+"]),
    p!("demio", "Demio", ["demio.com"], [concat!(sub!(), r"demio\.com/(?:ref|join|room)/[a-z0-9_-]+")]),
    p!("teamviewer", "TeamViewer Meeting", ["teamviewer.com"], [r"go\.teamviewer\.com/m\d{6,}"]),
    p!("vsee", "VSee", ["vsee.com", "vsee.me"], [concat!(sub!(), r"vsee\.(?:com|me)/(?:u|c|join|call)/[a-z0-9._-]+")]),
    p!("join_me", "join.me", ["join.me"], [r"join\.me/(?P<room>[a-z0-9._-]{3,})(?:[/?#]|$)"]),
    p!("facetime", "FaceTime", ["facetime.apple.com"], [r"facetime\.apple\.com/join#"]),
    p!(
        "youtube",
        "YouTube Live",
        ["youtube.com", "youtu.be"],
        [
            r"(?:www\.|m\.)?youtube\.com/(?:live/[a-z0-9_-]{6,}|watch\?(?:[^#]*&)?v=[a-z0-9_-]{6,})",
            r"youtu\.be/[a-z0-9_-]{6,}"
        ]
    ),
    p!("vimeo", "Vimeo", ["vimeo.com"], [r"(?:[a-z0-9-]+\.)?vimeo\.com/(?:event/\d+|\d{5,})"]),
    p!("streamyard", "StreamYard", ["streamyard.com"], [r"streamyard\.com/(?:watch/)?[a-z0-9]{8,}(?:[/?#]|$)"]),
    p!("riverside", "Riverside", ["riverside.fm"], [r"riverside\.fm/studio/[a-z0-9_-]+"]),
    p!(
        "adobe_connect",
        "Adobe Connect",
        ["adobeconnect.com"],
        [r"(?:[a-z0-9-]+\.)+adobeconnect\.com/(?P<room>[a-z0-9_-]{3,})(?:[/?#]|$)"]
    ),
    p!(
        "clickmeeting",
        "ClickMeeting",
        ["clickmeeting.com"],
        [r"(?:[a-z0-9-]+\.)+clickmeeting\.com/(?P<room>[a-z0-9_-]{3,})(?:[/?#]|$)"]
    ),
    p!(
        "dialpad",
        "Dialpad Meetings",
        ["dialpad.com", "uberconference.com"],
        [
            r"meetings\.dialpad\.com/(?P<room>[a-z0-9._-]{3,})",
            r"dialpad\.com/meetings/[a-z0-9._-]+",
            r"(?:www\.)?uberconference\.com/(?P<room>[a-z0-9._-]{3,})"
        ]
    ),
    p!(
        "workplace",
        "Workplace from Meta",
        ["workplace.com"],
        [concat!(sub!(), r"workplace\.com/(?:meet|groupcall|rooms)/")]
    ),
    p!(
        "messenger",
        "Messenger Rooms",
        ["messenger.com", "msngr.com"],
        [r"(?:www\.)?messenger\.com/(?:rooms|videochat)/", r"msngr\.com/[a-z0-9]+"]
    ),
    p!("whatsapp", "WhatsApp call link", ["call.whatsapp.com"], [r"call\.whatsapp\.com/(?:video|voice)/[a-z0-9]+"]),
    p!("signal", "Signal call link", ["signal.link"], [r"signal\.link/call/#key="]),
    p!(
        "telegram",
        "Telegram video chat",
        ["t.me", "telegram.me"],
        [r"(?:t|telegram)\.me/[a-z0-9_]+\?(?:videochat|voicechat|livestream)"]
    ),
    p!(
        "webinarjam",
        "WebinarJam",
        ["webinarjam.com"],
        [concat!(sub!(), r"webinarjam\.com/(?:go/)?(?:live|register|t|channel)/[a-z0-9_-]+")]
    ),
    p!("on24", "ON24", ["on24.com"], [concat!(sub!(), r"on24\.com/(?:wcc/r/\d+|eventregistration/|view/)")]),
    p!("hopin", "Hopin", ["hopin.com"], [r"(?:app\.)?hopin\.com/events/[a-z0-9-]+"]),
    p!("airmeet", "Airmeet", ["airmeet.com"], [r"(?:www\.)?airmeet\.com/e/[0-9a-f-]+"]),
    p!("bigmarker", "BigMarker", ["bigmarker.com"], [r"(?:www\.)?bigmarker\.com/(?P<room>[a-z0-9_-]+)/[a-z0-9_-]+"]),
    p!("crowdcast", "Crowdcast", ["crowdcast.io"], [r"(?:www\.)?crowdcast\.io/(?:e|c)/[a-z0-9_-]+"]),
    p!("pop", "Pop", ["pop.com"], [r"pop\.com/j/\d{3}-?\d{3}-?\d{3}"]),
    p!("tuple", "Tuple", ["tuple.app"], [r"tuple\.app/c/[a-z0-9_/-]+"]),
    p!("mirotalk", "MiroTalk", ["mirotalk.com"], [concat!(sub!(), r"mirotalk\.com/join/[^/?#]+")]),
    p!(
        "nextcloud_talk",
        "Nextcloud Talk",
        [],
        [],
        self_hosted = [r"[a-z0-9.-]+/(?:[a-z0-9_-]+/)?(?:index\.php/)?call/[a-z0-9]{8}(?:[/?#]|$)"]
    ),
    p!(
        "element_call",
        "Element Call",
        ["call.element.io"],
        [r"call\.element\.io/(?:room/#?/?)?(?P<room>[a-z0-9_-]{3,})(?:[?#]|$)"]
    ),
    p!("daily", "Daily", ["daily.co"], [r"(?:[a-z0-9-]+\.)+daily\.co/(?P<room>[a-z0-9_-]{2,})(?:[/?#]|$)"]),
    p!(
        "yandex_telemost",
        "Yandex Telemost",
        ["telemost.yandex.ru", "telemost.yandex.com"],
        [r"telemost\.yandex\.(?:ru|com)/j/\d+"]
    ),
    p!("vk_calls", "VK Calls", ["vk.com", "vk.ru"], [r"(?:[a-z0-9-]+\.)?vk\.(?:com|ru)/call/join/[a-z0-9_-]+"]),
    p!("kumospace", "Kumospace", ["kumospace.com"], [r"(?:www\.)?kumospace\.com/(?P<room>[a-z0-9_-]{3,})(?:[/?#]|$)"]),
    p!("livewebinar", "LiveWebinar", ["livewebinar.com"], [concat!(sub!(), r"livewebinar\.com/\d{3}-\d{3}-\d{3}")]),
    p!("avaya_spaces", "Avaya Spaces", ["avayacloud.com"], [r"spaces\.avayacloud\.com/(?:spaces|s)/[a-z0-9]+"]),
    p!(
        "freeconferencecall",
        "FreeConferenceCall",
        ["freeconferencecall.com"],
        [r"join\.freeconferencecall\.com/(?P<room>[a-z0-9._-]{3,})"]
    ),
    p!(
        "three_cx",
        "3CX Meeting",
        ["3cx.net", "3cx.eu", "3cx.us", "3cx.com", "3cx.co.uk", "3cx.de", "3cx.fr"],
        [r"(?:[a-z0-9-]+\.)+3cx\.(?:net|eu|us|com|co\.uk|de|fr)/meet/[a-z0-9_-]+"]
    ),
    p!("kmeet", "kMeet", ["kmeet.infomaniak.com"], [r"kmeet\.infomaniak\.com/(?P<room>[a-z0-9_-]{3,})(?:[/?#]|$)"]),
    p!("talky", "Talky", ["talky.io"], [r"talky\.io/(?P<room>[a-z0-9_-]{2,})(?:[/?#]|$)"]),
    p!(
        "blackboard_collaborate",
        "Blackboard Collaborate",
        ["bbcollab.com"],
        [concat!(sub!(), r"bbcollab\.com/(?:guest|collab/ui/session/guest|invite)/[a-z0-9-]+")]
    ),
    p!("doxy_me", "Doxy.me", ["doxy.me"], [r"doxy\.me/(?P<room>[a-z0-9_-]{2,})(?:[/?#]|$)"]),
    p!("twitch", "Twitch", ["twitch.tv"], [r"(?:www\.)?twitch\.tv/(?P<room>[a-z0-9_]{4,25})(?:[/?#]|$)"]),
    p!("remo", "Remo", ["remo.co"], [r"live\.remo\.co/e/[a-z0-9_-]+"]),
    p!("wonder", "Wonder", ["wonder.me"], [r"(?:www\.)?wonder\.me/r\?id="]),
    p!("spatialchat", "SpatialChat", ["spatial.chat"], [r"app\.spatial\.chat/s/[a-z0-9_-]+"]),
    p!(
        "webinargeek",
        "WebinarGeek",
        ["webinargeek.com"],
        [concat!(sub!(), r"webinargeek\.com/(?:watch|webinar)/[a-z0-9_-]+")]
    ),
    p!(
        "vidyo",
        "Vidyo",
        ["vidyocloud.com", "vidyo.com"],
        [r"(?:[a-z0-9-]+\.)+vidyo(?:cloud)?\.com/join/[a-z0-9]+"],
        sip = ["vidyocloud.com"]
    ),
    p!("huddle01", "Huddle01", ["huddle01.com"], [r"app\.huddle01\.com/(?P<room>[a-z0-9_-]{3,})(?:[/?#]|$)"]),
    p!(
        "linkedin_live",
        "LinkedIn Live",
        ["linkedin.com"],
        [r"(?:www\.)?linkedin\.com/(?:events|video/live)/[a-z0-9_-]+"]
    ),
    p!("x_spaces", "X Spaces", ["x.com", "twitter.com"], [r"(?:www\.)?(?:x|twitter)\.com/i/spaces/[a-z0-9]+"]),
];

/// Links that explain how to join, not meetings (`https://aka.ms/JoinTeamsMeeting` is in
/// every Teams invite): host suffix, path prefix (lower case), what it is.
const HELP: &[(&str, &str, &str)] = &[
    ("aka.ms", "", "Microsoft help or settings short link"),
    ("go.microsoft.com", "", "Microsoft help link"),
    ("support.microsoft.com", "", "Microsoft support page"),
    ("support.office.com", "", "Microsoft support page"),
    ("support.zoom.us", "", "Zoom support page"),
    ("support.zoom.com", "", "Zoom support page"),
    ("support.google.com", "", "Google support page"),
    ("help.webex.com", "", "Webex help page"),
    ("collaborationhelp.cisco.com", "", "Webex help page"),
    ("support.goto.com", "", "GoTo support page"),
    ("dialin.teams.microsoft.com", "", "Teams dial-in numbers page"),
    ("teams.microsoft.com", "/meetingoptions", "Teams meeting options page"),
];

/// What a URL is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// A meeting of the platform at this catalogue index; `self_hosted` when only a
    /// self-hosted shape matched (less specific than a platform's own host).
    Meeting {
        /// Index in [`PLATFORMS`].
        platform: usize,
        /// Matched on an unclaimed host.
        self_hosted: bool,
    },
    /// A help or settings link.
    Help(&'static str),
    /// A page of a platform's site that is not a meeting (home page, download, recording).
    NotMeeting {
        /// Index in [`PLATFORMS`].
        platform: usize,
    },
    /// Nothing the catalogue knows.
    Unknown,
}

struct Compiled {
    by_host: HashMap<&'static str, Vec<usize>, BuildHasherDefault<super::WordHash>>,
    meetings: Vec<Vec<Shape>>,
    self_hosted: RegexSet,
    self_hosted_owner: Vec<(usize, Shape)>,
}

/// A compiled URL shape; `room` when it has a `room` group to check against [`RESERVED`].
struct Shape {
    regex: Regex,
    room: bool,
}

impl Shape {
    fn new(pattern: &str) -> Self {
        Self { regex: compile(pattern), room: pattern.contains("(?P<room>") }
    }

    fn matches(&self, target: &str) -> bool {
        if !self.room {
            return self.regex.is_match(target);
        }
        self.regex.captures(target).is_some_and(|caps| {
            caps.name("room").is_none_or(|r| !RESERVED.iter().any(|w| r.as_str().eq_ignore_ascii_case(w)))
        })
    }
}

fn compile(pattern: &str) -> Regex {
    // The catalogue is constant and covered by tests; a bad entry matches nothing rather than
    // taking the service down.
    Regex::new(&format!("(?i)^(?:{pattern})")).unwrap_or_else(|_| never())
}

fn never() -> Regex {
    Regex::new(r"[^\s\S]").unwrap_or_else(|_| unreachable!("an empty class compiles"))
}

/// A platform's shapes as few regexes as possible: those without a `room` group joined in one
/// alternation (one search instead of several), each `room` shape on its own (its group name
/// would clash).
fn shapes(patterns: &[&str]) -> Vec<Shape> {
    let (room, plain): (Vec<&str>, Vec<&str>) = patterns.iter().partition(|p| p.contains("(?P<room>"));
    let mut out = Vec::with_capacity(room.len() + 1);
    if !plain.is_empty() {
        out.push(Shape::new(&plain.join("|")));
    }
    out.extend(room.iter().map(|p| Shape::new(p)));
    out
}

static COMPILED: LazyLock<Compiled> = LazyLock::new(|| {
    let mut by_host: HashMap<&'static str, Vec<usize>, BuildHasherDefault<super::WordHash>> = HashMap::default();
    for (i, p) in PLATFORMS.iter().enumerate() {
        for h in p.hosts {
            by_host.entry(h).or_default().push(i);
        }
    }
    let self_hosted_owner: Vec<(usize, Shape)> =
        PLATFORMS.iter().enumerate().flat_map(|(i, p)| p.self_hosted.iter().map(move |s| (i, Shape::new(s)))).collect();
    let self_hosted =
        RegexSet::new(self_hosted_owner.iter().map(|(_, s)| s.regex.as_str())).unwrap_or_else(|_| RegexSet::empty());
    Compiled {
        by_host,
        meetings: PLATFORMS.iter().map(|p| shapes(p.meetings)).collect(),
        self_hosted,
        self_hosted_owner,
    }
});

/// Builds the indexes now rather than on the first invite.
pub fn warm_up() {
    LazyLock::force(&COMPILED);
}

/// Longest host name DNS allows; longer ones are not looked up (and cannot cost quadratic time).
const MAX_HOST: usize = 253;

/// Whether `host` is `suffix` or one of its subdomains.
pub(crate) fn host_matches(host: &str, suffix: &str) -> bool {
    host.strip_suffix(suffix).is_some_and(|head| head.is_empty() || head.ends_with('.'))
}

/// Platforms serving `host` (most specific suffix first, then catalogue order).
fn platforms_of(host: &str) -> Vec<usize> {
    let mut found = Vec::new();
    if host.len() > MAX_HOST {
        return found;
    }
    let mut rest = host;
    loop {
        if let Some(list) = COMPILED.by_host.get(rest) {
            for &i in list {
                if !found.contains(&i) {
                    found.push(i);
                }
            }
        }
        match rest.split_once('.') {
            Some((_, tail)) => rest = tail,
            None => break,
        }
    }
    found
}

/// Classifies an absolute URL (already unwrapped).
pub fn classify(url: &str) -> Verdict {
    let (host, rest) = match host_of(url) {
        Some(hr) => hr,
        None => match url.get(..8) {
            // `msteams:/l/meetup-join/...` opens the Teams client.
            Some(s) if s.eq_ignore_ascii_case("msteams:") => ("teams.microsoft.com", &url[8..]),
            _ => return Verdict::Unknown,
        },
    };
    if host.len() > MAX_HOST {
        return Verdict::Unknown;
    }
    // Lower-cased on the stack: one allocation fewer per link of every invite.
    let mut buf = [0u8; MAX_HOST];
    let Some(lower) = buf.get_mut(..host.len()) else { return Verdict::Unknown };
    lower.copy_from_slice(host.as_bytes());
    lower.make_ascii_lowercase();
    let Ok(mut host) = std::str::from_utf8(lower) else { return Verdict::Unknown };
    for (suffix, path, what) in HELP {
        if host_matches(host, suffix) && rest.get(..path.len()).is_some_and(|p| p.eq_ignore_ascii_case(path)) {
            return Verdict::Help(what);
        }
    }
    if let Some(h) = host.strip_prefix("www.")
        && COMPILED.by_host.contains_key(h)
    {
        host = h;
    }
    let owners = platforms_of(host);
    let mut target = String::with_capacity(host.len() + rest.len());
    target.push_str(host);
    target.push_str(rest);
    for &i in &owners {
        if COMPILED.meetings.get(i).is_some_and(|shapes| shapes.iter().any(|shape| shape.matches(&target))) {
            return Verdict::Meeting { platform: i, self_hosted: false };
        }
    }
    if let Some(&platform) = owners.first() {
        return Verdict::NotMeeting { platform };
    }
    let hits = COMPILED.self_hosted.matches(&target);
    for k in hits.iter() {
        if let Some((platform, shape)) = COMPILED.self_hosted_owner.get(k)
            && shape.matches(&target)
        {
            return Verdict::Meeting { platform: *platform, self_hosted: true };
        }
    }
    Verdict::Unknown
}

/// The platform whose SIP domains cover `domain` (lower case), if any.
pub fn sip_platform(domain: &str) -> Option<usize> {
    static DOMAINS: LazyLock<Vec<(&'static str, usize)>> = LazyLock::new(|| {
        PLATFORMS.iter().enumerate().flat_map(|(i, p)| p.sip_domains.iter().map(move |d| (*d, i))).collect()
    });
    DOMAINS.iter().find(|(d, _)| host_matches(domain, d)).map(|(_, i)| *i)
}

/// Every platform id, in catalogue order.
pub fn ids() -> impl Iterator<Item = &'static str> {
    PLATFORMS.iter().map(|p| p.id)
}

/// For the benchmark's baseline: one full-URL regex per platform, the way detectors that try
/// each platform in turn are written.
pub fn baseline_patterns() -> Vec<(&'static str, String)> {
    PLATFORMS
        .iter()
        .map(|p| {
            let shapes: Vec<String> =
                p.meetings.iter().chain(p.self_hosted.iter()).map(|m| m.replace("(?P<room>", "(?:")).collect();
            (p.id, format!(r"(?i)https?://(?:{})[^\s<>]*", shapes.join("|")))
        })
        .collect()
}
