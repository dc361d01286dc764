//! The client side: channels that present this service's certificate and
//! verify the server's against the CA.

use std::io;
use std::path::Path;
use std::sync::Arc;

use hyper_util::rt::TokioIo;
use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tonic::transport::{Channel, Endpoint, Uri};

use crate::pem::{self, Contents, Material, Reloading};
use crate::{Error, RELOAD_INTERVAL, TlsFiles};

#[derive(Clone)]
enum Source {
    Files(Arc<Reloading<ClientConfig>>),
    Fixed(Arc<ClientConfig>),
}

/// TLS for the channels a service (or `scimctl`) opens to identity and
/// policy.
#[derive(Clone)]
pub struct ClientTls {
    source: Source,
}

fn build(m: &Material) -> Result<ClientConfig, Error> {
    let mut config = ClientConfig::builder_with_provider(pem::provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Tls(e.to_string()))?
        .with_root_certificates(m.roots.clone())
        .with_client_auth_cert(m.chain.clone(), m.key.clone_key())
        .map_err(|e| Error::Tls(format!("client certificate and key: {e}")))?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(config)
}

impl ClientTls {
    /// Loads the files and re-reads them every [`RELOAD_INTERVAL`] (call
    /// within a Tokio runtime); connections made after a change use the
    /// new files.
    pub fn load(files: TlsFiles) -> Result<Self, Error> {
        let config = Reloading::load(files, "client", build)?;
        config.watch(RELOAD_INTERVAL);
        Ok(Self {
            source: Source::Files(config),
        })
    }

    /// Loads the files once, without watching them (a command-line tool).
    pub fn load_once(files: &TlsFiles) -> Result<Self, Error> {
        let material = Contents::read(files)?.material(files)?;
        Ok(Self {
            source: Source::Fixed(Arc::new(build(&material)?)),
        })
    }

    /// Verifies the server against `ca` and presents no certificate of its
    /// own: what a caller without a client certificate can do.
    pub fn anonymous(ca: &Path) -> Result<Self, Error> {
        let roots = pem::roots(ca, &pem::read(ca)?)?;
        let mut config = ClientConfig::builder_with_provider(pem::provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Tls(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"h2".to_vec()];
        Ok(Self {
            source: Source::Fixed(Arc::new(config)),
        })
    }

    fn current(&self) -> Arc<ClientConfig> {
        match &self.source {
            Source::Files(r) => r.current(),
            Source::Fixed(c) => c.clone(),
        }
    }

    /// A channel to `endpoint` that connects over TLS when first used and
    /// again after a connection is lost. The server's certificate must
    /// name the endpoint's host.
    pub fn connect_lazy(&self, endpoint: Endpoint) -> Channel {
        let tls = self.clone();
        endpoint.connect_with_connector_lazy(tower::service_fn(move |uri: Uri| {
            let config = tls.current();
            async move { connect(config, &uri).await }
        }))
    }

    /// Like [`connect_lazy`](Self::connect_lazy), connecting now.
    pub async fn connect(&self, endpoint: Endpoint) -> Result<Channel, tonic::transport::Error> {
        let tls = self.clone();
        endpoint
            .connect_with_connector(tower::service_fn(move |uri: Uri| {
                let config = tls.current();
                async move { connect(config, &uri).await }
            }))
            .await
    }
}

async fn connect(
    config: Arc<ClientConfig>,
    uri: &Uri,
) -> io::Result<TokioIo<tokio_rustls::client::TlsStream<TcpStream>>> {
    let host = uri
        .host()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the URL has no host"))?;
    // `[::1]` in a URL is `::1` to the resolver and the certificate.
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = uri.port_u16().unwrap_or(443);
    let tcp = TcpStream::connect((host.as_str(), port)).await?;
    tcp.set_nodelay(true)?;
    let name = ServerName::try_from(host)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
    let stream = TlsConnector::from(config).connect(name, tcp).await?;
    Ok(TokioIo::new(stream))
}
