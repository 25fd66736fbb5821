//! The local key file: a data key generated on first start under the data directory, readable
//! by the service user only. The KMS integration replaces this with keys from a key service.

use std::io::Write as _;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hcal_actors::seal::{DataKey, KeyRing};

/// Loads `dir/keys/local.key`, creating it (mode 0600) when absent.
pub fn load_or_create(dir: &Path) -> anyhow::Result<KeyRing> {
    load_or_create_at(&dir.join("keys").join("local.key"))
}

/// Loads the key file at `path`, creating it (mode 0600) when absent. Several processes of one
/// installation (kafka mode) must share it: each opens what the others sealed.
pub fn load_or_create_at(path: &Path) -> anyhow::Result<KeyRing> {
    use anyhow::Context as _;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    for _ in 0..2 {
        if let Ok(ring) = read(path) {
            return Ok(ring);
        }
        match create(path) {
            Ok(ring) => return Ok(ring),
            // Another process created it first: read theirs.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            Err(e) => return Err(e).with_context(|| format!("creating {}", path.display())),
        }
    }
    read(path)
}

fn read(path: &Path) -> anyhow::Result<KeyRing> {
    use anyhow::Context as _;
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    {
        let (id, b64) = text.trim().split_once(':').context("key file is malformed")?;
        let bytes: [u8; 32] = STANDARD
            .decode(b64)
            .ok()
            .and_then(|b| b.try_into().ok())
            .context("key file does not hold a 32-byte key")?;
        Ok(KeyRing::new(DataKey::new(id, bytes)))
    }
}

fn create(path: &Path) -> std::io::Result<KeyRing> {
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
    Ok(KeyRing::new(key))
}
