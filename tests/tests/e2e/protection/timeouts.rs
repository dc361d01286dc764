//! Request and idle timeouts, over raw TCP: a body that never finishes gets
//! a 408 SCIM error, a connection that sends nothing is closed.

use std::time::Duration;

use e2e::{Backend, Options, spawn_app_with};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Far above the timeouts under test: only a hang fails the test.
const DEADLINE: Duration = Duration::from_secs(20);

async fn app(request_timeout: u64, idle_timeout: u64) -> (e2e::TestApp, String) {
    let mut options = Options::default();
    options.protection.request_timeout_seconds = request_timeout;
    options.protection.idle_timeout_seconds = idle_timeout;
    let app = spawn_app_with(Backend::Sqlite, options).await;
    let addr = app.base_url.trim_start_matches("http://").to_owned();
    (app, addr)
}

async fn read_all(stream: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    tokio::time::timeout(DEADLINE, stream.read_to_end(&mut buf))
        .await
        .expect("the server neither answered nor closed")
        .unwrap();
    String::from_utf8_lossy(&buf).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_never_ends_gets_408_with_a_scim_error() {
    let (app, addr) = app(1, 10).await;
    let t = app.tenant("slow").await;
    let mut stream = TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /scim/v2/{}/Users HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/scim+json\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{{\"userName\"",
        t.id, t.token
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let answer = read_all(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        answer.contains("urn:ietf:params:scim:api:messages:2.0:Error"),
        "{answer}"
    );
    assert!(answer.contains("\"status\":\"408\""), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_connection_is_closed() {
    let (_app, addr) = app(30, 1).await;
    let mut stream = TcpStream::connect(&addr).await.unwrap();
    // Half a request line, then nothing.
    stream.write_all(b"GET /livez HT").await.unwrap();
    let answer = read_all(&mut stream).await;
    assert!(!answer.contains("200 OK"), "{answer}");
}
