//! The Prometheus endpoint: a known sequence of SCIM requests, then the
//! named series with sane values. The recorder is process-wide (other tests
//! run alongside), so counters are checked as lower bounds.

use e2e::{TestApp, on_both_backends};
use reqwest::StatusCode;
use serde_json::json;

on_both_backends!(metrics_expose_the_named_series);

/// The sum of the samples of `name` whose labels include every `labels` pair.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let mut found = None;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let (metric, rest) = series.split_once('{').unwrap_or((series, ""));
        if metric != name {
            continue;
        }
        if labels
            .iter()
            .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")))
        {
            let v: f64 = value.parse().unwrap();
            *found.get_or_insert(0.0) += v;
        }
    }
    found
}

async fn metrics_expose_the_named_series(app: &TestApp) {
    let url = e2e::spawn_metrics().await;
    // The probes of the metrics port (the kubelet's, for identity and
    // policy, whose gRPC port speaks TLS only): alive, and a readiness
    // answer (which depends on every in-process service's database).
    let livez = reqwest::get(url.replace("/metrics", "/livez"))
        .await
        .unwrap();
    assert_eq!(livez.status(), StatusCode::OK);
    let readyz = reqwest::get(url.replace("/metrics", "/readyz"))
        .await
        .unwrap();
    assert!(
        [StatusCode::OK, StatusCode::SERVICE_UNAVAILABLE].contains(&readyz.status()),
        "{}",
        readyz.status()
    );
    let t = app.tenant("metrics").await;
    let id = t
        .create_user(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "mia@contoso.com",
            "active": true
        }))
        .await;
    assert_eq!(t.get(&format!("/Users/{id}")).await.status, StatusCode::OK);
    let missing = t.get("/Users/00000000-0000-0000-0000-000000000000").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let deactivated = t
        .patch(
            &format!("/Users/{id}"),
            json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "Replace", "path": "active", "value": "False"}]
            }),
        )
        .await;
    assert_eq!(deactivated.status, StatusCode::OK, "{}", deactivated.body);
    // A filter that does not parse: a 400, which Entra ID counts towards
    // quarantining the tenant's job (a 404 on one resource does not).
    let bad_filter = t.get("/Users?filter=userName%20zz%20%22x%22").await;
    assert_eq!(
        bad_filter.status,
        StatusCode::BAD_REQUEST,
        "{}",
        bad_filter.body
    );
    let gateway_ready = reqwest::get(format!("{}/readyz", app.base_url))
        .await
        .unwrap();
    assert_eq!(gateway_ready.status(), StatusCode::OK);
    let denied = app
        .http
        .get(format!("{}/Users", t.base))
        .bearer_auth("not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), StatusCode::UNAUTHORIZED);
    app.policy_caught_up().await;

    let response = app.http.get(&url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    let at_least = |name: &str, labels: &[(&str, &str)], min: f64| {
        let v = sample(&text, name, labels)
            .unwrap_or_else(|| panic!("no {name} {labels:?} in:\n{text}"));
        assert!(v >= min, "{name} {labels:?} = {v}, want >= {min}");
        v
    };

    // Gateway: by route template, method and status; never the raw path.
    let users = "/scim/v2/{tenant}/Users";
    let user = "/scim/v2/{tenant}/Users/{id}";
    let route_users = [("route", users), ("method", "POST"), ("status", "201")];
    at_least("scim_http_requests_total", &route_users, 1.0);
    let get_user = [("route", user), ("method", "GET"), ("status", "200")];
    at_least("scim_http_requests_total", &get_user, 1.0);
    let get_missing = [("route", user), ("method", "GET"), ("status", "404")];
    at_least("scim_http_requests_total", &get_missing, 1.0);
    let patch_user = [("route", user), ("method", "PATCH"), ("status", "200")];
    at_least("scim_http_requests_total", &patch_user, 1.0);
    assert!(!text.contains(&id), "a raw path or id leaked into a label");
    let count = at_least("scim_http_request_duration_seconds_count", &get_user, 1.0);
    let sum = at_least("scim_http_request_duration_seconds_sum", &get_user, 0.0);
    assert!(
        sum > 0.0 && sum / count < 10.0,
        "mean latency {}",
        sum / count
    );
    at_least(
        "scim_http_request_duration_seconds_bucket",
        &[("route", user), ("le", "+Inf")],
        1.0,
    );
    at_least("scim_auth_failures_total", &[("reason", "rejected")], 1.0);
    // This tenant, or `other` once the bounded tenant set is full.
    let mine = sample(&text, "scim_tenant_requests_total", &[("tenant", &t.id)]);
    let other = sample(&text, "scim_tenant_requests_total", &[("tenant", "other")]);
    let quarantine = "scim_tenant_quarantine_failures_total";
    let mine_failed = sample(&text, quarantine, &[("tenant", &t.id)]);
    let other_failed = sample(&text, quarantine, &[("tenant", "other")]);
    assert!(
        mine_failed.or(other_failed).is_some_and(|v| v >= 1.0),
        "no {quarantine} for {}",
        t.id
    );
    at_least("service_ready", &[("service", "gateway")], 1.0);
    assert!(
        mine.or(other).is_some_and(|v| v >= 1.0),
        "no tenant series for {}: {:?}",
        t.id,
        text.lines()
            .filter(|l| l.contains("tenant_requests"))
            .collect::<Vec<_>>()
    );

    // identity and policy: gRPC server calls by method and code.
    let identity = "identity.v1.IdentityService";
    at_least(
        "grpc_server_requests_total",
        &[
            ("grpc_service", identity),
            ("grpc_method", "CreateUser"),
            ("grpc_code", "OK"),
        ],
        1.0,
    );
    at_least(
        "grpc_server_requests_total",
        &[("grpc_service", identity), ("grpc_code", "NOT_FOUND")],
        1.0,
    );
    at_least(
        "grpc_server_request_duration_seconds_count",
        &[("grpc_service", identity), ("grpc_method", "CreateUser")],
        1.0,
    );

    // gRPC clients: the gateway's calls to identity, policy's stream.
    at_least(
        "grpc_client_requests_total",
        &[
            ("grpc_service", identity),
            ("grpc_method", "CreateUser"),
            ("grpc_code", "OK"),
        ],
        1.0,
    );
    at_least(
        "grpc_client_requests_total",
        &[
            ("grpc_service", identity),
            ("grpc_method", "GetUser"),
            ("grpc_code", "NOT_FOUND"),
        ],
        1.0,
    );
    at_least(
        "grpc_client_requests_total",
        &[("grpc_service", identity), ("grpc_method", "ReadChanges")],
        1.0,
    );
    let calls = at_least(
        "grpc_client_request_duration_seconds_count",
        &[("grpc_service", identity), ("grpc_method", "CreateUser")],
        1.0,
    );
    let spent = at_least(
        "grpc_client_request_duration_seconds_sum",
        &[("grpc_service", identity), ("grpc_method", "CreateUser")],
        0.0,
    );
    assert!(
        spent > 0.0 && spent / calls < 10.0,
        "mean client latency {}",
        spent / calls
    );

    // Database pools.
    let open = at_least(
        "db_pool_connections",
        &[("pool", "identity"), ("state", "open")],
        0.0,
    );
    let max = at_least("db_pool_max_connections", &[("pool", "identity")], 1.0);
    assert!(open <= max, "open {open} > max {max}");
    at_least("db_pool_max_connections", &[("pool", "policy")], 1.0);

    // identity's outbox: a create and a deactivation at least.
    at_least("identity_changes_recorded_total", &[], 2.0);

    // policy: the change stream and deprovisioning latency.
    at_least("policy_stream_partitions_held", &[], 1.0);
    assert_eq!(
        sample(&text, "policy_stream_tenants_behind", &[]),
        Some(0.0)
    );
    at_least("policy_changes_applied_total", &[], 2.0);
    let lag = at_least("policy_change_stream_lag_seconds", &[], 0.0);
    assert!(lag < 60.0, "lag {lag}");
    let n = at_least("policy_deprovisioning_latency_seconds_count", &[], 1.0);
    let total = at_least("policy_deprovisioning_latency_seconds_sum", &[], 0.0);
    assert!(
        total / n < 60.0,
        "mean deprovisioning latency {}",
        total / n
    );
    // The objective's bound is a bucket: the SLI is the share under it.
    at_least(
        "policy_deprovisioning_latency_seconds_bucket",
        &[("le", "60")],
        1.0,
    );
}
