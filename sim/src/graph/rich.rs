//! Graph's side of change notifications with resource data ("rich notifications"): encrypting
//! a resource to the subscriber's certificate, and signing validation tokens.
//!
//! [`encrypt`] follows Graph's scheme: a fresh 32-byte symmetric key, wrapped with the
//! certificate's RSA key by RSA-OAEP with SHA-1 (MGF1-SHA-1, empty label) into `dataKey`; the
//! resource's JSON encrypted with AES-256-CBC and PKCS#7 padding, the IV being the first 16 bytes
//! of the symmetric key, into `data`; HMAC-SHA256 of the encrypted bytes, keyed with the
//! symmetric key, into `dataSignature`; and the certificate's thumbprint (upper-case hex SHA-1
//! of its DER) into `encryptionCertificateThumbprint`.
//!
//! [`TokenSigner`] stands in for Entra ID issuing the `validationTokens` of a notification
//! collection: RS256 JWTs with Graph's claims ([`ValidationClaims::graph`]), verifiable with
//! the key set it publishes ([`TokenSigner::jwks`]).

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockModeEncrypt as _, KeyIvInit as _};
use chrono::{DateTime, TimeDelta, Utc};
use hmac::{KeyInit as _, Mac as _};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rand::RngCore as _;
use rsa::pkcs1::EncodeRsaPrivateKey as _;
use rsa::pkcs8::{DecodePrivateKey as _, DecodePublicKey as _};
use rsa::traits::PublicKeyParts as _;
use rsa::{Generate as _, PrivateKey, PublicKey};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha1::{Digest as _, Sha1};
use sha2::Sha256;
use x509_cert::Certificate;
use x509_cert::der::{Decode as _, Encode as _};

/// The application id of "Microsoft Graph Change Tracking", the `appid` of validation tokens.
pub const GRAPH_CHANGE_TRACKING_APP_ID: &str = "0bf30f3b-4a52-48df-9a82-234910c4a086";

/// Smallest RSA key Graph accepts in `encryptionCertificate`, in bits.
pub const MIN_KEY_BITS: usize = 2048;

/// Largest RSA key Graph accepts in `encryptionCertificate`, in bits.
pub const MAX_KEY_BITS: usize = 4096;

/// Lifetime of the validation tokens [`ValidationClaims::graph`] describes.
pub const TOKEN_LIFETIME: TimeDelta = TimeDelta::hours(1);

/// Length of the symmetric key: AES-256.
const SYMMETRIC_KEY_LEN: usize = 32;

/// Length of the AES-CBC IV, taken from the start of the symmetric key.
const IV_LEN: usize = 16;

/// A notification's `encryptedContent`, as on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EncryptedContent {
    /// Base64 AES-256-CBC ciphertext of the resource's JSON.
    pub data: String,
    /// Base64 HMAC-SHA256 of the decoded `data`, keyed with the symmetric key.
    pub data_signature: String,
    /// Base64 RSA-OAEP (SHA-1) encryption of the symmetric key.
    pub data_key: String,
    /// The subscription's `encryptionCertificateId`.
    pub encryption_certificate_id: String,
    /// Upper-case hex SHA-1 of the certificate's DER.
    pub encryption_certificate_thumbprint: String,
}

/// Why a certificate, a key or an encryption was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RichSimError {
    /// `encryptionCertificate` is not base64 of an X.509 certificate with an RSA key.
    #[error("the encryption certificate is not a base64 X.509 certificate with an RSA key")]
    InvalidCertificate,
    /// The certificate's key is outside the 2048 to 4096 bits Graph accepts.
    #[error("the certificate's RSA key has {0} bits; Graph accepts 2048 to 4096")]
    KeySize(usize),
    /// RSA-OAEP encryption of the symmetric key failed.
    #[error("the data key could not be encrypted")]
    Encrypt,
    /// The signing key is not an unencrypted PKCS#8 RSA key in PEM, or could not be made.
    #[error("the token signing key is unusable")]
    SigningKey,
    /// A token could not be signed.
    #[error("the token could not be signed")]
    Signing,
}

/// The public key and thumbprint of a subscription's `encryptionCertificate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptionCertificate {
    public_key: PublicKey,
    thumbprint: String,
}

impl EncryptionCertificate {
    /// From a subscription's `encryptionCertificate`: the certificate's DER in base64.
    pub fn from_base64(value: &str) -> Result<Self, RichSimError> {
        let der = STANDARD.decode(value.trim()).map_err(|_| RichSimError::InvalidCertificate)?;
        Self::from_der(&der)
    }

    /// From the certificate's DER. Like Graph, checks neither issuer nor dates: only that
    /// the key is RSA of 2048 to 4096 bits.
    pub fn from_der(der: &[u8]) -> Result<Self, RichSimError> {
        let certificate = Certificate::from_der(der).map_err(|_| RichSimError::InvalidCertificate)?;
        let spki = certificate.tbs_certificate().subject_public_key_info();
        let spki_der = spki.to_der().map_err(|_| RichSimError::InvalidCertificate)?;
        let public_key = PublicKey::from_public_key_der(&spki_der).map_err(|_| RichSimError::InvalidCertificate)?;
        let bits = public_key.size() * 8;
        if !(MIN_KEY_BITS..=MAX_KEY_BITS).contains(&bits) {
            return Err(RichSimError::KeySize(bits));
        }
        Ok(Self { public_key, thumbprint: certificate_thumbprint(der) })
    }

    /// The certificate's thumbprint.
    pub fn thumbprint(&self) -> &str {
        &self.thumbprint
    }

    /// The certificate's RSA public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.public_key
    }
}

/// Upper-case hex SHA-1 of a certificate's DER, as Graph writes `encryptionCertificateThumbprint`.
pub fn certificate_thumbprint(der: &[u8]) -> String {
    Sha1::digest(der).iter().map(|byte| format!("{byte:02X}")).collect()
}

/// Encrypts a resource's JSON to the subscription's certificate, with a fresh symmetric key.
pub fn encrypt(
    certificate: &EncryptionCertificate,
    certificate_id: &str,
    plaintext: &[u8],
) -> Result<EncryptedContent, RichSimError> {
    let mut key = [0u8; SYMMETRIC_KEY_LEN];
    rand::rng().fill_bytes(&mut key);
    let data_key = certificate.public_key.oaep_encrypt::<Sha1>(&key).map_err(|_| RichSimError::Encrypt)?;
    let (data, data_signature) = seal(&key, plaintext);
    Ok(EncryptedContent {
        data,
        data_signature,
        data_key: STANDARD.encode(data_key),
        encryption_certificate_id: certificate_id.to_owned(),
        encryption_certificate_thumbprint: certificate.thumbprint.clone(),
    })
}

/// `data` and `dataSignature` (base64) for a symmetric key: AES-256-CBC with PKCS#7 and the
/// key's first 16 bytes as IV, then HMAC-SHA256 of the ciphertext.
fn seal(key: &[u8; SYMMETRIC_KEY_LEN], plaintext: &[u8]) -> (String, String) {
    let mut iv = [0u8; IV_LEN];
    iv.copy_from_slice(&key[..IV_LEN]);
    let data = cbc::Encryptor::<aes::Aes256>::new(key.into(), &iv.into()).encrypt_padded_vec::<Pkcs7>(plaintext);
    let signature = hmac_sha256(key, &data);
    (STANDARD.encode(&data), STANDARD.encode(signature))
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    let Ok(mut mac) = hmac::Hmac::<Sha256>::new_from_slice(key) else { return Vec::new() };
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// The claims of a validation token, as Entra ID issues them to Graph (v1 tokens).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidationClaims {
    /// The subscribing application's client id.
    pub aud: String,
    /// `https://sts.windows.net/{tenant id}/`.
    pub iss: String,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// Not before (Unix seconds).
    pub nbf: i64,
    /// Expiry (Unix seconds).
    pub exp: i64,
    /// The publisher, [`GRAPH_CHANGE_TRACKING_APP_ID`] (v1 tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appid: Option<String>,
    /// The publisher in v2 tokens; Graph's v1 tokens have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azp: Option<String>,
    /// How the publisher authenticated: `2`, a certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appidacr: Option<String>,
    /// The identity provider, the same as `iss`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idp: Option<String>,
    /// The tenant id.
    pub tid: String,
    /// Token version, `1.0`.
    pub ver: String,
}

impl ValidationClaims {
    /// Graph's claims for the notifications of `tenant_id` to application `client_id`, issued
    /// at `now` for [`TOKEN_LIFETIME`].
    pub fn graph(client_id: &str, tenant_id: &str, now: DateTime<Utc>) -> Self {
        let issuer = format!("https://sts.windows.net/{tenant_id}/");
        let iat = now.timestamp();
        Self {
            aud: client_id.to_owned(),
            iss: issuer.clone(),
            iat,
            nbf: iat,
            exp: iat.saturating_add(TOKEN_LIFETIME.num_seconds()),
            appid: Some(GRAPH_CHANGE_TRACKING_APP_ID.to_owned()),
            azp: None,
            appidacr: Some("2".to_owned()),
            idp: Some(issuer),
            tid: tenant_id.to_owned(),
            ver: "1.0".to_owned(),
        }
    }
}

/// The simulator's token issuer: an RSA key pair, published as a JWKS, that signs RS256
/// validation tokens.
pub struct TokenSigner {
    kid: String,
    public_key: PublicKey,
    encoding_key: EncodingKey,
}

impl std::fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSigner").field("kid", &self.kid).finish()
    }
}

impl TokenSigner {
    /// A signer with a fresh 3072-bit key (the prime search is random: usually under a second,
    /// sometimes a few in debug builds).
    pub fn generate(kid: &str) -> Result<Self, RichSimError> {
        let private_key = PrivateKey::try_generate().map_err(|_| RichSimError::SigningKey)?;
        Self::from_key(kid, &private_key)
    }

    /// A signer with a given key: an unencrypted PKCS#8 RSA private key in PEM.
    pub fn from_pem(kid: &str, private_key_pem: &str) -> Result<Self, RichSimError> {
        let private_key = PrivateKey::from_pkcs8_pem(private_key_pem.trim()).map_err(|_| RichSimError::SigningKey)?;
        Self::from_key(kid, &private_key)
    }

    fn from_key(kid: &str, private_key: &PrivateKey) -> Result<Self, RichSimError> {
        let der = private_key.to_pkcs1_der().map_err(|_| RichSimError::SigningKey)?;
        let encoding_key = EncodingKey::from_rsa_der(der.as_bytes());
        Ok(Self { kid: kid.to_owned(), public_key: private_key.to_public_key(), encoding_key })
    }

    /// The key id in the tokens' header and the JWKS.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWKS document (`{"keys": [...]}`), as Entra ID publishes its keys.
    pub fn jwks(&self) -> Value {
        json!({
            "keys": [{
                "kty": "RSA",
                "use": "sig",
                "alg": "RS256",
                "kid": self.kid,
                "n": URL_SAFE_NO_PAD.encode(self.public_key.n_bytes()),
                "e": URL_SAFE_NO_PAD.encode(self.public_key.e_bytes()),
            }]
        })
    }

    /// Signs `claims` as an RS256 JWT whose header names this signer's `kid`.
    pub fn sign(&self, claims: &ValidationClaims) -> Result<String, RichSimError> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding_key).map_err(|_| RichSimError::Signing)
    }

    /// A validation token with Graph's claims ([`ValidationClaims::graph`]).
    pub fn validation_token(
        &self,
        client_id: &str,
        tenant_id: &str,
        now: DateTime<Utc>,
    ) -> Result<String, RichSimError> {
        self.sign(&ValidationClaims::graph(client_id, tenant_id, now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cbc::cipher::BlockModeDecrypt as _;
    use rsa::pkcs1v15::Pkcs1v15Sign;

    fn net_certificate() -> EncryptionCertificate {
        EncryptionCertificate::from_base64(NET_CERT_B64).unwrap()
    }

    #[test]
    fn the_thumbprint_is_graphs() {
        assert_eq!(net_certificate().thumbprint(), NET_THUMBPRINT);
        assert_eq!(certificate_thumbprint(&STANDARD.decode(NET_CERT_B64).unwrap()), NET_THUMBPRINT);
    }

    #[test]
    fn sealing_with_the_vectors_key_gives_graphs_data_and_signature() {
        let key = NET_SYMMETRIC_KEY;
        let ciphertext = STANDARD.decode(NET_DATA).unwrap();
        let iv: [u8; IV_LEN] = key[..IV_LEN].try_into().unwrap();
        let plaintext = cbc::Decryptor::<aes::Aes256>::new(&key.into(), &iv.into())
            .decrypt_padded_vec::<Pkcs7>(&ciphertext)
            .unwrap();
        // The first block is right only with the IV Graph uses.
        assert!(plaintext.starts_with(br#"{"@odata.context":"https://graph.microsoft.com/"#));
        let (data, signature) = seal(&key, &plaintext);
        assert_eq!(data, NET_DATA);
        assert_eq!(signature, NET_DATA_SIGNATURE);
    }

    #[test]
    fn encrypt_wraps_a_fresh_key_with_oaep_sha1() {
        let certificate = EncryptionCertificate::from_base64(OTHER_CERT_B64).unwrap();
        let private_key = PrivateKey::from_pkcs8_pem(OTHER_KEY_PEM).unwrap();
        let plaintext = br#"{"id":"AAMk","subject":"Planning"}"#;
        let first = encrypt(&certificate, "cert-1", plaintext).unwrap();
        let second = encrypt(&certificate, "cert-1", plaintext).unwrap();
        assert_ne!(first.data_key, second.data_key);
        assert_ne!(first.data, second.data);
        assert_eq!(first.encryption_certificate_id, "cert-1");
        assert_eq!(first.encryption_certificate_thumbprint, certificate.thumbprint());
        let key = private_key.oaep_decrypt::<Sha1>(&STANDARD.decode(&first.data_key).unwrap()).unwrap();
        assert_eq!(key.len(), SYMMETRIC_KEY_LEN);
        let data = STANDARD.decode(&first.data).unwrap();
        assert_eq!(STANDARD.encode(hmac_sha256(&key, &data)), first.data_signature);
        let decrypted = cbc::Decryptor::<aes::Aes256>::new_from_slices(&key, &key[..IV_LEN])
            .unwrap()
            .decrypt_padded_vec::<Pkcs7>(&data)
            .unwrap();
        assert_eq!(decrypted, plaintext);
    }

    #[test]
    fn the_wire_names_are_camel_case() {
        let content = encrypt(&net_certificate(), "custom-id", b"{}").unwrap();
        let wire = serde_json::to_value(&content).unwrap();
        for field in ["data", "dataSignature", "dataKey", "encryptionCertificateId", "encryptionCertificateThumbprint"]
        {
            assert!(wire[field].is_string(), "{field}");
        }
    }

    #[test]
    fn certificates_graph_refuses_are_refused() {
        assert_eq!(EncryptionCertificate::from_base64(SMALL_CERT_B64), Err(RichSimError::KeySize(1024)));
        assert_eq!(EncryptionCertificate::from_base64("not base64!"), Err(RichSimError::InvalidCertificate));
        assert_eq!(EncryptionCertificate::from_der(b"\x30\x00"), Err(RichSimError::InvalidCertificate));
    }

    const CLIENT_ID: &str = "8e460676-ae3f-4b1e-8790-ee0fb5d6148f";
    const TENANT_ID: &str = "84bd8158-6d4d-4958-8b9f-9d6445542f95";

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_565_046_813, 0).unwrap()
    }

    fn jwks_key(jwks: &Value) -> PublicKey {
        let key = &jwks["keys"][0];
        let n = URL_SAFE_NO_PAD.decode(key["n"].as_str().unwrap()).unwrap();
        let e = URL_SAFE_NO_PAD.decode(key["e"].as_str().unwrap()).unwrap();
        let n = rsa::BoxedUint::from_be_slice_vartime(&n);
        let e = rsa::BoxedUint::from_be_slice_vartime(&e);
        PublicKey::new(n, e).unwrap()
    }

    fn parts(token: &str) -> (Value, Value, Vec<u8>) {
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        let decode = |part: &str| serde_json::from_slice::<Value>(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap();
        (decode(parts[0]), decode(parts[1]), URL_SAFE_NO_PAD.decode(parts[2]).unwrap())
    }

    #[test]
    fn validation_tokens_carry_graphs_claims() {
        let signer = TokenSigner::from_pem("kid-1", SIGNER_KEY_PEM).unwrap();
        let token = signer.validation_token(CLIENT_ID, TENANT_ID, now()).unwrap();
        let (header, claims, _) = parts(&token);
        assert_eq!(header["alg"], "RS256");
        assert_eq!(header["kid"], "kid-1");
        assert_eq!(claims["aud"], CLIENT_ID);
        assert_eq!(claims["iss"], format!("https://sts.windows.net/{TENANT_ID}/"));
        assert_eq!(claims["appid"], GRAPH_CHANGE_TRACKING_APP_ID);
        assert_eq!(claims["tid"], TENANT_ID);
        assert_eq!(claims["ver"], "1.0");
        assert_eq!(claims["iat"], 1_565_046_813);
        assert_eq!(claims["nbf"], 1_565_046_813);
        assert_eq!(claims["exp"], 1_565_046_813 + 3600);
        assert!(claims.get("azp").is_none());
    }

    #[test]
    fn tokens_verify_with_the_published_key_set() {
        let signer = TokenSigner::from_pem("kid-1", SIGNER_KEY_PEM).unwrap();
        let jwks = signer.jwks();
        assert_eq!(jwks["keys"][0]["kid"], "kid-1");
        assert_eq!(jwks["keys"][0]["kty"], "RSA");
        let public_key = jwks_key(&jwks);
        assert_eq!(public_key, PrivateKey::from_pkcs8_pem(SIGNER_KEY_PEM).unwrap().to_public_key());
        let token = signer.validation_token(CLIENT_ID, TENANT_ID, now()).unwrap();
        let (input, _) = token.rsplit_once('.').unwrap();
        let (_, _, signature) = parts(&token);
        let digest = Sha256::digest(input.as_bytes());
        assert!(public_key.verify(Pkcs1v15Sign::new::<Sha256>(), &digest, &signature).is_ok());
        let tampered = Sha256::digest(format!("{input}x").as_bytes());
        assert!(public_key.verify(Pkcs1v15Sign::new::<Sha256>(), &tampered, &signature).is_err());
    }

    #[test]
    fn a_generated_signer_publishes_its_own_key() {
        let signer = TokenSigner::generate("fresh").unwrap();
        let token = signer.sign(&ValidationClaims::graph(CLIENT_ID, TENANT_ID, now())).unwrap();
        let (input, _) = token.rsplit_once('.').unwrap();
        let (_, _, signature) = parts(&token);
        let public_key = jwks_key(&signer.jwks());
        let digest = Sha256::digest(input.as_bytes());
        assert!(public_key.verify(Pkcs1v15Sign::new::<Sha256>(), &digest, &signature).is_ok());
        assert_eq!(format!("{signer:?}"), r#"TokenSigner { kid: "fresh" }"#);
    }

    #[test]
    fn an_unusable_signing_key_is_refused() {
        assert_eq!(TokenSigner::from_pem("k", "nope").unwrap_err(), RichSimError::SigningKey);
    }

    // Test vector of Microsoft's msgraph-sdk-dotnet-core repository,
    // tests/Microsoft.Graph.DotnetCore.Core.Test/Extensions/IDecryptableContentExtensionsTests.cs
    // (a dummy certificate published for tests as a PKCS#12 file with password "rich", and an
    // encryptedContent encrypted to it by Graph). The certificate below was taken out of
    // the PKCS#12 file with openssl, unchanged.

    /// The vector's certificate, as a subscription's `encryptionCertificate` (base64 DER).
    const NET_CERT_B64: &str = concat!(
        "MIIFJzCCAw+gAwIBAgIUCUun8q+BPTWdtgHqfM/hngVG3rMwDQYJKoZIhvcNAQELBQAwIzEhMB8GA1UEAwwYcmljaG5vdGlm",
        "aWNhdGlvbnNhcHAuY29tMB4XDTIxMDYzMDE0NTUzNloXDTIzMDIyMDE0NTUzNlowIzEhMB8GA1UEAwwYcmljaG5vdGlmaWNh",
        "dGlvbnNhcHAuY29tMIICIjANBgkqhkiG9w0BAQEFAAOCAg8AMIICCgKCAgEArD2ohAcmPzwgNON8fIsy0wxAH/sxDc2GCYAh",
        "qdHmvtGhVu79sS4Nf/jY85PpH+bjQyX//a5lxXfITC/sl7yIbYDJszS1po+9zcMJrSSP86dk06JopyYzx1md4qDndQu9fnUv",
        "/xwgL5NElBz7vVTIQNWLK6c8ITZaD/jhbHWMoUZ80hHkDno+BYwMKoxX454LKi4e1SRaGr9QkoerNzPwOGOfRXaVMPJH7g4S",
        "mUwzEHl7NQizsXOAVeySKFsOKMAlmFNySBKeUvOrmw27ORbegWAnd4d/bzSXicf0uitIBe03lTAEc8RB1D/tknFJ4BuEislS",
        "5suv54APuo8Z01ORN1GOPqI0Ro26Rz9XO4cGpN1FOCo+W8v1A7oNu47MxszXNI0XFtihH3H5ytBAAvdi6Xr5dfm0TidB9tdj",
        "POgsa9MFhHLZqsD/PjKIdXkAKB9v6zZIOKzBmMrW6XnTPKTF2CW/BUPKuSnKeOjExpx1OzIM9Mg2FGF1BbA4iKWu22dR4u9M",
        "Lpnh/tX9yRNvtAjq2oTsM+x5XIrcl7VzrkRnae+x6sNNVudPWzVJXDNk4LsPYr2aHsykRpOCypjwhKP01wd2yiBH3QjKTEyp",
        "yfNPDlh3lMvMoB8tGlaLgah/gwsI495TnCtOM0GpKmmZYnqtKmEvDurR1BHoHXHLtc31qDMCAwEAAaNTMFEwHQYDVR0OBBYE",
        "FAsnpj6alZTJQU8m0qjhXdlAw6kXMB8GA1UdIwQYMBaAFAsnpj6alZTJQU8m0qjhXdlAw6kXMA8GA1UdEwEB/wQFMAMBAf8w",
        "DQYJKoZIhvcNAQELBQADggIBAKvlcvkvDj7muNiW6L0U/1Um2JROJTGaFVK1lk85BcyeLWP5ULH43FHlCcy3g3cDX+NJEtSF",
        "G5xN9mX30SnsJyRQ8Wur/h/KyXiHn+lcYi96NSyYSJo53XVM8eTSMsGFd0NXKLSxWO2efc/lBOhSjFAIhP0YXdgVtnrpzvyA",
        "cxMspiaW+AouSZabvpmGFlGGo9bU53ykk/IYW09lZGbeuz7x1zT4RI6zRAMWOyC+uKbJI6HkY9uKu5wejR1pJTP1xV1lrKjX",
        "jY/gMbvurJlw8TqST6A2Ttqk682YfRCTiZuo9g84PbW12xc6hEHLaAEaAACC1qbqW/IM6OiOWHTXgOR9+RQma5wNA227QZmy",
        "BD2mwQK7ydeI4uHDZBNvqV0DEReTlv3WYcp5zFkUTozhwAhRLcElUB1vz9DXW+lT1BaGsMKyJIDLFPKuIh48YA2a6PzSNyiy",
        "7L4XSAGS1BoHfGT7vsopv9FBGWUh12ncEhOdI1Ig8Hk2ECxWoUC/7xN3kULA7bWNnGA7Y6DY5o2uZxQ8zOH0KmXUy5u9AKAK",
        "ACOhRqWTi818QjFYmtKya+Xg9GFroW55GMgd1CwjAcmujXL26nkQ4QQIgdHCcF/K1tNsZPdD2CcZLz4B1u6MouC0+AboNdXI",
        "AjhMIn5ngTHZ3BxhW3xj9eS14IYuzzTLmFXb",
    );

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

    /// `dataSignature` of the vector.
    const NET_DATA_SIGNATURE: &str = "wAtDAqtryLgLo4zhy8BOpqTjf6BYlGv1I9acDpKQo5w=";

    /// `encryptionCertificateThumbprint` of the vector.
    const NET_THUMBPRINT: &str = "4B95353E086AD37196606ACF834A14532F03E6DB";

    /// The vector's symmetric key, obtained by decrypting its `dataKey` with its private key.
    const NET_SYMMETRIC_KEY: [u8; SYMMETRIC_KEY_LEN] = [
        0xd9, 0xc1, 0x37, 0x3c, 0x72, 0x10, 0x51, 0xa6, 0x07, 0x9f, 0xbc, 0x98, 0x5b, 0x8c, 0x05, 0x62, 0x17, 0xe4,
        0x92, 0x8a, 0xdd, 0x85, 0xba, 0x1b, 0x4a, 0x78, 0xed, 0xa1, 0x83, 0xbe, 0x46, 0x6b,
    ];

    /// A 2048-bit key made for these tests with openssl (no other use).
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

    /// The self-signed certificate of [`OTHER_KEY_PEM`], base64 DER.
    const OTHER_CERT_B64: &str = concat!(
        "MIIDLzCCAhegAwIBAgIUMAf70Xp2KjRbSua+CvWpH7CfIlowDQYJKoZIhvcNAQELBQAwJzElMCMGA1UEAwwcaGNhbCByaWNo",
        "IG5vdGlmaWNhdGlvbnMgdGVzdDAeFw0yNjEyMDIyMTU0MjlaFw0zNjExMjkyMTU0MjlaMCcxJTAjBgNVBAMMHGhjYWwgcmlj",
        "aCBub3RpZmljYXRpb25zIHRlc3QwggEiMA0GCSqGSIb3DQEBAQUAA4IBDwAwggEKAoIBAQDdsQEjXFtxD8F09ucaeQYidHui",
        "aRHIXPf4mUTxCmGOo0l80AsWZIav6GnL95MQY4RsoLfwos6snx2B8OdkH1KkCpXvOEM1lfJjGv+A37k2L8S+SLs59C0Q9XSi",
        "Ci12ae4cJc2plvI2G7iLTQYoedOtTspEUDNwKlRbzSt1xobY5+KIQy5HDWJHw95qk8O6et3z7JbLxS6R7N98brD0qzP6P1t0",
        "5Ll8nUfQU0iaOF74xUPureISDE8LdeHcvdhWiqCMoF+b9uyfqLtwrfqIkyInfp25MQXqGxttYoRq8Wjfjf7OoCTJLwDRgC2x",
        "i9Ffe0riiz6vOWBjXYMzC0ASQPKpAgMBAAGjUzBRMB0GA1UdDgQWBBQ6bxzsIs8Wz8wi4W9EuevVzYI5EjAfBgNVHSMEGDAW",
        "gBQ6bxzsIs8Wz8wi4W9EuevVzYI5EjAPBgNVHRMBAf8EBTADAQH/MA0GCSqGSIb3DQEBCwUAA4IBAQBNUiIAXxzBy5dOBFsv",
        "EA8HSGy6T++ns0E0Hic2nJCa85ZgD4mYFtgUIBx6G+mwPj2hkYYqv8l+XALqxBAOGp6r68KWxRs7MxQwwHd0EWyoogg4tr6Y",
        "sag5oXaibW7lWjNIzlyEhNs/EIQqIZ5avNRGdOp2O3DTSfTTa3e4+ZqYkPAs2f7t/IRaAYssJrlZ7YgNMNkWvp9Plswi/IM9",
        "HcWXNx+A2puCPPAb2RuWuIP4846QHgh1MImWGdEt/Z6qXcFbesX55N6zwiSOPEbvmLGVGFOVVJj59lWze2MkFP/4L/jxIQpj",
        "MrNx1/ACAxzxQvAYD/3Uni4pOImziC1rPH+W",
    );

    /// A self-signed certificate with a 1024-bit key, made for these tests with openssl.
    const SMALL_CERT_B64: &str = concat!(
        "MIICBDCCAW2gAwIBAgIUYiuABLtgFbrcD+BkGmyGPwWURs8wDQYJKoZIhvcNAQELBQAwFDESMBAGA1UEAwwJdG9vIHNtYWxs",
        "MB4XDTI2MTIwMjIxNTcyNFoXDTM2MTEyOTIxNTcyNFowFDESMBAGA1UEAwwJdG9vIHNtYWxsMIGfMA0GCSqGSIb3DQEBAQUA",
        "A4GNADCBiQKBgQC0BT9uPr+EiOijME9/wWmfXv5HpyjTiyQmWkZWpgjqOh34bypcfhxWs6kWPmQQmxWbOY8s8wPs+itPNnCX",
        "PiBzzz+ABBBth1CfbVb/iKE7iMFTap6UWnGzSCOQvcUeiXafaIsHxVdptXV9uYbekdfQ/9VOSP17xUdWD/RX7iMl6wIDAQAB",
        "o1MwUTAdBgNVHQ4EFgQUpHy0XClYlNWesUhx6m/m7JtbqagwHwYDVR0jBBgwFoAUpHy0XClYlNWesUhx6m/m7JtbqagwDwYD",
        "VR0TAQH/BAUwAwEB/zANBgkqhkiG9w0BAQsFAAOBgQBmNmFaUlH1jWGjur1MH21IB2FQPulejZPGk0BIqXOZ4pfPZBlySnD1",
        "33ODUBYJ97lO3yneb43Rp5RnL4PrdWwKL508WWM8TndY31jsvWh+2cWUXo0kW4hkSJlkzirGqleWHyuofRV9p2uu7gUF+3D7",
        "57+riDsb2NxEYetlmxJ+jA==",
    );

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
