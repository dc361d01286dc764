//! Reading the PEM files, building rustls configurations from them, and
//! watching them for changes.

use std::hash::{Hash, Hasher};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use rustls::RootCertStore;
use rustls::crypto::CryptoProvider;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::{Error, TlsFiles};

/// One loaded set of files.
pub(crate) struct Material {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
    pub roots: Arc<RootCertStore>,
}

pub(crate) fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

pub(crate) fn read(path: &Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|e| Error::File {
        path: path.to_owned(),
        reason: e.to_string(),
    })
}

fn certs(path: &Path, bytes: &[u8]) -> Result<Vec<CertificateDer<'static>>, Error> {
    let certs = CertificateDer::pem_slice_iter(bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::File {
            path: path.to_owned(),
            reason: format!("not PEM certificates: {e}"),
        })?;
    if certs.is_empty() {
        return Err(Error::File {
            path: path.to_owned(),
            reason: "holds no certificate".into(),
        });
    }
    Ok(certs)
}

/// The contents of the three files, read once (a fingerprint and the
/// material come from the same bytes).
pub(crate) struct Contents {
    ca: Vec<u8>,
    cert: Vec<u8>,
    key: Vec<u8>,
}

impl Contents {
    pub fn read(files: &TlsFiles) -> Result<Self, Error> {
        Ok(Self {
            ca: read(&files.ca)?,
            cert: read(&files.cert)?,
            key: read(&files.key)?,
        })
    }

    pub fn fingerprint(&self) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (&self.ca, &self.cert, &self.key).hash(&mut h);
        h.finish()
    }

    pub fn material(&self, files: &TlsFiles) -> Result<Material, Error> {
        let chain = certs(&files.cert, &self.cert)?;
        let key = PrivateKeyDer::from_pem_slice(&self.key).map_err(|e| Error::File {
            path: files.key.clone(),
            reason: format!("not a PEM private key: {e}"),
        })?;
        Ok(Material {
            chain,
            key,
            roots: roots(&files.ca, &self.ca)?,
        })
    }
}

/// The CA certificates of a file, as trust roots.
pub(crate) fn roots(path: &Path, bytes: &[u8]) -> Result<Arc<RootCertStore>, Error> {
    let mut roots = RootCertStore::empty();
    for ca in certs(path, bytes)? {
        roots.add(ca).map_err(|e| Error::File {
            path: path.to_owned(),
            reason: format!("not a usable CA certificate: {e}"),
        })?;
    }
    Ok(Arc::new(roots))
}

/// The subject alternative names of a certificate: DNS names and URIs.
pub(crate) fn names(cert: &CertificateDer<'_>) -> Vec<String> {
    use x509_parser::extensions::GeneralName;
    let Ok((_, parsed)) = x509_parser::parse_x509_certificate(cert.as_ref()) else {
        return Vec::new();
    };
    let Ok(Some(san)) = parsed.subject_alternative_name() else {
        return Vec::new();
    };
    san.value
        .general_names
        .iter()
        .filter_map(|n| match n {
            GeneralName::DNSName(s) | GeneralName::URI(s) => Some((*s).to_owned()),
            _ => None,
        })
        .collect()
}

/// The end of a certificate's validity, in seconds since the epoch.
pub(crate) fn not_after(cert: &CertificateDer<'_>) -> Option<i64> {
    let (_, parsed) = x509_parser::parse_x509_certificate(cert.as_ref()).ok()?;
    Some(parsed.validity().not_after.timestamp())
}

/// A configuration built from files, swapped for a new one when they change.
pub(crate) struct Reloading<T> {
    current: ArcSwap<T>,
    files: TlsFiles,
    fingerprint: std::sync::Mutex<u64>,
    build: fn(&Material) -> Result<T, Error>,
    side: &'static str,
}

impl<T: Send + Sync + 'static> Reloading<T> {
    pub fn load(
        files: TlsFiles,
        side: &'static str,
        build: fn(&Material) -> Result<T, Error>,
    ) -> Result<Arc<Self>, Error> {
        let contents = Contents::read(&files)?;
        let material = contents.material(&files)?;
        let config = build(&material)?;
        record_expiry(side, &material);
        Ok(Arc::new(Self {
            current: ArcSwap::from_pointee(config),
            files,
            fingerprint: std::sync::Mutex::new(contents.fingerprint()),
            build,
            side,
        }))
    }

    pub fn current(&self) -> Arc<T> {
        self.current.load_full()
    }

    /// Re-reads the files; swaps in a new configuration when they changed
    /// and load. True when a new configuration is in use.
    pub fn reload(&self) -> bool {
        let contents = match Contents::read(&self.files) {
            Ok(c) => c,
            Err(e) => {
                failed(self.side, &e);
                return false;
            }
        };
        let fingerprint = contents.fingerprint();
        let mut seen = match self.fingerprint.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        if *seen == fingerprint {
            return false;
        }
        match contents.material(&self.files).and_then(|m| {
            let config = (self.build)(&m)?;
            Ok((m, config))
        }) {
            Ok((material, config)) => {
                self.current.store(Arc::new(config));
                *seen = fingerprint;
                record_expiry(self.side, &material);
                metrics::counter!("grpc_tls_reloads_total", "side" => self.side, "outcome" => "ok")
                    .increment(1);
                tracing::info!(side = self.side, cert = %self.files.cert.display(), "TLS files reloaded");
                true
            }
            Err(e) => {
                // Half-written files are retried on the next round.
                failed(self.side, &e);
                false
            }
        }
    }

    /// Re-reads the files every `interval` for as long as `self` is used.
    pub fn watch(self: &Arc<Self>, interval: Duration) {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(interval).await;
                let Some(this) = weak.upgrade() else { return };
                this.reload();
            }
        });
    }
}

fn failed(side: &'static str, e: &Error) {
    metrics::counter!("grpc_tls_reloads_total", "side" => side, "outcome" => "failed").increment(1);
    tracing::error!(side, error = %e, "TLS files did not load; the previous ones stay in use");
}

fn record_expiry(side: &'static str, material: &Material) {
    if let Some(end) = material.chain.first().and_then(not_after) {
        #[allow(clippy::cast_precision_loss)]
        metrics::gauge!("grpc_tls_certificate_expiry_seconds", "side" => side).set(end as f64);
    }
}
