//! What `decide` is configured with: the organisation's keyword and detection rules (`[domain]`)
//! and how subscriptions are maintained (from `[service]`).

use serde::{Deserialize, Serialize};

use crate::detect;

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

/// Organisation-level rules `decide` applies (`[domain]`).
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
    /// The configured keyword names (without `@`).
    pub fn keyword_names(&self) -> Vec<String> {
        self.keywords.iter().map(|k| k.keyword.clone()).collect()
    }

    /// The rule of a keyword.
    pub fn rule(&self, keyword: &str) -> Option<&KeywordRule> {
        self.keywords.iter().find(|k| k.keyword.eq_ignore_ascii_case(keyword))
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
