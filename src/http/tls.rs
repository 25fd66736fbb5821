//! TLS terminated by hcal itself (`[service.tls]`): rustls with the *ring* provider, HTTP/1.1,
//! the certificate chain and key read from PEM files and read again when either file changes
//! (checked every [`WATCH_EVERY`]) or the process gets SIGHUP. A file that cannot be read or
//! does not hold a usable certificate and key keeps the one in use, with a warning: a
//! half-written renewal never takes the service down.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use parking_lot::RwLock;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use crate::config::TlsConfig;

/// How often the files' modification times are looked at.
pub const WATCH_EVERY: Duration = Duration::from_secs(10);

/// The certificate in use, replaced on reload.
#[derive(Debug)]
pub struct Certificates {
    cert_file: PathBuf,
    key_file: PathBuf,
    provider: Arc<CryptoProvider>,
    current: RwLock<Arc<CertifiedKey>>,
    /// The files' modification times when last loaded.
    loaded: RwLock<(Option<SystemTime>, Option<SystemTime>)>,
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Reads a chain and key into a certified key (pure apart from reading the two files).
fn load(cert_file: &Path, key_file: &Path, provider: &CryptoProvider) -> Result<CertifiedKey, String> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_file)
        .map_err(|e| format!("{}: {e}", cert_file.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: {e}", cert_file.display()))?;
    if chain.is_empty() {
        return Err(format!("{}: no certificate in it", cert_file.display()));
    }
    let key = PrivateKeyDer::from_pem_file(key_file).map_err(|e| format!("{}: {e}", key_file.display()))?;
    let signing = provider
        .key_provider
        .load_private_key(key)
        .map_err(|e| format!("{}: not a usable private key: {e}", key_file.display()))?;
    let certified = CertifiedKey::new(chain, signing);
    certified.keys_match().map_err(|e| format!("the key does not belong to the certificate: {e}"))?;
    Ok(certified)
}

impl Certificates {
    /// Loads the files; an error names the file and what is wrong.
    pub fn open(config: &TlsConfig) -> Result<Arc<Self>, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let loaded = (modified(&config.cert_file), modified(&config.key_file));
        let first = load(&config.cert_file, &config.key_file, &provider)?;
        Ok(Arc::new(Self {
            cert_file: config.cert_file.clone(),
            key_file: config.key_file.clone(),
            provider,
            current: RwLock::new(Arc::new(first)),
            loaded: RwLock::new(loaded),
        }))
    }

    /// The rustls server configuration that serves the current certificate.
    pub fn server_config(self: &Arc<Self>) -> Result<rustls::ServerConfig, String> {
        let mut config = rustls::ServerConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(config)
    }

    /// Reads the files again; true when a new certificate is in use.
    pub fn reload(&self) -> bool {
        let stamps = (modified(&self.cert_file), modified(&self.key_file));
        match load(&self.cert_file, &self.key_file, &self.provider) {
            Ok(certified) => {
                *self.current.write() = Arc::new(certified);
                *self.loaded.write() = stamps;
                tracing::info!("TLS certificate loaded again");
                true
            }
            Err(why) => {
                // Remember the stamps anyway: a broken file is reported once, not every round.
                *self.loaded.write() = stamps;
                tracing::warn!(%why, "TLS certificate not replaced; the one in use stays");
                false
            }
        }
    }

    /// Reloads on SIGHUP and when a file's modification time changes, forever.
    pub async fn watch(self: Arc<Self>) {
        #[cfg(unix)]
        let mut hangups = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
        loop {
            #[cfg(unix)]
            let hangup = async {
                match hangups.as_mut() {
                    Some(signal) => {
                        signal.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            #[cfg(not(unix))]
            let hangup = std::future::pending::<()>();
            tokio::select! {
                () = hangup => {
                    self.reload();
                }
                () = tokio::time::sleep(WATCH_EVERY) => {
                    let stamps = (modified(&self.cert_file), modified(&self.key_file));
                    if stamps != *self.loaded.read() {
                        self.reload();
                    }
                }
            }
        }
    }
}

impl ResolvesServerCert for Certificates {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.read().clone())
    }
}
