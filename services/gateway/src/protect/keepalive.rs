//! Keepalive probes: Entra ID's Test Connection, and the checks it sends
//! between provisioning cycles, are `GET /Users?filter=userName eq
//! "<random GUID>"`. A refused probe can quarantine the provisioning job,
//! so probes draw on an allowance of their own per tenant (outside its rate
//! budget, which a provisioning cycle may have used up) rather than on the
//! budget. The allowance is small: a probe past it is an ordinary request
//! (so probe-shaped requests cannot be used to get around the budget).
//! Decisions are counted in `gateway_keepalive_probes_total{result}`.

use std::collections::HashMap;

use axum::extract::Query;
use axum::http::{Method, Uri};

use super::gcra::Params;

/// Query parameters a probe may carry besides its filter.
const ALSO_ALLOWED: &[&str] = &["attributes", "excludedAttributes", "count", "startIndex"];

/// True for `GET /Users?filter=userName eq "<GUID>"` (the path below the
/// tenant's base URL); the lookup is one search of the userName index.
pub fn is_probe(method: &Method, uri: &Uri) -> bool {
    if method != Method::GET || uri.path() != "/Users" {
        return false;
    }
    let Ok(Query(query)) = Query::<HashMap<String, String>>::try_from_uri(uri) else {
        return false;
    };
    let mut filter = None;
    for (key, value) in &query {
        if key.eq_ignore_ascii_case("filter") {
            filter = Some(value);
        } else if !ALSO_ALLOWED.iter().any(|k| k.eq_ignore_ascii_case(key)) {
            return false;
        }
    }
    filter
        .and_then(|f| scim::filter::parse_filter(f).ok())
        .is_some_and(|f| crate::provlog::summary::is_probe(&f))
}

/// The limiter's bucket of a tenant's probes (tenant ids hold no `:`).
pub fn bucket(tenant: &str) -> String {
    format!("{tenant}:keepalive")
}

/// The GCRA parameters of the allowance: `per_minute` sustained, `burst`
/// at once (each at least 1).
pub fn params(per_minute: u32, burst: u32) -> Params {
    let interval = 60_000_000 / u64::from(per_minute.max(1));
    let window = u64::from(burst.max(1)) * interval;
    Params {
        interval,
        increment: interval,
        tolerance: window,
        window,
    }
}

/// Counts one probe decision: `allowance` (admitted from it) or
/// `over_allowance` (sent on to the tenant's ordinary budget).
pub fn count(from_allowance: bool) {
    let result = if from_allowance {
        "allowance"
    } else {
        "over_allowance"
    };
    metrics::counter!("gateway_keepalive_probes_total", "result" => result).increment(1);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn probe(uri: &str) -> bool {
        is_probe(&Method::GET, &uri.parse().unwrap())
    }

    #[test]
    fn a_guid_lookup_by_user_name_is_a_probe() {
        let guid = "7c1f2a4e-3d5b-4c6a-9e8f-0a1b2c3d4e5f";
        assert!(probe(&format!(
            "/Users?filter=userName%20eq%20%22{guid}%22"
        )));
        assert!(probe(&format!(
            "/Users?filter=userName+eq+%22{guid}%22&attributes=id"
        )));
        assert!(!probe("/Users?filter=userName%20eq%20%22ann@x.com%22"));
        assert!(!probe(&format!(
            "/Groups?filter=userName%20eq%20%22{guid}%22"
        )));
        assert!(!probe(&format!(
            "/Users?filter=userName%20eq%20%22{guid}%22&sortBy=x"
        )));
        assert!(!probe("/Users"));
        assert!(!is_probe(
            &Method::POST,
            &format!("/Users?filter=userName%20eq%20%22{guid}%22")
                .parse()
                .unwrap()
        ));
    }

    #[test]
    fn the_allowance_is_per_minute() {
        let p = params(30, 10);
        assert_eq!(p.interval, 2_000_000);
        assert_eq!(p.window, 20_000_000);
    }
}
