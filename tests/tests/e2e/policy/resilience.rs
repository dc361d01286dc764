//! The follower survives losing identity: a TCP proxy between a policy
//! instance and identity is cut (every connection dropped, nothing
//! listening), writes happen meanwhile, the proxy comes back on the same
//! port, and the follower reconnects by itself and catches up.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use e2e::{Backend, spawn_app};
use proto::policy::v1 as pb;
use proto::policy::v1::policy_service_client::PolicyServiceClient;
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use super::DEADLINE;

/// Forwards every connection to `target` until cut.
struct Proxy {
    addr: SocketAddr,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Proxy {
    async fn start(listener: TcpListener, target: SocketAddr) -> Self {
        let addr = listener.local_addr().unwrap();
        let tasks: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let registry = tasks.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let conn = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                registry.lock().unwrap().push(conn);
            }
        });
        tasks.lock().unwrap().push(accept);
        Self { addr, tasks }
    }

    /// Drops every connection and stops listening.
    async fn cut(&self) {
        let tasks: Vec<JoinHandle<()>> = self.tasks.lock().unwrap().drain(..).collect();
        for task in tasks {
            task.abort();
            let _ = task.await;
        }
    }
}

async fn effective(
    client: &PolicyServiceClient<tonic::transport::Channel>,
    tenant: &str,
    user: &str,
) -> Option<pb::EffectiveRole> {
    client
        .clone()
        .get_effective_role(pb::GetEffectiveRoleRequest {
            tenant_id: tenant.into(),
            user_id: user.into(),
        })
        .await
        .ok()
        .and_then(|r| r.into_inner().role)
}

async fn wait_seen(
    client: &PolicyServiceClient<tonic::transport::Channel>,
    tenant: &str,
    user: &str,
) {
    e2e::wait_until("the follower sees the user", DEADLINE, || async {
        effective(client, tenant, user)
            .await
            .ok_or_else(|| format!("user {user} not seen"))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follower_reconnects_after_losing_identity() {
    let app = spawn_app(Backend::Sqlite).await;
    let identity_addr: SocketAddr = app
        .identity_url
        .trim_start_matches("http://")
        .parse()
        .unwrap();
    let proxy = Proxy::start(
        TcpListener::bind("127.0.0.1:0").await.unwrap(),
        identity_addr,
    )
    .await;

    // A policy instance of its own, following identity through the proxy.
    let dir = tempfile::tempdir().unwrap();
    let store = policy::SqlStore::connect(&policy::StoreOptions {
        url: format!("sqlite:{}", dir.path().join("policy.db").display()),
        max_connections: 2,
        ..Default::default()
    })
    .await
    .unwrap();
    store.migrate().await.unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let policy_app =
        policy::Application::with_store(store, listener, &format!("http://{}", proxy.addr))
            .unwrap();
    let policy_url = format!("http://{}", policy_app.local_addr());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(policy_app.run_until_stopped(async {
        let _ = stopped.await;
    }));
    let client = PolicyServiceClient::connect(policy_url).await.unwrap();

    let t = app.tenant("resilient").await;
    let first = t.create_user(json!({"userName": "first@x.com"})).await;
    wait_seen(&client, &t.id, &first).await;

    proxy.cut().await;
    let second = t.create_user(json!({"userName": "second@x.com"})).await;
    assert!(effective(&client, &t.id, &second).await.is_none());
    let again = Proxy::start(TcpListener::bind(proxy.addr).await.unwrap(), identity_addr).await;
    wait_seen(&client, &t.id, &second).await;
    again.cut().await;

    // A graceful stop ends the server and its follower.
    stop.send(()).unwrap();
    tokio::time::timeout(DEADLINE, server)
        .await
        .expect("policy stops within the deadline")
        .unwrap()
        .unwrap();
}
