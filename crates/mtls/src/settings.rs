//! The settings every service reads (flags and environment variables), and
//! what they turn into.

use std::net::SocketAddr;
use std::path::PathBuf;

use tonic::transport::{Channel, Endpoint};

use crate::{Access, Authorize, ClientTls, Error, ServerTls, TlsFiles};

/// This process's certificate, key and the internal CA: the server's
/// certificate of identity and policy, and the client certificate of every
/// process that calls them (policy uses the same pair for both).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TlsSettings {
    /// PEM file of the internal CA (verifies the other side of every gRPC
    /// connection). With GRPC_TLS_CERT and GRPC_TLS_KEY it turns on mutual
    /// TLS; without all three, gRPC is plain (local mode).
    #[arg(long = "grpc-tls-ca", env = "GRPC_TLS_CA")]
    pub ca: Option<PathBuf>,
    /// PEM file of this process's certificate chain.
    #[arg(long = "grpc-tls-cert", env = "GRPC_TLS_CERT")]
    pub cert: Option<PathBuf>,
    /// PEM file of this process's private key. Never logged.
    #[arg(long = "grpc-tls-key", env = "GRPC_TLS_KEY")]
    pub key: Option<PathBuf>,
}

impl TlsSettings {
    pub fn files(&self) -> Result<Option<TlsFiles>, Error> {
        TlsFiles::from_parts(self.ca.clone(), self.cert.clone(), self.key.clone())
    }

    /// The client side, watched for changes; `None` in local mode.
    pub fn client(&self) -> Result<Option<ClientTls>, Error> {
        self.files()?.map(ClientTls::load).transpose()
    }
}

/// Who may call a server, and whether it may serve without TLS.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct AccessSettings {
    /// Certificate names and their roles, `name=role,…` (a DNS name or URI
    /// of the client certificate's subject alternative names). Default:
    /// each role's own name (gateway, console, policy, product,
    /// asset-service, operator).
    #[arg(long = "grpc-clients", env = "GRPC_CLIENTS")]
    pub clients: Option<String>,
    /// Methods added to roles, `role=Method|Method;…` (a new role name
    /// defines a role).
    #[arg(long = "grpc-grants", env = "GRPC_GRANTS")]
    pub grants: Option<String>,
    /// Serve plain gRPC on an address other than loopback (no TLS, no
    /// client authentication): only behind another layer that
    /// authenticates callers.
    #[arg(
        long = "grpc-allow-plaintext",
        env = "GRPC_ALLOW_PLAINTEXT",
        default_value_t = false
    )]
    pub allow_plaintext: bool,
}

/// A server's TLS and the layer that authorises its calls.
#[derive(Clone)]
pub struct Secured {
    pub tls: ServerTls,
    pub authorize: Authorize,
}

/// What a server on `addr` runs with: `Some` with TLS files, `None` for
/// plain gRPC (allowed on loopback or with `allow_plaintext`).
pub fn secure(
    service: &str,
    addr: SocketAddr,
    tls: &TlsSettings,
    access: &AccessSettings,
) -> Result<Option<Secured>, Error> {
    let table = Access::configure(access.clients.as_deref(), access.grants.as_deref())
        .map_err(|e| Error::Config(e.to_string()))?;
    match tls.files()? {
        Some(files) => {
            let tls = ServerTls::load(files)?;
            tracing::info!(%addr, "{service} serves gRPC over mutual TLS");
            Ok(Some(Secured {
                tls,
                authorize: Authorize::new(table),
            }))
        }
        None => {
            crate::check_plaintext(service, addr, access.allow_plaintext)?;
            Ok(None)
        }
    }
}

/// A lazily connected channel to `endpoint`, over TLS when `tls` is set.
pub fn channel(tls: Option<&ClientTls>, endpoint: Endpoint) -> Channel {
    match tls {
        Some(tls) => tls.connect_lazy(endpoint),
        None => endpoint.connect_lazy(),
    }
}
