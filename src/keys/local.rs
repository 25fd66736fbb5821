//! The local key file: a key generated on first start under the data directory, readable by the
//! service user only. With the local key service it wraps every data key of the key store, and
//! it opens what versions before the key store sealed with it directly.

use std::io::Write as _;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hcal_actors::seal::{DataKey, KeyRing};

/// Why the key file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Reading, creating or writing it failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or its directory.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The key store or the key service could not be used.
    #[error("{0}")]
    Service(String),
    /// It holds something other than `id:base64-of-32-bytes`.
    #[error("{path} does not hold a key (expected `id:` and 32 bytes in base64)")]
    Malformed {
        /// The file.
        path: std::path::PathBuf,
    },
}

/// Loads `dir/keys/local.key`, creating it (mode 0600) when absent.
pub fn load_or_create(dir: &Path) -> Result<KeyRing, KeyError> {
    load_or_create_at(&dir.join("keys").join("local.key"))
}

/// Loads the key file at `path`, creating it (mode 0600) when absent. Several processes of one
/// installation (kafka mode) must share it: each opens what the others sealed.
pub fn load_or_create_at(path: &Path) -> Result<KeyRing, KeyError> {
    load_or_create_key(path).map(KeyRing::new)
}

/// The key of the key file at `path`, created (mode 0600) when absent.
pub(super) fn load_or_create_key(path: &Path) -> Result<DataKey, KeyError> {
    if let Some(parent) = path.parent() {
        crate::private::create_dir_all(parent).map_err(|e| io_error("creating", parent, e))?;
    }
    for _ in 0..2 {
        if let Ok(key) = read(path) {
            return Ok(key);
        }
        match create(path) {
            Ok(key) => return Ok(key),
            // Another process created it first: read theirs.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            Err(e) => return Err(io_error("creating", path, e)),
        }
    }
    read(path)
}

fn io_error(action: &'static str, path: &Path, source: std::io::Error) -> KeyError {
    KeyError::Io { action, path: path.to_path_buf(), source }
}

fn read(path: &Path) -> Result<DataKey, KeyError> {
    let text = std::fs::read_to_string(path).map_err(|e| io_error("reading", path, e))?;
    let malformed = || KeyError::Malformed { path: path.to_path_buf() };
    let (id, b64) = text.trim().split_once(':').ok_or_else(malformed)?;
    let bytes: [u8; 32] = STANDARD.decode(b64).ok().and_then(|b| b.try_into().ok()).ok_or_else(malformed)?;
    Ok(DataKey::new(id, bytes))
}

fn create(path: &Path) -> std::io::Result<DataKey> {
    let key = DataKey::generate(format!("local-{}", uuid::Uuid::new_v4().simple()))
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    writeln!(file, "{}:{}", key.id(), STANDARD.encode(key.bytes()))?;
    file.sync_all()?;
    Ok(key)
}
