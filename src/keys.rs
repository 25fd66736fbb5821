//! The local key file: a data key generated on first start under the data directory, readable
//! by the service user only. The KMS integration replaces this with keys from a key service.

use std::io::Write as _;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hcal_actors::seal::{DataKey, KeyRing};

/// Loads `dir/keys/local.key`, creating it (mode 0600) when absent.
pub fn load_or_create(dir: &Path) -> anyhow::Result<KeyRing> {
    use anyhow::Context as _;
    let keys = dir.join("keys");
    std::fs::create_dir_all(&keys).with_context(|| format!("creating {}", keys.display()))?;
    let path = keys.join("local.key");
    if let Ok(text) = std::fs::read_to_string(&path) {
        let (id, b64) = text.trim().split_once(':').context("key file is malformed")?;
        let bytes: [u8; 32] = STANDARD
            .decode(b64)
            .ok()
            .and_then(|b| b.try_into().ok())
            .context("key file does not hold a 32-byte key")?;
        return Ok(KeyRing::new(DataKey::new(id, bytes)));
    }
    let key = DataKey::generate(format!("local-{}", uuid::Uuid::new_v4().simple()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(&path).with_context(|| format!("creating {}", path.display()))?;
    writeln!(file, "{}:{}", key.id(), STANDARD.encode(key.bytes()))?;
    file.sync_all()?;
    Ok(KeyRing::new(key))
}
