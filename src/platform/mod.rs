//! Meeting platforms hcal puts join details from: Webex over its REST API, and the platforms
//! an organisation adds under `[[platforms]]` (a Jitsi server, its own video bridge by
//! template). [`Platforms`] serves them all as one [`MeetingPlatform`], told apart by the
//! platform id every request names.

pub mod jitsi;
pub mod template;
pub mod webex;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use async_trait::async_trait;
use hcal_actors::mailbox::config::Mode;
use hcal_actors::ports::{Booking, BookingRequest, MeetingPlatform, MeetingRoom, PlatformFailure};
use serde::{Deserialize, Serialize};

use self::jitsi::{JitsiConfig, JitsiPlatform};
use self::template::{TemplateConfig, TemplatePlatform};

/// A `[[platforms]]` entry, by `kind`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PlatformEntry {
    /// A Jitsi Meet server: one-time rooms.
    Jitsi(JitsiConfig),
    /// An organisation's own video bridge: a personal room per user from templates.
    Template(TemplateConfig),
}

impl PlatformEntry {
    /// Its platform id.
    pub fn id(&self) -> &str {
        match self {
            Self::Jitsi(c) => &c.id,
            Self::Template(c) => &c.id,
        }
    }

    /// The keyword modes it serves.
    pub fn modes(&self) -> &'static [Mode] {
        match self {
            Self::Jitsi(_) => &[Mode::OneTime],
            Self::Template(_) => &[Mode::MyRoom],
        }
    }

    /// The environment variable of its secret, if it has one.
    pub fn secret_env(&self) -> Option<&str> {
        match self {
            Self::Jitsi(c) => c.secret_env.as_deref(),
            Self::Template(_) => None,
        }
    }

    fn problems(&self) -> Vec<String> {
        match self {
            Self::Jitsi(c) => c.problems(),
            Self::Template(c) => c.problems(),
        }
    }
}

/// Webex's platform id and modes.
const WEBEX_MODES: &[Mode] = &[Mode::MyRoom, Mode::OneTime, Mode::Space];

/// Every platform id a keyword may name with the modes it serves: `webex`, then the entries.
pub fn catalogue(entries: &[PlatformEntry]) -> Vec<(&str, &'static [Mode])> {
    std::iter::once((webex::PLATFORM, WEBEX_MODES)).chain(entries.iter().map(|e| (e.id(), e.modes()))).collect()
}

/// What is wrong with the `[[platforms]]` entries, each problem naming its entry.
pub fn problems(entries: &[PlatformEntry]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut seen = std::collections::HashSet::from([webex::PLATFORM.to_owned()]);
    for (i, entry) in entries.iter().enumerate() {
        let id = entry.id();
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
            problems.push(format!("platforms[{i}]: id {id:?} must be lower-case letters, digits and '-'"));
        } else if !seen.insert(id.to_owned()) {
            problems.push(format!("platforms[{i}]: id {id:?} is given twice (webex is built in)"));
        }
        problems.extend(entry.problems().into_iter().map(|p| format!("platforms[{i}] ({id}): {p}")));
    }
    problems
}

/// Every meeting platform of the configuration as one port.
pub struct Platforms {
    webex: Arc<dyn MeetingPlatform>,
    others: HashMap<String, Arc<dyn MeetingPlatform>>,
}

impl Platforms {
    /// Webex and the entries, each with its secret from `secrets` (by platform id).
    pub fn new(webex: Arc<dyn MeetingPlatform>, entries: &[PlatformEntry], secrets: &BTreeMap<String, String>) -> Self {
        let others = entries
            .iter()
            .map(|entry| {
                let platform: Arc<dyn MeetingPlatform> = match entry {
                    PlatformEntry::Jitsi(c) => Arc::new(JitsiPlatform::new(c.clone(), secrets.get(&c.id).cloned())),
                    PlatformEntry::Template(c) => Arc::new(TemplatePlatform { config: c.clone() }),
                };
                (entry.id().to_owned(), platform)
            })
            .collect();
        Self { webex, others }
    }

    fn pick(&self, platform: &str) -> Result<&dyn MeetingPlatform, PlatformFailure> {
        if platform == webex::PLATFORM {
            return Ok(self.webex.as_ref());
        }
        self.others
            .get(platform)
            .map(AsRef::as_ref)
            .ok_or_else(|| PlatformFailure::Refused(format!("hcal books no meetings on platform {platform:?}")))
    }
}

#[async_trait]
impl MeetingPlatform for Platforms {
    async fn personal_room(&self, platform: &str, organizer_address: &str) -> Result<MeetingRoom, PlatformFailure> {
        self.pick(platform)?.personal_room(platform, organizer_address).await
    }

    async fn book(&self, request: &BookingRequest) -> Result<Booking, PlatformFailure> {
        self.pick(&request.platform)?.book(request).await
    }

    async fn reschedule(&self, booking_id: &str, request: &BookingRequest) -> Result<(), PlatformFailure> {
        self.pick(&request.platform)?.reschedule(booking_id, request).await
    }

    async fn cancel(&self, platform: &str, booking_id: &str, organizer_address: &str) -> Result<(), PlatformFailure> {
        self.pick(platform)?.cancel(platform, booking_id, organizer_address).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(toml: &str) -> Vec<PlatformEntry> {
        #[derive(Deserialize)]
        struct Doc {
            platforms: Vec<PlatformEntry>,
        }
        toml::from_str::<Doc>(toml).unwrap().platforms
    }

    const BOTH: &str = r#"
        [[platforms]]
        kind = "jitsi"
        id = "jitsi"
        base_url = "https://meet.example.org"

        [[platforms]]
        kind = "template"
        id = "bridge"
        web_link = "https://video.example.com/{user}"
        video_address = "{user}@video.example.com"
    "#;

    #[test]
    fn entries_read_by_kind_and_listed_after_webex_with_their_modes() {
        let entries = entries(BOTH);
        assert!(problems(&entries).is_empty(), "{:?}", problems(&entries));
        let ids: Vec<(&str, &[Mode])> = catalogue(&entries);
        assert_eq!(ids, vec![("webex", WEBEX_MODES), ("jitsi", &[Mode::OneTime][..]), ("bridge", &[Mode::MyRoom][..])]);
    }

    #[test]
    fn an_unknown_field_kind_or_a_second_id_is_refused() {
        let doc = |t: &str| {
            toml::from_str::<toml::Value>(t).and_then(|v| v.try_into::<BTreeMap<String, Vec<PlatformEntry>>>())
        };
        assert!(doc("[[platforms]]\nkind = \"zoom\"\nid = \"z\"").is_err());
        assert!(
            doc("[[platforms]]\nkind = \"jitsi\"\nid = \"j\"\nbase_url = \"https://m.example\"\nroom = \"x\"").is_err()
        );
        let twice = entries(&format!(
            "{BOTH}\n[[platforms]]\nkind = \"jitsi\"\nid = \"bridge\"\nbase_url = \"https://m.example\""
        ));
        let found = problems(&twice);
        assert!(found.iter().any(|p| p.starts_with("platforms[2]") && p.contains("twice")), "{found:?}");
        let webex = entries("[[platforms]]\nkind = \"jitsi\"\nid = \"webex\"\nbase_url = \"https://m.example\"");
        assert_eq!(problems(&webex).len(), 1);
        let upper = entries("[[platforms]]\nkind = \"jitsi\"\nid = \"My Jitsi\"\nbase_url = \"https://m.example\"");
        assert_eq!(problems(&upper).len(), 1);
    }

    #[tokio::test]
    async fn each_request_goes_to_the_platform_it_names() {
        let webex: Arc<dyn MeetingPlatform> = Arc::new(hcal_actors::doubles::FakePlatform::default());
        let platforms = Platforms::new(webex, &entries(BOTH), &BTreeMap::new());
        let room = platforms.personal_room("bridge", "alex@contoso.example").await.unwrap();
        assert_eq!(room.web_link, "https://video.example.com/alex");
        let refused = platforms.personal_room("zoom", "alex@contoso.example").await;
        assert!(matches!(refused, Err(PlatformFailure::Refused(_))));
        // The fake Webex has no room for Alex: its own refusal, not the router's.
        let Err(PlatformFailure::Refused(why)) = platforms.personal_room("webex", "alex@contoso.example").await else {
            panic!()
        };
        assert_eq!(why, "no personal room");
    }
}
