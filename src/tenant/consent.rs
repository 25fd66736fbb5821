//! The admin-consent flow: a link an administrator opens, Entra ID's redirect back to
//! `GET /admin/consent/callback`, and the consented tenant recorded in `tenants.json`.
//!
//! **State (CSRF).** The link's `state` is sealed, not remembered: AES-256-GCM under hcal's
//! local data key (the key ring of the data directory), bound by its additional data to this
//! purpose, holding an expiry and, when the link names a tenant, that tenant. So a link made by
//! `hcal tenant consent-url` in another process (or before a restart) is accepted by the
//! server, nobody without the key can forge or alter one, and a state cannot be mistaken for
//! any other sealed value. The callback also records the states it has accepted (by digest, until
//! they expire) in `tenants.json` before acting on them, so a link works once, across restarts
//! too. Nothing from
//! the callback (not even Entra ID's error text) is reflected before its state has been
//! verified. The HTTP handlers are in `crate::http::tenant`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use hcal_actors::ids::TenantId;
use hcal_actors::seal::{self, KeyRing, Sealed};
use serde::{Deserialize, Serialize};

use super::Onboarding;

/// Additional data of every sealed state: binds it to this purpose and format version.
const STATE_AAD: &[u8] = b"hcal/tenant/admin-consent-state/v1";

/// Longest `error` code reflected back (Entra ID's are short identifiers).
const MAX_ERROR_CODE: usize = 64;
/// Longest `error_description` reflected back.
const MAX_ERROR_DESCRIPTION: usize = 512;

/// What a state carries.
#[derive(Debug, Serialize, Deserialize)]
struct StateClaims {
    /// Expiry, Unix seconds.
    exp: i64,
    /// The tenant the link was made for; `None` for `organizations` links.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tid: Option<TenantId>,
}

/// A state that opened, is unexpired and was issued by this installation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedState {
    /// Unique per state (the seal's random nonce): the key of the replay guard.
    pub nonce: String,
    /// When it stops being accepted.
    pub expires_at: DateTime<Utc>,
    /// The tenant the link was made for, if any.
    pub tenant: Option<TenantId>,
}

/// Why a state is refused. The messages say what to do and quote nothing from the request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// Absent or empty.
    #[error("the callback carries no state; start the consent again with a new link (hcal tenant consent-url)")]
    Missing,
    /// Not issued by this installation, altered, or issued under a key this installation no
    /// longer has.
    #[error("the callback's state was not issued by this hcal installation; start the consent again with a new link")]
    Unknown,
    /// Past its expiry.
    #[error("the consent link has expired; start the consent again with a new link (hcal tenant consent-url)")]
    Expired,
    /// Accepted once already.
    #[error("this consent link was already used; start the consent again with a new link")]
    Replayed,
    /// The key ring could not seal (never expected).
    #[error("the state could not be sealed")]
    Sealing,
}

/// Makes a new state valid until `now + ttl`, bound to `tenant` if given.
pub fn issue_state(
    ring: &KeyRing,
    tenant: Option<TenantId>,
    now: DateTime<Utc>,
    ttl: Duration,
) -> Result<(String, DateTime<Utc>), StateError> {
    let expires_at = now + ttl;
    let claims = StateClaims { exp: expires_at.timestamp(), tid: tenant };
    let sealed = seal::seal(ring, STATE_AAD, &claims).map_err(|_| StateError::Sealing)?;
    Ok((encode_state(&sealed), expires_at))
}

/// Opens and checks a state (not the replay guard: see [`Onboarding`]).
pub fn verify_state(ring: &KeyRing, state: &str, now: DateTime<Utc>) -> Result<VerifiedState, StateError> {
    if state.trim().is_empty() {
        return Err(StateError::Missing);
    }
    let sealed = decode_state(state).ok_or(StateError::Unknown)?;
    let claims: StateClaims = seal::open(ring, STATE_AAD, &sealed).map_err(|_| StateError::Unknown)?;
    let expires_at = DateTime::from_timestamp(claims.exp, 0).ok_or(StateError::Unknown)?;
    if expires_at <= now {
        return Err(StateError::Expired);
    }
    Ok(VerifiedState { nonce: sealed.n, expires_at, tenant: claims.tid })
}

/// `{kid}.{nonce}.{ciphertext}`, the base64 parts in the URL-safe alphabet so the state needs
/// no escaping. The key id comes first and may itself contain dots, hence the split from the
/// right on the way back.
fn encode_state(sealed: &Sealed) -> String {
    let url_safe = |s: &str| s.replace('+', "-").replace('/', "_");
    format!("{}.{}.{}", sealed.kid, url_safe(&sealed.n), url_safe(&sealed.c))
}

fn decode_state(state: &str) -> Option<Sealed> {
    let mut parts = state.trim().rsplitn(3, '.');
    let (c, n, kid) = (parts.next()?, parts.next()?, parts.next()?);
    let standard = |s: &str| s.replace('-', "+").replace('_', "/");
    let (n, c) = (standard(n), standard(c));
    // Reject what is not base64 before it reaches the cipher.
    STANDARD_NO_PAD.decode(&n).ok()?;
    STANDARD_NO_PAD.decode(&c).ok()?;
    (!kid.is_empty()).then(|| Sealed { kid: kid.to_owned(), n, c })
}

/// The admin-consent link: `{login}/{tenant|organizations}/adminconsent?client_id&state&redirect_uri`.
/// With a tenant, the administrator signs in to that tenant; with `None`, to any work or school
/// tenant (`organizations`), for installations that serve several.
pub fn consent_url(
    login_base: &str,
    client_id: &str,
    tenant: Option<TenantId>,
    redirect_uri: &str,
    state: &str,
) -> Result<String, url::ParseError> {
    let authority = tenant.map_or_else(|| "organizations".to_owned(), |t| t.to_string());
    let mut url = url::Url::parse(&format!("{}/{authority}/adminconsent", login_base.trim_end_matches('/')))?;
    url.query_pairs_mut()
        .append_pair("client_id", client_id)
        .append_pair("state", state)
        .append_pair("redirect_uri", redirect_uri);
    Ok(url.into())
}

/// A fresh consent link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsentLink {
    /// The link to open.
    pub url: String,
    /// Where Entra ID sends the administrator back (must be registered on the application).
    pub redirect_uri: String,
    /// The tenant the link is for; `None` for `organizations`.
    pub tenant: Option<TenantId>,
    /// Until when the callback accepts it.
    pub expires_at: DateTime<Utc>,
}

/// Which tenant a link is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkTenant {
    /// The first configured tenant (the organisation's).
    Configured,
    /// A given tenant.
    Tenant(TenantId),
    /// Any work or school tenant (`organizations`).
    Organizations,
}

impl LinkTenant {
    /// Parses `organizations` or a tenant GUID.
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.trim().eq_ignore_ascii_case("organizations") {
            return Ok(Self::Organizations);
        }
        TenantId::parse(s).map(Self::Tenant).map_err(|_| format!("'{s}' is neither a tenant id nor 'organizations'"))
    }
}

/// Why no consent link was made. The messages quote nothing the caller gave but a parsed
/// tenant id, since the admin API passes them on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// The link would be for a tenant this installation does not serve.
    #[error("tenant {tenant} is not configured for this installation; {hint}", hint = configured_hint(configured))]
    NotConfigured {
        /// The tenant asked for.
        tenant: TenantId,
        /// The configured tenants.
        configured: Vec<TenantId>,
    },
    /// The redirect URI is not an absolute http(s) URL, or has a fragment.
    #[error("the redirect URI must be an absolute http(s) URL without fragment")]
    InvalidRedirectUri,
    /// The key ring could not seal the state (never expected).
    #[error("the state could not be sealed")]
    Sealing,
    /// The configured login endpoint does not make a URL.
    #[error("the login endpoint does not make a valid URL")]
    LoginEndpoint(#[source] url::ParseError),
}

/// Makes a consent link with the onboarding settings. `redirect_uri` overrides the default
/// (`{public_url}/admin/consent/callback`).
pub fn make_link(
    onboarding: &Onboarding,
    ring: &KeyRing,
    tenant: LinkTenant,
    redirect_uri: Option<&str>,
    now: DateTime<Utc>,
) -> Result<ConsentLink, LinkError> {
    let settings = onboarding.settings();
    let tenant = match tenant {
        LinkTenant::Configured => settings.tenants.first().copied(),
        LinkTenant::Tenant(t) => Some(t),
        LinkTenant::Organizations => None,
    };
    if let Some(t) = tenant
        && !settings.tenants.contains(&t)
    {
        return Err(LinkError::NotConfigured { tenant: t, configured: settings.tenants.clone() });
    }
    let redirect_uri = redirect_uri.unwrap_or(&settings.redirect_uri).to_owned();
    match url::Url::parse(&redirect_uri) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.fragment().is_none() => {}
        _ => return Err(LinkError::InvalidRedirectUri),
    }
    let (state, expires_at) = issue_state(ring, tenant, now, settings.state_ttl).map_err(|_| LinkError::Sealing)?;
    let url = consent_url(&settings.cloud.login_base, &settings.client_id, tenant, &redirect_uri, &state)
        .map_err(LinkError::LoginEndpoint)?;
    Ok(ConsentLink { url, redirect_uri, tenant, expires_at })
}

fn configured_hint(tenants: &[TenantId]) -> String {
    let list: Vec<String> = tenants.iter().map(ToString::to_string).collect();
    format!(
        "configured: {}. To serve several tenants, list the others in [tenant] additional_ids",
        if list.is_empty() { "none".to_owned() } else { list.join(", ") }
    )
}

/// The query Entra ID sends to the redirect URI. Unknown parameters (`scope`, `error_uri`, …)
/// are ignored.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CallbackQuery {
    /// `True` (capital T) on success.
    pub admin_consent: Option<String>,
    /// The consenting tenant's id on success.
    pub tenant: Option<String>,
    /// The state of the link.
    pub state: Option<String>,
    /// OAuth error on failure, e.g. `access_denied`, `permission_denied`.
    pub error: Option<String>,
    /// Entra ID's explanation (`AADSTS65004: User declined to consent …`).
    pub error_description: Option<String>,
}

/// Why a callback with a valid state does not record a tenant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallbackRefusal {
    /// Entra ID reports that consent was not granted.
    #[error("admin consent was not granted: Entra ID answered {error}{}", description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    NotGranted {
        /// The OAuth error, sanitised.
        error: String,
        /// Entra ID's explanation, sanitised and shortened.
        description: Option<String>,
    },
    /// Neither `admin_consent=True` nor `error`.
    #[error("the callback reports neither admin_consent=True nor an error; start the consent again")]
    Malformed,
    /// `tenant` is missing or not a GUID.
    #[error("the callback's tenant is missing or not a tenant id")]
    InvalidTenant,
    /// The link was made for another tenant.
    #[error("consent came from tenant {got}, but the link was made for tenant {expected}; sign in to the right tenant")]
    WrongTenant {
        /// The link's tenant.
        expected: TenantId,
        /// The callback's tenant.
        got: TenantId,
    },
    /// Not one of the configured tenants.
    #[error("tenant {tenant} is not configured for this installation; {hint}", hint = configured_hint(configured))]
    NotConfigured {
        /// The callback's tenant.
        tenant: TenantId,
        /// The configured tenants.
        configured: Vec<TenantId>,
    },
}

impl CallbackRefusal {
    /// A fixed label for metrics.
    pub fn label(&self) -> &'static str {
        match self {
            Self::NotGranted { .. } => "not_granted",
            Self::Malformed => "malformed",
            Self::InvalidTenant => "invalid_tenant",
            Self::WrongTenant { .. } => "wrong_tenant",
            Self::NotConfigured { .. } => "not_configured",
        }
    }
}

/// Decides a callback whose state has been verified: the tenant to record, or why not.
pub fn decide(
    query: &CallbackQuery,
    state: &VerifiedState,
    configured: &[TenantId],
) -> Result<TenantId, CallbackRefusal> {
    if let Some(error) = query.error.as_deref().filter(|e| !e.trim().is_empty()) {
        return Err(CallbackRefusal::NotGranted {
            error: sanitise(error, MAX_ERROR_CODE),
            description: query.error_description.as_deref().map(|d| sanitise(d, MAX_ERROR_DESCRIPTION)),
        });
    }
    // Entra ID sends `True`; accept any casing rather than fail an administrator on a detail.
    if !query.admin_consent.as_deref().is_some_and(|v| v.trim().eq_ignore_ascii_case("true")) {
        return Err(CallbackRefusal::Malformed);
    }
    let tenant = query.tenant.as_deref().and_then(|t| TenantId::parse(t).ok()).ok_or(CallbackRefusal::InvalidTenant)?;
    if let Some(expected) = state.tenant
        && expected != tenant
    {
        return Err(CallbackRefusal::WrongTenant { expected, got: tenant });
    }
    if !configured.contains(&tenant) {
        return Err(CallbackRefusal::NotConfigured { tenant, configured: configured.to_vec() });
    }
    Ok(tenant)
}

/// Keeps printable characters only and at most `max` of them, so reflected text cannot forge
/// lines in a terminal or a log.
fn sanitise(s: &str, max: usize) -> String {
    let clean: String = s.chars().filter(|c| !c.is_control()).take(max).collect();
    if s.chars().filter(|c| !c.is_control()).count() > max { format!("{clean}…") } else { clean }
}

#[cfg(test)]
mod tests {
    use hcal_actors::seal::DataKey;

    use super::*;

    fn ring() -> KeyRing {
        KeyRing::new(DataKey::generate("local-test").unwrap())
    }

    fn tenant(n: u8) -> TenantId {
        TenantId::parse(&format!("00000000-0000-0000-0000-0000000000{n:02x}")).unwrap()
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2025-03-01T12:00:00Z").unwrap().with_timezone(&Utc)
    }

    #[test]
    fn states_round_trip_expire_and_cannot_be_forged() {
        let ring = self::ring();
        let (state, exp) = issue_state(&ring, Some(tenant(1)), now(), Duration::minutes(30)).unwrap();
        assert!(state.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)), "URL-safe: {state}");
        let v = verify_state(&ring, &state, now() + Duration::minutes(29)).unwrap();
        assert_eq!((v.expires_at, v.tenant), (exp, Some(tenant(1))));
        assert_eq!(verify_state(&ring, &state, exp), Err(StateError::Expired));
        assert_eq!(verify_state(&ring, "", now()), Err(StateError::Missing));
        assert_eq!(verify_state(&ring, "forged", now()), Err(StateError::Unknown));
        assert_eq!(verify_state(&self::ring(), &state, now()), Err(StateError::Unknown), "another installation's key");
        let mut tampered = state.clone();
        let last = tampered.pop().unwrap();
        tampered.push(if last == 'A' { 'B' } else { 'A' });
        assert_eq!(verify_state(&ring, &tampered, now()), Err(StateError::Unknown));
        // A value sealed for another purpose with the same key is not a state.
        let other = seal::seal(&ring, b"tenant/user/1", &StateClaims { exp: i64::MAX, tid: None }).unwrap();
        assert_eq!(verify_state(&ring, &encode_state(&other), now()), Err(StateError::Unknown));
    }

    #[test]
    fn key_ids_with_dots_survive_the_encoding() {
        let ring = KeyRing::new(DataKey::generate("kms.key.v2").unwrap());
        let (state, _) = issue_state(&ring, None, now(), Duration::minutes(5)).unwrap();
        assert_eq!(verify_state(&ring, &state, now()).unwrap().tenant, None);
    }

    #[test]
    fn the_consent_url_has_the_documented_shape() {
        let url = consent_url(
            "https://login.microsoftonline.com/",
            "app-id",
            Some(tenant(1)),
            "https://hcal.example/cb?x=1",
            "s.t",
        )
        .unwrap();
        let parsed = url::Url::parse(&url).unwrap();
        assert_eq!(parsed.path(), format!("/{}/adminconsent", tenant(1)));
        let q: Vec<(String, String)> = parsed.query_pairs().into_owned().collect();
        assert_eq!(
            q,
            vec![
                ("client_id".into(), "app-id".into()),
                ("state".into(), "s.t".into()),
                ("redirect_uri".into(), "https://hcal.example/cb?x=1".into()),
            ]
        );
        let any = consent_url("https://login.microsoftonline.com", "a", None, "https://h/cb", "s").unwrap();
        assert!(any.starts_with("https://login.microsoftonline.com/organizations/adminconsent?"), "{any}");
    }

    fn verified(tenant: Option<TenantId>) -> VerifiedState {
        VerifiedState { nonce: "n".into(), expires_at: now(), tenant }
    }

    fn success(t: &str) -> CallbackQuery {
        CallbackQuery {
            admin_consent: Some("True".into()),
            tenant: Some(t.into()),
            state: Some("s".into()),
            ..Default::default()
        }
    }

    #[test]
    fn callbacks_record_only_configured_tenants() {
        let configured = [tenant(1), tenant(2)];
        assert_eq!(decide(&success(&tenant(1).to_string()), &verified(None), &configured), Ok(tenant(1)));
        assert_eq!(decide(&success(&tenant(2).to_string()), &verified(None), &configured), Ok(tenant(2)));
        assert_eq!(
            decide(&success(&tenant(3).to_string()), &verified(None), &configured),
            Err(CallbackRefusal::NotConfigured { tenant: tenant(3), configured: configured.to_vec() })
        );
        assert_eq!(
            decide(&success(&tenant(2).to_string()), &verified(Some(tenant(1))), &configured),
            Err(CallbackRefusal::WrongTenant { expected: tenant(1), got: tenant(2) })
        );
        assert_eq!(
            decide(&success("contoso.example"), &verified(None), &configured),
            Err(CallbackRefusal::InvalidTenant)
        );
        let no_flag = CallbackQuery { admin_consent: Some("False".into()), ..success(&tenant(1).to_string()) };
        assert_eq!(decide(&no_flag, &verified(None), &configured), Err(CallbackRefusal::Malformed));
        let refusal = decide(&success(&tenant(3).to_string()), &verified(None), &[tenant(1)]).unwrap_err();
        assert!(refusal.to_string().contains("additional_ids"), "{refusal}");
    }

    #[test]
    fn errors_are_reported_sanitised() {
        let q = CallbackQuery {
            error: Some("permission_denied".into()),
            error_description: Some(format!("AADSTS65004: User declined\r\nInjected: yes{}", "x".repeat(600))),
            state: Some("s".into()),
            ..Default::default()
        };
        let refusal = decide(&q, &verified(None), &[tenant(1)]).unwrap_err();
        let CallbackRefusal::NotGranted { error, description } = &refusal else { panic!("{refusal:?}") };
        assert_eq!(error, "permission_denied");
        let description = description.as_deref().unwrap();
        assert!(description.starts_with("AADSTS65004: User declinedInjected: yes") && description.ends_with('…'));
        assert!(!description.contains('\n') && description.chars().count() <= MAX_ERROR_DESCRIPTION + 1);
        assert!(
            refusal.to_string().starts_with("admin consent was not granted: Entra ID answered permission_denied (")
        );
    }
}
