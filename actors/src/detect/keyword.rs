//! Keywords in the Location field: `@webex`, `@meet:onetime`, ...
//!
//! Only the left-most configured keyword counts; names and modifiers are case-insensitive. A
//! keyword must stand on its own: `alice@webex.com`, `https://x.example/@webex` and
//! `@webex.com` are not keywords.

use super::Keyword;

/// Longest keyword name or modifier considered.
const MAX_NAME: usize = 64;

fn opens(c: Option<char>) -> bool {
    c.is_none_or(|c| c.is_whitespace() || matches!(c, ';' | ',' | '(' | '[' | '{' | '"' | '\'' | '<' | '|'))
}

fn closes(rest: &str) -> bool {
    let mut chars = rest.chars();
    match chars.next() {
        None => true,
        Some(c)
            if c.is_whitespace() || matches!(c, ';' | ',' | ')' | ']' | '}' | '"' | '\'' | '>' | '|' | '!' | '?') =>
        {
            true
        }
        // A full stop ends a sentence, but a dot followed by more of a name is a domain.
        Some('.') => chars.next().is_none_or(|c| !c.is_alphanumeric()),
        _ => false,
    }
}

fn name_len(s: &str) -> usize {
    s.bytes().take_while(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'-').count()
}

/// The left-most keyword in `location` among `keywords` (names without `@`, any case).
pub fn keyword(location: &str, keywords: &[String]) -> Option<Keyword> {
    for (at, _) in location.match_indices('@') {
        if !opens(location[..at].chars().next_back()) {
            continue;
        }
        let after = &location[at + 1..];
        let len = name_len(after);
        if len == 0 || len > MAX_NAME || !after.starts_with(|c: char| c.is_ascii_alphabetic()) {
            continue;
        }
        let (name, mut rest) = after.split_at(len);
        let mut modifier = None;
        if let Some(m) = rest.strip_prefix(':') {
            let mlen = m.bytes().take_while(u8::is_ascii_alphabetic).count();
            if mlen > MAX_NAME {
                continue;
            }
            if mlen > 0 {
                modifier = Some(m[..mlen].to_ascii_lowercase());
            }
            rest = &m[mlen..];
        }
        if !closes(rest) {
            continue;
        }
        if keywords.iter().any(|k| k.eq_ignore_ascii_case(name)) {
            return Some(Keyword { name: name.to_ascii_lowercase(), modifier });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kw() -> Vec<String> {
        vec!["webex".into(), "meet".into()]
    }

    fn name(location: &str) -> Option<(String, Option<String>)> {
        keyword(location, &kw()).map(|k| (k.name, k.modifier))
    }

    #[test]
    fn left_most_configured_keyword_counts() {
        assert_eq!(name("Room 4; @Webex:OneTime @meet"), Some(("webex".into(), Some("onetime".into()))));
        assert_eq!(name("@zoom @MEET"), Some(("meet".into(), None)));
        assert_eq!(name("(@meet:space)"), Some(("meet".into(), Some("space".into()))));
        assert_eq!(name("@webex: room 2"), Some(("webex".into(), None)));
        assert_eq!(name("Board room, @webex."), Some(("webex".into(), None)));
        assert_eq!(name("Salle\u{a0}@webex:myroom"), Some(("webex".into(), Some("myroom".into()))));
    }

    #[test]
    fn keywords_inside_addresses_do_not_count() {
        for location in [
            "alice@webex.com",
            "https://x.example/@webex",
            "@webex.com",
            "@webexer",
            "@meeting room",
            "@webex@acme",
            "mailto:@webex/x",
            "@",
            "@@@@",
            "@webex:onetime/x",
        ] {
            assert_eq!(name(location), None, "{location}");
        }
    }
}
