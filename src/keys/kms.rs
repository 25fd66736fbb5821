//! The KMS port: what hcal asks of a key-management service. Data keys are made and wrapped by
//! the service under a key-encryption key (KEK) it holds; hcal keeps only the wrapped form on
//! disk and the unwrapped key in memory for a bounded time.

use hcal_actors::seal::{self, DataKey, KeyRing, KeyScope, Sealed};

/// What a key service answered when it did not do what was asked. Never carries key bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KmsError {
    /// It did not answer in time, or answered that it cannot serve now (sealed, 5xx).
    #[error("the key service did not answer: {0}")]
    Unavailable(String),
    /// It answered and refused (permission denied, bad request).
    #[error("the key service refused: {0}")]
    Refused(String),
    /// The key-encryption key does not exist (destroyed), or the wrapped key is not one of its.
    #[error("the key-encryption key {0} is gone")]
    Gone(String),
}

impl From<KmsError> for seal::SealError {
    fn from(e: KmsError) -> Self {
        match e {
            KmsError::Gone(kek) => Self::Erased(kek),
            other => Self::Unavailable(other.to_string()),
        }
    }
}

/// A key service. Calls block the calling thread for at most the service's timeout.
pub trait Kms: Send + Sync + 'static {
    /// `local` or `transit`, for logs and status.
    fn kind(&self) -> &'static str;
    /// The key-encryption key a scope's data keys are wrapped by.
    fn kek_of(&self, scope: &KeyScope) -> String;
    /// A fresh 256-bit data key under `kek` (created on first use): its bytes and wrapped form.
    fn generate(&self, kek: &str) -> Result<([u8; 32], String), KmsError>;
    /// The bytes of a data key wrapped under `kek`.
    fn unwrap(&self, kek: &str, wrapped: &str) -> Result<[u8; 32], KmsError>;
    /// Destroys `kek`, so that nothing it wrapped can be unwrapped again; done when already
    /// gone. A service that cannot destroy one key alone (the local key file) does nothing: the
    /// wrapped keys' deletion from the key store is the erasure.
    fn destroy(&self, kek: &str) -> Result<(), KmsError>;
    /// Gives `kek` a new version; what it wrapped before stays unwrappable.
    fn rotate(&self, kek: &str) -> Result<(), KmsError>;
}

/// The local key file as a key service: one key-encryption key for everything.
pub struct LocalKms {
    master: KeyRing,
    master_key: std::sync::Arc<DataKey>,
}

impl LocalKms {
    /// Wrapping with `master` (the key file's key).
    pub fn new(master: DataKey) -> Self {
        let master_key = std::sync::Arc::new(master.clone());
        Self { master: KeyRing::new(master), master_key }
    }

    /// The key file's own key: ciphertexts written before data keys existed name it.
    pub fn master(&self) -> std::sync::Arc<DataKey> {
        self.master_key.clone()
    }
}

fn wrap_aad(kek: &str) -> Vec<u8> {
    format!("data-key|{kek}").into_bytes()
}

impl Kms for LocalKms {
    fn kind(&self) -> &'static str {
        "local"
    }

    fn kek_of(&self, _scope: &KeyScope) -> String {
        self.master_key.id().to_owned()
    }

    fn generate(&self, kek: &str) -> Result<([u8; 32], String), KmsError> {
        let key = DataKey::generate("new").map_err(|e| KmsError::Unavailable(e.to_string()))?;
        let wrapped = seal::seal(&self.master, &wrap_aad(kek), &base64_of(key.bytes()))
            .map_err(|e| KmsError::Unavailable(e.to_string()))?;
        let text = serde_json::to_string(&wrapped).map_err(|e| KmsError::Unavailable(e.to_string()))?;
        Ok((*key.bytes(), text))
    }

    fn unwrap(&self, kek: &str, wrapped: &str) -> Result<[u8; 32], KmsError> {
        if kek != self.master_key.id() {
            return Err(KmsError::Gone(kek.to_owned()));
        }
        let sealed: Sealed =
            serde_json::from_str(wrapped).map_err(|_| KmsError::Refused("malformed wrapped key".into()))?;
        let b64: String = seal::open(&self.master, &wrap_aad(kek), &sealed)
            .map_err(|_| KmsError::Refused("the wrapped key does not open".into()))?;
        bytes_of(&b64).ok_or_else(|| KmsError::Refused("the wrapped key is not 32 bytes".into()))
    }

    fn destroy(&self, _kek: &str) -> Result<(), KmsError> {
        Ok(())
    }

    fn rotate(&self, _kek: &str) -> Result<(), KmsError> {
        Ok(())
    }
}

/// Base64 of key bytes.
pub(crate) fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// 32 key bytes from base64.
pub(crate) fn bytes_of(b64: &str) -> Option<[u8; 32]> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(b64).ok().and_then(|b| b.try_into().ok())
}
