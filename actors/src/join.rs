//! The join-details block hcal writes into invites, in the organiser's language, and the marker
//! (an extended property) that records what hcal wrote so it never writes twice.
//!
//! The words of the block are Project Fluent messages, one file per language under
//! `actors/locales/{language}/join.ftl`, built into the crate (no file is read at run time).
//! Which language a mailbox gets is `decide`'s rule; this module resolves a language tag to a
//! translation ([`Language::resolve`]) and renders the block in it ([`render_block`]).

use std::borrow::Cow;
use std::sync::OnceLock;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource};
use serde::{Deserialize, Serialize};

use crate::ports::MeetingRoom;

/// Version of the block's shape, recorded in the marker and in `JoinInfoPatched`, so that a
/// later change can tell which invites carry an older block.
///
/// It names the markup (which paragraphs, in which order, with which classes and attributes),
/// not the words: a reworded translation, another language, or an admin's new header or footer
/// text keep the version. Versions:
/// - 1: heading always "Webex", English or one of four other languages.
/// - 2: the `lang` attribute on the block, the heading naming the booked platform, an optional
///   header paragraph (`hcal-join-header`) before the heading and footer paragraph
///   (`hcal-join-footer`) after the details.
/// - 3: the heading paragraph names the platform id in its class (`hcal-platform-{id}`), so an
///   attendee's copy, which carries the block but not the marker, tells the same join target.
/// - 4: dial-in numbers, one paragraph each, as `tel:` links with the platform's label.
pub const TEMPLATE_VERSION: u32 = 4;

/// What hcal wrote into an event, stored in the event's marker extended property.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Marker {
    /// Marker format version.
    pub v: u32,
    /// Platform id.
    pub platform: String,
    /// Keyword action that produced the meeting (`myroom`, `onetime`, `space`).
    pub mode: String,
    /// Template version of the block.
    pub tpl: u32,
    /// Web join link written.
    pub web: String,
    /// Video address written, if any.
    pub sip: Option<String>,
}

impl Marker {
    /// The marker for a room written with the current template.
    pub fn new(room: &MeetingRoom, mode: &str) -> Self {
        Self {
            v: 1,
            platform: room.platform.clone(),
            mode: mode.to_owned(),
            tpl: TEMPLATE_VERSION,
            web: room.web_link.clone(),
            sip: room.sip_address.clone(),
        }
    }

    /// The property value.
    pub fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Parses a property value; `None` for anything hcal did not write.
    pub fn decode(value: &str) -> Option<Self> {
        serde_json::from_str(value).ok()
    }
}

/// The translations, as (language tag, Fluent source). English comes first: it is the
/// reference the tests hold every other file to, and the last resort of a missing message.
const TRANSLATIONS: &[(&str, &str)] = &[
    ("en", include_str!("../locales/en/join.ftl")),
    ("tr", include_str!("../locales/tr/join.ftl")),
    ("de", include_str!("../locales/de/join.ftl")),
    ("fr", include_str!("../locales/fr/join.ftl")),
    ("es", include_str!("../locales/es/join.ftl")),
    ("it", include_str!("../locales/it/join.ftl")),
    ("pt-BR", include_str!("../locales/pt-BR/join.ftl")),
    ("nl", include_str!("../locales/nl/join.ftl")),
    ("ja", include_str!("../locales/ja/join.ftl")),
    ("zh-CN", include_str!("../locales/zh-CN/join.ftl")),
    ("ko", include_str!("../locales/ko/join.ftl")),
    ("pl", include_str!("../locales/pl/join.ftl")),
];

/// A language hcal has a translation of the join block in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Language(&'static str);

impl Language {
    /// English, the default fallback.
    pub const ENGLISH: Self = Self("en");

    /// Every language hcal has a translation in, English first.
    pub fn all() -> impl Iterator<Item = Self> {
        TRANSLATIONS.iter().map(|(tag, _)| Self(tag))
    }

    /// The translation's tag (`en`, `pt-BR`, `zh-CN`…).
    pub fn tag(self) -> &'static str {
        self.0
    }

    /// The translation for a language tag such as a mailbox's `de-DE`: the translation of that
    /// exact tag (`pt-BR`), else the one of its language (`pt-PT` → `pt-BR`, `de-CH` → `de`);
    /// case, and `_` or `-` between subtags, do not matter. `None` when hcal has no translation
    /// of the language. Chinese in traditional script (`zh-TW`, `zh-HK`, `zh-MO`, `zh-Hant…`)
    /// has none: hcal's Chinese is simplified, which such readers may not read easily.
    pub fn resolve(requested: &str) -> Option<Self> {
        let requested = requested.trim().replace('_', "-").to_ascii_lowercase();
        if let Some(exact) = Self::all().find(|l| l.0.eq_ignore_ascii_case(&requested)) {
            return Some(exact);
        }
        let mut subtags = requested.split('-');
        let language = subtags.next().filter(|l| !l.is_empty())?;
        if language == "zh" && subtags.any(|s| matches!(s, "hant" | "tw" | "hk" | "mo")) {
            return None;
        }
        Self::all().find(|l| primary(l.0).eq_ignore_ascii_case(language))
    }
}

impl std::fmt::Display for Language {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

/// The language subtag of a tag (`pt` of `pt-BR`).
fn primary(tag: &str) -> &str {
    tag.split('-').next().unwrap_or(tag)
}

/// What an organisation adds around the join details in one language: plain text, shown as
/// written (escaped; a line break starts a new line).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockTexts {
    /// Before the heading.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
    /// After the details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub footer: Option<String>,
}

type Bundle = FluentBundle<FluentResource>;

/// The bundles, in [`TRANSLATIONS`] order, built at first use. A file that does not parse
/// keeps what did parse (the tests make sure every file parses whole).
fn bundles() -> &'static [Bundle] {
    static BUNDLES: OnceLock<Vec<Bundle>> = OnceLock::new();
    BUNDLES.get_or_init(|| {
        TRANSLATIONS
            .iter()
            .map(|(tag, source)| {
                let resource = FluentResource::try_new((*source).to_owned()).unwrap_or_else(|(partial, _)| partial);
                let mut bundle = Bundle::new_concurrent(vec![tag.parse().unwrap_or_default()]);
                // The block is HTML with explicit structure; Unicode isolation marks around
                // the platform name would only be invisible noise in every reader's mail.
                bundle.set_use_isolating(false);
                // Duplicate ids keep the first; the tests make sure there are none.
                let _ = bundle.add_resource(resource);
                bundle
            })
            .collect()
    })
}

fn bundle(language: Language) -> Option<&'static Bundle> {
    let index = TRANSLATIONS.iter().position(|(tag, _)| *tag == language.0)?;
    bundles().get(index)
}

/// Message `id` in `language`, else in English, else the id itself (the tests make sure every
/// language has every message, so the last two never show).
fn message(language: Language, id: &str, args: Option<&FluentArgs>) -> String {
    [language, Language::ENGLISH]
        .into_iter()
        .filter_map(bundle)
        .find_map(|b| {
            let pattern = b.get_message(id)?.value()?;
            let mut errors = Vec::new();
            Some(b.format_pattern(pattern, args, &mut errors).into_owned())
        })
        .unwrap_or_else(|| id.to_owned())
}

/// "Label:" in `language`'s punctuation (French puts a no-break space before the colon).
fn label(language: Language, id: &str) -> String {
    let mut args = FluentArgs::new();
    args.set("label", message(language, id, None));
    message(language, "field", Some(&args))
}

/// The display name of a platform id (`webex` → Webex, `teams` → Microsoft Teams), from the
/// detection catalogue; an id it does not know shows as the id.
pub fn platform_name(id: &str) -> Cow<'_, str> {
    crate::detect::platforms::PLATFORMS
        .iter()
        .find(|p| p.id.eq_ignore_ascii_case(id))
        .map_or(Cow::Borrowed(id), |p| Cow::Borrowed(p.name))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

/// Plain text as HTML: escaped, each line break a `<br>`.
fn text_html(s: &str) -> String {
    s.trim().lines().map(|line| escape(line.trim_end())).collect::<Vec<_>>().join("<br>")
}

/// The HTML block with join details in `language`, with the organisation's header and footer
/// of that language. Everything from outside (links, addresses, numbers, texts) is escaped.
pub fn render_block(room: &MeetingRoom, language: Language, texts: &BlockTexts) -> String {
    let mut heading_args = FluentArgs::new();
    heading_args.set("platform", platform_name(&room.platform).into_owned());
    let heading = message(language, "join-heading", Some(&heading_args));
    let mut html = format!(
        "<div class=\"hcal-join\" lang=\"{}\"><p>________________________________________</p>",
        escape(language.0)
    );
    if let Some(header) = texts.header.as_deref().filter(|h| !h.trim().is_empty()) {
        html.push_str(&format!("<p class=\"hcal-join-header\">{}</p>", text_html(header)));
    }
    html.push_str(&format!(
        "<p class=\"hcal-join-heading hcal-platform-{}\"><b>{}</b></p>",
        escape(&platform_class(&room.platform)),
        escape(&heading)
    ));
    html.push_str(&format!(
        "<p>{} <a href=\"{url}\">{url}</a></p>",
        escape(&label(language, "meeting-link")),
        url = escape(&room.web_link)
    ));
    if let Some(sip) = &room.sip_address {
        html.push_str(&format!(
            "<p>{} <a href=\"sip:{sip}\">{sip}</a></p>",
            escape(&label(language, "video-address")),
            sip = escape(sip)
        ));
    }
    if let Some(number) = &room.meeting_number {
        html.push_str(&format!("<p>{} {}</p>", escape(&label(language, "meeting-number")), escape(number)));
    }
    // Dial-in numbers as `tel:` links (what phones open), each with the platform's label.
    for dial in room.dial_in.iter().filter(|d| !d.number.trim().is_empty()) {
        let tel: String = dial.number.chars().filter(|c| c.is_ascii_digit() || *c == '+').collect();
        let named =
            if dial.label.trim().is_empty() { String::new() } else { format!(" ({})", escape(dial.label.trim())) };
        html.push_str(&format!(
            "<p>{} <a href=\"tel:{tel}\">{}</a>{named}</p>",
            escape(&label(language, "dial-in")),
            escape(dial.number.trim()),
        ));
    }
    if let Some(footer) = texts.footer.as_deref().filter(|f| !f.trim().is_empty()) {
        html.push_str(&format!("<p class=\"hcal-join-footer\">{}</p>", text_html(footer)));
    }
    html.push_str("<p>________________________________________</p></div>");
    html
}

/// Why hcal writes a notice instead of join details: reasons the organiser can fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeReason {
    /// The keyword's modifier is not one hcal knows.
    UnknownModifier,
    /// The platform refused the organiser (no account, no personal room).
    PlatformRefused,
    /// A one-time or space meeting was asked for a whole series.
    SeriesNotBookable,
}

impl NoticeReason {
    fn message(self) -> &'static str {
        match self {
            Self::UnknownModifier => "notice-unknown-modifier",
            Self::PlatformRefused => "notice-platform-refused",
            Self::SeriesNotBookable => "notice-series-not-bookable",
        }
    }

    /// Its name in events.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UnknownModifier => "unknown_modifier",
            Self::PlatformRefused => "platform_refused",
            Self::SeriesNotBookable => "series_not_bookable",
        }
    }
}

/// The notice hcal writes in place of the block, in `language`: a heading, what the organiser
/// can do, and that the block replaces it once it works. It is a block of hcal's (class
/// `hcal-join`, with `hcal-join-notice`), so writing join details or removing the keyword takes
/// it out; it carries no link, so nothing reads a join target from it.
pub fn render_notice(reason: NoticeReason, platform: &str, language: Language) -> String {
    let mut args = FluentArgs::new();
    args.set("platform", platform_name(platform).into_owned());
    format!(
        "<div class=\"hcal-join hcal-join-notice\" lang=\"{lang}\"><p>________________________________________</p>\
         <p class=\"hcal-join-heading\"><b>{heading}</b></p><p>{text}</p><p><i>{footer}</i></p>\
         <p>________________________________________</p></div>",
        lang = escape(language.0),
        heading = escape(&message(language, "notice-heading", None)),
        text = escape(&message(language, reason.message(), Some(&args))),
        footer = escape(&message(language, "notice-footer", None)),
    )
}

/// Inserts the block into an HTML body, keeping everything already there (an online meeting
/// block included): before `</body>` when present, else appended.
pub fn insert_block(body_html: &str, block: &str) -> String {
    let lower = body_html.to_ascii_lowercase();
    match lower.rfind("</body>") {
        Some(at) => format!("{}{block}{}", &body_html[..at], &body_html[at..]),
        None => format!("{body_html}{block}"),
    }
}

/// The class of the element that holds hcal's block; nothing else in an invite carries it.
const BLOCK_CLASS: &str = "hcal-join";

/// The body without hcal's block (each one, should there be several), or `None` when it has
/// none. The block is the `div` of class `hcal-join` with everything up to its matching
/// `</div>` (nested `div`s counted, tags matched without regard to case, as mail clients and
/// Exchange rewrite them). A block whose end cannot be found is left in place: removing text
/// up to a guess could take the organiser's own words with it.
pub fn remove_block(body_html: &str) -> Option<String> {
    let mut body = body_html.to_owned();
    let mut removed = false;
    while let Some((from, to)) = block_span(&body) {
        body.replace_range(from..to, "");
        removed = true;
    }
    removed.then_some(body)
}

/// What hcal's block in a body says: the platform, the web link and the video address. An
/// attendee's copy of an invite carries the block but not the marker; this is how its join
/// target is the organiser's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockLinks {
    /// Platform id, from the heading's class (blocks of template 3 on); `None` before.
    pub platform: Option<String>,
    /// The first http(s) link of the block.
    pub web: String,
    /// The video address (`sip:` link) of the block, without the scheme.
    pub sip: Option<String>,
}

/// The links of the first complete block in a body.
pub fn read_block(body_html: &str) -> Option<BlockLinks> {
    let (from, to) = block_span(body_html)?;
    let block = &body_html[from..to];
    let lower = block.to_ascii_lowercase();
    let hrefs: Vec<String> = lower
        .match_indices("href=")
        .filter_map(|(at, _)| {
            let rest = &block[at + 5..];
            let quote = rest.chars().next().filter(|q| matches!(q, '"' | '\''))?;
            rest[1..].split(quote).next().map(unescape)
        })
        .collect();
    let web = hrefs.iter().find(|h| h.starts_with("https://") || h.starts_with("http://"))?.clone();
    let sip = hrefs.iter().find_map(|h| h.strip_prefix("sip:").map(str::to_owned));
    let platform = lower
        .find("hcal-platform-")
        .map(|at| lower[at + 14..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-').collect::<String>());
    Some(BlockLinks { platform: platform.filter(|p| !p.is_empty()), web, sip })
}

/// The platform id as a class name: letters, digits and `-` only.
fn platform_class(id: &str) -> String {
    id.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').collect::<String>().to_ascii_lowercase()
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"").replace("&#39;", "'").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
}

/// Whether the body carries hcal's block.
pub fn has_block(body_html: &str) -> bool {
    block_span(body_html).is_some()
}

/// Byte range of the first complete block.
fn block_span(body: &str) -> Option<(usize, usize)> {
    // ASCII lowering keeps every byte offset.
    let lower = body.to_ascii_lowercase();
    let mut search = 0;
    while let Some(at) = lower[search..].find("<div").map(|i| i + search) {
        let tag_end = lower[at..].find('>').map(|i| i + at + 1)?;
        let tag = &lower[at..tag_end];
        if !has_class(tag, BLOCK_CLASS) {
            search = tag_end;
            continue;
        }
        let mut depth = 1usize;
        let mut pos = tag_end;
        while depth > 0 {
            let open = lower[pos..].find("<div").map(|i| i + pos);
            let close = lower[pos..].find("</div").map(|i| i + pos)?;
            match open {
                Some(o) if o < close => {
                    depth += 1;
                    pos = o + 4;
                }
                _ => {
                    depth -= 1;
                    pos = lower[close..].find('>').map(|i| i + close + 1)?;
                }
            }
        }
        return Some((at, pos));
    }
    None
}

/// Whether an opening tag (lower case) names `class` among its classes, quoted either way.
fn has_class(tag: &str, class: &str) -> bool {
    let Some(at) = tag.find("class=") else { return false };
    let rest = &tag[at + 6..];
    let value = match rest.chars().next() {
        Some(q @ ('"' | '\'')) => rest[1..].split(q).next().unwrap_or_default(),
        _ => rest.split(|c: char| c.is_whitespace() || c == '>').next().unwrap_or_default(),
    };
    value.split_whitespace().any(|c| c == class)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use fluent_syntax::ast;

    use super::*;
    use crate::ports::DialIn;

    /// The message ids of the block and of the notice; every translation has each of them.
    const MESSAGES: &[&str] = &[
        "join-heading",
        "meeting-link",
        "video-address",
        "meeting-number",
        "dial-in",
        "field",
        "notice-heading",
        "notice-unknown-modifier",
        "notice-platform-refused",
        "notice-series-not-bookable",
        "notice-footer",
    ];

    fn room() -> MeetingRoom {
        MeetingRoom {
            platform: "webex".into(),
            web_link: "https://acme.webex.com/meet/alice".into(),
            sip_address: Some("alice@acme.webex.com".into()),
            meeting_number: Some("2551234567".into()),
            dial_in: vec![DialIn { label: "United States Toll".into(), number: "+1-202-555-0100".into() }],
        }
    }

    fn lang(tag: &str) -> Language {
        Language::resolve(tag).unwrap_or_else(|| panic!("no translation for {tag}"))
    }

    fn none() -> BlockTexts {
        BlockTexts::default()
    }

    /// The variables a pattern uses, selectors and variants included.
    fn variables<'s>(pattern: &ast::Pattern<&'s str>, into: &mut BTreeSet<&'s str>) {
        for element in &pattern.elements {
            if let ast::PatternElement::Placeable { expression } = element {
                expression_variables(expression, into);
            }
        }
    }

    fn expression_variables<'s>(expression: &ast::Expression<&'s str>, into: &mut BTreeSet<&'s str>) {
        match expression {
            ast::Expression::Inline(inline) => inline_variables(inline, into),
            ast::Expression::Select { selector, variants } => {
                inline_variables(selector, into);
                for variant in variants {
                    variables(&variant.value, into);
                }
            }
        }
    }

    fn inline_variables<'s>(inline: &ast::InlineExpression<&'s str>, into: &mut BTreeSet<&'s str>) {
        match inline {
            ast::InlineExpression::VariableReference { id } => {
                into.insert(id.name);
            }
            ast::InlineExpression::Placeable { expression } => expression_variables(expression, into),
            ast::InlineExpression::FunctionReference { arguments, .. } => {
                for argument in &arguments.positional {
                    inline_variables(argument, into);
                }
                for named in &arguments.named {
                    inline_variables(&named.value, into);
                }
            }
            _ => {}
        }
    }

    /// Each message of a file with the variables it uses.
    fn messages(tag: &str, source: &'static str) -> Vec<(&'static str, BTreeSet<&'static str>)> {
        let resource = fluent_syntax::parser::parse(source)
            .unwrap_or_else(|(_, errors)| panic!("locales/{tag}/join.ftl does not parse: {errors:?}"));
        resource
            .body
            .iter()
            .filter_map(|entry| match entry {
                ast::Entry::Message(m) => {
                    let mut vars = BTreeSet::new();
                    if let Some(value) = &m.value {
                        variables(value, &mut vars);
                    }
                    Some((m.id.name, vars))
                }
                ast::Entry::Junk { content } => panic!("locales/{tag}/join.ftl has junk: {content:?}"),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn every_translation_parses_and_has_every_message_with_the_same_placeholders() {
        let reference: Vec<_> = messages("en", TRANSLATIONS[0].1);
        let reference_ids: BTreeSet<_> = reference.iter().map(|(id, _)| *id).collect();
        assert_eq!(reference_ids, MESSAGES.iter().copied().collect(), "English has exactly the messages hcal uses");
        for (tag, source) in TRANSLATIONS {
            let found = messages(tag, source);
            let ids: Vec<_> = found.iter().map(|(id, _)| *id).collect();
            assert_eq!(ids.len(), ids.iter().collect::<BTreeSet<_>>().len(), "{tag}: a message is defined twice");
            assert_eq!(ids.iter().copied().collect::<BTreeSet<_>>(), reference_ids, "{tag}: messages");
            for (id, vars) in &found {
                let (_, expected) = reference.iter().find(|(r, _)| r == id).unwrap();
                assert_eq!(vars, expected, "{tag}: placeholders of {id}");
            }
            // The runtime's own parser and bundle accept the file whole, and every message
            // formats without an error.
            let resource = FluentResource::try_new((*source).to_owned())
                .unwrap_or_else(|(_, e)| panic!("{tag}: fluent-bundle refuses the file: {e:?}"));
            let mut b = Bundle::new_concurrent(vec![tag.parse().unwrap()]);
            b.add_resource(resource).unwrap_or_else(|e| panic!("{tag}: {e:?}"));
            let mut args = FluentArgs::new();
            args.set("platform", "Webex");
            args.set("label", "x");
            for id in MESSAGES {
                let mut errors = Vec::new();
                let text = b.format_pattern(b.get_message(id).unwrap().value().unwrap(), Some(&args), &mut errors);
                assert!(errors.is_empty() && !text.trim().is_empty(), "{tag} {id}: {errors:?} {text:?}");
            }
        }
    }

    #[test]
    fn there_are_the_languages_hcal_promises_one_per_language_subtag() {
        let tags: Vec<_> = Language::all().map(Language::tag).collect();
        assert_eq!(tags, ["en", "tr", "de", "fr", "es", "it", "pt-BR", "nl", "ja", "zh-CN", "ko", "pl"]);
        let languages: BTreeSet<_> = tags.iter().map(|t| primary(t)).collect();
        assert_eq!(languages.len(), tags.len(), "the language step of resolution is unambiguous");
    }

    #[test]
    fn a_tag_resolves_exactly_then_by_language_in_any_case_and_separator() {
        for (requested, expected) in [
            ("pt-BR", Some("pt-BR")),
            ("pt_br", Some("pt-BR")),
            ("PT-br", Some("pt-BR")),
            ("pt-PT", Some("pt-BR")),
            ("pt", Some("pt-BR")),
            ("en-US", Some("en")),
            ("en_GB", Some("en")),
            ("DE-de", Some("de")),
            ("de-CH", Some("de")),
            ("tr-TR", Some("tr")),
            ("fr-CA", Some("fr")),
            ("es-419", Some("es")),
            ("ja-JP", Some("ja")),
            ("ko-KR", Some("ko")),
            ("nl-BE", Some("nl")),
            ("pl-PL", Some("pl")),
            ("it-IT", Some("it")),
            ("zh-CN", Some("zh-CN")),
            ("zh-Hans-SG", Some("zh-CN")),
            ("zh", Some("zh-CN")),
            ("zh-TW", None),
            ("zh-Hant-HK", None),
            ("sv-SE", None),
            ("", None),
            ("-", None),
        ] {
            assert_eq!(Language::resolve(requested).map(Language::tag), expected, "{requested:?}");
        }
    }

    #[test]
    fn the_block_is_in_the_language_and_names_the_platform() {
        let en = render_block(&room(), Language::ENGLISH, &none());
        assert!(en.starts_with("<div class=\"hcal-join\" lang=\"en\">"), "{en}");
        assert!(
            en.contains("<p class=\"hcal-join-heading hcal-platform-webex\"><b>Join Webex meeting</b></p>"),
            "{en}"
        );
        assert!(en.contains("<p>Meeting link: <a href=\"https://acme.webex.com/meet/alice\">"), "{en}");
        assert!(en.contains("<p>Join by video address: <a href=\"sip:alice@acme.webex.com\">"), "{en}");
        assert!(en.contains("<p>Meeting number: 2551234567</p>"), "{en}");
        assert!(!en.contains('\u{2068}') && !en.contains('\u{2069}'), "no isolation marks: {en:?}");
        for (tag, heading) in [
            ("tr-TR", "Webex toplantısına katılın"),
            ("de-DE", "Am Webex-Meeting teilnehmen"),
            ("fr-FR", "Rejoindre la réunion Webex"),
            ("es-ES", "Entrar a la reunión de Webex"),
            ("it-IT", "Partecipa alla riunione Webex"),
            ("pt-BR", "Participar da reunião do Webex"),
            ("nl-NL", "Deelnemen aan Webex-vergadering"),
            ("ja-JP", "Webex ミーティングに参加"),
            ("zh-CN", "加入 Webex 会议"),
            ("ko-KR", "Webex 회의 참가"),
            ("pl-PL", "Dołącz do spotkania Webex"),
        ] {
            let block = render_block(&room(), lang(tag), &none());
            assert!(block.contains(&format!("<b>{heading}</b></p>")), "{tag}: {block}");
            assert!(!block.contains("Meeting link"), "{tag}: {block}");
        }
        let fr = render_block(&room(), lang("fr"), &none());
        assert!(fr.contains("<p>Lien de la réunion\u{a0}: <a href="), "French punctuation: {fr}");
        let mut jitsi = room();
        jitsi.platform = "jitsi".into();
        assert!(render_block(&jitsi, Language::ENGLISH, &none()).contains("<b>Join Jitsi Meet meeting</b>"));
        let mut teams = room();
        teams.platform = "TEAMS".into();
        assert!(render_block(&teams, lang("de"), &none()).contains("<b>Am Microsoft Teams-Meeting teilnehmen</b>"));
        let mut unknown = room();
        unknown.platform = "acme<vc>".into();
        let block = render_block(&unknown, Language::ENGLISH, &none());
        assert!(block.contains("<b>Join acme&lt;vc&gt; meeting</b>"), "an unknown id shows as the id: {block}");
    }

    #[test]
    fn header_and_footer_go_around_the_details_escaped_with_their_line_breaks() {
        let texts = BlockTexts {
            header: Some("  Need help? Call <IT> & \"ask\"  ".into()),
            footer: Some("Line one\r\nLine 'two'\n".into()),
        };
        let block = render_block(&room(), Language::ENGLISH, &texts);
        let header = "<p class=\"hcal-join-header\">Need help? Call &lt;IT&gt; &amp; &quot;ask&quot;</p>";
        let footer = "<p class=\"hcal-join-footer\">Line one<br>Line &#39;two&#39;</p>";
        let (h, heading, f) = (block.find(header), block.find("<b>Join Webex"), block.find(footer));
        assert!(h.is_some() && heading.is_some() && f.is_some(), "{block}");
        assert!(h < heading && heading < block.find("Meeting number") && block.find("Meeting number") < f, "{block}");
        let blank = BlockTexts { header: Some(" \n ".into()), footer: None };
        assert_eq!(render_block(&room(), Language::ENGLISH, &blank), render_block(&room(), Language::ENGLISH, &none()));
    }

    #[test]
    fn everything_from_outside_is_escaped() {
        let mut evil = room();
        evil.web_link = "https://x/\"><script>".into();
        evil.sip_address = Some("a@b\"><img src=x>".into());
        evil.meeting_number = Some("<b>1</b>".into());
        let block = render_block(&evil, Language::ENGLISH, &none());
        assert!(!block.contains("<script>") && !block.contains("<img") && !block.contains("<b>1"), "{block}");
        assert!(block.contains("https://x/&quot;&gt;&lt;script&gt;"), "{block}");
    }

    #[test]
    fn insertion_keeps_the_body() {
        let body = "<html><body><p>Agenda</p></BODY></html>";
        let out = insert_block(body, "<div>JOIN</div>");
        assert_eq!(out, "<html><body><p>Agenda</p><div>JOIN</div></BODY></html>");
        assert_eq!(insert_block("plain", "<b>x</b>"), "plain<b>x</b>");
    }

    #[test]
    fn marker_round_trip() {
        let m = Marker::new(&room(), "myroom");
        assert_eq!(m.tpl, TEMPLATE_VERSION);
        assert_eq!(Marker::decode(&m.encode()), Some(m));
        assert_eq!(Marker::decode("something else"), None);
        let older = r#"{"v":1,"platform":"webex","mode":"myroom","tpl":1,"web":"https://w","sip":null}"#;
        assert_eq!(Marker::decode(older).map(|m| m.tpl), Some(1), "blocks of the first template are still hcal's");
    }

    #[test]
    fn the_block_is_removed_and_the_organisers_text_stays() {
        let body = "<html><body><p>Agenda</p><div>mine</div></body></html>";
        let decorated = insert_block(body, &render_block(&room(), Language::ENGLISH, &none()));
        assert!(has_block(&decorated));
        assert_eq!(remove_block(&decorated).as_deref(), Some(body));
        assert_eq!(remove_block(body), None);
        assert!(!has_block(body));
    }

    #[test]
    fn a_rewritten_block_is_found_whatever_the_case_quotes_and_nesting() {
        let body = "<P>x</P><DIV lang=en CLASS='Other hcal-join'><div><p>in</p></div><p>link</p></DIV><p>after</p>";
        assert_eq!(remove_block(body).as_deref(), Some("<P>x</P><p>after</p>"));
        // Not a class of ours.
        let other = "<div class=\"hcal-joined\">x</div>";
        assert_eq!(remove_block(other), None);
    }

    #[test]
    fn a_block_without_its_end_is_left_alone() {
        let body = "<p>x</p><div class=\"hcal-join\"><p>cut short";
        assert_eq!(remove_block(body), None);
        assert!(!has_block(body));
    }

    #[test]
    fn a_block_tells_its_platform_link_and_video_address() {
        let decorated = insert_block("<p>Agenda</p>", &render_block(&room(), lang("de"), &none()));
        assert_eq!(
            read_block(&decorated),
            Some(BlockLinks {
                platform: Some("webex".into()),
                web: "https://acme.webex.com/meet/alice".into(),
                sip: Some("alice@acme.webex.com".into()),
            })
        );
        let escaped = MeetingRoom { web_link: "https://v.example/j?a=1&b=2".into(), sip_address: None, ..room() };
        let read = read_block(&render_block(&escaped, Language::ENGLISH, &none())).unwrap();
        assert_eq!((read.web.as_str(), read.sip), ("https://v.example/j?a=1&b=2", None));
        assert_eq!(read_block("<p>no block</p>"), None);
    }

    #[test]
    fn a_notice_is_in_the_language_names_the_platform_and_gives_way_to_the_block() {
        let notice = render_notice(NoticeReason::PlatformRefused, "webex", lang("de"));
        assert!(notice.contains("Webex hat kein Meeting"), "{notice}");
        assert!(notice.starts_with("<div class=\"hcal-join hcal-join-notice\" lang=\"de\">"), "{notice}");
        let body = insert_block("<p>Agenda</p>", &notice);
        assert!(has_block(&body));
        assert_eq!(read_block(&body), None, "no join target in a notice");
        assert_eq!(remove_block(&body).as_deref(), Some("<p>Agenda</p>"));
        for reason in [NoticeReason::UnknownModifier, NoticeReason::SeriesNotBookable] {
            for language in Language::all() {
                let text = render_notice(reason, "webex", language);
                assert!(!text.contains("notice-"), "{language:?}: a message id showed: {text}");
            }
        }
    }

    #[test]
    fn dial_in_numbers_are_tel_links_with_their_labels() {
        let block = render_block(&room(), lang("de"), &none());
        assert!(
            block.contains(
                "<p>Telefonische Einwahl: <a href=\"tel:+12025550100\">+1-202-555-0100</a> (United States Toll)</p>"
            ),
            "{block}"
        );
        let no_dial = MeetingRoom { dial_in: Vec::new(), ..room() };
        assert!(!render_block(&no_dial, Language::ENGLISH, &none()).contains("tel:"));
        let evil = MeetingRoom { dial_in: vec![DialIn { label: "<x>".into(), number: "+1 \"2\"".into() }], ..room() };
        let block = render_block(&evil, Language::ENGLISH, &none());
        assert!(block.contains("tel:+12") && block.contains("(&lt;x&gt;)") && !block.contains("\"2\""), "{block}");
    }
}
