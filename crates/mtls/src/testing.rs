//! A throwaway PKI for tests: a CA and certificates it issues, as PEM files
//! in a temporary directory.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

use crate::TlsFiles;

/// A CA in a temporary directory (removed when dropped).
pub struct TestCa {
    dir: tempfile::TempDir,
    name: String,
    issuer: Issuer<'static, KeyPair>,
}

impl TestCa {
    /// A new CA; `name` tells its files apart from another CA's.
    pub fn new(name: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, format!("{name} test CA"));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let cert = params.self_signed(&key).unwrap();
        std::fs::write(dir.path().join(format!("{name}-ca.pem")), cert.pem()).unwrap();
        Self {
            dir,
            name: name.to_owned(),
            issuer: Issuer::new(params, key),
        }
    }

    /// The CA certificate's file.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join(format!("{}-ca.pem", self.name))
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A certificate for `names` (its subject alternative names, DNS names
    /// or `spiffe://` URIs), usable as server and as client certificate.
    pub fn issue(&self, file: &str, names: &[&str]) -> TlsFiles {
        let key = KeyPair::generate().unwrap();
        let sans: Vec<String> = names.iter().map(|s| (*s).to_owned()).collect();
        let mut params = CertificateParams::new(sans).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, names.first().copied().unwrap_or(file));
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let cert_file = self.dir.path().join(format!("{file}.pem"));
        let key_file = self.dir.path().join(format!("{file}-key.pem"));
        std::fs::write(&cert_file, cert.pem()).unwrap();
        std::fs::write(&key_file, key.serialize_pem()).unwrap();
        TlsFiles {
            ca: self.ca_file(),
            cert: cert_file,
            key: key_file,
        }
    }
}
