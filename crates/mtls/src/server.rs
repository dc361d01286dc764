//! The server side: TLS connections whose client certificate, when there
//! is one, has been verified against the CA, each carrying its [`Peer`].

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use rustls::ServerConfig;
use rustls::server::WebPkiClientVerifier;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::server::Connected;

use crate::pem::{self, Material, Reloading};
use crate::{Error, RELOAD_INTERVAL, TlsFiles};

/// Longest a client may take to complete its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Who is on the other end of a connection.
#[derive(Debug, Clone)]
pub struct Peer {
    pub addr: SocketAddr,
    /// The subject alternative names of the verified client certificate;
    /// empty when the client sent none.
    pub names: Arc<[String]>,
}

/// The TLS side of identity's or policy's gRPC server.
#[derive(Clone)]
pub struct ServerTls {
    config: Arc<Reloading<ServerConfig>>,
}

fn build(m: &Material) -> Result<ServerConfig, Error> {
    let provider = pem::provider();
    // Clients without a certificate are let through the handshake so that
    // `Authorize` can answer them UNAUTHENTICATED; a certificate is always
    // verified when one is sent.
    let verifier = WebPkiClientVerifier::builder_with_provider(m.roots.clone(), provider.clone())
        .allow_unauthenticated()
        .build()
        .map_err(|e| Error::Tls(format!("client verifier: {e}")))?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Tls(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(m.chain.clone(), m.key.clone_key())
        .map_err(|e| Error::Tls(format!("server certificate and key: {e}")))?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(config)
}

impl ServerTls {
    /// Loads the files and re-reads them every [`RELOAD_INTERVAL`] (call
    /// within a Tokio runtime).
    pub fn load(files: TlsFiles) -> Result<Self, Error> {
        let config = Reloading::load(files, "server", build)?;
        config.watch(RELOAD_INTERVAL);
        Ok(Self { config })
    }

    /// Re-reads the files now (tests; the watcher does it on its own).
    pub fn reload(&self) -> bool {
        self.config.reload()
    }

    /// The listener's connections after their TLS handshake, for tonic's
    /// `serve_with_incoming`. Handshakes run concurrently, each bounded in
    /// time; a failed one is logged and counted, never yielded.
    pub fn incoming(&self, listener: TcpListener) -> ReceiverStream<io::Result<TlsConn>> {
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        let config = self.config.clone();
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    () = tx.closed() => return,
                    accepted = listener.accept() => accepted,
                };
                let (tcp, addr) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Out of descriptors, say: wait rather than spin.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let acceptor = TlsAcceptor::from(config.current());
                let tx = tx.clone();
                tokio::spawn(async move {
                    if let Some(conn) = handshake(acceptor, tcp, addr).await {
                        let _ = tx.send(Ok(conn)).await;
                    }
                });
            }
        });
        ReceiverStream::new(rx)
    }
}

async fn handshake(acceptor: TlsAcceptor, tcp: TcpStream, addr: SocketAddr) -> Option<TlsConn> {
    // Without it a response whose frames are written separately waits for
    // the peer's delayed ACK.
    let _ = tcp.set_nodelay(true);
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
        Ok(Ok(stream)) => {
            let names: Vec<String> = stream
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|chain| chain.first())
                .map(pem::names)
                .unwrap_or_default();
            Some(TlsConn {
                stream,
                peer: Peer {
                    addr,
                    names: names.into(),
                },
            })
        }
        Ok(Err(e)) => {
            refused(addr, "handshake", &e.to_string());
            None
        }
        Err(_) => {
            refused(addr, "handshake_timeout", "no handshake within 10 s");
            None
        }
    }
}

fn refused(addr: SocketAddr, reason: &'static str, detail: &str) {
    metrics::counter!("grpc_server_auth_refusals_total", "reason" => reason).increment(1);
    tracing::warn!(%addr, reason, detail, "TLS connection refused");
}

/// A TLS connection with the peer it was verified to be.
pub struct TlsConn {
    stream: tokio_rustls::server::TlsStream<TcpStream>,
    peer: Peer,
}

impl Connected for TlsConn {
    type ConnectInfo = Peer;

    fn connect_info(&self) -> Peer {
        self.peer.clone()
    }
}

impl AsyncRead for TlsConn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsConn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}
