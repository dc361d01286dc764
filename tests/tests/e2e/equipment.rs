//! Equipment end to end: users provisioned over SCIM, checkouts recorded
//! over gRPC, a holder deactivated with Entra's PATCH; a real webhook
//! receiver on 127.0.0.1 gets signed events, the report lists the holder.
//! Every wait polls with a deadline.

mod cli;
mod delivery;
mod receiver;

use std::time::Duration;

use e2e::{Tenant, TestApp};
use proto::policy::v1 as pb;
use reqwest::StatusCode;
use serde_json::json;

use receiver::Receiver;

const DEADLINE: Duration = Duration::from_secs(15);
const SECRET: &str = "whsec_test_0123456789abcdef";

/// Provisions a user with a name and an email; returns the SCIM id.
async fn provision(t: &Tenant, name: &str) -> String {
    t.create_user(json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": format!("{name}@contoso.com"),
        "name": {"givenName": name, "familyName": "Example"},
        "emails": [{"value": format!("{name}@contoso.com"), "type": "work", "primary": true}],
        "active": true
    }))
    .await
}

/// Deactivates a user the way Entra ID does (the string "False").
async fn deactivate(t: &Tenant, id: &str) {
    let reply = t
        .patch(
            &format!("/Users/{id}"),
            json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "Replace", "path": "active", "value": "False"}]
            }),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
}

async fn configure(app: &TestApp, tenant: &str, url: &str) {
    app.policy
        .clone()
        .set_alert_settings(pb::SetAlertSettingsRequest {
            tenant_id: tenant.into(),
            webhook_url: url.into(),
            signing_secret: SECRET.into(),
            ..Default::default()
        })
        .await
        .unwrap();
}

async fn checkout(
    app: &TestApp,
    tenant: &str,
    user: &str,
    asset: &str,
) -> Result<pb::RecordCheckoutResponse, tonic::Status> {
    app.policy
        .clone()
        .record_checkout(pb::RecordCheckoutRequest {
            tenant_id: tenant.into(),
            user_id: user.into(),
            asset_id: asset.into(),
            asset_name: format!("Laptop {asset}"),
            checked_out_at: None,
        })
        .await
        .map(tonic::Response::into_inner)
}

async fn give_back(app: &TestApp, tenant: &str, asset: &str) -> bool {
    let r = pb::RecordReturnRequest {
        tenant_id: tenant.into(),
        asset_id: asset.into(),
        ..Default::default()
    };
    app.policy
        .clone()
        .record_return(r)
        .await
        .unwrap()
        .into_inner()
        .returned
}

async fn report(app: &TestApp, tenant: &str) -> pb::GetDisabledWithEquipmentReportResponse {
    let r = pb::GetDisabledWithEquipmentReportRequest {
        tenant_id: tenant.into(),
    };
    app.policy
        .clone()
        .get_disabled_with_equipment_report(r)
        .await
        .unwrap()
        .into_inner()
}

pub(crate) async fn disabled_holder_alerts_once_and_leaves_the_report_on_return(app: &TestApp) {
    let t = app.tenant("equip").await;
    let hook = Receiver::start().await;
    configure(app, &t.id, &hook.url()).await;
    let alice = provision(&t, "alice").await;
    let bob = provision(&t, "bob").await;
    app.policy_caught_up().await;

    let unknown = checkout(app, &t.id, "never-provisioned", "X")
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::NotFound);
    assert!(
        unknown.message().contains("never-provisioned"),
        "{}",
        unknown.message()
    );
    assert!(checkout(app, &t.id, &alice, "LT-1").await.unwrap().changed);
    assert!(
        !checkout(app, &t.id, &alice, "LT-1").await.unwrap().changed,
        "a retry changes nothing"
    );
    checkout(app, &t.id, &bob, "LT-2").await.unwrap();

    deactivate(&t, &alice).await;
    let got = hook.wait_for(1, DEADLINE).await;
    got[0].assert_signed_with(SECRET);
    let event = got[0].json();
    assert_eq!(event["type"], "user.disabled_with_equipment");
    assert_eq!(event["tenant_id"], t.id.as_str());
    assert_eq!(event["data"]["user"]["email"], "alice@contoso.com");
    assert_eq!(event["data"]["assets"][0]["asset_id"], "LT-1");

    let r = report(app, &t.id).await;
    assert_eq!(r.disabled_users.len(), 1, "{r:?}");
    let row = &r.disabled_users[0];
    assert_eq!(
        (row.user_id.as_str(), row.email.as_str()),
        (alice.as_str(), "alice@contoso.com")
    );
    assert_eq!(row.display_name, "alice Example");
    assert_eq!(row.assets[0].asset_id, "LT-1");
    assert!(row.disabled_at.is_some());

    // The last asset comes back: the user leaves the report, the closing event arrives.
    assert!(give_back(app, &t.id, "LT-1").await);
    assert!(
        !give_back(app, &t.id, "LT-1").await,
        "a retried return changes nothing"
    );
    let got = hook.wait_for(2, DEADLINE).await;
    assert_eq!(got[1].kind(), "equipment.all_returned");
    got[1].assert_signed_with(SECRET);
    assert!(report(app, &t.id).await.disabled_users.is_empty());
    let kinds: Vec<String> = hook.received().iter().map(|r| r.kind()).collect();
    assert_eq!(
        kinds
            .iter()
            .filter(|k| *k == "user.disabled_with_equipment")
            .count(),
        1,
        "{kinds:?}"
    );

    // A checkout to a disabled user is accepted and alerts.
    assert!(
        checkout(app, &t.id, &alice, "LT-3")
            .await
            .unwrap()
            .user_disabled
    );
    let got = hook.wait_for(3, DEADLINE).await;
    assert_eq!(got[2].kind(), "equipment.checked_out_to_disabled");
    // The log is written after the receiver answers: poll it.
    e2e::wait_until("three deliveries logged", DEADLINE, || async {
        let log = delivery::deliveries(app, &t.id).await;
        let delivered = log
            .deliveries
            .iter()
            .filter(|d| d.outcome == "delivered")
            .count();
        if delivered == 3 {
            Ok(())
        } else {
            Err(format!("{log:?}"))
        }
    })
    .await;
}

pub(crate) async fn holdings_reports_and_alerts_are_isolated_per_tenant(app: &TestApp) {
    let (a, b) = (app.tenant("iso-a").await, app.tenant("iso-b").await);
    let (hook_a, hook_b) = (Receiver::start().await, Receiver::start().await);
    configure(app, &a.id, &hook_a.url()).await;
    let alice = provision(&a, "alice").await;
    app.policy_caught_up().await;
    checkout(app, &a.id, &alice, "A-1").await.unwrap();
    // b cannot hand out to a's user, nor see or return a's asset, nor read a's settings.
    assert_eq!(
        checkout(app, &b.id, &alice, "B-1")
            .await
            .unwrap_err()
            .code(),
        tonic::Code::NotFound
    );
    assert!(!give_back(app, &b.id, "A-1").await);
    let held = pb::ListHoldingsRequest {
        tenant_id: b.id.clone(),
        user_id: String::new(),
    };
    assert!(
        app.policy
            .clone()
            .list_holdings(held)
            .await
            .unwrap()
            .into_inner()
            .holdings
            .is_empty()
    );
    let settings = app
        .policy
        .clone()
        .get_alert_settings(pb::GetAlertSettingsRequest {
            tenant_id: b.id.clone(),
        })
        .await;
    assert_eq!(settings.unwrap_err().code(), tonic::Code::NotFound);
    configure(app, &b.id, &hook_b.url()).await;

    deactivate(&a, &alice).await;
    hook_a.wait_for(1, DEADLINE).await;
    assert_eq!(report(app, &a.id).await.disabled_users.len(), 1);
    assert!(report(app, &b.id).await.disabled_users.is_empty());
    let test = app
        .policy
        .clone()
        .send_test_alert(pb::SendTestAlertRequest {
            tenant_id: b.id.clone(),
        })
        .await
        .unwrap();
    let got = hook_b.wait_for(1, DEADLINE).await;
    assert_eq!(got[0].key, test.into_inner().event_id);
    assert_eq!(
        hook_b.received().len(),
        1,
        "b receives only its own test event"
    );
    assert_eq!(hook_a.received().len(), 1);
}

e2e::on_both_backends!(
    disabled_holder_alerts_once_and_leaves_the_report_on_return,
    holdings_reports_and_alerts_are_isolated_per_tenant,
);
