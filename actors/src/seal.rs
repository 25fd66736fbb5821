//! Sealing of sensitive fields with AES-256-GCM. The additional data binds a ciphertext to the
//! envelope it belongs to (tenant, mailbox, event id), so a sealed field cannot be moved to
//! another record and still open.

use std::collections::BTreeMap;

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

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

/// The keys a process can use: one current key to seal with, older ones to open with.
#[derive(Debug, Clone)]
pub struct KeyRing {
    current: String,
    keys: BTreeMap<String, DataKey>,
}

impl KeyRing {
    /// A ring with one key.
    pub fn new(current: DataKey) -> Self {
        let id = current.id.clone();
        Self { current: id.clone(), keys: BTreeMap::from([(id, current)]) }
    }

    /// Adds a key that can still open older ciphertexts.
    pub fn with_old(mut self, key: DataKey) -> Self {
        self.keys.entry(key.id.clone()).or_insert(key);
        self
    }

    /// The key new ciphertexts use.
    pub fn current(&self) -> &DataKey {
        // The constructor always inserts the current key.
        &self.keys[&self.current]
    }

    /// A key by id.
    pub fn get(&self, id: &str) -> Option<&DataKey> {
        self.keys.get(id)
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
}

/// Seals a value under the ring's current key, bound to `aad`.
pub fn seal<T: Serialize + ?Sized>(ring: &KeyRing, aad: &[u8], value: &T) -> Result<Sealed, SealError> {
    let key = ring.current();
    let plain = serde_json::to_vec(value).map_err(|_| SealError::Encoding)?;
    let cipher = Aes256Gcm::new_from_slice(&key.key).map_err(|_| SealError::Encoding)?;
    let mut nonce = [0u8; 12];
    getrandom::fill(&mut nonce).map_err(|_| SealError::Random)?;
    let ct = cipher.encrypt(&nonce.into(), Payload { msg: &plain, aad }).map_err(|_| SealError::Encoding)?;
    Ok(Sealed { kid: key.id.clone(), n: STANDARD_NO_PAD.encode(nonce), c: STANDARD_NO_PAD.encode(ct) })
}

/// Opens a sealed value; fails if the key is unknown, the data was altered or `aad` differs.
pub fn open<T: DeserializeOwned>(ring: &KeyRing, aad: &[u8], sealed: &Sealed) -> Result<T, SealError> {
    let key = ring.get(&sealed.kid).ok_or_else(|| SealError::UnknownKey(sealed.kid.clone()))?;
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
        let rotated = KeyRing::new(DataKey::generate("k2").unwrap()).with_old(old);
        assert_eq!(open::<u32>(&rotated, b"a", &sealed), Ok(42));
        assert_eq!(seal(&rotated, b"a", &1u32).unwrap().kid, "k2");
        let other = KeyRing::new(DataKey::generate("k3").unwrap());
        assert_eq!(open::<u32>(&other, b"a", &sealed), Err(SealError::UnknownKey("k1".into())));
    }

    #[test]
    fn debug_never_shows_key_bytes() {
        let key = DataKey::new("k1", [7u8; 32]);
        assert!(!format!("{key:?}").contains('7'));
    }
}
