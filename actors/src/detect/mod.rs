//! Finding what an invite asks for (a keyword in Location) and which join address it already
//! carries (the structured online-meeting URL, then Location, then the body). Pure functions.
//!
//! The pipeline: the body's HTML becomes text plus links ([`html`]); each text is read for
//! tokens by passes that each jump straight to what they look for (URIs by their scheme, video
//! dial-in labels by their first word, bare addresses by their `@`); wrapped links are
//! unwrapped ([`safelinks`]); URLs are classified by an index on their host ([`platforms`]);
//! video addresses by [`sip`]; admin rules ([`rules`]) run over each source. Candidates are
//! ranked, deterministically, and every decision is written down ([`explain`]).

pub mod explain;
pub mod html;
pub mod keyword;
pub mod platforms;
pub mod rules;
pub mod safelinks;
pub mod sip;

use std::cmp::Reverse;
use std::collections::HashSet;
use std::hash::BuildHasherDefault;
use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

pub use explain::{ExplainLine, Step};
pub use keyword::keyword;
pub use rules::{RuleError, RuleSpec, Rules};

use explain::{Explainer, cat, quote};
use platforms::{PLATFORMS, Verdict};

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
    /// An H.323 address or IP dial string.
    H323,
    /// An E.164 number labelled as video dial-in.
    Tel,
}

/// Where a join address was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Graph `onlineMeeting.joinUrl`.
    OnlineMeeting,
    /// The Location field.
    Location,
    /// The body.
    Body,
}

impl Source {
    fn label(self) -> &'static str {
        match self {
            Self::OnlineMeeting => "online_meeting",
            Self::Location => "location",
            Self::Body => "body",
        }
    }
}

/// A join address found in an invite.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinCandidate {
    /// Platform id (see `docs/detection.md`), or `sip`, `h323`, `tel`, `online_meeting` or an
    /// admin rule's provider when no platform of the catalogue claims the address.
    pub provider: String,
    /// Kind of address.
    pub kind: AddressKind,
    /// The address.
    pub address: String,
    /// Where it was found.
    pub source: Source,
}

/// The outcome of detection.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Detection {
    /// The left-most configured keyword in Location.
    pub keyword: Option<Keyword>,
    /// The best join address already present.
    pub join: Option<JoinCandidate>,
    /// Every join address found, best first (`join` is the first).
    pub candidates: Vec<JoinCandidate>,
    /// Why: what was looked at, kept, ignored and chosen.
    pub explain: Vec<ExplainLine>,
}

impl Detection {
    /// A one-line account of the outcome that quotes no address, subject or body text, so it
    /// may be stored unsealed (it goes into `MeetingSkipped`).
    pub fn summary(&self) -> String {
        let keyword = match &self.keyword {
            Some(k) => match &k.modifier {
                Some(m) => format!("keyword @{}:{m}", k.name),
                None => format!("keyword @{}", k.name),
            },
            None => "no keyword".to_owned(),
        };
        let join = match &self.join {
            Some(j) => format!(
                "join address: {} {} from {} (best of {})",
                j.provider,
                kind_label(j.kind),
                j.source.label(),
                self.candidates.len()
            ),
            None => "no join address found".to_owned(),
        };
        let ignored = self.explain.iter().filter(|l| l.step == Step::Ignored).count();
        if ignored > 0 { format!("{keyword}; {join}; {ignored} link(s) ignored") } else { format!("{keyword}; {join}") }
    }
}

fn kind_label(kind: AddressKind) -> &'static str {
    match kind {
        AddressKind::Url => "url",
        AddressKind::Sip => "sip",
        AddressKind::H323 => "h323",
        AddressKind::Tel => "tel",
    }
}

/// The body of an invite.
#[derive(Debug, Clone, Copy)]
pub enum Body<'a> {
    /// HTML (Graph `body.contentType` `html`).
    Html(&'a str),
    /// Plain text.
    Text(&'a str),
}

/// What detection reads from an invite.
#[derive(Debug, Clone, Copy)]
pub struct Invite<'a> {
    /// Location display name.
    pub location: &'a str,
    /// Body.
    pub body: Body<'a>,
    /// Graph `onlineMeeting.joinUrl`.
    pub online_meeting_url: Option<&'a str>,
}

/// Longest Location or structured URL read; longer ones are cut.
const MAX_FIELD: usize = 64 * 1024;

/// Candidates listed, best first; an invite carries a handful, so more is hostile input.
pub const MAX_CANDIDATES: usize = 64;

/// Tokens examined per text; past this the rest is skipped (hostile input only).
const MAX_TOKENS: usize = 20_000;

/// How a candidate came about: admin rules outrank the catalogue, which outranks generic
/// addresses no platform claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Origin {
    Generic,
    Catalogue,
    Rule,
}

#[derive(Debug, Clone)]
struct Found {
    candidate: JoinCandidate,
    origin: Origin,
    /// Within an origin and kind: 2 a platform's own shape, 1 a self-hosted shape or explicit
    /// generic URI, 0 the least specific.
    specificity: u8,
    rule_priority: u16,
    at: usize,
}

impl Found {
    fn key(&self) -> impl Ord + '_ {
        (
            self.candidate.source,
            Reverse(self.origin),
            Reverse(kind_rank(self.candidate.kind)),
            Reverse(self.specificity),
            self.rule_priority,
            self.at,
            Reverse(self.candidate.address.len()),
            self.candidate.provider.as_str(),
            self.candidate.address.as_str(),
        )
    }
}

fn kind_rank(kind: AddressKind) -> u8 {
    match kind {
        AddressKind::Url => 3,
        AddressKind::Sip => 2,
        AddressKind::H323 => 1,
        AddressKind::Tel => 0,
    }
}

/// Compiles one of this module's constant patterns (covered by tests); a failure would make it
/// match nothing rather than panic.
pub(crate) fn constant_regex(pattern: &str) -> Regex {
    Regex::new(pattern)
        .or_else(|_| Regex::new(r"[^\s\S]"))
        .unwrap_or_else(|_| unreachable!("an empty class always compiles"))
}

/// Video dial-in labels, as Teams, Webex and Zoom print them in the languages seen most. The
/// first letter's cases are spelled out (rather than one `(?i)` over everything) so the regex
/// engine keeps a literal prefilter and skips text without a label at memory speed.
const VIDEO_LABELS: &str = concat!(
    r"(?:[Vv]ideo|VIDEO)(?i:[ \t-]*(?:dial[ \t-]*in|system|conferencing(?:[ \t]+(?:device|system))?|call|address",
    r"|endpoint|device|sistem[a-zı]*)|konferenz[a-zäöü]*|conferencia|conferenza)",
    r"|[Hh]\.?[ \t]?323|(?:[Rr]oom|ROOM)(?i:[ \t]+system)|(?:[Vv]isio|VISIO)(?i:conf[ée]rence)?",
    r"|(?:[Ss]yst|SYST)(?i:[èe]me[ \t]+vid[ée]o)|(?:[Ss]istema|SISTEMA)(?i:[ \t]+de[ \t]+v[íi]deo)",
    r"|ビデオ[ \t]*(?:会議|システム)|视频(?:系统|会议)"
);

/// Links and URIs: every alternative starts with a scheme, so the search jumps between them.
static URIS: LazyLock<Regex> = LazyLock::new(|| {
    constant_regex(concat!(
        r#"(?i)(?:https?|zoommtg|zoomus)://[^\s<>"'`{}|\\^\[\]]+|msteams:/[^\s<>"'`]+"#,
        r#"|sips?:[^\s<>"'`,]+|h323:[^\s<>"'`,]+"#
    ))
});

/// Labels of video dial-in sections.
static LABELS: LazyLock<Regex> = LazyLock::new(|| constant_regex(VIDEO_LABELS));

/// Links written without a scheme (`zoom.us/j/…` typed into Location); looked for in Location
/// and plain-text bodies only, where nothing turns them into links.
static SCHEMELESS: LazyLock<Regex> =
    LazyLock::new(|| constant_regex(r#"(?i)[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}/[^\s<>"'`]*"#));

/// Detects with a rule set; build one per organisation and reuse it.
#[derive(Debug, Clone, Default)]
pub struct Detector {
    rules: Rules,
}

static DEFAULT: LazyLock<Detector> = LazyLock::new(Detector::default);

/// Detects keyword and existing join address with the built-in catalogue and no admin rules:
/// the structured online-meeting URL first, then Location, then the HTML body.
pub fn detect(location: &str, body_html: &str, online_meeting_url: Option<&str>, keywords: &[String]) -> Detection {
    DEFAULT.detect(&Invite { location, body: Body::Html(body_html), online_meeting_url }, keywords)
}

/// Builds the compiled tables now, so the first invite does not pay for them.
pub fn warm_up() {
    LazyLock::force(&URIS);
    LazyLock::force(&LABELS);
    LazyLock::force(&SCHEMELESS);
    platforms::warm_up();
}

impl Detector {
    /// A detector applying `rules` before the built-in catalogue.
    pub fn new(rules: Rules) -> Self {
        Self { rules }
    }

    /// Detects keyword and join addresses in an invite.
    pub fn detect(&self, invite: &Invite<'_>, keywords: &[String]) -> Detection {
        let mut ex = Explainer::default();
        let mut found: Vec<Found> = Vec::new();
        let location = html::clip(invite.location, MAX_FIELD);

        let keyword = keyword::keyword(location, keywords);
        match &keyword {
            Some(k) => ex.push(Step::Keyword, Some(Source::Location), format!("left-most keyword: @{}", k.name)),
            None => ex.push(Step::Keyword, Some(Source::Location), "no configured keyword in Location"),
        }

        match invite.online_meeting_url.map(|u| html::clip(u.trim(), MAX_FIELD)).filter(|u| !u.is_empty()) {
            Some(url) => {
                self.rule(url, Source::OnlineMeeting, &mut ex, &mut found);
                let before = found.len();
                url_candidate(url, 0, Source::OnlineMeeting, &mut ex, &mut found);
                if found.len() == before && url.to_ascii_lowercase().starts_with("https://") {
                    let (inner, _) = safelinks::unwrap(url);
                    if matches!(platforms::classify(&inner), Verdict::Unknown) {
                        ex.push(
                            Step::Candidate,
                            Some(Source::OnlineMeeting),
                            format!("{}: structured join URL of a host no platform claims, kept as is", quote(&inner)),
                        );
                        found.push(Found {
                            candidate: JoinCandidate {
                                provider: "online_meeting".into(),
                                kind: AddressKind::Url,
                                address: inner.into_owned(),
                                source: Source::OnlineMeeting,
                            },
                            origin: Origin::Generic,
                            specificity: 0,
                            rule_priority: u16::MAX,
                            at: 0,
                        });
                    }
                }
            }
            None => ex.push(Step::Input, Some(Source::OnlineMeeting), "no structured online-meeting URL"),
        }

        if location.trim().is_empty() {
            ex.push(Step::Input, Some(Source::Location), "Location is empty");
        } else {
            self.rule(location, Source::Location, &mut ex, &mut found);
            scan_text(location, Source::Location, true, &mut ex, &mut found);
        }

        match invite.body {
            Body::Html(h) if !h.trim().is_empty() => {
                let page = html::extract(h);
                if page.truncated {
                    ex.push(Step::Input, Some(Source::Body), format!("body cut at {} bytes", html::MAX_HTML_BYTES));
                }
                if !self.rules.is_empty() {
                    let mut haystack = page.text.clone();
                    for link in &page.links {
                        haystack.push('\n');
                        haystack.push_str(&link.href);
                    }
                    self.rule(&haystack, Source::Body, &mut ex, &mut found);
                }
                let mut seen = scan_text(&page.text, Source::Body, false, &mut ex, &mut found);
                let mut other_links = 0usize;
                for link in &page.links {
                    if !seen.insert(link.href.as_str()) {
                        // Already read as text (Outlook shows most links as their own text).
                        continue;
                    }
                    let lower = link.href.get(..8).unwrap_or(&link.href).to_ascii_lowercase();
                    let addressable = link.href.contains("://")
                        || ["sip:", "sips:", "h323:", "msteams:"].iter().any(|s| lower.starts_with(s));
                    if addressable && token(&link.href, link.at, Source::Body, None, &mut ex, &mut found) {
                        continue;
                    }
                    if addressable {
                        other_links += 1;
                    }
                }
                if other_links > 0 {
                    ex.push(
                        Step::Input,
                        Some(Source::Body),
                        format!("{other_links} link target(s) matched no platform"),
                    );
                }
            }
            Body::Text(t) if !t.trim().is_empty() => {
                let t = html::clip(t, html::MAX_HTML_BYTES);
                self.rule(t, Source::Body, &mut ex, &mut found);
                scan_text(t, Source::Body, true, &mut ex, &mut found);
            }
            _ => ex.push(Step::Input, Some(Source::Body), "body is empty"),
        }

        found.sort_by(|a, b| a.key().cmp(&b.key()));
        let mut listed: HashSet<String, BuildHasherDefault<WordHash>> = HashSet::default();
        let mut candidates: Vec<JoinCandidate> = Vec::new();
        for f in &found {
            if listed.insert(f.candidate.address.to_ascii_lowercase()) {
                if candidates.len() == MAX_CANDIDATES {
                    break;
                }
                candidates.push(f.candidate.clone());
            }
        }
        let join = candidates.first().cloned();
        let last = match (&join, found.first()) {
            (Some(j), Some(best)) => {
                let why = match best.origin {
                    Origin::Rule => "an admin rule outranks built-in detection",
                    Origin::Catalogue if j.kind == AddressKind::Url => "a meeting link of a known platform",
                    Origin::Catalogue => "a video address of a known platform",
                    Origin::Generic => "a generic address (no platform claims it)",
                };
                let order = match j.source {
                    Source::OnlineMeeting => "the structured online-meeting URL comes first",
                    Source::Location => "nothing in the structured field; Location comes before the body",
                    Source::Body => "nothing in the structured field or Location",
                };
                format!(
                    "chose {} {} from {}: {order}; {why}; best of {} candidate(s)",
                    j.provider,
                    kind_label(j.kind),
                    j.source.label(),
                    candidates.len()
                )
            }
            _ => "no join address: nothing matched a platform, a video address or an admin rule".to_owned(),
        };
        let explain = ex.finish(Step::Chosen, last);
        Detection { keyword, join, candidates, explain }
    }

    fn rule(&self, text: &str, source: Source, ex: &mut Explainer, found: &mut Vec<Found>) {
        if let Some(hit) = self.rules.apply(text) {
            ex.push(
                Step::Rule,
                Some(source),
                format!("admin rule {:?} (priority {}) produced {}", hit.name, hit.priority, quote(&hit.address)),
            );
            found.push(Found {
                candidate: JoinCandidate { provider: hit.provider, kind: hit.kind, address: hit.address, source },
                origin: Origin::Rule,
                specificity: 2,
                rule_priority: hit.priority,
                at: hit.at,
            });
        }
    }
}

/// Trims what commonly follows a link in prose: punctuation, and a closing bracket that the
/// link did not open.
fn trim_url(url: &str) -> &str {
    let mut url = url;
    loop {
        let Some(last) = url.chars().next_back() else { return url };
        let drop = match last {
            '.' | ',' | ';' | ':' | '!' | '?' | '\'' | '"' | '*' | '…' => true,
            ')' => url.matches('(').count() < url.matches(')').count(),
            ']' | '}' | '>' => true,
            _ => false,
        };
        if !drop {
            return url;
        }
        url = &url[..url.len() - last.len_utf8()];
    }
}

/// Classifies one URL and records the outcome.
fn url_candidate(raw: &str, at: usize, source: Source, ex: &mut Explainer, found: &mut Vec<Found>) -> bool {
    let raw = trim_url(raw);
    let (url, layers) = safelinks::unwrap(raw);
    let url = url.split_whitespace().next().unwrap_or_default();
    if layers > 0 {
        ex.push(Step::Unwrapped, Some(source), format!("{layers} link wrapper(s) removed: {}", quote(url)));
    }
    match platforms::classify(url) {
        Verdict::Meeting { platform, self_hosted } => {
            let Some(p) = PLATFORMS.get(platform) else { return false };
            let shape = if self_hosted { "self-hosted meeting link" } else { "meeting link" };
            ex.push(Step::Candidate, Some(source), cat(&[&quote(url), ": ", p.name, " ", shape]));
            found.push(Found {
                candidate: JoinCandidate {
                    provider: p.id.to_owned(),
                    kind: AddressKind::Url,
                    address: url.to_owned(),
                    source,
                },
                origin: Origin::Catalogue,
                specificity: if self_hosted { 1 } else { 2 },
                rule_priority: u16::MAX,
                at,
            });
            true
        }
        Verdict::Help(what) => {
            ex.push(Step::Ignored, Some(source), cat(&[&quote(url), ": ", what, ", not a meeting"]));
            true
        }
        Verdict::NotMeeting { platform } => {
            let name = PLATFORMS.get(platform).map_or("platform", |p| p.name);
            ex.push(Step::Ignored, Some(source), cat(&[&quote(url), ": a ", name, " page that is not a meeting"]));
            true
        }
        Verdict::Unknown => false,
    }
}

/// Handles one token; `label_end` is where the last video label ended, if one is near.
/// Returns whether the token meant something (a candidate or an explained refusal).
fn token(
    text: &str,
    at: usize,
    source: Source,
    label_end: Option<usize>,
    ex: &mut Explainer,
    found: &mut Vec<Found>,
) -> bool {
    let starts = |p: &str| text.get(..p.len()).is_some_and(|h| h.eq_ignore_ascii_case(p));
    if starts("sip:") || starts("sips:") {
        return match sip::sip_uri(trim_url(text)) {
            Some(a) => push_addr(a, 1, at, source, ex, found),
            None => false,
        };
    }
    if starts("h323:") {
        return match sip::h323_uri(trim_url(text)) {
            Some(a) => push_addr(a, 1, at, source, ex, found),
            None => false,
        };
    }
    if text.contains("://") || starts("msteams:") {
        return url_candidate(text, at, source, ex, found);
    }
    if text.contains('@') && !text.contains('/') {
        let labelled = label_end.is_some();
        return match sip::bare(trim_url(text), labelled) {
            Ok(a) => push_addr(a, u8::from(labelled), at, source, ex, found),
            Err(why) => {
                if why != sip::NOT_VIDEO {
                    ex.push(Step::Ignored, Some(source), format!("{}: {why}", quote(text)));
                }
                false
            }
        };
    }
    // A scheme-less link (`zoom.us/j/…` typed into Location).
    let before = found.len();
    let url = format!("https://{text}");
    let known = url_candidate(&url, at, source, ex, found);
    if let Some(f) = found.get_mut(before..).and_then(|s| s.first_mut()) {
        // Keep what was written, not the scheme added to classify it.
        f.specificity = f.specificity.saturating_sub(1);
    }
    known
}

fn push_addr(
    a: sip::Addr,
    generic_specificity: u8,
    at: usize,
    source: Source,
    ex: &mut Explainer,
    found: &mut Vec<Found>,
) -> bool {
    let what = if a.known { "video address of a known platform" } else { "video address" };
    ex.push(Step::Candidate, Some(source), cat(&[&quote(&a.address), ": ", &a.provider, " ", what]));
    found.push(Found {
        candidate: JoinCandidate { provider: a.provider, kind: a.kind, address: a.address, source },
        origin: if a.known { Origin::Catalogue } else { Origin::Generic },
        specificity: if a.known { 2 } else { generic_specificity },
        rule_priority: u16::MAX,
        at,
    });
    true
}

/// Whether the label ending at `label_end` still applies at `at` (same or next line, close by).
fn near_label(text: &str, label_end: usize, at: usize) -> bool {
    at >= label_end
        && at - label_end <= sip::LABEL_WINDOW
        && text.get(label_end..at).is_some_and(|between| between.matches('\n').count() <= 2)
}

/// A multiply-rotate hash over 8-byte words (as in rustc's `FxHasher`): the sets and maps here
/// hold short strings of one invite or the constant catalogue, probed a few dozen times, and a
/// keyed hash buys nothing there (a set lives for one call; colliding costs only time, which
/// the token and link limits bound).
#[derive(Debug, Default)]
pub(crate) struct WordHash(u64);

impl std::hash::Hasher for WordHash {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut h = self.0;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            h = (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
        }
        for b in chunks.remainder() {
            h = (h.rotate_left(5) ^ u64::from(*b)).wrapping_mul(K);
        }
        self.0 = h;
    }
}

/// Tokens already read in one text.
type Seen<'t> = HashSet<&'t str, BuildHasherDefault<WordHash>>;

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TokenKind {
    /// A URL or a `sip:`/`sips:`/`h323:`/`msteams:` URI.
    Uri,
    /// `user@domain` without scheme.
    Bare,
    /// A video dial-in label.
    Label,
    /// A link without scheme.
    SchemeLess,
}

/// Longest user part and domain read around an `@`.
const MAX_USER: usize = 128;
const MAX_DOMAIN: usize = 253;

fn user_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'%' | b'+' | b'=' | b'-')
}

fn label_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-'
}

/// The `user@domain` around the `@` at `at`, as `[start, end)`: the user part is the longest
/// run of address characters before it (starting with a letter or digit), the domain dotted
/// labels after it. Both reads are bounded, so a megabyte of `@` or of letters costs linear time.
fn bare_span(text: &[u8], at: usize) -> Option<(usize, usize)> {
    let mut start = at;
    while start > 0 && user_byte(text[start - 1]) {
        start -= 1;
        if at - start > MAX_USER {
            return None;
        }
    }
    while start < at && !text[start].is_ascii_alphanumeric() {
        start += 1;
    }
    if start == at {
        return None;
    }
    let mut end = at + 1;
    let mut labels = 0;
    loop {
        let label_start = end;
        while end < text.len() && label_byte(text[end]) && end - at <= MAX_DOMAIN {
            end += 1;
        }
        if end == label_start {
            // An empty label: the domain ended at the dot before it.
            end = label_start.saturating_sub(1);
            break;
        }
        labels += 1;
        if end < text.len() && text[end] == b'.' && end - at <= MAX_DOMAIN {
            end += 1;
        } else {
            break;
        }
    }
    (labels >= 2 && end > at + 1).then_some((start, end))
}

/// Every token of `text`, in order: three passes that each jump to what they look for (URIs by
/// their scheme, labels by their first word, addresses by their `@`), merged by position;
/// a token inside an earlier one (the `@` of a `sip:` URI) is dropped.
fn tokens(text: &str, schemeless: bool) -> Vec<(usize, usize, TokenKind)> {
    let mut all: Vec<(usize, usize, TokenKind)> = Vec::new();
    all.extend(URIS.find_iter(text).take(MAX_TOKENS).map(|m| (m.start(), m.end(), TokenKind::Uri)));
    all.extend(LABELS.find_iter(text).take(MAX_TOKENS).map(|m| (m.start(), m.end(), TokenKind::Label)));
    if schemeless {
        all.extend(SCHEMELESS.find_iter(text).take(MAX_TOKENS).map(|m| (m.start(), m.end(), TokenKind::SchemeLess)));
    }
    let bytes = text.as_bytes();
    all.extend(
        text.match_indices('@')
            .filter_map(|(at, _)| bare_span(bytes, at))
            .take(MAX_TOKENS)
            .map(|(s, e)| (s, e, TokenKind::Bare)),
    );
    // By position; at one position the longer token, then URIs before the rest.
    all.sort_by_key(|&(s, e, k)| (s, Reverse(e), k != TokenKind::Uri));
    let mut kept: Vec<(usize, usize, TokenKind)> = Vec::with_capacity(all.len());
    let mut covered = 0;
    for t in all {
        if t.0 >= covered || kept.is_empty() {
            covered = covered.max(t.1);
            kept.push(t);
        }
    }
    kept
}

/// Reads every token of `text`; returns the tokens read, so that link targets equal to them
/// are not read twice.
fn scan_text<'t>(
    text: &'t str,
    source: Source,
    schemeless: bool,
    ex: &mut Explainer,
    found: &mut Vec<Found>,
) -> Seen<'t> {
    let mut seen = Seen::default();
    let mut label_end: Option<usize> = None;
    let all = tokens(text, schemeless);
    if all.len() > MAX_TOKENS {
        ex.push(Step::Input, Some(source), format!("stopped after {MAX_TOKENS} address-like tokens"));
    }
    for &(start, end, kind) in all.iter().take(MAX_TOKENS) {
        let Some(t) = text.get(start..end) else { continue };
        if kind == TokenKind::Label {
            label_end = Some(end);
            let stop = text.len().min(end + sip::LABEL_WINDOW);
            let window = cut_lines(html::clip(&text[end..], stop - end), 2);
            let around_start = end.saturating_sub(600);
            let around_start = (around_start..=end).find(|i| text.is_char_boundary(*i)).unwrap_or(end);
            let around = html::clip(&text[around_start..], 1000);
            if let Some((a, offset)) = sip::labelled_dial(window, around) {
                push_addr(a, 1, end + offset, source, ex, found);
            }
            continue;
        }
        let before = text[..start].chars().next_back();
        if matches!(kind, TokenKind::Uri | TokenKind::SchemeLess)
            && !t.contains("://")
            && before.is_some_and(|c| c.is_alphanumeric() || c == '.' || c == '-')
        {
            // `gossip:` is not a SIP URI, nor `x.sip:` or the tail of a longer word.
            continue;
        }
        if kind == TokenKind::Bare
            && text.get(start.saturating_sub(7)..start).is_some_and(|p| p.eq_ignore_ascii_case("mailto:"))
        {
            continue;
        }
        let near = label_end.filter(|&e| near_label(text, e, start));
        let key = trim_url(t);
        if near.is_none() && !seen.insert(key) {
            // Reply chains repeat the same links and addresses: the first occurrence already
            // gave the same answer at an earlier position.
            continue;
        }
        token(t, start, source, near, ex, found);
    }
    seen
}

/// The first `lines` + 1 lines of `s`.
fn cut_lines(s: &str, lines: usize) -> &str {
    match s.match_indices('\n').nth(lines) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests;
