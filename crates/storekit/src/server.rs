//! What identity's and policy's gRPC servers share at start-up: the
//! reflection services and a listener whose connections send without delay.

use tokio::net::{TcpListener, TcpStream};
use tokio_stream::wrappers::TcpListenerStream;
use tonic_reflection::server::{Builder, Error, v1, v1alpha};

/// The reflection services, v1 and v1alpha (grpcurl asks for either), over
/// `descriptors` (the service's file descriptor set) and the health
/// service's. The per-caller allowlist decides who may call them.
#[allow(clippy::type_complexity)]
pub fn reflection(
    descriptors: &'static [u8],
) -> Result<
    (
        v1::ServerReflectionServer<impl v1::ServerReflection>,
        v1alpha::ServerReflectionServer<impl v1alpha::ServerReflection>,
    ),
    Error,
> {
    let builder = || {
        Builder::configure()
            .register_encoded_file_descriptor_set(descriptors)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    Ok((builder().build_v1()?, builder().build_v1alpha()?))
}

/// The listener's connections with `TCP_NODELAY`: tonic sets it only on
/// listeners it binds itself, and without it a response whose frames are
/// written separately waits for the peer's delayed ACK (40 ms on Linux).
pub fn nodelay(
    listener: TcpListener,
) -> impl tokio_stream::Stream<Item = std::io::Result<TcpStream>> {
    use tokio_stream::StreamExt;
    TcpListenerStream::new(listener).map(|conn| {
        let conn = conn?;
        conn.set_nodelay(true)?;
        Ok(conn)
    })
}
