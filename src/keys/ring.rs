//! Data keys per scope from the key store, unwrapped by the key service and kept in memory for
//! a bounded time: the [`KeySource`] of a running service.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hcal_actors::seal::{DataKey, KeyScope, KeySource, SealError};
use parking_lot::Mutex;

use super::kms::{Kms, KmsError};
use super::store::{KeyStore, StoredKey};

/// How often a process looks whether `hcal keys rotate` ran elsewhere.
const ROTATION_CHECK: Duration = Duration::from_secs(2);

struct Cached {
    key: Arc<DataKey>,
    scope: String,
    fetched: Instant,
}

struct Current {
    kid: String,
    created_at: i64,
    generation: i64,
}

impl Current {
    fn of(stored: &StoredKey) -> Self {
        Self { kid: stored.kid.clone(), created_at: stored.created_at, generation: stored.generation }
    }
}

/// Data keys from a key store and a key service.
pub struct StoredKeys {
    kms: Arc<dyn Kms>,
    store: KeyStore,
    /// The key file's own key (local key service): it opens what was sealed before data keys.
    legacy: Option<Arc<DataKey>>,
    cache_for: Duration,
    rotate_every: Duration,
    cache: Mutex<HashMap<String, Cached>>,
    current: Mutex<HashMap<KeyScope, Current>>,
    /// The rotation generation, and when the store was last asked for it.
    rotated: Mutex<(i64, Instant)>,
    now: Box<dyn Fn() -> i64 + Send + Sync>,
}

impl std::fmt::Debug for StoredKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredKeys").field("kms", &self.kms.kind()).field("store", &self.store).finish_non_exhaustive()
    }
}

/// What erasing a scope did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Erased {
    /// Data keys erased now (0 when it was erased before).
    pub keys: usize,
    /// Key-encryption keys destroyed at the key service.
    pub keks: Vec<String>,
}

impl StoredKeys {
    /// Keys of `store`, wrapped by `kms`.
    pub fn new(
        kms: Arc<dyn Kms>,
        store: KeyStore,
        legacy: Option<Arc<DataKey>>,
        cache_for: Duration,
        rotate_every: Duration,
    ) -> Self {
        Self {
            kms,
            store,
            legacy,
            cache_for,
            rotate_every,
            cache: Mutex::default(),
            current: Mutex::default(),
            rotated: Mutex::new((0, Instant::now().checked_sub(ROTATION_CHECK * 2).unwrap_or_else(Instant::now))),
            now: Box::new(|| chrono::Utc::now().timestamp()),
        }
    }

    /// The key service in use.
    pub fn kms(&self) -> &dyn Kms {
        self.kms.as_ref()
    }

    /// The key store.
    pub fn store(&self) -> &KeyStore {
        &self.store
    }

    fn unavailable(e: impl std::fmt::Display) -> SealError {
        SealError::Unavailable(e.to_string())
    }

    /// The oldest generation and creation time a current key may have.
    fn limits(&self) -> (i64, i64) {
        let mut rotated = self.rotated.lock();
        if rotated.1.elapsed() >= ROTATION_CHECK {
            if let Ok(generation) = self.store.generation() {
                rotated.0 = generation;
            }
            rotated.1 = Instant::now();
        }
        (rotated.0, (self.now)() - self.rotate_every.as_secs() as i64)
    }

    fn unwrap_stored(&self, stored: &StoredKey) -> Result<Arc<DataKey>, SealError> {
        let wrapped = stored.wrapped.as_deref().ok_or_else(|| SealError::Erased(stored.kid.clone()))?;
        let bytes = self.kms.unwrap(&stored.kek, wrapped).map_err(|e| match e {
            KmsError::Gone(_) => SealError::Erased(stored.kid.clone()),
            other => SealError::from(other),
        })?;
        let key = Arc::new(DataKey::new(stored.kid.clone(), bytes));
        self.cache.lock().insert(
            stored.kid.clone(),
            Cached { key: key.clone(), scope: stored.scope.clone(), fetched: Instant::now() },
        );
        Ok(key)
    }

    fn cached(&self, kid: &str) -> Option<Arc<DataKey>> {
        let mut cache = self.cache.lock();
        match cache.get(kid) {
            Some(c) if c.fetched.elapsed() < self.cache_for => Some(c.key.clone()),
            Some(_) => {
                cache.remove(kid);
                None
            }
            None => None,
        }
    }

    /// A new data key for `scope`.
    fn generate(&self, scope: &KeyScope, generation: i64) -> Result<(Arc<DataKey>, StoredKey), SealError> {
        let kek = self.kms.kek_of(scope);
        let (bytes, wrapped) = self.kms.generate(&kek).map_err(SealError::from)?;
        let kid = format!("dk-{}", uuid::Uuid::new_v4().simple());
        let created_at = (self.now)();
        let stored = StoredKey {
            kid: kid.clone(),
            scope: scope.to_string(),
            kek,
            wrapped: Some(wrapped),
            created_at,
            generation,
        };
        self.store.insert(&stored).map_err(Self::unavailable)?;
        let key = Arc::new(DataKey::new(kid.clone(), bytes));
        self.cache
            .lock()
            .insert(kid, Cached { key: key.clone(), scope: stored.scope.clone(), fetched: Instant::now() });
        tracing::info!(scope = %scope_class(scope), kms = self.kms.kind(), "new data key");
        Ok((key, stored))
    }

    /// Makes every scope take a new data key at its next seal (the old ones still open), and
    /// gives the shared key-encryption keys a new version at the key service.
    pub fn rotate(&self) -> Result<usize, SealError> {
        let generation = self.store.next_generation().map_err(Self::unavailable)?;
        *self.rotated.lock() = (generation, Instant::now());
        self.current.lock().clear();
        let keks = self.store.shared_keks().map_err(Self::unavailable)?;
        for kek in &keks {
            self.kms.rotate(kek).map_err(SealError::from)?;
        }
        Ok(keks.len())
    }

    /// Destroys every data key of `scope` and its key-encryption key at the key service:
    /// nothing they sealed opens again, here or from any copy of the store. Safe to repeat
    /// (a key service that was down is asked again).
    pub fn erase_scope(&self, scope: &KeyScope) -> Result<Erased, SealError> {
        let name = scope.to_string();
        let (kids, mut keks) = self.store.erase(&name, (self.now)()).map_err(Self::unavailable)?;
        self.current.lock().remove(scope);
        self.cache.lock().retain(|_, c| c.scope != name);
        let own = self.kms.kek_of(scope);
        if !keks.contains(&own) {
            keks.push(own);
        }
        // A key-encryption key shared with other scopes (the local key file's) is not destroyed:
        // the local key service's `destroy` does nothing.
        for kek in &keks {
            self.kms.destroy(kek).map_err(SealError::from)?;
        }
        Ok(Erased { keys: kids.len(), keks })
    }

    /// Whether `scope` was erased.
    pub fn is_erased(&self, scope: &KeyScope) -> bool {
        self.store.is_erased(&scope.to_string()).unwrap_or(false)
    }
}

/// A scope's kind alone, for logs (a mailbox id is opaque but need not be in every line).
fn scope_class(scope: &KeyScope) -> &'static str {
    match scope {
        KeyScope::Service => "service",
        KeyScope::Organisation(_) => "organisation",
        KeyScope::Mailbox(_) => "mailbox",
    }
}

impl KeySource for StoredKeys {
    fn current(&self, scope: &KeyScope) -> Result<Arc<DataKey>, SealError> {
        let (generation, oldest) = self.limits();
        let fits = |generation_of: i64, created_at: i64| generation_of >= generation && created_at >= oldest;
        let known = self.current.lock().get(scope).filter(|c| fits(c.generation, c.created_at)).map(|c| c.kid.clone());
        if let Some(kid) = known
            && let Some(key) = self.cached(&kid)
        {
            return Ok(key);
        }
        let newest = self.store.newest(&scope.to_string()).map_err(Self::unavailable)?;
        let (key, stored) = match newest {
            Some(stored) if fits(stored.generation, stored.created_at) => (self.unwrap_stored(&stored)?, stored),
            _ => self.generate(scope, generation)?,
        };
        self.current.lock().insert(scope.clone(), Current::of(&stored));
        Ok(key)
    }

    fn erase(&self, scope: &KeyScope) -> Result<(), SealError> {
        self.erase_scope(scope).map(|_| ())
    }

    fn get(&self, kid: &str) -> Result<Arc<DataKey>, SealError> {
        if let Some(key) = self.cached(kid) {
            return Ok(key);
        }
        if let Some(legacy) = &self.legacy
            && legacy.id() == kid
        {
            return Ok(legacy.clone());
        }
        match self.store.get(kid).map_err(Self::unavailable)? {
            Some(stored) => self.unwrap_stored(&stored),
            None => Err(SealError::UnknownKey(kid.to_owned())),
        }
    }
}
