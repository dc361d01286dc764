//! Mutual TLS for the internal gRPC APIs of identity and policy.
//!
//! Every caller of identity and policy (the gateway, the console, policy's
//! follower, the product, the asset service, operators with `scimctl`)
//! presents a client certificate issued by the deployment's internal CA,
//! and the server answers only over TLS. The certificate names the caller:
//! its subject alternative names (DNS names and URIs, so SPIFFE IDs work
//! too) are looked up in an [`Access`] table that maps each known name to a
//! role, and each role to the methods it may call.
//!
//! - [`ServerTls`] accepts TLS connections with the server's certificate
//!   and verifies client certificates against the CA ([`incoming`](ServerTls::incoming)
//!   hands tonic a stream of connections that carry the caller's [`Peer`]).
//!   A client without a certificate completes the handshake, so that its
//!   calls can be answered `UNAUTHENTICATED` rather than cut off; a
//!   certificate the CA did not sign fails the handshake.
//! - [`Authorize`] is the tower layer in front of the services: no
//!   certificate, `UNAUTHENTICATED`; a method outside the caller's role,
//!   `PERMISSION_DENIED`; both logged with the caller and the method, and
//!   counted in `grpc_server_auth_refusals_total`. Health checks are open to
//!   every TLS client; reflection is for operators.
//! - [`ClientTls`] makes lazily connected channels that present the
//!   client's certificate and verify the server's against the CA.
//!
//! Certificates, keys and the CA are PEM files, re-read every
//! [`RELOAD_INTERVAL`]; new connections use the new files at once (a
//! rotation by cert-manager or a Secret update needs no restart), and a
//! set of files that does not load keeps the previous one (logged, and
//! counted in `grpc_tls_reloads_total{outcome="failed"}`). The expiry of the
//! certificate in use is exported as `grpc_tls_certificate_expiry_seconds`.
//!
//! Without TLS files a service serves plain gRPC to everyone (the local
//! mode of `make run`); it refuses to do so on an address other than
//! loopback unless told so explicitly ([`check_plaintext`]).

mod access;
mod client;
mod pem;
mod server;
mod settings;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

pub use access::{Access, AccessError, Authorize, Role};
pub use client::ClientTls;
pub use server::{Peer, ServerTls, TlsConn};
pub use settings::{AccessSettings, Secured, TlsSettings, channel, secure};

/// How often certificate files are checked for changes.
pub const RELOAD_INTERVAL: Duration = Duration::from_secs(10);

/// The PEM files of one side of a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The CA certificates that sign the other side's certificates.
    pub ca: PathBuf,
    /// This side's certificate chain.
    pub cert: PathBuf,
    /// This side's private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

impl TlsFiles {
    /// The files named by three optional settings: all three, or none
    /// (`Ok(None)`); a partial set is an error naming what is missing.
    pub fn from_parts(
        ca: Option<PathBuf>,
        cert: Option<PathBuf>,
        key: Option<PathBuf>,
    ) -> Result<Option<Self>, Error> {
        match (ca, cert, key) {
            (None, None, None) => Ok(None),
            (Some(ca), Some(cert), Some(key)) => Ok(Some(Self { ca, cert, key })),
            (ca, cert, key) => {
                let missing: Vec<&str> = [
                    (ca.is_none(), "GRPC_TLS_CA"),
                    (cert.is_none(), "GRPC_TLS_CERT"),
                    (key.is_none(), "GRPC_TLS_KEY"),
                ]
                .into_iter()
                .filter_map(|(m, name)| m.then_some(name))
                .collect();
                Err(Error::Config(format!(
                    "TLS needs a CA, a certificate and a key; missing {}",
                    missing.join(", ")
                )))
            }
        }
    }
}

/// Why TLS could not be set up.
#[derive(Debug)]
pub enum Error {
    /// A file could not be read or parsed.
    File { path: PathBuf, reason: String },
    /// The files do not make a valid configuration.
    Tls(String),
    /// The settings are incomplete or contradictory.
    Config(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File { path, reason } => write!(f, "{}: {reason}", path.display()),
            Self::Tls(reason) => write!(f, "TLS: {reason}"),
            Self::Config(reason) => f.write_str(reason),
        }
    }
}

impl std::error::Error for Error {}

/// Refuses plain gRPC on `addr` unless it is a loopback address or
/// `allow` (the service's `GRPC_ALLOW_PLAINTEXT`) says so: without TLS
/// every process that reaches the port may call every method.
pub fn check_plaintext(service: &str, addr: SocketAddr, allow: bool) -> Result<(), Error> {
    if addr.ip().is_loopback() {
        tracing::info!(%addr, "{service} serves plain gRPC on loopback (local mode, no TLS)");
        return Ok(());
    }
    if allow {
        tracing::warn!(
            %addr,
            "{service} serves plain gRPC without client authentication (GRPC_ALLOW_PLAINTEXT)"
        );
        return Ok(());
    }
    Err(Error::Config(format!(
        "{service} would serve plain gRPC on {addr}, which anyone who reaches it may call: \
         set GRPC_TLS_CA, GRPC_TLS_CERT and GRPC_TLS_KEY, listen on loopback, \
         or set GRPC_ALLOW_PLAINTEXT=true"
    )))
}
