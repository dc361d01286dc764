//! A real tonic server over [`mtls::ServerTls`]: a client certificate of
//! an unknown CA is refused until the server's CA file names that CA and
//! the files are re-read; no restart.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use mtls::testing::TestCa;
use mtls::{ClientTls, ServerTls, TlsFiles};
use tonic::transport::{Endpoint, Server};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

async fn check(url: &str, tls: &ClientTls) -> bool {
    let endpoint = Endpoint::from_shared(url.to_owned())
        .unwrap()
        .connect_timeout(Duration::from_secs(5));
    let Ok(channel) = tls.connect(endpoint).await else {
        return false;
    };
    HealthClient::new(channel)
        .check(HealthCheckRequest::default())
        .await
        .is_ok()
}

#[tokio::test]
async fn a_new_ca_is_trusted_once_its_file_is_reloaded() {
    let old = TestCa::new("old");
    let new = TestCa::new("new");
    let server_files = old.issue("server", &["localhost", "127.0.0.1"]);
    // The server's own copy of the CA file, which a rotation rewrites.
    let server_ca = old.dir().join("server-trust.pem");
    std::fs::copy(old.ca_file(), &server_ca).unwrap();
    let server = ServerTls::load(TlsFiles {
        ca: server_ca.clone(),
        ..server_files
    })
    .unwrap();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://{}", listener.local_addr().unwrap());
    let (_reporter, health) = tonic_health::server::health_reporter();
    let incoming = server.incoming(listener);
    tokio::spawn(
        Server::builder()
            .add_service(health)
            .serve_with_incoming(incoming),
    );

    // Clients verify the server with the old CA; one presents a
    // certificate of the new CA.
    let old_client = ClientTls::load_once(&old.issue("old-client", &["operator"])).unwrap();
    let new_client = ClientTls::load_once(&TlsFiles {
        ca: old.ca_file(),
        ..new.issue("new-client", &["operator"])
    })
    .unwrap();
    assert!(check(&url, &old_client).await);
    assert!(!check(&url, &new_client).await, "an unknown CA was trusted");

    // Nothing changed on disk: nothing is reloaded.
    assert!(!server.reload());
    // A half-written file keeps the old configuration.
    std::fs::write(&server_ca, "-----BEGIN CERTIFICATE-----\nnot base64").unwrap();
    assert!(!server.reload());
    assert!(check(&url, &old_client).await);

    // The rotation's first step: trust both CAs.
    let bundle = [
        std::fs::read_to_string(old.ca_file()).unwrap(),
        std::fs::read_to_string(new.ca_file()).unwrap(),
    ]
    .concat();
    std::fs::write(&server_ca, bundle).unwrap();
    assert!(server.reload());
    assert!(check(&url, &new_client).await);
    assert!(check(&url, &old_client).await);
}
