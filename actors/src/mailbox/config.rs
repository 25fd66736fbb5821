//! What `decide` is configured with: the organisation's keyword and detection rules (`[domain]`)
//! and how subscriptions are maintained (from `[service]`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::detect;
use crate::join::{BlockTexts, Language};

/// What a keyword books: its default action, or the one a modifier (`@webex:onetime`) names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Mode {
    /// The organiser's personal room (a standing meeting address).
    #[serde(rename = "myroom")]
    MyRoom,
    /// A meeting booked for this invite alone, moved and deleted with it.
    #[serde(rename = "onetime")]
    OneTime,
    /// A meeting of a team space named after the invite, with the attendees as members.
    #[serde(rename = "space")]
    Space,
}

/// How a modifier that names no mode is recorded (`@webex:onetim` → `?`): what was typed is
/// free text, which events do not carry.
pub const UNKNOWN_MODIFIER: &str = "?";

impl Mode {
    /// Every mode.
    pub const ALL: [Mode; 3] = [Mode::MyRoom, Mode::OneTime, Mode::Space];

    /// The mode a modifier names, in any case; `None` for one hcal does not know.
    pub fn parse(modifier: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str().eq_ignore_ascii_case(modifier))
    }

    /// Its name in configurations, modifiers and markers.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MyRoom => "myroom",
            Self::OneTime => "onetime",
            Self::Space => "space",
        }
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A keyword and what it books.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeywordRule {
    /// Keyword without `@`, e.g. `webex`: letters, digits, `-` and `_`, starting with a letter.
    pub keyword: String,
    /// Platform id it books on, e.g. `webex` (the platforms hcal is configured for; see the
    /// service's configuration).
    pub platform: String,
    /// Default action when no modifier is given: `myroom`, `onetime` or `space` (an unknown one
    /// refuses the configuration at load).
    pub default_mode: Mode,
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

/// Organisation-level rules `decide` applies (`[domain]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DecideConfig {
    /// Keywords. Default: `@webex` books the organiser's Webex personal room, `@meet` a Webex
    /// space meeting.
    pub keywords: Vec<KeywordRule>,
    /// Admin detection rules (`[[domain.rules]]`: name, priority, pattern, replacement, kind,
    /// provider; see docs/detection.md). Default none.
    pub rules: AdminRules,
    /// The join block's language, header and footer (`[domain.join]`).
    pub join: JoinConfig,
    /// Whether the organiser is told, by a notice in the invite, when join details cannot be
    /// added for a reason they can fix. Default true.
    pub notify_organizer: bool,
}

impl Default for DecideConfig {
    fn default() -> Self {
        Self {
            keywords: vec![
                KeywordRule { keyword: "webex".into(), platform: "webex".into(), default_mode: Mode::MyRoom },
                KeywordRule { keyword: "meet".into(), platform: "webex".into(), default_mode: Mode::Space },
            ],
            rules: AdminRules::default(),
            join: JoinConfig::default(),
            notify_organizer: true,
        }
    }
}

impl DecideConfig {
    /// The configured keyword names (without `@`).
    pub fn keyword_names(&self) -> Vec<String> {
        self.keywords.iter().map(|k| k.keyword.clone()).collect()
    }

    /// The rule of a keyword.
    pub fn rule(&self, keyword: &str) -> Option<&KeywordRule> {
        self.keywords.iter().find(|k| k.keyword.eq_ignore_ascii_case(keyword))
    }

    /// What is wrong with the keywords, each problem naming its entry: a name that cannot be
    /// typed as a keyword, or one given twice (names are compared in any case). Which platforms
    /// exist, and which modes each books, is the service's to check.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for (i, rule) in self.keywords.iter().enumerate() {
            let name = &rule.keyword;
            let typeable = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                && name.len() <= 64;
            if !typeable {
                problems.push(format!(
                    "domain.keywords[{i}]: {name:?} is not a keyword (letters, digits, - and _, starting with a \
                     letter, at most 64; without the @)"
                ));
            }
            if let Some(first) = self.keywords[..i].iter().position(|k| k.keyword.eq_ignore_ascii_case(name)) {
                problems.push(format!("domain.keywords[{i}]: @{name} is already domain.keywords[{first}]"));
            }
        }
        problems
    }
}

/// Longest header or footer, in characters.
pub const MAX_BLOCK_TEXT_CHARS: usize = 1024;

/// `[domain.join]` as written in the file, before it is checked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JoinFile {
    /// The organisation's language: when set, every block is in it, whatever the mailbox's
    /// language. Default none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_language: Option<String>,
    /// The language of mailboxes whose language hcal has no translation for (or that have
    /// none). Default `en`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback_language: Option<String>,
    /// Header and footer per language (`[domain.join.languages.de]`). Default none.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub languages: BTreeMap<String, BlockTexts>,
}

/// The join block's language rule and texts (`[domain.join]`), checked when the configuration
/// is read: a language hcal has no translation for, two entries for one translation, or a
/// header or footer over [`MAX_BLOCK_TEXT_CHARS`] or with control characters refuse the whole
/// configuration, every problem named.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "JoinFile", into = "JoinFile")]
pub struct JoinConfig {
    default_language: Option<Language>,
    fallback_language: Language,
    texts: BTreeMap<Language, BlockTexts>,
}

impl Default for JoinConfig {
    fn default() -> Self {
        Self { default_language: None, fallback_language: Language::ENGLISH, texts: BTreeMap::new() }
    }
}

impl JoinConfig {
    /// The organisation's language, when it has one.
    pub fn default_language(&self) -> Option<Language> {
        self.default_language
    }

    /// The language when the mailbox's is unknown or has no translation.
    pub fn fallback_language(&self) -> Language {
        self.fallback_language
    }

    /// The header and footer of a language (none when not configured).
    pub fn texts(&self, language: Language) -> &BlockTexts {
        static NONE: BlockTexts = BlockTexts { header: None, footer: None };
        self.texts.get(&language).unwrap_or(&NONE)
    }
}

/// Why `[domain.join]` was refused: every problem, each naming its entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid [domain.join] section: {}", .0.join("; "))]
pub struct JoinConfigError(pub Vec<String>);

/// The translation `value` of the entry `field` names, or the problem, naming the entry.
fn translation(field: &str, value: &str) -> Result<Language, String> {
    Language::resolve(value).ok_or_else(|| {
        let known: Vec<_> = Language::all().map(Language::tag).collect();
        format!("{field}: hcal has no translation for {value:?} (it has {})", known.join(", "))
    })
}

/// [`translation`], the problem noted in `problems`.
fn checked(field: &str, value: &str, problems: &mut Vec<String>) -> Option<Language> {
    translation(field, value).map_err(|p| problems.push(p)).ok()
}

fn text_problem(field: &str, text: Option<&str>) -> Option<String> {
    let text = text?;
    let chars = text.chars().count();
    if chars > MAX_BLOCK_TEXT_CHARS {
        return Some(format!("{field} has {chars} characters, at most {MAX_BLOCK_TEXT_CHARS}"));
    }
    // Line breaks are kept (as <br>) and tabs are harmless; other control characters have no
    // place in an invite and would only hide text from the admin reading the file.
    text.chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        .then(|| format!("{field} contains a control character"))
}

impl TryFrom<JoinFile> for JoinConfig {
    type Error = JoinConfigError;

    fn try_from(file: JoinFile) -> Result<Self, Self::Error> {
        let mut problems = Vec::new();
        let default_language =
            file.default_language.as_deref().and_then(|v| checked("domain.join.default_language", v, &mut problems));
        let fallback_language = match file.fallback_language.as_deref() {
            Some(v) => checked("domain.join.fallback_language", v, &mut problems),
            None => Some(Language::ENGLISH),
        };
        let mut texts: BTreeMap<Language, BlockTexts> = BTreeMap::new();
        let mut named_by: BTreeMap<Language, &str> = BTreeMap::new();
        for (key, block) in &file.languages {
            let entry = format!("domain.join.languages.{key:?}");
            for (part, text) in [("header", &block.header), ("footer", &block.footer)] {
                problems.extend(text_problem(&format!("{entry}.{part}"), text.as_deref()));
            }
            let Some(language) = checked(&entry, key, &mut problems) else { continue };
            if let Some(first) = named_by.insert(language, key) {
                problems
                    .push(format!("domain.join.languages: {first:?} and {key:?} both name the {language} translation"));
            }
            texts.insert(language, block.clone());
        }
        match fallback_language {
            Some(fallback_language) if problems.is_empty() => Ok(Self { default_language, fallback_language, texts }),
            _ => Err(JoinConfigError(problems)),
        }
    }
}

impl From<JoinConfig> for JoinFile {
    fn from(config: JoinConfig) -> Self {
        Self {
            default_language: config.default_language.map(|l| l.tag().to_owned()),
            fallback_language: Some(config.fallback_language.tag().to_owned()),
            languages: config.texts.into_iter().map(|(l, t)| (l.tag().to_owned(), t)).collect(),
        }
    }
}

/// How a mailbox's subscription is maintained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Maintenance {
    /// Lifetime asked for when creating or renewing.
    pub lifetime: chrono::Duration,
    /// A resync covers from `now - resync_back`…
    pub resync_back: chrono::Duration,
    /// …to `now + resync_ahead`.
    pub resync_ahead: chrono::Duration,
    /// First retry after a set-up failure that may pass (throttling, outage).
    pub retry_first: chrono::Duration,
    /// Later retries.
    pub retry_later: chrono::Duration,
    /// Meetings that ended longer ago than this are forgotten at the next renewal.
    pub forget_after: chrono::Duration,
}

impl Maintenance {
    /// The window hcal keeps in step at `now`: what a resync reads and how far a series'
    /// occurrences are listed.
    pub fn window(
        &self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>) {
        (now - self.resync_back, now + self.resync_ahead)
    }
}

impl Default for Maintenance {
    fn default() -> Self {
        Self {
            lifetime: chrono::Duration::minutes(10_000),
            resync_back: chrono::Duration::days(7),
            resync_ahead: chrono::Duration::days(183),
            retry_first: chrono::Duration::minutes(60),
            retry_later: chrono::Duration::days(1),
            forget_after: chrono::Duration::days(30),
        }
    }
}

/// Everything `decide` is configured with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailboxConfig {
    /// Keywords and detection rules.
    pub domain: DecideConfig,
    /// Subscription maintenance.
    pub maintenance: Maintenance,
}
