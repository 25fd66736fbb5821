//! Access tokens hcal issues: `hcal_` and the token's id (32 hex digits) and `_` and its
//! secret (32 random bytes, URL-safe base64). The id finds the grant; the secret proves the
//! holder. hcal keeps only the digest of the secret (in the grant's sealed part), so neither the
//! log nor the store holds anything a caller could present. The `hcal_` prefix lets secret
//! scanners recognise a leaked token.

use base64::Engine as _;
use hcal_actors::ids::TokenId;
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

/// What every token starts with.
pub const PREFIX: &str = "hcal_";

/// A token just drawn: its id and secret. Shown once, to whoever asked for it.
pub struct NewToken {
    /// The grant's id.
    pub id: TokenId,
    secret: String,
}

impl std::fmt::Debug for NewToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewToken").field("id", &self.id).finish_non_exhaustive()
    }
}

impl NewToken {
    /// A fresh token from the operating system's random source.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        Self { id: TokenId::from_uuid(uuid::Uuid::new_v4()), secret }
    }

    /// The token as its holder presents it.
    pub fn text(&self) -> String {
        format!("{PREFIX}{}_{}", self.id.as_uuid().simple(), self.secret)
    }

    /// The digest hcal keeps.
    pub fn digest(&self) -> String {
        digest(&self.secret)
    }
}

/// `sha256:` and the hex SHA-256 of a secret.
pub fn digest(secret: &str) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(secret.as_bytes())))
}

/// The id and secret of a presented token, when it has the shape of one.
pub fn parse(text: &str) -> Option<(TokenId, &str)> {
    let rest = text.strip_prefix(PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    if id.len() != 32 || secret.len() != 43 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    Some((TokenId::from_uuid(uuid::Uuid::try_parse(id).ok()?), secret))
}

/// Whether `secret` is the one whose digest is `kept`, compared in constant time.
pub fn matches(secret: &str, kept: &str) -> bool {
    bool::from(digest(secret).as_bytes().ct_eq(kept.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_reads_back_as_its_id_and_secret_and_matches_only_its_digest() {
        let token = NewToken::generate();
        let text = token.text();
        assert!(text.starts_with("hcal_"), "{text}");
        assert_eq!(text.len(), 5 + 32 + 1 + 43);
        let (id, secret) = parse(&text).unwrap();
        assert_eq!(id, token.id);
        assert!(matches(secret, &token.digest()));
        let other = NewToken::generate();
        assert!(!matches(secret, &other.digest()));
        assert_ne!(token.text(), other.text());
        assert!(!format!("{token:?}").contains(secret), "the secret never reaches a log");
        assert!(!token.digest().contains(secret));
    }

    #[test]
    fn anything_else_is_not_a_token() {
        let text = NewToken::generate().text();
        for bad in [
            "",
            "hcal_",
            "Bearer x",
            &text[1..],
            &text[..text.len() - 1],
            &text.replacen('_', "-", 2),
            &text.replace("hcal_", "HCAL_"),
            "hcal_zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz_0000000000000000000000000000000000000000000",
        ] {
            assert!(parse(bad).is_none(), "{bad}");
        }
    }
}
