//! Video addresses: `sip:`/`sips:` URIs, bare `digits@domain` and `name@site.webex.com`
//! addresses, `h323:` URIs, and dial strings (H.323 IP addresses, E.164 numbers) printed under
//! a video dial-in label.

use std::sync::LazyLock;

use regex::Regex;

use super::AddressKind;
use super::platforms::{PLATFORMS, sip_platform};

/// A video address found in text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Addr {
    /// Platform id, or `sip` / `h323` / `tel` when no platform claims it.
    pub provider: String,
    /// Kind.
    pub kind: AddressKind,
    /// Normalised address (`sip:user@host`, `h323:…`, `ip##id`, `tel:+…`).
    pub address: String,
    /// Whether a platform of the catalogue claims it (more specific than a generic address).
    pub known: bool,
}

fn addr(provider: Option<usize>, fallback: &str, kind: AddressKind, address: String) -> Addr {
    Addr {
        provider: provider.and_then(|i| PLATFORMS.get(i)).map_or(fallback, |p| p.id).to_owned(),
        kind,
        address,
        known: provider.is_some(),
    }
}

/// Whether `domain` is a plausible host: dotted labels ending in letters, or an IPv4 address.
fn plausible_domain(domain: &str) -> bool {
    if domain.len() > 253 || domain.split('.').any(|l| l.is_empty() || l.len() > 63) {
        return false;
    }
    let Some((_, tld)) = domain.rsplit_once('.') else { return false };
    let ipv4 = domain.split('.').count() == 4 && domain.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    ipv4 || (tld.len() >= 2 && tld.bytes().all(|b| b.is_ascii_alphabetic()))
}

/// Pexip virtual meeting rooms are commonly aliased `meet.{name}@{domain}`.
fn pexip_alias(user: &str) -> bool {
    user.len() > 5 && user.get(..5).is_some_and(|p| p.eq_ignore_ascii_case("meet."))
}

fn provider_of(user: &str, domain: &str) -> Option<usize> {
    sip_platform(domain).or_else(|| pexip_alias(user).then(|| PLATFORMS.iter().position(|p| p.id == "pexip")).flatten())
}

/// A `sip:`/`sips:` token.
pub(crate) fn sip_uri(token: &str) -> Option<Addr> {
    let (scheme, rest) = token.split_once(':')?;
    let scheme = scheme.to_ascii_lowercase();
    let (core, params) = match rest.find([';', '?']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let (user, host) = core.rsplit_once('@').unwrap_or(("", core));
    let host = host.split(':').next().unwrap_or_default().trim_end_matches('.').to_ascii_lowercase();
    if !plausible_domain(&host) || user.len() > 128 {
        return None;
    }
    let at = if user.is_empty() { String::new() } else { format!("{user}@") };
    if params.to_ascii_lowercase().contains("opaque=app:conf") {
        // A Skype for Business conference URI: without its parameters it would call the
        // organiser instead of the meeting.
        let sfb = PLATFORMS.iter().position(|p| p.id == "skype_for_business");
        return Some(addr(sfb, "sip", AddressKind::Sip, format!("{scheme}:{at}{host}{params}")));
    }
    Some(addr(provider_of(user, &host), "sip", AddressKind::Sip, format!("{scheme}:{at}{host}")))
}

/// An `h323:` token.
pub(crate) fn h323_uri(token: &str) -> Option<Addr> {
    let rest = token.get(5..)?;
    let host = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    let host = host.split(['#', ';', ':']).next().unwrap_or_default().to_ascii_lowercase();
    plausible_domain(&host).then(|| addr(None, "h323", AddressKind::H323, format!("h323:{rest}")))
}

/// Why a bare `user@domain` is not taken as a video address.
pub(crate) const NOT_VIDEO: &str = "looks like an e-mail address (not all digits, no video domain, no video label)";

/// A bare `user@domain` token; `labelled` when it follows a video dial-in label.
pub(crate) fn bare(token: &str, labelled: bool) -> Result<Addr, &'static str> {
    let (user, domain) = token.rsplit_once('@').ok_or(NOT_VIDEO)?;
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    if user.is_empty() || user.len() > 128 || !plausible_domain(&domain) {
        return Err("not a plausible address");
    }
    let digits = user.bytes().filter(u8::is_ascii_digit).count();
    let numeric = digits >= 3 && user.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    let provider = provider_of(user, &domain);
    if provider.is_some() || numeric || labelled {
        Ok(addr(provider, "sip", AddressKind::Sip, format!("sip:{user}@{domain}")))
    } else {
        Err(NOT_VIDEO)
    }
}

static DIAL: LazyLock<Option<Regex>> = LazyLock::new(|| {
    // ASCII classes: Unicode `\d` and `\s` would make the automaton far larger for nothing.
    Regex::new(
        r"(?P<ip>(?:[0-9]{1,3}\.){3}[0-9]{1,3})(?:[ \t]*##?(?P<ext>[0-9]{3,}))?|(?P<tel>\+[0-9][0-9 ().-]{6,20}[0-9])",
    )
    .ok()
});

static MEETING_ID: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        // First letters spelled out so the search keeps a literal prefilter (see VIDEO_LABELS).
        r"(?:[Mm]eeting|MEETING|[Cc]onference|CONFERENCE|[Ww]ebinar|[Bb]esprechungs|[Rr]éunion|[Rr]eunión|[Tt]oplantı)(?i:[ \t-]*(?:id|number|no\.?|nummer|numéro|número|kimliği|kennung))[^0-9\n]{0,30}(?P<id>[0-9][0-9 ]{5,18}[0-9])",
    )
    .ok()
});

/// Bytes after a video label searched for its dial string.
pub(crate) const LABEL_WINDOW: usize = 160;

/// The dial string in `window` (the text right after a video dial-in label), if any; `around`
/// is nearby text searched for a meeting id to append to a bare H.323 IP address.
pub(crate) fn labelled_dial(window: &str, around: &str) -> Option<(Addr, usize)> {
    let dial = DIAL.as_ref()?;
    // Most labels have no number after them: find first, capture only on a hit.
    let hit = dial.find(window)?;
    let caps = dial.captures_at(window, hit.start())?;
    let start = caps.get(0).map_or(0, |m| m.start());
    if let Some(ip) = caps.name("ip") {
        if !ip.as_str().split('.').all(|o| o.parse::<u16>().is_ok_and(|v| v <= 255)) {
            return None;
        }
        let ext = caps.name("ext").map(|e| e.as_str().to_owned()).or_else(|| {
            let re = MEETING_ID.as_ref()?;
            let at = re.find(around)?.start();
            let id = re.captures_at(around, at)?.name("id")?.as_str().replace(' ', "");
            Some(id)
        });
        let address = match ext {
            Some(ext) => format!("{}##{ext}", ip.as_str()),
            None => ip.as_str().to_owned(),
        };
        return Some((addr(None, "h323", AddressKind::H323, address), start));
    }
    let tel = caps.name("tel")?;
    let digits: String = tel.as_str().chars().filter(char::is_ascii_digit).collect();
    (8..=15).contains(&digits.len()).then(|| (addr(None, "tel", AddressKind::Tel, format!("tel:+{digits}")), start))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sip_uris() {
        let a = sip_uri("sip:2550123456@Acme.Webex.com").unwrap();
        assert_eq!(
            (a.provider.as_str(), a.address.as_str(), a.known),
            ("webex", "sip:2550123456@acme.webex.com", true)
        );
        let a = sip_uri("sips:room@vc.example.com;transport=tls").unwrap();
        assert_eq!((a.provider.as_str(), a.address.as_str()), ("sip", "sips:room@vc.example.com"));
        let a = sip_uri("sip:alice@contoso.com;gruu;opaque=app:conf:focus:id:4FNRHN16").unwrap();
        assert_eq!(a.provider, "skype_for_business");
        assert!(a.address.ends_with("opaque=app:conf:focus:id:4FNRHN16"));
        assert_eq!(sip_uri("sip:meet.board@video.example.org").unwrap().provider, "pexip");
        assert_eq!(sip_uri("sip:nothing"), None);
    }

    #[test]
    fn bare_addresses() {
        assert_eq!(bare("12345@video.example.com", false).unwrap().address, "sip:12345@video.example.com");
        assert_eq!(bare("alice@acme.webex.com", false).unwrap().provider, "webex");
        assert_eq!(bare("85123456789.123456@zoomcrc.com", false).unwrap().provider, "zoom");
        assert_eq!(bare("123456789@67.217.95.2", false).unwrap().provider, "sip");
        assert_eq!(bare("alice@contoso.com", false), Err(NOT_VIDEO));
        assert_eq!(bare("teams@vc.contoso.com", true).unwrap().address, "sip:teams@vc.contoso.com");
        assert!(bare("12@x", false).is_err());
    }

    #[test]
    fn dial_strings() {
        let (a, _) = labelled_dial(": 162.255.37.11 (US West)", "Meeting ID: 851 2345 6789").unwrap();
        assert_eq!((a.kind, a.address.as_str()), (AddressKind::H323, "162.255.37.11##85123456789"));
        let (a, _) = labelled_dial(" 67.217.95.2##123456789", "").unwrap();
        assert_eq!(a.address, "67.217.95.2##123456789");
        let (a, _) = labelled_dial(": +1 (408) 555-0100", "").unwrap();
        assert_eq!((a.kind, a.address.as_str()), (AddressKind::Tel, "tel:+14085550100"));
        assert_eq!(labelled_dial(": 999.1.1.1", ""), None);
        assert_eq!(h323_uri("h323:room@gk.example.com").unwrap().address, "h323:room@gk.example.com");
    }
}
