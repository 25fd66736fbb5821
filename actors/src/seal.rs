//! Sealing of sensitive fields with AES-256-GCM. The additional data binds a ciphertext to the
//! envelope it belongs to (tenant, mailbox, event id), so a sealed field cannot be moved to
//! another record and still open.

use std::collections::BTreeMap;
use std::sync::Arc;

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::ids::{MailboxId, TenantId};

/// A data key: 32 bytes and the id under which ciphertexts name it.
#[derive(Clone)]
pub struct DataKey {
    id: String,
    key: [u8; 32],
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataKey").field("id", &self.id).finish_non_exhaustive()
    }
}

impl DataKey {
    /// A key from its bytes.
    pub fn new(id: impl Into<String>, key: [u8; 32]) -> Self {
        Self { id: id.into(), key }
    }

    /// A fresh random key from the operating system's random source.
    pub fn generate(id: impl Into<String>) -> Result<Self, SealError> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).map_err(|_| SealError::Random)?;
        Ok(Self::new(id, key))
    }

    /// The key id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The key bytes (for writing the local key file).
    pub fn bytes(&self) -> &[u8; 32] {
        &self.key
    }
}

/// Whose data a key seals. Each scope has data keys of its own, so that one organisation's or
/// one mailbox's keys can be rotated or destroyed without touching anyone else's.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyScope {
    /// The installation itself: consent state, API tokens, device credentials.
    Service,
    /// One organisation (Microsoft 365 tenant).
    Organisation(TenantId),
    /// One mailbox: its events, snapshots and projection rows.
    Mailbox(MailboxId),
}

impl std::fmt::Display for KeyScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Service => f.write_str("service"),
            Self::Organisation(t) => write!(f, "org/{t}"),
            Self::Mailbox(m) => write!(f, "mbx/{m}"),
        }
    }
}

/// Where a [`KeyRing`] finds its keys: the local key file, or a key store whose data keys a
/// KMS wraps. Both calls answer from memory when they can; a source that has to ask its KMS
/// blocks the calling thread for at most its timeout and answers [`SealError::Unavailable`]
/// when the KMS does not answer (the caller tries again later; nothing is sealed meanwhile).
pub trait KeySource: Send + Sync + 'static {
    /// The key new ciphertexts of `scope` are sealed with.
    fn current(&self, scope: &KeyScope) -> Result<Arc<DataKey>, SealError>;
    /// The key with this id, to open a ciphertext with.
    fn get(&self, kid: &str) -> Result<Arc<DataKey>, SealError>;
    /// Destroys every key of `scope`: what they sealed opens nowhere again. Safe to repeat.
    fn erase(&self, scope: &KeyScope) -> Result<(), SealError>;
}

/// Fixed keys in memory: one current key for every scope, older ones to open with (tests and
/// tools; the service uses the key store of `hcal::keys`).
#[derive(Debug)]
pub struct FixedKeys {
    current: Arc<DataKey>,
    keys: BTreeMap<String, Arc<DataKey>>,
}

impl KeySource for FixedKeys {
    fn current(&self, _scope: &KeyScope) -> Result<Arc<DataKey>, SealError> {
        Ok(self.current.clone())
    }

    fn get(&self, kid: &str) -> Result<Arc<DataKey>, SealError> {
        self.keys.get(kid).cloned().ok_or_else(|| SealError::UnknownKey(kid.to_owned()))
    }

    /// One key serves every scope here, so no scope can lose its own: fixed keys refuse.
    fn erase(&self, _scope: &KeyScope) -> Result<(), SealError> {
        Err(SealError::Unavailable("fixed keys cannot erase one scope".into()))
    }
}

/// The keys a process can use, behind one cheap-to-clone handle.
#[derive(Clone)]
pub struct KeyRing {
    source: Arc<dyn KeySource>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyRing(..)")
    }
}

impl KeyRing {
    /// A ring with one key for every scope.
    pub fn new(current: DataKey) -> Self {
        let current = Arc::new(current);
        let keys = BTreeMap::from([(current.id.clone(), current.clone())]);
        Self { source: Arc::new(FixedKeys { current, keys }) }
    }

    /// A ring over fixed keys: `current` seals, it and `old` open.
    pub fn with_old(current: DataKey, old: impl IntoIterator<Item = DataKey>) -> Self {
        let current = Arc::new(current);
        let mut keys = BTreeMap::from([(current.id.clone(), current.clone())]);
        for key in old {
            keys.entry(key.id.clone()).or_insert_with(|| Arc::new(key));
        }
        Self { source: Arc::new(FixedKeys { current, keys }) }
    }

    /// A ring over any key source.
    pub fn from_source(source: Arc<dyn KeySource>) -> Self {
        Self { source }
    }

    /// The key new ciphertexts of `scope` use.
    pub fn current(&self, scope: &KeyScope) -> Result<Arc<DataKey>, SealError> {
        self.source.current(scope)
    }

    /// A key by id.
    pub fn get(&self, id: &str) -> Result<Arc<DataKey>, SealError> {
        self.source.get(id)
    }

    /// Destroys every key of `scope`.
    pub fn erase(&self, scope: &KeyScope) -> Result<(), SealError> {
        self.source.erase(scope)
    }
}

/// A sealed value: key id, nonce and ciphertext (base64, tag included).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sealed {
    /// Key id.
    pub kid: String,
    /// 96-bit nonce, base64.
    pub n: String,
    /// Ciphertext with the GCM tag, base64.
    pub c: String,
}

/// Sealing failures. They never carry the plaintext.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    /// No key with the ciphertext's key id is available.
    #[error("unknown key id {0}")]
    UnknownKey(String),
    /// The ciphertext is malformed, was tampered with, or belongs to another record.
    #[error("sealed value does not open")]
    Corrupt,
    /// The value could not be serialised.
    #[error("value could not be serialised")]
    Encoding,
    /// The operating system's random source failed (no key or nonce can be made without it).
    #[error("no random numbers available")]
    Random,
    /// The key service did not answer or refused; nothing was sealed or opened. Passing: the
    /// work is tried again when it is back.
    #[error("key service unavailable: {0}")]
    Unavailable(String),
    /// The key was destroyed (its mailbox was erased): what it sealed can never be opened.
    #[error("key {0} was destroyed")]
    Erased(String),
}

impl SealError {
    /// Whether trying again later can succeed (the key service was away).
    pub fn is_passing(&self) -> bool {
        matches!(self, Self::Unavailable(_) | Self::Random)
    }
}

/// Seals a value of the installation (consent state, tokens, device credentials) under the
/// service scope's current key, bound to `aad`.
pub fn seal<T: Serialize + ?Sized>(ring: &KeyRing, aad: &[u8], value: &T) -> Result<Sealed, SealError> {
    seal_for(ring, &KeyScope::Service, aad, value)
}

/// Seals a value under the current key of `scope`, bound to `aad`.
pub fn seal_for<T: Serialize + ?Sized>(
    ring: &KeyRing,
    scope: &KeyScope,
    aad: &[u8],
    value: &T,
) -> Result<Sealed, SealError> {
    let key = ring.current(scope)?;
    let plain = serde_json::to_vec(value).map_err(|_| SealError::Encoding)?;
    let cipher = Aes256Gcm::new_from_slice(&key.key).map_err(|_| SealError::Encoding)?;
    let mut nonce = [0u8; 12];
    getrandom::fill(&mut nonce).map_err(|_| SealError::Random)?;
    let ct = cipher.encrypt(&nonce.into(), Payload { msg: &plain, aad }).map_err(|_| SealError::Encoding)?;
    Ok(Sealed { kid: key.id.clone(), n: STANDARD_NO_PAD.encode(nonce), c: STANDARD_NO_PAD.encode(ct) })
}

/// Opens a sealed value; fails if the key is unknown, the data was altered or `aad` differs.
pub fn open<T: DeserializeOwned>(ring: &KeyRing, aad: &[u8], sealed: &Sealed) -> Result<T, SealError> {
    let key = ring.get(&sealed.kid)?;
    let nonce: [u8; 12] =
        STANDARD_NO_PAD.decode(&sealed.n).ok().and_then(|n| n.try_into().ok()).ok_or(SealError::Corrupt)?;
    let ct = STANDARD_NO_PAD.decode(&sealed.c).map_err(|_| SealError::Corrupt)?;
    let cipher = Aes256Gcm::new_from_slice(&key.key).map_err(|_| SealError::Corrupt)?;
    let plain = cipher.decrypt(&nonce.into(), Payload { msg: &ct, aad }).map_err(|_| SealError::Corrupt)?;
    serde_json::from_slice(&plain).map_err(|_| SealError::Corrupt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_binding() {
        let ring = KeyRing::new(DataKey::generate("k1").unwrap());
        let sealed = seal(&ring, b"tenant/user/1", "Quarterly review").unwrap();
        assert!(!sealed.c.contains("Quarterly"));
        let back: String = open(&ring, b"tenant/user/1", &sealed).unwrap();
        assert_eq!(back, "Quarterly review");
        assert_eq!(open::<String>(&ring, b"tenant/user/2", &sealed), Err(SealError::Corrupt));
        let mut tampered = sealed.clone();
        tampered.c.replace_range(0..1, if tampered.c.starts_with('A') { "B" } else { "A" });
        assert_eq!(open::<String>(&ring, b"tenant/user/1", &tampered), Err(SealError::Corrupt));
    }

    #[test]
    fn old_keys_still_open_after_rotation() {
        let old = DataKey::generate("k1").unwrap();
        let sealed = seal(&KeyRing::new(old.clone()), b"a", &42u32).unwrap();
        let rotated = KeyRing::with_old(DataKey::generate("k2").unwrap(), [old]);
        assert_eq!(open::<u32>(&rotated, b"a", &sealed), Ok(42));
        assert_eq!(seal(&rotated, b"a", &1u32).unwrap().kid, "k2");
        assert!(!SealError::UnknownKey("k1".into()).is_passing());
        assert!(SealError::Unavailable("down".into()).is_passing());
        let other = KeyRing::new(DataKey::generate("k3").unwrap());
        assert_eq!(open::<u32>(&other, b"a", &sealed), Err(SealError::UnknownKey("k1".into())));
    }

    #[test]
    fn debug_never_shows_key_bytes() {
        let key = DataKey::new("k1", [7u8; 32]);
        assert!(!format!("{key:?}").contains('7'));
    }
}
