//! Consented tenants, kept in `{data_dir}/tenants.json`: which Entra ID tenants granted admin
//! consent through hcal's callback, in which cloud and when. No secrets and no personal data,
//! so a plain file suffices until the store grows a table for it. Every write replaces the
//! whole file atomically (temporary file, fsync, rename, fsync of the directory), so a crash
//! leaves either the old or the new list, never half of one.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use hcal_actors::ids::TenantId;
use serde::{Deserialize, Serialize};

use super::cloud::Cloud;

/// Name of the file under the data directory.
pub const FILE_NAME: &str = "tenants.json";

/// Version of the file format.
const VERSION: u32 = 1;

/// A tenant whose administrator granted consent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConsentedTenant {
    /// The tenant.
    pub id: TenantId,
    /// The cloud it was consented in.
    pub cloud: Cloud,
    /// First consent seen.
    pub first_consented_at: DateTime<Utc>,
    /// Latest consent seen (an administrator may consent again after permissions change).
    pub consented_at: DateTime<Utc>,
}

/// The file's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TenantsFile {
    /// Format version.
    pub version: u32,
    /// Consented tenants, in order of first consent.
    pub tenants: Vec<ConsentedTenant>,
    /// Consent links already used and not yet expired: a link opens the callback once, across
    /// restarts too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub used_states: Vec<UsedState>,
}

/// A consent link that was used, by the SHA-256 of its state's nonce.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UsedState {
    /// Hex SHA-256 of the state's nonce.
    pub digest: String,
    /// When the link expires; the entry is dropped after that.
    pub expires_at: DateTime<Utc>,
}

impl Default for TenantsFile {
    fn default() -> Self {
        Self { version: VERSION, tenants: Vec::new(), used_states: Vec::new() }
    }
}

/// The digest a used state is remembered by.
fn digest(nonce: &str) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(nonce.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

impl TenantsFile {
    /// Records a consent: a new tenant is appended, a known one gets a new `consented_at`.
    pub fn record(&mut self, id: TenantId, cloud: Cloud, at: DateTime<Utc>) -> ConsentedTenant {
        if let Some(known) = self.tenants.iter_mut().find(|t| t.id == id) {
            known.consented_at = at;
            known.cloud = cloud;
            return known.clone();
        }
        let tenant = ConsentedTenant { id, cloud, first_consented_at: at, consented_at: at };
        self.tenants.push(tenant.clone());
        tenant
    }
}

/// Failures of the tenants file.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Reading or writing failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not a tenants file of a known version.
    #[error("{path} is not a valid tenants file: {problem}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
}

/// The tenants file of one data directory. Writers are serialised, so two callbacks at once
/// cannot lose each other's tenant.
#[derive(Debug)]
pub struct TenantStore {
    path: PathBuf,
    write: tokio::sync::Mutex<()>,
}

impl TenantStore {
    /// The store at `{data_dir}/tenants.json` (created on the first write).
    pub fn new(data_dir: &Path) -> Self {
        Self { path: data_dir.join(FILE_NAME), write: tokio::sync::Mutex::new(()) }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the file; a missing file is an empty list.
    pub fn load(&self) -> Result<TenantsFile, StoreError> {
        load(&self.path)
    }

    /// Records a consent and writes the file atomically.
    pub async fn record(&self, id: TenantId, cloud: Cloud, at: DateTime<Utc>) -> Result<ConsentedTenant, StoreError> {
        let _writer = self.write.lock().await;
        let path = self.path.clone();
        let joined = tokio::task::spawn_blocking(move || {
            let mut file = load(&path)?;
            let tenant = file.record(id, cloud, at);
            write_atomically(&path, &file)?;
            Ok(tenant)
        })
        .await;
        match joined {
            Ok(result) => result,
            Err(e) => Err(StoreError::Io {
                action: "writing",
                path: self.path.clone(),
                source: std::io::Error::other(e.to_string()),
            }),
        }
    }
}

impl TenantStore {
    /// Marks the state with `nonce` (valid until `expires_at`) as used, durably, before the
    /// consent it carries is acted on; false when it was used before. Expired entries are
    /// dropped on the way.
    pub async fn consume_state(
        &self,
        nonce: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let _writer = self.write.lock().await;
        let path = self.path.clone();
        let digest = digest(nonce);
        let joined = tokio::task::spawn_blocking(move || {
            let mut file = load(&path)?;
            file.used_states.retain(|s| s.expires_at > now);
            if file.used_states.iter().any(|s| s.digest == digest) {
                return Ok(false);
            }
            file.used_states.push(UsedState { digest, expires_at });
            write_atomically(&path, &file)?;
            Ok(true)
        })
        .await;
        joined.unwrap_or_else(|e| {
            Err(StoreError::Io {
                action: "writing",
                path: self.path.clone(),
                source: std::io::Error::other(e.to_string()),
            })
        })
    }
}

fn load(path: &Path) -> Result<TenantsFile, StoreError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(TenantsFile::default()),
        Err(source) => return Err(StoreError::Io { action: "reading", path: path.to_owned(), source }),
    };
    let file: TenantsFile = serde_json::from_slice(&bytes)
        .map_err(|e| StoreError::Corrupt { path: path.to_owned(), problem: e.to_string() })?;
    if file.version != VERSION {
        return Err(StoreError::Corrupt {
            path: path.to_owned(),
            problem: format!("unknown version {}", file.version),
        });
    }
    Ok(file)
}

/// Temporary file in the same directory (so the rename is atomic), fsync, rename over the
/// old file, fsync of the directory (so the rename itself survives a crash).
fn write_atomically(path: &Path, file: &TenantsFile) -> Result<(), StoreError> {
    let io = |action: &'static str, path: &Path| {
        let path = path.to_owned();
        move |source| StoreError::Io { action, path, source }
    };
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    std::fs::create_dir_all(dir).map_err(io("creating", dir))?;
    let mut text = serde_json::to_vec_pretty(file)
        .map_err(|e| StoreError::Corrupt { path: path.to_owned(), problem: e.to_string() })?;
    text.push(b'\n');
    let mut temp = tempfile::Builder::new()
        .prefix(".tenants-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(io("creating a temporary file in", dir))?;
    temp.write_all(&text).map_err(io("writing", temp.path()))?;
    temp.as_file().sync_all().map_err(io("syncing", path))?;
    temp.persist(path).map_err(|e| StoreError::Io { action: "replacing", path: path.to_owned(), source: e.error })?;
    sync_dir(dir).map_err(io("syncing", dir))
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> std::io::Result<()> {
    // Directories cannot be opened for syncing here; the rename is still atomic.
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant(n: u8) -> TenantId {
        TenantId::parse(&format!("00000000-0000-0000-0000-0000000000{n:02x}")).unwrap()
    }

    #[test]
    fn recording_appends_new_tenants_and_refreshes_known_ones() {
        let t0 = DateTime::parse_from_rfc3339("2025-01-01T00:00:00Z").unwrap().with_timezone(&Utc);
        let t1 = t0 + chrono::Duration::hours(1);
        let mut file = TenantsFile::default();
        file.record(tenant(1), Cloud::Worldwide, t0);
        file.record(tenant(2), Cloud::Worldwide, t0);
        let again = file.record(tenant(1), Cloud::Worldwide, t1);
        assert_eq!(file.tenants.len(), 2);
        assert_eq!((again.first_consented_at, again.consented_at), (t0, t1));
        assert_eq!(file.tenants[0], again);
    }

    #[tokio::test]
    async fn the_file_is_written_whole_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let store = TenantStore::new(&data);
        assert_eq!(store.load().unwrap(), TenantsFile::default(), "a missing file is an empty list");
        let now = Utc::now();
        store.record(tenant(1), Cloud::Worldwide, now).await.unwrap();
        store.record(tenant(2), Cloud::Worldwide, now).await.unwrap();
        let file = store.load().unwrap();
        assert_eq!(file.tenants.iter().map(|t| t.id).collect::<Vec<_>>(), vec![tenant(1), tenant(2)]);
        let text = std::fs::read_to_string(data.join(FILE_NAME)).unwrap();
        assert!(text.contains("\"firstConsentedAt\"") && text.contains("\"version\": 1"), "{text}");
        let leftovers: Vec<_> = std::fs::read_dir(&data).unwrap().flatten().map(|e| e.file_name()).collect();
        assert_eq!(leftovers, vec![std::ffi::OsString::from(FILE_NAME)], "no temporary files left behind");
        std::fs::write(data.join(FILE_NAME), "{\"version\":9,\"tenants\":[]}").unwrap();
        assert!(matches!(store.load(), Err(StoreError::Corrupt { .. })));
    }
}
