//! Change notifications with resource data ("rich notifications"): the cryptography, as pure
//! functions.
//!
//! A subscription created with `includeResourceData: true` hands Graph the public half of the
//! subscriber's certificate (`encryptionCertificate`, base64 DER) and an identifier of ours
//! (`encryptionCertificateId`). Each notification then carries an [`EncryptedContent`]:
//!
//! - `dataKey`: a fresh 32-byte symmetric key, encrypted with the certificate's RSA key using
//!   RSA-OAEP with SHA-1 (and MGF1-SHA-1), the empty label;
//! - `dataSignature`: base64 HMAC-SHA256 of the *encrypted* `data` bytes, keyed with the
//!   symmetric key;
//! - `data`: the resource as JSON, AES-256-CBC with PKCS#7 padding, the IV being the first 16
//!   bytes of the symmetric key;
//! - `encryptionCertificateThumbprint`: the SHA-1 of the certificate's DER in upper-case hex.
//!
//! [`decrypt`] unwraps the key, checks the signature in constant time *before* touching the
//! ciphertext, then decrypts. [`SubscriberKey`] loads the operator's key pair from PEM and picks
//! the right one of several during a rotation ([`select_key`]).
//!
//! The notification collection also carries `validationTokens`: RS256 JWTs, one per app and
//! tenant in the batch, issued by Entra ID to Graph's change-tracking application for our
//! application. [`validate_tokens`] checks them against a key set ([`Jwks`]) and a given time.
//!
//! Errors never quote plaintext, keys or tokens.

use std::collections::HashSet;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockModeDecrypt as _, KeyIvInit as _};
use chrono::{DateTime, Utc};
use hmac::{KeyInit as _, Mac as _};
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use rsa::pkcs1::DecodeRsaPrivateKey as _;
use rsa::pkcs8::{DecodePrivateKey as _, DecodePublicKey as _};
use rsa::traits::PublicKeyParts as _;
use rsa::{PrivateKey, PublicKey};
use serde::{Deserialize, Serialize};
use sha1::{Digest as _, Sha1};
use sha2::Sha256;
use x509_cert::Certificate;
use x509_cert::der::{Decode as _, Encode as _};

/// The application id of "Microsoft Graph Change Tracking", the publisher of change
/// notifications: the `appid` (v1 tokens) or `azp` (v2 tokens) of every validation token.
pub const GRAPH_CHANGE_TRACKING_APP_ID: &str = "0bf30f3b-4a52-48df-9a82-234910c4a086";

/// Smallest RSA key Graph accepts in `encryptionCertificate`, in bits.
pub const MIN_KEY_BITS: usize = 2048;

/// Largest RSA key Graph accepts in `encryptionCertificate`, in bits.
pub const MAX_KEY_BITS: usize = 4096;

/// Clock skew allowed on a validation token's `exp` and `nbf`, in seconds (the five minutes
/// Microsoft's own token libraries allow).
pub const CLOCK_SKEW_SECS: i64 = 300;

/// Length of Graph's symmetric key: AES-256.
const SYMMETRIC_KEY_LEN: usize = 32;

/// Length of the AES-CBC IV, taken from the start of the symmetric key.
const IV_LEN: usize = 16;

/// The `encryptedContent` of a change notification, as on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EncryptedContent {
    /// Base64 AES-256-CBC ciphertext of the resource's JSON.
    pub data: String,
    /// Base64 HMAC-SHA256 of the decoded `data`, keyed with the symmetric key.
    pub data_signature: String,
    /// Base64 RSA-OAEP (SHA-1) encryption of the symmetric key.
    pub data_key: String,
    /// The `encryptionCertificateId` the subscription was created with.
    #[serde(default)]
    pub encryption_certificate_id: String,
    /// Upper-case hex SHA-1 of the certificate's DER.
    #[serde(default)]
    pub encryption_certificate_thumbprint: String,
}

/// Why resource data or a key pair was refused. Never carries plaintext or key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RichError {
    /// A field that must be base64 is not.
    #[error("`{0}` is not valid base64")]
    NotBase64(&'static str),
    /// `dataKey` does not decrypt with this private key (another certificate's key, or
    /// tampered), or is not an AES-256 key.
    #[error("the data key does not decrypt with this private key")]
    BadKey,
    /// `dataSignature` does not match `data`: the content was not decrypted.
    #[error("the data signature does not match the data")]
    BadSignature,
    /// The ciphertext is not a whole number of blocks or its padding is wrong.
    #[error("the data does not decrypt (length or padding)")]
    BadData,
    /// No key of ours has this certificate id and thumbprint.
    #[error("no key for encryption certificate id `{id}`")]
    UnknownCertificate {
        /// The `encryptionCertificateId` of the notification (an identifier of ours).
        id: String,
    },
    /// The private key PEM is not an unencrypted PKCS#8 (or PKCS#1) RSA key.
    #[error("the private key is not an unencrypted PKCS#8 or PKCS#1 RSA key in PEM")]
    InvalidPrivateKey,
    /// The certificate is not an X.509 certificate with an RSA key, in PEM or DER.
    #[error("the certificate is not an X.509 certificate with an RSA public key")]
    InvalidCertificate,
    /// The key is outside the 2048 to 4096 bits Graph accepts.
    #[error("the RSA key has {0} bits; Graph accepts 2048 to 4096")]
    KeySize(usize),
    /// The certificate's public key is not the private key's.
    #[error("the certificate does not belong to the private key")]
    KeyMismatch,
}

/// Decrypts one notification's resource data with `private_key`: unwraps the symmetric key
/// (RSA-OAEP, SHA-1), checks `dataSignature` in constant time, then decrypts `data`
/// (AES-256-CBC, PKCS#7, IV = first 16 bytes of the key). Returns the resource's JSON bytes.
///
/// The certificate id and thumbprint are not looked at; [`SubscriberKey::decrypt`] checks them.
pub fn decrypt(private_key: &PrivateKey, content: &EncryptedContent) -> Result<Vec<u8>, RichError> {
    let wrapped = decode_b64(&content.data_key, "dataKey")?;
    let key = unwrap_key(private_key, &wrapped)?;
    let data = decode_b64(&content.data, "data")?;
    let signature = decode_b64(&content.data_signature, "dataSignature")?;
    verify_signature(&key, &data, &signature)?;
    aes_cbc_decrypt(&key, &data)
}

/// Upper-case hex SHA-1 of a certificate's DER, as Graph writes it in
/// `encryptionCertificateThumbprint` (and .NET in `X509Certificate2.Thumbprint`).
pub fn certificate_thumbprint(der: &[u8]) -> String {
    hex::encode_upper(Sha1::digest(der))
}

fn decode_b64(value: &str, field: &'static str) -> Result<Vec<u8>, RichError> {
    STANDARD.decode(value.trim()).map_err(|_| RichError::NotBase64(field))
}

/// RSA-OAEP with SHA-1 for both the label hash and MGF1, as Graph encrypts `dataKey`.
fn unwrap_key(private_key: &PrivateKey, wrapped: &[u8]) -> Result<Vec<u8>, RichError> {
    let key = private_key.oaep_decrypt::<Sha1>(wrapped).map_err(|_| RichError::BadKey)?;
    if key.len() == SYMMETRIC_KEY_LEN { Ok(key) } else { Err(RichError::BadKey) }
}

/// HMAC-SHA256 over the ciphertext, compared in constant time.
fn verify_signature(key: &[u8], data: &[u8], signature: &[u8]) -> Result<(), RichError> {
    let mut mac = hmac::Hmac::<Sha256>::new_from_slice(key).map_err(|_| RichError::BadKey)?;
    mac.update(data);
    mac.verify_slice(signature).map_err(|_| RichError::BadSignature)
}

fn aes_cbc_decrypt(key: &[u8], data: &[u8]) -> Result<Vec<u8>, RichError> {
    let iv = key.get(..IV_LEN).ok_or(RichError::BadKey)?;
    let decryptor = cbc::Decryptor::<aes::Aes256>::new_from_slices(key, iv).map_err(|_| RichError::BadKey)?;
    decryptor.decrypt_padded_vec::<Pkcs7>(data).map_err(|_| RichError::BadData)
}

/// The subscriber's key pair for one `encryptionCertificateId`: the private key that decrypts,
/// and the certificate Graph encrypts to.
///
/// An operator makes one with openssl, e.g.
/// `openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem -days 730 -subj /CN=hcal`
/// (Graph checks neither the issuer nor the validity dates; it only uses the public key).
pub struct SubscriberKey {
    id: String,
    private_key: PrivateKey,
    certificate_der: Vec<u8>,
    thumbprint: String,
}

impl fmt::Debug for SubscriberKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SubscriberKey").field("id", &self.id).field("thumbprint", &self.thumbprint).finish()
    }
}

impl SubscriberKey {
    /// Loads a key pair: `private_key_pem` is an unencrypted PKCS#8 (`BEGIN PRIVATE KEY`) or
    /// PKCS#1 (`BEGIN RSA PRIVATE KEY`) RSA key, `certificate` an X.509 certificate in PEM or
    /// DER. `id` is the `encryptionCertificateId` subscriptions are created with (at most 128
    /// characters for Graph). The certificate must hold the private key's public key, of
    /// 2048 to 4096 bits.
    pub fn from_pem(id: &str, private_key_pem: &str, certificate: &[u8]) -> Result<Self, RichError> {
        let private_key = parse_private_key(private_key_pem)?;
        let certificate_der = certificate_der(certificate)?;
        let public_key = certificate_public_key(&certificate_der)?;
        check_key_size(public_key.size() * 8)?;
        if public_key != private_key.to_public_key() {
            return Err(RichError::KeyMismatch);
        }
        let thumbprint = certificate_thumbprint(&certificate_der);
        Ok(Self { id: id.to_owned(), private_key, certificate_der, thumbprint })
    }

    /// The `encryptionCertificateId`.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The certificate's thumbprint (upper-case hex SHA-1 of its DER).
    pub fn thumbprint(&self) -> &str {
        &self.thumbprint
    }

    /// The certificate's DER.
    pub fn certificate_der(&self) -> &[u8] {
        &self.certificate_der
    }

    /// The value of a subscription's `encryptionCertificate`: the certificate's DER in base64
    /// (public key only).
    pub fn encryption_certificate(&self) -> String {
        STANDARD.encode(&self.certificate_der)
    }

    /// Whether a notification's content names this key: same certificate id, and the same
    /// thumbprint when the notification carries one (compared without regard to case).
    pub fn matches(&self, content: &EncryptedContent) -> bool {
        let thumbprint = content.encryption_certificate_thumbprint.trim();
        content.encryption_certificate_id == self.id
            && (thumbprint.is_empty() || thumbprint.eq_ignore_ascii_case(&self.thumbprint))
    }

    /// Decrypts content encrypted to this key; [`RichError::UnknownCertificate`] when the
    /// content names another certificate.
    pub fn decrypt(&self, content: &EncryptedContent) -> Result<Vec<u8>, RichError> {
        if !self.matches(content) {
            return Err(unknown(content));
        }
        decrypt(&self.private_key, content)
    }
}

/// The key a notification's content was encrypted to, among the keys in use (during a rotation
/// the old and the new certificate both are).
pub fn select_key<'a>(keys: &'a [SubscriberKey], content: &EncryptedContent) -> Result<&'a SubscriberKey, RichError> {
    keys.iter().find(|key| key.matches(content)).ok_or_else(|| unknown(content))
}

fn unknown(content: &EncryptedContent) -> RichError {
    RichError::UnknownCertificate { id: content.encryption_certificate_id.clone() }
}

fn parse_private_key(pem: &str) -> Result<PrivateKey, RichError> {
    let pem = pem.trim();
    let key = if pem.starts_with("-----BEGIN RSA PRIVATE KEY-----") {
        PrivateKey::from_pkcs1_pem(pem).ok()
    } else {
        PrivateKey::from_pkcs8_pem(pem).ok()
    };
    key.ok_or(RichError::InvalidPrivateKey)
}

/// The certificate's DER, from PEM (`BEGIN CERTIFICATE`) or DER as given. The thumbprint is
/// taken over these bytes, never over a re-encoding.
fn certificate_der(certificate: &[u8]) -> Result<Vec<u8>, RichError> {
    let text = certificate.trim_ascii_start();
    if !text.starts_with(b"-----BEGIN") {
        return Ok(certificate.to_vec());
    }
    match x509_cert::der::pem::decode_vec(text) {
        Ok(("CERTIFICATE", der)) => Ok(der),
        _ => Err(RichError::InvalidCertificate),
    }
}

fn certificate_public_key(der: &[u8]) -> Result<PublicKey, RichError> {
    let certificate = Certificate::from_der(der).map_err(|_| RichError::InvalidCertificate)?;
    let spki = certificate.tbs_certificate().subject_public_key_info();
    let spki_der = spki.to_der().map_err(|_| RichError::InvalidCertificate)?;
    PublicKey::from_public_key_der(&spki_der).map_err(|_| RichError::InvalidCertificate)
}

fn check_key_size(bits: usize) -> Result<(), RichError> {
    if (MIN_KEY_BITS..=MAX_KEY_BITS).contains(&bits) { Ok(()) } else { Err(RichError::KeySize(bits)) }
}

/// Why a validation token was refused. Never carries the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// The collection carries resource data but no validation token.
    #[error("no validation token")]
    NoTokens,
    /// The key set is not a JWKS document with at least one RSA signing key.
    #[error("the key set has no usable RSA signing key")]
    BadKeySet,
    /// Not a compact JWS with a readable header and claims.
    #[error("the token is not a readable JWT")]
    Malformed,
    /// Signed with another algorithm than RS256.
    #[error("the token is not signed with RS256")]
    UnsupportedAlgorithm,
    /// The header's `kid` is absent or not in the key set.
    #[error("the token's signing key is not in the key set")]
    UnknownKey,
    /// The signature does not verify with the key its `kid` names.
    #[error("the token's signature does not verify")]
    BadSignature,
    /// A claim the check needs is absent.
    #[error("the token has no `{0}` claim")]
    MissingClaim(&'static str),
    /// `exp` has passed (beyond the allowed clock skew).
    #[error("the token has expired")]
    Expired,
    /// `nbf` is still ahead (beyond the allowed clock skew).
    #[error("the token is not valid yet")]
    NotYetValid,
    /// `aud` is not our application's client id.
    #[error("the token is for another audience")]
    WrongAudience,
    /// `iss` is not `https://sts.windows.net/{tenant id}/` of the token's tenant.
    #[error("the token has an unexpected issuer")]
    WrongIssuer,
    /// `appid` / `azp` is not Graph's change-tracking application.
    #[error("the token was not issued to Microsoft Graph change tracking")]
    WrongPublisher,
}

/// RSA signing keys by `kid`, from a JWKS document (`{"keys": [...]}`), e.g. Entra ID's
/// `discovery/keys`. Keys that are not RSA, not for signatures or without a `kid` are skipped.
pub struct Jwks {
    keys: Vec<(String, DecodingKey)>,
}

impl fmt::Debug for Jwks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.keys.iter().map(|(kid, _)| kid)).finish()
    }
}

#[derive(Deserialize)]
struct RawJwks {
    keys: Vec<serde_json::Value>,
}

impl Jwks {
    /// Parses a JWKS document; [`TokenError::BadKeySet`] when it has no usable key.
    pub fn from_json(json: &str) -> Result<Self, TokenError> {
        let raw: RawJwks = serde_json::from_str(json).map_err(|_| TokenError::BadKeySet)?;
        let keys: Vec<_> = raw.keys.into_iter().filter_map(rsa_signing_key).collect();
        if keys.is_empty() { Err(TokenError::BadKeySet) } else { Ok(Self { keys }) }
    }

    /// The `kid`s of the keys.
    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|(kid, _)| kid.as_str())
    }

    fn find(&self, kid: &str) -> Option<&DecodingKey> {
        self.keys.iter().find(|(k, _)| k == kid).map(|(_, key)| key)
    }
}

fn rsa_signing_key(value: serde_json::Value) -> Option<(String, DecodingKey)> {
    let jwk: Jwk = serde_json::from_value(value).ok()?;
    let kid = jwk.common.key_id.clone()?;
    let for_signing = matches!(jwk.common.public_key_use, None | Some(PublicKeyUse::Signature));
    if !for_signing || !matches!(jwk.algorithm, AlgorithmParameters::RSA(_)) {
        return None;
    }
    DecodingKey::from_jwk(&jwk).ok().map(|key| (kid, key))
}

/// What a valid token vouches for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedToken {
    /// The tenant (`tid`, as in the issuer) whose notifications the token covers, lower case.
    pub tenant_id: String,
    /// When the token expires.
    pub expires_at: DateTime<Utc>,
}

/// `aud`: one string or an array.
#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    fn contains(&self, wanted: &str) -> bool {
        match self {
            Self::One(aud) => aud == wanted,
            Self::Many(auds) => auds.iter().any(|aud| aud == wanted),
        }
    }
}

#[derive(Deserialize)]
struct Claims {
    aud: Option<Audience>,
    iss: Option<String>,
    exp: Option<i64>,
    nbf: Option<i64>,
    tid: Option<String>,
    appid: Option<String>,
    azp: Option<String>,
}

/// Checks one validation token: RS256 signature by the key its `kid` names in `jwks`; `exp`
/// and `nbf` against `now` (with [`CLOCK_SKEW_SECS`]); `aud` is `client_id`; `iss` is
/// `https://sts.windows.net/{tid}/`; `appid` (v1) or `azp` (v2) is
/// [`GRAPH_CHANGE_TRACKING_APP_ID`].
pub fn validate_token(
    token: &str,
    jwks: &Jwks,
    client_id: &str,
    now: DateTime<Utc>,
) -> Result<ValidatedToken, TokenError> {
    let claims = verified_claims(token.trim(), jwks)?;
    let expires_at = check_lifetime(&claims, now)?;
    check_audience(&claims, client_id)?;
    let tenant_id = check_issuer(&claims)?;
    check_publisher(&claims)?;
    Ok(ValidatedToken { tenant_id, expires_at })
}

/// Checks every token of a notification collection's `validationTokens`; one bad token makes
/// the whole collection suspect, as Graph's documentation asks. Returns one entry per token;
/// each notification's `tenantId` should be among them ([`covers_tenant`]).
pub fn validate_tokens(
    tokens: &[String],
    jwks: &Jwks,
    client_id: &str,
    now: DateTime<Utc>,
) -> Result<Vec<ValidatedToken>, TokenError> {
    if tokens.is_empty() {
        return Err(TokenError::NoTokens);
    }
    tokens.iter().map(|token| validate_token(token, jwks, client_id, now)).collect()
}

/// Whether validated tokens cover a notification's `tenantId`.
pub fn covers_tenant(tokens: &[ValidatedToken], tenant_id: &str) -> bool {
    tokens.iter().any(|token| token.tenant_id.eq_ignore_ascii_case(tenant_id.trim()))
}

/// The header's algorithm and key, then the signature; only then the claims are read.
fn verified_claims(token: &str, jwks: &Jwks) -> Result<Claims, TokenError> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
    if header.alg != Algorithm::RS256 {
        return Err(TokenError::UnsupportedAlgorithm);
    }
    let kid = header.kid.ok_or(TokenError::UnknownKey)?;
    let key = jwks.find(&kid).ok_or(TokenError::UnknownKey)?;
    let data = jsonwebtoken::decode::<Claims>(token, key, &signature_only()).map_err(signature_error)?;
    Ok(data.claims)
}

/// Signature and algorithm only: the claims are checked here, against the given time.
fn signature_only() -> Validation {
    let mut validation = Validation::new(Algorithm::RS256);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims = HashSet::new();
    validation
}

fn signature_error(error: jsonwebtoken::errors::Error) -> TokenError {
    use jsonwebtoken::errors::ErrorKind;
    match error.kind() {
        ErrorKind::InvalidSignature => TokenError::BadSignature,
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => TokenError::UnsupportedAlgorithm,
        _ => TokenError::Malformed,
    }
}

fn check_lifetime(claims: &Claims, now: DateTime<Utc>) -> Result<DateTime<Utc>, TokenError> {
    let exp = claims.exp.ok_or(TokenError::MissingClaim("exp"))?;
    let now = now.timestamp();
    if now >= exp.saturating_add(CLOCK_SKEW_SECS) {
        return Err(TokenError::Expired);
    }
    if claims.nbf.is_some_and(|nbf| now.saturating_add(CLOCK_SKEW_SECS) < nbf) {
        return Err(TokenError::NotYetValid);
    }
    DateTime::from_timestamp(exp, 0).ok_or(TokenError::Malformed)
}

fn check_audience(claims: &Claims, client_id: &str) -> Result<(), TokenError> {
    let aud = claims.aud.as_ref().ok_or(TokenError::MissingClaim("aud"))?;
    if aud.contains(client_id) { Ok(()) } else { Err(TokenError::WrongAudience) }
}

/// `https://sts.windows.net/{tenant GUID}/`, the tenant matching `tid` when present.
fn check_issuer(claims: &Claims) -> Result<String, TokenError> {
    let iss = claims.iss.as_deref().ok_or(TokenError::MissingClaim("iss"))?;
    let tenant = iss.strip_prefix("https://sts.windows.net/").and_then(|rest| rest.strip_suffix('/'));
    let tenant = tenant.and_then(|t| uuid::Uuid::parse_str(t).ok()).ok_or(TokenError::WrongIssuer)?;
    let tenant = tenant.hyphenated().to_string();
    match claims.tid.as_deref() {
        Some(tid) if !tid.eq_ignore_ascii_case(&tenant) => Err(TokenError::WrongIssuer),
        _ => Ok(tenant),
    }
}

/// `appid` (v1 tokens, as Graph sends) or `azp` (v2): whichever is present must be Graph's
/// change-tracking application, and one must be.
fn check_publisher(claims: &Claims) -> Result<(), TokenError> {
    let ids = [claims.appid.as_deref(), claims.azp.as_deref()];
    let present: Vec<&str> = ids.into_iter().flatten().collect();
    if present.is_empty() {
        return Err(TokenError::MissingClaim("appid"));
    }
    if present.iter().all(|id| *id == GRAPH_CHANGE_TRACKING_APP_ID) { Ok(()) } else { Err(TokenError::WrongPublisher) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use hcal_sim::graph::rich as sim;

    fn net_content() -> EncryptedContent {
        EncryptedContent {
            data: NET_DATA.to_owned(),
            data_signature: NET_DATA_SIGNATURE.to_owned(),
            data_key: NET_DATA_KEY.to_owned(),
            encryption_certificate_id: NET_CERTIFICATE_ID.to_owned(),
            encryption_certificate_thumbprint: NET_THUMBPRINT.to_owned(),
        }
    }

    fn net_key() -> SubscriberKey {
        SubscriberKey::from_pem(NET_CERTIFICATE_ID, NET_KEY_PEM, NET_CERT_PEM.as_bytes()).unwrap()
    }

    fn other_key() -> SubscriberKey {
        SubscriberKey::from_pem("other", OTHER_KEY_PEM, OTHER_CERT_PEM.as_bytes()).unwrap()
    }

    #[test]
    fn the_dotnet_sdk_vector_decrypts_to_its_published_chat_message() {
        let plaintext = net_key().decrypt(&net_content()).unwrap();
        let message: serde_json::Value = serde_json::from_slice(&plaintext).unwrap();
        assert_eq!(message["etag"], "1625126194597");
        assert_eq!(message["body"]["content"], "Hello World");
        assert_eq!(message["body"]["contentType"], "text");
    }

    #[test]
    fn the_wire_names_are_camel_case() {
        let wire = serde_json::json!({
            "data": "ZA==",
            "dataSignature": "cw==",
            "dataKey": "aw==",
            "encryptionCertificateId": "id",
            "encryptionCertificateThumbprint": "AB",
            "@odata.type": "#microsoft.graph.changeNotificationEncryptedContent",
        });
        let content: EncryptedContent = serde_json::from_value(wire).unwrap();
        assert_eq!(content.data_signature, "cw==");
        assert_eq!(content.encryption_certificate_thumbprint, "AB");
        let back = serde_json::to_value(&content).unwrap();
        assert_eq!(back["dataKey"], "aw==");
        assert_eq!(back["encryptionCertificateId"], "id");
    }

    #[test]
    fn the_thumbprint_is_the_upper_case_sha1_of_the_der() {
        let key = net_key();
        assert_eq!(key.thumbprint(), NET_THUMBPRINT);
        assert_eq!(certificate_thumbprint(key.certificate_der()), NET_THUMBPRINT);
        let der = STANDARD.decode(key.encryption_certificate()).unwrap();
        assert_eq!(der, key.certificate_der());
    }

    #[test]
    fn a_certificate_in_der_loads_like_its_pem() {
        let der = net_key().certificate_der().to_vec();
        let key = SubscriberKey::from_pem(NET_CERTIFICATE_ID, NET_KEY_PEM, &der).unwrap();
        assert_eq!(key.thumbprint(), NET_THUMBPRINT);
    }

    #[test]
    fn a_flipped_signature_byte_is_refused_before_decryption() {
        let mut content = net_content();
        let mut signature = STANDARD.decode(&content.data_signature).unwrap();
        signature[7] ^= 0x01;
        content.data_signature = STANDARD.encode(signature);
        assert_eq!(net_key().decrypt(&content), Err(RichError::BadSignature));
    }

    #[test]
    fn a_flipped_data_byte_is_refused_by_the_signature() {
        let mut content = net_content();
        let mut data = STANDARD.decode(&content.data).unwrap();
        data[100] ^= 0x80;
        content.data = STANDARD.encode(data);
        assert_eq!(net_key().decrypt(&content), Err(RichError::BadSignature));
    }

    #[test]
    fn a_wrong_private_key_is_bad_key() {
        let other = parse_private_key(OTHER_KEY_PEM).unwrap();
        assert_eq!(decrypt(&other, &net_content()), Err(RichError::BadKey));
        // A key of the same size as the one the content was encrypted to.
        let key = other_key();
        let certificate = sim::EncryptionCertificate::from_der(key.certificate_der()).unwrap();
        let sealed = sim::encrypt(&certificate, key.id(), b"{}").unwrap();
        let content: EncryptedContent = serde_json::from_value(serde_json::to_value(&sealed).unwrap()).unwrap();
        let same_size = parse_private_key(SIGNER_KEY_PEM).unwrap();
        assert_eq!(decrypt(&same_size, &content), Err(RichError::BadKey));
    }

    #[test]
    fn fields_that_are_not_base64_are_named() {
        let mut content = net_content();
        content.data_key = "not base64!".to_owned();
        assert_eq!(net_key().decrypt(&content), Err(RichError::NotBase64("dataKey")));
        let mut content = net_content();
        content.data_signature = "%%".to_owned();
        assert_eq!(net_key().decrypt(&content), Err(RichError::NotBase64("dataSignature")));
    }

    #[test]
    fn content_for_another_certificate_is_unknown() {
        let mut content = net_content();
        content.encryption_certificate_id = "rotated-away".to_owned();
        assert_eq!(net_key().decrypt(&content), Err(RichError::UnknownCertificate { id: "rotated-away".to_owned() }));
        let mut content = net_content();
        content.encryption_certificate_thumbprint = "00".repeat(20);
        assert!(matches!(net_key().decrypt(&content), Err(RichError::UnknownCertificate { .. })));
    }

    #[test]
    fn the_thumbprint_is_compared_without_case() {
        let mut content = net_content();
        content.encryption_certificate_thumbprint = NET_THUMBPRINT.to_lowercase();
        assert!(net_key().matches(&content));
    }

    #[test]
    fn during_a_rotation_the_named_key_is_selected() {
        let keys = [other_key(), net_key()];
        assert_eq!(select_key(&keys, &net_content()).unwrap().id(), NET_CERTIFICATE_ID);
        let mut content = net_content();
        content.encryption_certificate_id = "gone".to_owned();
        assert!(matches!(select_key(&keys, &content), Err(RichError::UnknownCertificate { .. })));
    }

    #[test]
    fn a_round_trip_through_the_simulator_decrypts() {
        for key in [net_key(), other_key()] {
            let certificate = sim::EncryptionCertificate::from_base64(&key.encryption_certificate()).unwrap();
            let plaintext = br#"{"id":"AAMk","subject":"Planning"}"#;
            let sealed = sim::encrypt(&certificate, key.id(), plaintext).unwrap();
            let content: EncryptedContent = serde_json::from_value(serde_json::to_value(&sealed).unwrap()).unwrap();
            assert_eq!(content.encryption_certificate_thumbprint, key.thumbprint());
            assert_eq!(key.decrypt(&content).unwrap(), plaintext);
        }
    }

    #[test]
    fn an_empty_plaintext_round_trips() {
        let key = other_key();
        let certificate = sim::EncryptionCertificate::from_der(key.certificate_der()).unwrap();
        let content = sim::encrypt(&certificate, key.id(), b"").unwrap();
        let content: EncryptedContent = serde_json::from_value(serde_json::to_value(&content).unwrap()).unwrap();
        assert_eq!(key.decrypt(&content).unwrap(), b"");
    }

    #[test]
    fn a_certificate_of_another_key_is_refused() {
        let refused = SubscriberKey::from_pem("x", OTHER_KEY_PEM, NET_CERT_PEM.as_bytes()).unwrap_err();
        assert_eq!(refused, RichError::KeyMismatch);
    }

    #[test]
    fn unreadable_keys_and_certificates_are_refused() {
        let refused = SubscriberKey::from_pem("x", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----", b"");
        assert_eq!(refused.unwrap_err(), RichError::InvalidPrivateKey);
        let refused = SubscriberKey::from_pem("x", OTHER_KEY_PEM, OTHER_KEY_PEM.as_bytes());
        assert_eq!(refused.unwrap_err(), RichError::InvalidCertificate);
        let refused = SubscriberKey::from_pem("x", OTHER_KEY_PEM, b"\x30\x03\x02\x01\x00");
        assert_eq!(refused.unwrap_err(), RichError::InvalidCertificate);
    }

    #[test]
    fn errors_and_debug_output_carry_no_key_material() {
        let key = net_key();
        let shown = format!("{key:?}");
        assert!(shown.contains(NET_THUMBPRINT));
        assert!(!shown.contains("MIIJ"));
        assert_eq!(RichError::BadSignature.to_string(), "the data signature does not match the data");
    }

    // Validation tokens, issued by the simulator's signer.

    const CLIENT_ID: &str = "8e460676-ae3f-4b1e-8790-ee0fb5d6148f";
    const TENANT_ID: &str = "84bd8158-6d4d-4958-8b9f-9d6445542f95";

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_765_000_000, 0).unwrap()
    }

    fn signer() -> sim::TokenSigner {
        sim::TokenSigner::from_pem("kid-1", SIGNER_KEY_PEM).unwrap()
    }

    fn jwks() -> Jwks {
        Jwks::from_json(&signer().jwks().to_string()).unwrap()
    }

    fn claims() -> sim::ValidationClaims {
        sim::ValidationClaims::graph(CLIENT_ID, TENANT_ID, now())
    }

    fn check(token: &str) -> Result<ValidatedToken, TokenError> {
        validate_token(token, &jwks(), CLIENT_ID, now())
    }

    #[test]
    fn a_graph_token_is_valid() {
        let token = signer().validation_token(CLIENT_ID, TENANT_ID, now()).unwrap();
        let valid = check(&token).unwrap();
        assert_eq!(valid.tenant_id, TENANT_ID);
        assert_eq!(valid.expires_at, now() + sim::TOKEN_LIFETIME);
    }

    #[test]
    fn a_token_for_another_audience_is_refused() {
        let token = signer().validation_token("11111111-2222-3333-4444-555555555555", TENANT_ID, now()).unwrap();
        assert_eq!(check(&token), Err(TokenError::WrongAudience));
    }

    #[test]
    fn an_audience_array_is_read() {
        let mut claims = serde_json::to_value(claims()).unwrap();
        claims["aud"] = serde_json::json!(["other", CLIENT_ID]);
        let token = sign_value(&claims, "kid-1");
        assert!(check(&token).is_ok());
    }

    #[test]
    fn an_expired_token_is_refused_after_the_clock_skew() {
        let mut claims = claims();
        claims.exp = now().timestamp() - CLOCK_SKEW_SECS - 1;
        assert_eq!(check(&signer().sign(&claims).unwrap()), Err(TokenError::Expired));
        claims.exp = now().timestamp() - 10;
        assert!(check(&signer().sign(&claims).unwrap()).is_ok());
    }

    #[test]
    fn a_token_not_valid_yet_is_refused() {
        let mut claims = claims();
        claims.nbf = now().timestamp() + CLOCK_SKEW_SECS + 60;
        claims.exp = claims.nbf + 3600;
        assert_eq!(check(&signer().sign(&claims).unwrap()), Err(TokenError::NotYetValid));
    }

    #[test]
    fn a_token_signed_by_another_key_is_refused() {
        let impostor = sim::TokenSigner::from_pem("kid-1", OTHER_KEY_PEM).unwrap();
        let token = impostor.sign(&claims()).unwrap();
        assert_eq!(check(&token), Err(TokenError::BadSignature));
    }

    #[test]
    fn a_tampered_payload_is_refused() {
        let token = signer().sign(&claims()).unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        let mut payload: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        payload["tid"] = serde_json::json!("00000000-0000-0000-0000-000000000000");
        let forged = format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(payload.to_string()), parts[2]);
        assert_eq!(check(&forged), Err(TokenError::BadSignature));
    }

    #[test]
    fn an_unknown_kid_is_refused() {
        let stranger = sim::TokenSigner::from_pem("kid-2", SIGNER_KEY_PEM).unwrap();
        assert_eq!(check(&stranger.sign(&claims()).unwrap()), Err(TokenError::UnknownKey));
    }

    #[test]
    fn a_token_from_another_publisher_is_refused() {
        let mut claims = claims();
        claims.appid = Some("11111111-2222-3333-4444-555555555555".to_owned());
        assert_eq!(check(&signer().sign(&claims).unwrap()), Err(TokenError::WrongPublisher));
        claims.appid = None;
        assert_eq!(check(&signer().sign(&claims).unwrap()), Err(TokenError::MissingClaim("appid")));
        claims.azp = Some(GRAPH_CHANGE_TRACKING_APP_ID.to_owned());
        assert!(check(&signer().sign(&claims).unwrap()).is_ok());
    }

    #[test]
    fn a_token_from_another_issuer_is_refused() {
        let mut claims = claims();
        claims.iss = format!("https://login.example/{TENANT_ID}/");
        assert_eq!(check(&signer().sign(&claims).unwrap()), Err(TokenError::WrongIssuer));
        claims.iss = "https://sts.windows.net/00000000-0000-0000-0000-000000000001/".to_owned();
        assert_eq!(check(&signer().sign(&claims).unwrap()), Err(TokenError::WrongIssuer));
    }

    #[test]
    fn only_rs256_is_accepted() {
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"JWT","kid":"kid-1"}"#);
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_string(&claims()).unwrap());
        assert_eq!(check(&format!("{header}.{payload}.c2ln")), Err(TokenError::UnsupportedAlgorithm));
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
        assert!(check(&format!("{header}.{payload}.")).is_err());
        assert_eq!(check("not a token"), Err(TokenError::Malformed));
    }

    #[test]
    fn every_token_of_a_collection_must_pass() {
        let signer = signer();
        let second_tenant = "bbbbcccc-1111-dddd-2222-eeee3333ffff";
        let tokens = vec![
            signer.validation_token(CLIENT_ID, TENANT_ID, now()).unwrap(),
            signer.validation_token(CLIENT_ID, second_tenant, now()).unwrap(),
        ];
        let valid = validate_tokens(&tokens, &jwks(), CLIENT_ID, now()).unwrap();
        assert!(covers_tenant(&valid, TENANT_ID));
        assert!(covers_tenant(&valid, &second_tenant.to_uppercase()));
        assert!(!covers_tenant(&valid, "00000000-0000-0000-0000-000000000000"));
        let mut tokens = tokens;
        tokens.push(signer.validation_token("someone-else", TENANT_ID, now()).unwrap());
        assert_eq!(validate_tokens(&tokens, &jwks(), CLIENT_ID, now()), Err(TokenError::WrongAudience));
        assert_eq!(validate_tokens(&[], &jwks(), CLIENT_ID, now()), Err(TokenError::NoTokens));
    }

    #[test]
    fn a_key_set_skips_keys_it_cannot_use() {
        let mut set = signer().jwks();
        let keys = set["keys"].as_array_mut().unwrap();
        keys.insert(0, serde_json::json!({"kty": "EC", "kid": "ec", "crv": "P-256", "x": "AA", "y": "AA"}));
        keys.insert(0, serde_json::json!({"kty": "RSA", "use": "enc", "kid": "enc", "n": "AQAB", "e": "AQAB"}));
        let jwks = Jwks::from_json(&set.to_string()).unwrap();
        assert_eq!(jwks.kids().collect::<Vec<_>>(), ["kid-1"]);
        assert_eq!(Jwks::from_json(r#"{"keys": []}"#).unwrap_err(), TokenError::BadKeySet);
        assert_eq!(Jwks::from_json("[]").unwrap_err(), TokenError::BadKeySet);
    }

    fn sign_value(claims: &serde_json::Value, kid: &str) -> String {
        let key = parse_private_key(SIGNER_KEY_PEM).unwrap();
        let header = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"RS256","typ":"JWT","kid":"{kid}"}}"#));
        let input = format!("{header}.{}", URL_SAFE_NO_PAD.encode(claims.to_string()));
        let signature = key.pkcs1v15_sign::<Sha256>(input.as_bytes()).unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }

    // Test vector of Microsoft's msgraph-sdk-dotnet-core repository,
    // tests/Microsoft.Graph.DotnetCore.Core.Test/Extensions/IDecryptableContentExtensionsTests.cs
    // (a dummy certificate published for tests as a PKCS#12 file with password "rich", and an
    // encryptedContent encrypted to it by Graph). The key and certificate below were taken out of
    // the PKCS#12 file with openssl, unchanged.

    /// `data` of the vector.
    const NET_DATA: &str = concat!(
        "FFYlP1Bgb/fWW2kHMZiq4Y98E+XL0QTWEnGogTF6RRS+i3KqlXw35yy5ax8fEOzJbLc10ky24Ij+5ei2Hwqkzhph35XdLIsV",
        "sJZlQNYBwOu4jKvYbbhc1uHpQ/QBbs4IcdtWKCojqnDYcJmhwkzOZYHUr6XFHHD0GbO3y/wE0BKxMG6d5gNMfbT08OSWl+bh",
        "ETeGVif8GTgZ0CNA6j7Xlq2T9Jd512cEBtEbXgJoISJVyOo4YzSirrb4R9xrlw9ASdz+oEzKZeUh0NSKfihjvevg90f7r5ZC",
        "HH1bP13Fxi/9NxASS7Sv28kvQbl+bqjNvCXK/Ol7rQr4DfMXPG82BGYU8n5AmWBztTY4mZLR59896coFz4CCDai4aSWDO1ld",
        "ldvW9eqsnWTukQSwef3nHMMwTNxGge5YRMFKfVjOKr55xI7bevi2pZ6iZm8Kp8F+Gi+5V1uDpUFqeeFG3z03e7TfqczNIHdI",
        "jqxFpdYlrh/7ySd3L3q4D3TTvVCRdrbjuJ4oZeuFG4PQbAmJBcMwLrWDBmAykTRtrMT1Y1Ur1lX6lTiikGkrlV1VPizykLZm",
        "kq6jeoJOnMVLDWpNlQSKKfDicHRWoBHxDHc/g0aPs1g9Jd0I06YsViJsEhvRz5Kwp4jAbyDff1XVExYPKRA07EfbOl5dLReE",
        "6ATcJGBr1dI4VVECRS7yW+uYTxoUUyePUOGIPGgpCBzJGYoRXKpBibcRib4Xs6WHVrEwNkN2RTHneh7NdzUmPiv5RoTSBFKR",
        "gysb5pWt1aUwIOnvjxLPIvTJmOob6nYvR/qCkfczEDzofYjG8H/7m2n/tqVvrs73QH7bIgapSU6GMhg41+Sizkjo4NRaIg2x",
        "rn7KM9NRJpjhsw5IyPDf2VgJlO9CruoCOHnbSlXCMeQUXATmXc7+bp4Zg18D2IXDryHhmc5GaBgrhzKjZtfvFzkLjY57VXOD",
        "rsUB5Erya39RaX5bkqDXgzxHR3LWXZPlfuXCPKG5sPc1fGcPnS3+xONICej5xGxzdEo/t9esmGPWCSv3EyxBY+r7PIsNQ2gz",
        "wE5WERiRE83NHXrM1sYoSg83NqL5yZ/ohhR8lU3MTJ4xypnAglh+UdYIwqKaO4LKXaSO1Wg2MXWFAHBNVAYY64OrxUwm4kUS",
        "5T8CPypGKm5qHWJsWZ2dryGTwEoAKfVM5kWfhQ+56jpwN0AxCtgvGBvt7FX0S5UFa9rMf3EYgsXDQLw+o6N6W9LRC+nmQX+H",
        "Tyl1mgHf/aGx8EW3DH3Ho52WgBf5IJ/TsvhLpDF6SKZrKLa1qm9PzShR0CGkLl+39pOT9bvcYhVW9I/mI6qv/84ben4NC0nD",
        "V31DdGTlB/pY7pIpmQuqSUQi+QAOQqO6oAYP5hh8EySQWapIyGdLE3R5HXEQJNVRYZM3BFlQ68HdPOi45KOp3PUAll3GNyxv",
        "jzE4UfeSTNGLMEll4Q2V3DlP1JcfIQNBi2SrVPtdq2A7l5NjyPoLnxKF8aoDWfunp0dAJcleZNecO1YSXliGeisSiuumCTBK",
        "oLlx18XUZ4lfimtFChOnqC80RoVGSMTkM4anng99IHLUp/cOwRvnPmThGeTJX294ZsGlxrjmS3p/6DACHZKzy15GHYwhioMU",
        "DmcmXVYC2EkN/QPFd/nGUi6KM/dMpJ3mqXxyqP+F4d4b+Dv64QBijF5OFUffc9c46r5aoh0enIdY3TmC/hFloCQlHcrU83LB",
        "O2880TKnJI5xPbjjtZZxjA==",
    );

    /// `dataKey` of the vector.
    const NET_DATA_KEY: &str = concat!(
        "PfUrKAM9G3k7Bx3XUAQ7jJwvceKrJwO7immbL6c+cFU2RCRicRAAA35C5c2iuEItNxQoXEHBei9aalToPg6XaOVqU7Y2U0vY",
        "Z/OPJ9+7gXRk4zYdLTWQgZMeXaaNgJIE0xc8BCuYKacT/iB6aY9JHmj2rbR6EDbMTKWkVBe+Z/qtQFhJFq9WBLXsh719qLl/",
        "MQarYCDrTNQtryF0WXn0UuLh2OIJYV9T8eSv4j1ZM0WDKw0X9MLaqFPZsZ0SXX4t2EArdnrCBf5duPPCcmfhnvrimqiynSJP",
        "DQT0e63oLlpW1z37TvZTeyORY1YTQRmaKWD91fiYtuVmSSVVy2vg+Fm7UIG082bc8y7LT241Qd5RosJaf1w+JPZbttjm7I6u",
        "T22XOzaNRouQWx5UxRvWllm46F3pFNq0dn0lztdsW0QckAV4M86wwObVZbqUbnDZ8YloHz0XRRg7cU0H1K60fPMAo7PUoMV+",
        "bJC9HzB5O8jpTScDd4yOYZPB1liV2PHRHuIB23lVUARe3MuMo4i+hAc/ftK9s7yvREBuBSD0wi9R6qCygZ09YwrqfXZjRlKc",
        "Fnz6EE7sqT1tzs4OxdT8XgAdveV6PU968kQhemaTsSSrmpvsVn46mMb1le2YY5PUukxZoUFiDMZb036C56HAQ2cyWZkNweDx",
        "DQXdHOvvfmU=",
    );

    /// `dataSignature` of the vector.
    const NET_DATA_SIGNATURE: &str = "wAtDAqtryLgLo4zhy8BOpqTjf6BYlGv1I9acDpKQo5w=";

    /// `encryptionCertificateId` of the vector.
    const NET_CERTIFICATE_ID: &str = "custom-id-for-testing";

    /// `encryptionCertificateThumbprint` of the vector.
    const NET_THUMBPRINT: &str = "4B95353E086AD37196606ACF834A14532F03E6DB";

    /// The vector's 4096-bit private key (PKCS#8).
    const NET_KEY_PEM: &str = "\
-----BEGIN PRIVATE KEY-----
MIIJQQIBADANBgkqhkiG9w0BAQEFAASCCSswggknAgEAAoICAQCsPaiEByY/PCA0
43x8izLTDEAf+zENzYYJgCGp0ea+0aFW7v2xLg1/+Njzk+kf5uNDJf/9rmXFd8hM
L+yXvIhtgMmzNLWmj73NwwmtJI/zp2TTominJjPHWZ3ioOd1C71+dS//HCAvk0SU
HPu9VMhA1YsrpzwhNloP+OFsdYyhRnzSEeQOej4FjAwqjFfjngsqLh7VJFoav1CS
h6s3M/A4Y59FdpUw8kfuDhKZTDMQeXs1CLOxc4BV7JIoWw4owCWYU3JIEp5S86ub
Dbs5Ft6BYCd3h39vNJeJx/S6K0gF7TeVMARzxEHUP+2ScUngG4SKyVLmy6/ngA+6
jxnTU5E3UY4+ojRGjbpHP1c7hwak3UU4Kj5by/UDug27jszGzNc0jRcW2KEfcfnK
0EAC92Lpevl1+bROJ0H212M86Cxr0wWEctmqwP8+Moh1eQAoH2/rNkg4rMGYytbp
edM8pMXYJb8FQ8q5Kcp46MTGnHU7Mgz0yDYUYXUFsDiIpa7bZ1Hi70wumeH+1f3J
E2+0COrahOwz7HlcityXtXOuRGdp77Hqw01W509bNUlcM2Tguw9ivZoezKRGk4LK
mPCEo/TXB3bKIEfdCMpMTKnJ808OWHeUy8ygHy0aVouBqH+DCwjj3lOcK04zQakq
aZlieq0qYS8O6tHUEegdccu1zfWoMwIDAQABAoICAFmnaoz2r7jgkh8VflnRlu32
BXbgKGN35FoToPIlOQeAVIvMsK7GOu6u2DbJeeJKK2drYzlnyr+jntXRaER/NUBS
dirat+bwESsGZ4YBbxCzxC7I7dJ7dx5ADofFm1T4fHVTiF0xBavd6ydxgrPFassc
nGlnjkv3X5/Ku4PaGA5mg1hRSbUjeh8nC7ol/SWUwVj+Urw9RM2BYe4zwjJkzZh8
eo4MsJGeu0Q1fQbgfAAKS9CKLAalCVswXc+1vcQGaEtGvEi5sEGbZmq6FgccWUtc
go6cL//xjyN/umohV0cGeBUmvlqIAH/7mqzMXVjS2gXnz0glI/XLWeSQ0i+G4yHd
8hb0bUV9cXZlX73C4J+XUkXeorHIjJdTY8wuDcYevqJn8/CPN5cGWHVIgcc/gwEH
MjDl4vypquAUGmzMekC3kuE5LR8U1QLgp43ulc97d3BcIHYZEHWWYLRQUnMTdBOW
9Uwm4+qEY3DryE51m0ZDOAJN377XcNou67TzInjbwGf+MvC1/EF4C2cKbsTvT5F0
KACiBUbWJW3yxGwDdJfC1Ko8+Ti6xcwhpUVR04C9J0ZdVXxp2idcH+Se8YSnlwN2
Gb5N9BWw5xU+C2sf7ilP/qVWhTVgDIDRiyw9EPauF4Ju45vjBnjNEZ+pdbhE+dfs
Ew5ClJ9fjZmbu7/pSBfRAoIBAQDj6yeaSEOF/nQaRFezMS6Ev5RmXADRPI/bvEVv
FZ1tOd2IwnN5vUcV+A22GWCfvlabWbg5M//PR6HBGh2N0OcKH5pl1U5yKBuy2slr
bAPv2GV8tgLSO2O8OT3qTSMyzS1M+NqH3iuj1y/mI8XwiEW3DNmwzfIcMFMDkwEO
1L6S1vk2yKPPQIUNbmOS7URi07enoT8Ig+0JEKT6tzXLfru/+MRehqJY2qExcmqf
pPBFLI9Dv0/ccaqUT+weHn4gAP3+VimhSYpNikihWqN6g1Z27IosfUvdG5zda6AR
dHc67CiZIDD90Dz+BsrJfXJQCwpajU3cvgoEI0Bx/KtrLu/bAoIBAQDBdltHvP1M
hwwLgUmF/p0AcW3BlWbCcv3+8HB5YRWDRSszj6gv9qRchV6wTMYRp38VLocvtfdk
V1g9NSGczydTTG8x2pik7lNkk5bzDWP8oS6SO+ounXsx8duNMRQJAz+T3m+A7k5J
zWSOuH1jl48buLwAz3j50C3JdQOjrIm7sskhvfUnJ1RdKDlxyYQF1/kLSMY+FKH6
mgUsh/5UmQTShaOGogaSp44cSy5ABCaT6zg90ATRXXVTAblk1rnsi3mpFW1e0aEU
Bap+GtPtdUesSq4/n7ASxqvq/1ftHENn1/yUJ7LH1XNMtDifwtUEhGppLFgbkjuB
SwMRIkZ7PaSJAoIBAEhzey5XJGfW4E9tRDepPbFjOShkvLnGt7BRI/1Q8K9FAsAz
mAOuAIfiR3GIlaeSGPPfTGmatwnMKoY46AYpzxfvveP7L6moSE3NsNOeDY5Tyscf
ELyFtomh5KWzianfgTQDs2wXWuYFRKuy2XxBxW+P/S9v+DOvxOPQ+jgdtsr03Vnl
4/TA/MqtOaf+FowX4zy9TE1HqrUD/n3YeZhLnCFFUh7+S2NVdIJEbdJ72wkSRiRy
D0/zLhdhZJyactt3lUYhW7BysS0+9SGdr3QFhhndzXqhBdmuqmnUiZii3jfz1GAA
1LIKXSkfPZ1ZbFo3eD4axxKRsptoHVdey5sR25sCggEAXgdVlEeB4Wkd7JWZE5xN
2MJIszcXK9lSJE/eitAp8ZRzy+q9txoshp94Bz45YqlDNhtYL1NE+6sMQyuIu7tf
hLf4r4VsfXUsaQzm6BkRCN+aUA744lE+aGcB69z3vO2sQAVzsnmg6XP/tPJsVzR5
pOKj1c0BIoIRTwIlk66vfuAFq/W0qqQN9/0t9mUYWvK+o8JqQBAtLi0f6KXsclex
JVU4xp4Hjc4MXyoXP5wE2A4SVtC9FrlS5dZHsoA++35K0miMsPI4VQ/v7rzBVn+T
J2VgzaGipW2Ub3JN3PvIszciFyw4U7ImCRjrEJNUj46AXb/kzvnDHDNGOVSsZwft
6QKCAQAL2wsur8hbI2+Er3MaX71YA5KPxxbo86B3EZQ6TM0txptNIT2FFIoYESOD
yYKbU7dmRVUScZM1yL0b1f575R25vmGRGpAxYD9AuYLosoJoQxT/1FNTBXmrcdAB
mAlczTnXajr/i+wP5KzhnW3VF6zS2UAMHf3g3e/Ysk0/vuFw00T5E++y1kmysSAI
HWpMvVnCBpBXAaOvEx1unk4i4ug8RA5ABw2xVO0v8cflX9Zs7MZRAjxxG9aUHcLx
W1YmLXZu1I5DWq/TjyiNuRlwLUMQDmRclEX/l/MLLEDI45aE4emM5uJ4WsnILpJd
Q1EtRV8Fa2+z4iDmxFDnDUV5ESui
-----END PRIVATE KEY-----
";

    /// The vector's certificate.
    const NET_CERT_PEM: &str = "\
-----BEGIN CERTIFICATE-----
MIIFJzCCAw+gAwIBAgIUCUun8q+BPTWdtgHqfM/hngVG3rMwDQYJKoZIhvcNAQEL
BQAwIzEhMB8GA1UEAwwYcmljaG5vdGlmaWNhdGlvbnNhcHAuY29tMB4XDTIxMDYz
MDE0NTUzNloXDTIzMDIyMDE0NTUzNlowIzEhMB8GA1UEAwwYcmljaG5vdGlmaWNh
dGlvbnNhcHAuY29tMIICIjANBgkqhkiG9w0BAQEFAAOCAg8AMIICCgKCAgEArD2o
hAcmPzwgNON8fIsy0wxAH/sxDc2GCYAhqdHmvtGhVu79sS4Nf/jY85PpH+bjQyX/
/a5lxXfITC/sl7yIbYDJszS1po+9zcMJrSSP86dk06JopyYzx1md4qDndQu9fnUv
/xwgL5NElBz7vVTIQNWLK6c8ITZaD/jhbHWMoUZ80hHkDno+BYwMKoxX454LKi4e
1SRaGr9QkoerNzPwOGOfRXaVMPJH7g4SmUwzEHl7NQizsXOAVeySKFsOKMAlmFNy
SBKeUvOrmw27ORbegWAnd4d/bzSXicf0uitIBe03lTAEc8RB1D/tknFJ4BuEislS
5suv54APuo8Z01ORN1GOPqI0Ro26Rz9XO4cGpN1FOCo+W8v1A7oNu47MxszXNI0X
FtihH3H5ytBAAvdi6Xr5dfm0TidB9tdjPOgsa9MFhHLZqsD/PjKIdXkAKB9v6zZI
OKzBmMrW6XnTPKTF2CW/BUPKuSnKeOjExpx1OzIM9Mg2FGF1BbA4iKWu22dR4u9M
Lpnh/tX9yRNvtAjq2oTsM+x5XIrcl7VzrkRnae+x6sNNVudPWzVJXDNk4LsPYr2a
HsykRpOCypjwhKP01wd2yiBH3QjKTEypyfNPDlh3lMvMoB8tGlaLgah/gwsI495T
nCtOM0GpKmmZYnqtKmEvDurR1BHoHXHLtc31qDMCAwEAAaNTMFEwHQYDVR0OBBYE
FAsnpj6alZTJQU8m0qjhXdlAw6kXMB8GA1UdIwQYMBaAFAsnpj6alZTJQU8m0qjh
XdlAw6kXMA8GA1UdEwEB/wQFMAMBAf8wDQYJKoZIhvcNAQELBQADggIBAKvlcvkv
Dj7muNiW6L0U/1Um2JROJTGaFVK1lk85BcyeLWP5ULH43FHlCcy3g3cDX+NJEtSF
G5xN9mX30SnsJyRQ8Wur/h/KyXiHn+lcYi96NSyYSJo53XVM8eTSMsGFd0NXKLSx
WO2efc/lBOhSjFAIhP0YXdgVtnrpzvyAcxMspiaW+AouSZabvpmGFlGGo9bU53yk
k/IYW09lZGbeuz7x1zT4RI6zRAMWOyC+uKbJI6HkY9uKu5wejR1pJTP1xV1lrKjX
jY/gMbvurJlw8TqST6A2Ttqk682YfRCTiZuo9g84PbW12xc6hEHLaAEaAACC1qbq
W/IM6OiOWHTXgOR9+RQma5wNA227QZmyBD2mwQK7ydeI4uHDZBNvqV0DEReTlv3W
Ycp5zFkUTozhwAhRLcElUB1vz9DXW+lT1BaGsMKyJIDLFPKuIh48YA2a6PzSNyiy
7L4XSAGS1BoHfGT7vsopv9FBGWUh12ncEhOdI1Ig8Hk2ECxWoUC/7xN3kULA7bWN
nGA7Y6DY5o2uZxQ8zOH0KmXUy5u9AKAKACOhRqWTi818QjFYmtKya+Xg9GFroW55
GMgd1CwjAcmujXL26nkQ4QQIgdHCcF/K1tNsZPdD2CcZLz4B1u6MouC0+AboNdXI
AjhMIn5ngTHZ3BxhW3xj9eS14IYuzzTLmFXb
-----END CERTIFICATE-----
";

    /// A 2048-bit key pair made for these tests with openssl (no other use).
    const OTHER_KEY_PEM: &str = "\
-----BEGIN PRIVATE KEY-----
MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQDdsQEjXFtxD8F0
9ucaeQYidHuiaRHIXPf4mUTxCmGOo0l80AsWZIav6GnL95MQY4RsoLfwos6snx2B
8OdkH1KkCpXvOEM1lfJjGv+A37k2L8S+SLs59C0Q9XSiCi12ae4cJc2plvI2G7iL
TQYoedOtTspEUDNwKlRbzSt1xobY5+KIQy5HDWJHw95qk8O6et3z7JbLxS6R7N98
brD0qzP6P1t05Ll8nUfQU0iaOF74xUPureISDE8LdeHcvdhWiqCMoF+b9uyfqLtw
rfqIkyInfp25MQXqGxttYoRq8Wjfjf7OoCTJLwDRgC2xi9Ffe0riiz6vOWBjXYMz
C0ASQPKpAgMBAAECggEALeb7SxjRtzaRsjf4UJcsAcDYI5/5RmEXmBIWQAmL+yaM
rgr+rLeKWsx28Xx05zEP55UcmPcA76WvjKr2oljI+f3WHzbpVaRTUJlzu3m3ZgSc
imDRYXXRSgBk0rNkR+81lf7u11VRmAoD21YKtyFIhss4Xs4zZF9jYbG49LUzUSBJ
pl2f9UuItbUeQvX5lXFCAV15sJL29Ds8kqSlFd+NMEpISl9KXGpYEUhXbROJfFQL
AEEEPC3Z24tgvV1lUy+W4/hZXqmRDiR25p2ajOT1sbFtokvLISIbJIZuiKH7k2xr
w84X5hYE2TJXokEMCBPmY05hMNqwehaZtkeu2uWm/QKBgQD2PwZWLPXD/vSQwU1q
wgwpAHNBgc348LKhkAD3yBTdWjEDqGMTDYDTA9HDgvBD/zxiScubi1Gwz2zCVlNo
UR+qLiqrTpwGmj9Dv1CLm++Lyybt9wzHulBWkeZCqyjs77sFd8CU8hw4J910+tGq
UOnF8nN5y2Hmm9ycBv/p5PmWTQKBgQDmeP2QLI1i00RRMTqtqyrHJP8JXSO3paXa
tlKvTW3zbva+1G7iTfOBGfqSMwTz1gsfYDQoGhv6PSAZxW7ylAh6dZWYP7xCW+tY
oRkeQ9b/tRto7HQaGS/P4vDIfDrv554g0NsC7i4xIYWw1LXfx93YUccs/+DJ/ETT
LUguFNtzzQKBgGrqbG7oMIE75qYfN+TdgfgfeOt9V5f5siWR58mtttlw+o0TBIlW
OJPmOaKA7J8pZ+dpER1k/UAen6M1ZhuJ9YynZOFiTT5UpJlerLMhLn3s4+c4d/UU
QSOFT4us0yUk5Xf3Sceh43zCWlYbPQONBCNtJJRCKSy+iae5Jk5Am9mVAoGAI4dt
V2d22FBHTNjw+crUSmTqqA/irLHtknze3EVseMWXZi2rdlmb+z/8/8K7tbc+ebTD
9Zaoz3fS1gY4p06oy/AKgrD4naY77qrPC3pbz4mk0xT4hPlzBHIwukdkco1bNCXe
TWJYXpyTVoJEE15lVa6trMM5bQnltkRZxzjR59UCgYBDQhP6x/VSNe2/IlFcibeP
8c+ox3ojWF95QBYn0VhqakLQIZovsCnDwOm0oyldE9d6LVhfyNkpD1yVJ9mGY08F
DxlRfEwlJVAMg/LU50hdZSq4J2O2etxoAvGRUQ64sgXUj62hwlmePwyIlFTTEiNQ
Qk5eQcYM1DRr/idguHH3uA==
-----END PRIVATE KEY-----
";

    /// The self-signed certificate of [`OTHER_KEY_PEM`].
    const OTHER_CERT_PEM: &str = "\
-----BEGIN CERTIFICATE-----
MIIDLzCCAhegAwIBAgIUMAf70Xp2KjRbSua+CvWpH7CfIlowDQYJKoZIhvcNAQEL
BQAwJzElMCMGA1UEAwwcaGNhbCByaWNoIG5vdGlmaWNhdGlvbnMgdGVzdDAeFw0y
NjEyMDIyMTU0MjlaFw0zNjExMjkyMTU0MjlaMCcxJTAjBgNVBAMMHGhjYWwgcmlj
aCBub3RpZmljYXRpb25zIHRlc3QwggEiMA0GCSqGSIb3DQEBAQUAA4IBDwAwggEK
AoIBAQDdsQEjXFtxD8F09ucaeQYidHuiaRHIXPf4mUTxCmGOo0l80AsWZIav6GnL
95MQY4RsoLfwos6snx2B8OdkH1KkCpXvOEM1lfJjGv+A37k2L8S+SLs59C0Q9XSi
Ci12ae4cJc2plvI2G7iLTQYoedOtTspEUDNwKlRbzSt1xobY5+KIQy5HDWJHw95q
k8O6et3z7JbLxS6R7N98brD0qzP6P1t05Ll8nUfQU0iaOF74xUPureISDE8LdeHc
vdhWiqCMoF+b9uyfqLtwrfqIkyInfp25MQXqGxttYoRq8Wjfjf7OoCTJLwDRgC2x
i9Ffe0riiz6vOWBjXYMzC0ASQPKpAgMBAAGjUzBRMB0GA1UdDgQWBBQ6bxzsIs8W
z8wi4W9EuevVzYI5EjAfBgNVHSMEGDAWgBQ6bxzsIs8Wz8wi4W9EuevVzYI5EjAP
BgNVHRMBAf8EBTADAQH/MA0GCSqGSIb3DQEBCwUAA4IBAQBNUiIAXxzBy5dOBFsv
EA8HSGy6T++ns0E0Hic2nJCa85ZgD4mYFtgUIBx6G+mwPj2hkYYqv8l+XALqxBAO
Gp6r68KWxRs7MxQwwHd0EWyoogg4tr6Ysag5oXaibW7lWjNIzlyEhNs/EIQqIZ5a
vNRGdOp2O3DTSfTTa3e4+ZqYkPAs2f7t/IRaAYssJrlZ7YgNMNkWvp9Plswi/IM9
HcWXNx+A2puCPPAb2RuWuIP4846QHgh1MImWGdEt/Z6qXcFbesX55N6zwiSOPEbv
mLGVGFOVVJj59lWze2MkFP/4L/jxIQpjMrNx1/ACAxzxQvAYD/3Uni4pOImziC1r
PH+W
-----END CERTIFICATE-----
";

    /// A 2048-bit token-signing key made for these tests with openssl (no other use).
    const SIGNER_KEY_PEM: &str = "\
-----BEGIN PRIVATE KEY-----
MIIEvwIBADANBgkqhkiG9w0BAQEFAASCBKkwggSlAgEAAoIBAQDdkqDVVVaNSXgY
MZCAfP8DVLxL+OIgrxoF7NJeEF6XMtK4nxL351X4RNFwTfpLK2jGiMH3H18Z0oG9
KwDk3nI12CgNis6Y0Ua604vJziAalQsBnxdX+jVjpsV8Qh6ZO1pIN4CSGB1wmZ4t
nzFCOfvusFAUhQaa9pzQRDR2/8gK6LJDF+VfD/ZqssTUxe/A/ezFH4e9G5QAqONH
Sq3600eIuQY9rMZG1EqLQ25Mv9ElQNUuNg7B8mzNwMw/IO+C3vNM3RJW+/xMRz41
JeAPVNYFqitTMtV0MO7QpXudHcCIsfh8B0Wb9eT5CypGoTIyNxtq9iktA7P6AFup
j5wDIxsHAgMBAAECggEAH+urWwCP1wvyDr45PKGFVZQECofg/+dp/teG2QFPt0Wd
oPZd07QSqRE1ARJi0CiBUDTMiM8OstgmU7vZxZ8cYhBxeL36FH71yx2F4n1dF6dI
LiQex1BnF6OjiMq3wMiRsZy5W5K4zwt6g8UO4iUbW+AvsT0W3gVQQxrIWipwRc3K
i5BBP0iWbEUsnndDChVcTFC59CmPfJmMvFNLcKLYJHavnirdaInezxFnLf2TYM4e
L/sR5GlvZJdrAMJRgtm0liA4M7nbqCQlHfludv0wJOQG1qaRnySHQffpInmg7VBY
jrsEQobP0eGw/0K4e+qPu7XO+2NT3cgbQt7XLhKZ3QKBgQD5FBFUbCYWviMDGcDN
ZsT1B6gKeQsQYvA8a6raudv2+MdK4DsEZndkH5pR1nabkSEmFuGsvV2a4hFifkmz
r4apkbMf7VZhpvpqoQoWtfx10n7zkxYhCNWcGCVtkiDPUsMs6MobDLg4pQPEG0RF
5RFu7h5rNaPFoAWpvdVai82YRQKBgQDjuuMGQg0d5Ercu41Q2BqCC6nxGfEnALOB
KKfDNDbxyhGI6MIfRjzJi6LeQEfl1q0O7JA2z8tdo91NMnRlBW7H8/JQHw3A4H7+
mxNbCVcZCUJMppmc9bCkHjcPbckaLpdJhOgwr6rvPb2Y397qhYszCQJY1otf+JzI
iOgXVTP42wKBgQDRaHDFdIN1XXfcNHundP6kL0K1Q1zs8vGdKrwjVl07v572MZ0M
rwUzlWpN4awoUJT5DAXCEBcxj10kXJ6kRi9GQyvA7O5R/WvN2AS+YVSWzllTeVcC
gQXuTVKyU0foZmGXUUQSB9ieLwYCixYUWWkVxXanlhpRnZ8FPYexr5YzrQKBgQCw
Yst+yGAye+WELHybVpbJjVE2nppLVF60tpGiP2ojQxjryyS4ZoWksdQXgwBtRCbM
vWxCGBZzU/2P0nmW2Wth0lAnwLW9Y+TZPbHzPDvK94HzrsKicSY9J+4LtEQkVFv3
pMrXEuk53r9gjl2xlngnsl2wA5T2Y7DEHk5t7B+SKwKBgQDtMbwWRkunoJpOx23h
zYb2bJGgbKWr4eDkwSa+IeDPyDa7zhyaQbp+KnyoLqoF+rqedNk3a5TdCn9oC6qN
Sh9h4l8oKlcXlQGbG1JuaOHbYKgH6NvHjfdgnF1doRro46mm9yAhAzr+Qr57ZGo5
Ksk0uPdH1vXSQI57mu3Qcj0drg==
-----END PRIVATE KEY-----
";
}
