//! Finding what an invite asks for (a keyword in Location) and what join address it already
//! carries (structured online-meeting URL, then Location, then body). Pure functions.

use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

/// What a keyword asks hcal to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Keyword {
    /// Keyword name without `@`, lower case (e.g. `webex`).
    pub name: String,
    /// Modifier after `:` (e.g. `myroom`, `space`, `onetime`), lower case.
    pub modifier: Option<String>,
}

/// Kinds of join address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AddressKind {
    /// A meeting URL.
    Url,
    /// A SIP URI or video address.
    Sip,
}

/// Where a join address was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Graph `onlineMeeting.joinUrl`.
    OnlineMeeting,
    /// The Location field.
    Location,
    /// The body.
    Body,
}

/// A join address found in an invite.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinCandidate {
    /// Platform id (`webex`, `teams`, `zoom`, `google_meet`, `sip`).
    pub provider: String,
    /// Kind of address.
    pub kind: AddressKind,
    /// The address.
    pub address: String,
    /// Where it was found.
    pub source: Source,
}

/// The outcome of detection.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Detection {
    /// The left-most configured keyword in Location.
    pub keyword: Option<Keyword>,
    /// The best join address already present.
    pub join: Option<JoinCandidate>,
}

static KEYWORD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(^|[\s;,(\[])@([a-z][a-z0-9_-]*)(?::([a-z]+))?\b").unwrap_or_else(|_| unreachable!("constant"))
});

static PLATFORMS: LazyLock<Vec<(&'static str, Regex)>> = LazyLock::new(|| {
    [
        ("teams", r#"https://(?:[a-z0-9-]+\.)*teams\.(?:microsoft\.com|live\.com|microsoft\.us)/(?:l/meetup-join|meet)/[^\s<>"']+"#),
        ("zoom", r#"https://(?:[a-z0-9-]+\.)?zoom(?:gov)?\.(?:us|com|com\.cn|de)/(?:j|my|w)/[^\s<>"']+"#),
        ("webex", r#"https://[a-z0-9-]+\.webex\.com/(?:[a-z0-9-]+/j\.php\?MTID=[^\s<>"']+|meet/[^\s<>"'/]+|join/[^\s<>"'/]+)"#),
        ("google_meet", r#"https://meet\.google\.com/[a-z]{3}-[a-z]{4}-[a-z]{3}"#),
    ]
    .into_iter()
    .map(|(id, re)| (id, Regex::new(&format!("(?i){re}")).unwrap_or_else(|_| unreachable!("constant"))))
    .collect()
});

static SIP: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\bsips?:([a-z0-9._+-]+@[a-z0-9.-]+\.[a-z]{2,})").unwrap_or_else(|_| unreachable!("constant"))
});

/// The left-most keyword in `location` among `keywords` (names without `@`, any case).
/// A keyword counts only at the start or after white space or `;`, `,`, `(`, `[`, so one
/// inside an e-mail address or a URL is not a keyword.
pub fn keyword(location: &str, keywords: &[String]) -> Option<Keyword> {
    KEYWORD.captures_iter(location).find_map(|c| {
        let name = c.get(2)?.as_str().to_ascii_lowercase();
        keywords
            .iter()
            .any(|k| k.eq_ignore_ascii_case(&name))
            .then(|| Keyword { name, modifier: c.get(3).map(|m| m.as_str().to_ascii_lowercase()) })
    })
}

/// Finds a join address in one piece of text.
fn find_in(text: &str, source: Source) -> Option<JoinCandidate> {
    let mut best: Option<(usize, JoinCandidate)> = None;
    for (provider, re) in PLATFORMS.iter() {
        if let Some(m) = re.find(text) {
            let candidate = JoinCandidate {
                provider: (*provider).to_owned(),
                kind: AddressKind::Url,
                address: m.as_str().to_owned(),
                source,
            };
            if best.as_ref().is_none_or(|(at, _)| m.start() < *at) {
                best = Some((m.start(), candidate));
            }
        }
    }
    if best.is_none()
        && let Some(c) = SIP.captures(text)
        && let Some(addr) = c.get(1)
    {
        let provider = if addr.as_str().to_ascii_lowercase().ends_with(".webex.com") { "webex" } else { "sip" };
        return Some(JoinCandidate {
            provider: provider.to_owned(),
            kind: AddressKind::Sip,
            address: format!("sip:{}", addr.as_str()),
            source,
        });
    }
    best.map(|(_, c)| c)
}

/// Text content of HTML for scanning: tags dropped, common entities decoded, `<wbr>` removed.
pub fn html_text(html: &str) -> String {
    static TAG: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"(?is)<wbr\s*/?>|<[^>]*>").unwrap_or_else(|_| unreachable!("constant")));
    let spaced = TAG.replace_all(html, |c: &regex::Captures<'_>| {
        if c[0].to_ascii_lowercase().starts_with("<wbr") { String::new() } else { " ".to_owned() }
    });
    spaced
        .replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

/// Link targets of an HTML body (a link's text may differ from where it points).
fn hrefs(html: &str) -> impl Iterator<Item = String> + '_ {
    static HREF: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r#"(?i)href\s*=\s*["']([^"']+)["']"#).unwrap_or_else(|_| unreachable!("constant")));
    HREF.captures_iter(html).filter_map(|c| c.get(1)).map(|m| m.as_str().replace("&amp;", "&"))
}

/// Detects keyword and existing join address: the structured online-meeting URL first, then
/// Location, then body.
pub fn detect(location: &str, body_html: &str, online_meeting_url: Option<&str>, keywords: &[String]) -> Detection {
    let structured = online_meeting_url.and_then(|u| find_in(u, Source::OnlineMeeting)).or_else(|| {
        online_meeting_url.filter(|u| u.starts_with("https://")).map(|u| JoinCandidate {
            provider: "teams".into(),
            kind: AddressKind::Url,
            address: u.to_owned(),
            source: Source::OnlineMeeting,
        })
    });
    let join = structured
        .or_else(|| find_in(location, Source::Location))
        .or_else(|| find_in(&html_text(body_html), Source::Body))
        .or_else(|| hrefs(body_html).find_map(|h| find_in(&h, Source::Body)));
    Detection { keyword: keyword(location, keywords), join }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kw() -> Vec<String> {
        vec!["webex".into(), "meet".into()]
    }

    #[test]
    fn left_most_keyword_with_modifier_counts() {
        assert_eq!(
            keyword("Room 4; @Webex:OneTime @meet", &kw()),
            Some(Keyword { name: "webex".into(), modifier: Some("onetime".into()) })
        );
        assert_eq!(keyword("@meet", &kw()).map(|k| k.name), Some("meet".into()));
        assert_eq!(keyword("alice@webex.com", &kw()), None);
        assert_eq!(keyword("https://x.example/@webex", &kw()), None);
        assert_eq!(keyword("@zoom", &kw()), None);
    }

    #[test]
    fn finds_links_in_html_bodies_and_prefers_structured_fields() {
        let body = "<p>Join Zoom Meeting<br><a href=\"https://us02web.zoom.us/j/8512345678?pwd=quota\">https://us02web.zoom.us/<wbr>j/8512345678?pwd=quota</a></p>";
        let d = detect("Conf room", body, None, &kw());
        let join = d.join.unwrap();
        assert_eq!((join.provider.as_str(), join.source), ("zoom", Source::Body));
        assert_eq!(join.address, "https://us02web.zoom.us/j/8512345678?pwd=quota");
        let d = detect("", body, Some("https://teams.microsoft.com/l/meetup-join/19%3ameeting_x%40thread.v2/0"), &kw());
        assert_eq!(d.join.unwrap().provider, "teams");
    }

    #[test]
    fn sip_addresses_and_webex_video_addresses() {
        let d = detect("sip:alice@acme.webex.com", "", None, &kw());
        assert_eq!(d.join.unwrap().provider, "webex");
        let d = detect("", "Dial sip:12345@video.example.com", None, &kw());
        let j = d.join.unwrap();
        assert_eq!(
            (j.provider.as_str(), j.kind, j.address.as_str()),
            ("sip", AddressKind::Sip, "sip:12345@video.example.com")
        );
        assert_eq!(detect("Room 1", "<p>Agenda</p>", None, &kw()).join, None);
    }
}
