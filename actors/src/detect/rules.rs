//! Admin rules: an organisation's own ways of turning what an invite says into a dial string
//! (a Teams meeting id into the tenant's video-interop address, a room alias into a SIP URI).
//!
//! Rules are ordered by priority (lower first, ties by the order given); in each part of the
//! invite the first rule that matches wins and outranks built-in detection there. Patterns use
//! the `regex` crate only, whose matching time is linear in the text, so a rule cannot be made
//! to backtrack on a hostile invite; patterns are also capped in length and compiled size.
//! Rules that do not compile, or whose template names a group the pattern lacks, are refused at
//! load with a message naming the rule.

use regex::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};
use serde::{Deserialize, Serialize};

use super::AddressKind;

/// Longest pattern accepted (the limit Pexip One-Touch Join uses too).
pub const MAX_PATTERN_LEN: usize = 250;
/// Longest replacement template accepted.
pub const MAX_TEMPLATE_LEN: usize = 250;
/// Most rules per organisation.
pub const MAX_RULES: usize = 200;
/// Compiled size limit of one pattern, so a short pattern cannot expand into a huge program.
const SIZE_LIMIT: usize = 1 << 20;

/// One admin rule as configured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// Name shown in explanations and errors.
    pub name: String,
    /// Priority, 1 (first) to 200.
    pub priority: u16,
    /// Regular expression (`regex` crate syntax) searched in the structured URL, the Location
    /// and the body text (with link targets).
    pub pattern: String,
    /// Template of the dial string: `$1`, `${name}` for groups, `$$` for a dollar sign.
    pub replacement: String,
    /// Kind of address produced. Default `sip` (a `sip:` scheme is added when missing).
    #[serde(default = "default_kind")]
    pub kind: AddressKind,
    /// Platform id reported for the result. Default `custom`.
    #[serde(default = "default_provider")]
    pub provider: String,
}

fn default_kind() -> AddressKind {
    AddressKind::Sip
}

fn default_provider() -> String {
    "custom".into()
}

/// Why a rule set was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    /// Too many rules.
    #[error("at most {MAX_RULES} detection rules are allowed, {0} given")]
    TooMany(usize),
    /// A rule's priority is out of range.
    #[error("detection rule {name:?}: priority {priority} is outside 1..=200")]
    Priority {
        /// Rule name.
        name: String,
        /// Priority given.
        priority: u16,
    },
    /// A rule's pattern is empty or too long.
    #[error("detection rule {name:?}: pattern must be 1 to {MAX_PATTERN_LEN} characters, it has {len}")]
    PatternLength {
        /// Rule name.
        name: String,
        /// Characters given.
        len: usize,
    },
    /// A rule's template is empty or too long.
    #[error("detection rule {name:?}: replacement must be 1 to {MAX_TEMPLATE_LEN} characters, it has {len}")]
    TemplateLength {
        /// Rule name.
        name: String,
        /// Characters given.
        len: usize,
    },
    /// A rule's pattern does not compile.
    #[error("detection rule {name:?}: invalid pattern: {reason}")]
    Pattern {
        /// Rule name.
        name: String,
        /// The regex compiler's message.
        reason: String,
    },
    /// A rule's template names a group its pattern does not have, or is malformed.
    #[error("detection rule {name:?}: replacement {reason}")]
    Template {
        /// Rule name.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// A rule's provider id is not a lowercase id.
    #[error("detection rule {name:?}: provider {provider:?} must be lowercase letters, digits and '_'")]
    Provider {
        /// Rule name.
        name: String,
        /// Provider given.
        provider: String,
    },
}

/// A rule ready to run.
#[derive(Debug, Clone)]
pub struct Rule {
    /// The rule as configured.
    pub spec: RuleSpec,
    regex: Regex,
}

/// A loaded, validated, ordered rule set.
#[derive(Debug, Clone)]
pub struct Rules {
    rules: Vec<Rule>,
    set: RegexSet,
}

impl Default for Rules {
    fn default() -> Self {
        Self { rules: Vec::new(), set: RegexSet::empty() }
    }
}

/// What a rule produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleHit {
    /// Rule name.
    pub name: String,
    /// Rule priority.
    pub priority: u16,
    /// Provider id.
    pub provider: String,
    /// Kind.
    pub kind: AddressKind,
    /// Dial string.
    pub address: String,
    /// Byte offset of the match in the text.
    pub at: usize,
}

/// Checks a template's `$` references against the pattern's groups.
fn check_template(template: &str, regex: &Regex) -> Result<(), String> {
    let bytes = template.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'$' {
            i += 1;
            continue;
        }
        let rest = &template[i + 1..];
        if rest.starts_with('$') {
            i += 2;
            continue;
        }
        let (group, used) = if let Some(braced) = rest.strip_prefix('{') {
            let end = braced.find('}').ok_or_else(|| format!("has an unclosed '${{' at byte {i}"))?;
            (&braced[..end], end + 2)
        } else {
            let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
            if end == 0 {
                return Err(format!("has a '$' at byte {i} with no group name (write '$$' for a dollar sign)"));
            }
            (&rest[..end], end)
        };
        let known = match group.parse::<usize>() {
            Ok(n) => n < regex.captures_len(),
            Err(_) => regex.capture_names().flatten().any(|n| n == group),
        };
        if !known {
            return Err(format!("refers to group '{group}', which the pattern does not have"));
        }
        i += 1 + used;
    }
    Ok(())
}

fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

impl Rules {
    /// Validates and compiles `specs`, ordered by priority then by position.
    pub fn load(specs: &[RuleSpec]) -> Result<Self, RuleError> {
        if specs.len() > MAX_RULES {
            return Err(RuleError::TooMany(specs.len()));
        }
        let mut rules = Vec::with_capacity(specs.len());
        for spec in specs {
            let name = spec.name.clone();
            if !(1..=200).contains(&spec.priority) {
                return Err(RuleError::Priority { name, priority: spec.priority });
            }
            let len = spec.pattern.chars().count();
            if len == 0 || len > MAX_PATTERN_LEN {
                return Err(RuleError::PatternLength { name, len });
            }
            let len = spec.replacement.chars().count();
            if len == 0 || len > MAX_TEMPLATE_LEN {
                return Err(RuleError::TemplateLength { name, len });
            }
            if !valid_id(&spec.provider) {
                return Err(RuleError::Provider { name, provider: spec.provider.clone() });
            }
            let regex = RegexBuilder::new(&spec.pattern)
                .size_limit(SIZE_LIMIT)
                .dfa_size_limit(SIZE_LIMIT)
                .build()
                .map_err(|e| RuleError::Pattern { name: name.clone(), reason: e.to_string() })?;
            check_template(&spec.replacement, &regex).map_err(|reason| RuleError::Template { name, reason })?;
            rules.push(Rule { spec: spec.clone(), regex });
        }
        rules.sort_by_key(|r| r.spec.priority);
        let set = RegexSetBuilder::new(rules.iter().map(|r| r.spec.pattern.as_str()))
            .size_limit(SIZE_LIMIT * 4)
            .dfa_size_limit(SIZE_LIMIT * 4)
            .build()
            .map_err(|e| RuleError::Pattern { name: "(all rules together)".into(), reason: e.to_string() })?;
        Ok(Self { rules, set })
    }

    /// Whether there are no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The rules in the order they are tried.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The first rule (by priority) matching `text`, with the dial string it produces.
    pub fn apply(&self, text: &str) -> Option<RuleHit> {
        if self.rules.is_empty() {
            return None;
        }
        // One pass tells which rules match; only the winner is run for its groups.
        let first = self.set.matches(text).iter().next()?;
        let rule = self.rules.get(first)?;
        let caps = rule.regex.captures(text)?;
        let mut out = String::new();
        caps.expand(&rule.spec.replacement, &mut out);
        let out = out.trim().to_owned();
        if out.is_empty() {
            return None;
        }
        let address = match rule.spec.kind {
            AddressKind::Sip if !out.contains(':') => format!("sip:{out}"),
            AddressKind::H323 if !out.to_ascii_lowercase().starts_with("h323:") && out.contains('@') => {
                format!("h323:{out}")
            }
            AddressKind::Tel if !out.starts_with("tel:") => format!("tel:{out}"),
            _ => out,
        };
        Some(RuleHit {
            name: rule.spec.name.clone(),
            priority: rule.spec.priority,
            provider: rule.spec.provider.clone(),
            kind: rule.spec.kind,
            address,
            at: caps.get(0).map_or(0, |m| m.start()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(name: &str, priority: u16, pattern: &str, replacement: &str) -> RuleSpec {
        RuleSpec {
            name: name.into(),
            priority,
            pattern: pattern.into(),
            replacement: replacement.into(),
            kind: AddressKind::Sip,
            provider: "pexip".into(),
        }
    }

    #[test]
    fn first_rule_by_priority_wins_and_fills_the_template() {
        let rules = Rules::load(&[
            rule("generic", 50, r"Video Conference ID: (\d[\d ]+\d)", "$1@vc.example.com"),
            rule("teams", 10, r"(?i)conference id:\s*(?P<id>\d{3}) (?P<rest>\d{3} \d{3})", "${id}.acme@m.example.com"),
        ])
        .unwrap();
        let hit = rules.apply("Join with a device\nVideo Conference ID: 123 456 789").unwrap();
        assert_eq!((hit.name.as_str(), hit.address.as_str()), ("teams", "sip:123.acme@m.example.com"));
        assert_eq!(rules.apply("nothing here"), None);
    }

    #[test]
    fn invalid_rules_are_refused_with_a_clear_message() {
        let err = Rules::load(&[rule("broken", 1, r"(unclosed", "x")]).unwrap_err();
        assert!(err.to_string().starts_with("detection rule \"broken\": invalid pattern"), "{err}");
        let err = Rules::load(&[rule("missing group", 1, r"(\d+)", "$2@x")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "detection rule \"missing group\": replacement refers to group '2', which the pattern does not have"
        );
        let err = Rules::load(&[rule("long", 1, &"a".repeat(251), "x")]).unwrap_err();
        assert!(matches!(err, RuleError::PatternLength { len: 251, .. }), "{err}");
        assert!(matches!(Rules::load(&[rule("p", 0, "a", "x")]), Err(RuleError::Priority { .. })));
        assert!(matches!(Rules::load(&[rule("b", 1, "(a)", "${1")]), Err(RuleError::Template { .. })));
        // Backreferences and look-around need a backtracking engine: refused.
        assert!(matches!(Rules::load(&[rule("bt", 1, r"(a)\1", "x")]), Err(RuleError::Pattern { .. })));
        assert!(matches!(Rules::load(&[rule("la", 1, r"a(?=b)", "x")]), Err(RuleError::Pattern { .. })));
        // A short pattern that would compile into a huge program is refused too.
        assert!(matches!(Rules::load(&[rule("big", 1, r"\w{1000}\w{1000}", "x")]), Err(RuleError::Pattern { .. })));
        let mut bad = rule("prov", 1, "a", "x");
        bad.provider = "Not Ok".into();
        assert!(matches!(Rules::load(&[bad]), Err(RuleError::Provider { .. })));
        assert!(Rules::load(&[rule("dollar", 1, "(a)", "$$1")]).is_ok());
    }
}
