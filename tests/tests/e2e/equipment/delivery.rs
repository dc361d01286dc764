//! At-least-once delivery: the receiver down and policy restarted between
//! the change and the delivery; a failed attempt repeated with the same
//! idempotency key.

use e2e::{Backend, TestApp, spawn_app};
use proto::policy::v1 as pb;
use tokio::net::TcpListener;

use super::receiver::Receiver;
use super::{DEADLINE, SECRET, checkout, configure, deactivate, provision};

/// The tenant's delivery log.
pub async fn deliveries(app: &TestApp, tenant: &str) -> pb::ListAlertDeliveriesResponse {
    let r = pb::ListAlertDeliveriesRequest {
        tenant_id: tenant.into(),
        limit: 50,
    };
    app.policy
        .clone()
        .list_alert_deliveries(r)
        .await
        .unwrap()
        .into_inner()
}

async fn survives_a_down_receiver_and_a_restart(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let t = app.tenant("down").await;
    // A port with nothing listening: the receiver is down.
    let addr = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    configure(&app, &t.id, &format!("http://{addr}/hook")).await;
    let alice = provision(&t, "alice").await;
    app.policy_caught_up().await;
    checkout(&app, &t.id, &alice, "LT-9").await.unwrap();
    deactivate(&t, &alice).await;

    let failed = e2e::wait_until("a failed attempt logged", DEADLINE, || async {
        let log = deliveries(&app, &t.id).await;
        match log.deliveries.iter().find(|d| d.outcome == "retry") {
            Some(d) => {
                assert_eq!(d.http_status, 0);
                Ok(d.event_id.clone())
            }
            None => Err(format!("{log:?}")),
        }
    })
    .await;
    app.restart_policy().await;
    // The receiver comes back on the same port.
    let hook = Receiver::on(TcpListener::bind(addr).await.unwrap(), 0);
    let got = hook.wait_for(1, DEADLINE).await;
    got[0].assert_signed_with(SECRET);
    assert_eq!(got[0].key, failed, "the same event, with the same key");
    assert_eq!(got[0].kind(), "user.disabled_with_equipment");
}

async fn duplicates_carry_the_same_key(backend: Backend) {
    let app = spawn_app(backend).await;
    let t = app.tenant("dup").await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook = Receiver::on(listener, 1);
    configure(&app, &t.id, &hook.url()).await;
    let sent = app
        .policy
        .clone()
        .send_test_alert(pb::SendTestAlertRequest {
            tenant_id: t.id.clone(),
        })
        .await;
    let key = sent.unwrap().into_inner().event_id;
    let got = hook.wait_for(2, DEADLINE).await;
    assert_eq!(
        (got[0].key.as_str(), got[1].key.as_str()),
        (key.as_str(), key.as_str())
    );
    assert_eq!(got[0].body, got[1].body, "a retry resends the same body");
    got[1].assert_signed_with(SECRET);
    e2e::wait_until("a retry and a delivery logged", DEADLINE, || async {
        let log = deliveries(&app, &t.id).await;
        let outcomes: Vec<&str> = log.deliveries.iter().map(|d| d.outcome.as_str()).collect();
        if outcomes == ["delivered", "retry"] && log.pending_events == 0 {
            assert_eq!(log.deliveries[1].http_status, 500);
            Ok(())
        } else {
            Err(format!("{log:?}"))
        }
    })
    .await;
}

mod postgres {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn delivery_survives_a_down_receiver_and_a_restart() {
        super::survives_a_down_receiver_and_a_restart(e2e::Backend::Postgres).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn duplicates_carry_the_same_idempotency_key() {
        super::duplicates_carry_the_same_key(e2e::Backend::Postgres).await;
    }
}

mod sqlite {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn delivery_survives_a_down_receiver_and_a_restart() {
        super::survives_a_down_receiver_and_a_restart(e2e::Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn duplicates_carry_the_same_idempotency_key() {
        super::duplicates_carry_the_same_key(e2e::Backend::Sqlite).await;
    }
}
