#![allow(clippy::unwrap_used)]
use super::*;

fn binding(tenant: &str) -> Binding<'_> {
    Binding {
        tenant,
        resource: "Users",
        filter: "active eq true",
        sort_by: "",
        sort_order: 0,
    }
}

fn key() -> pb::ListKey {
    pb::ListKey {
        sort: Some(pb::list_key::Sort::SortText("alice".into())),
        created_micros: 1_700_000_000_000_000,
        id: "4f0c".into(),
    }
}

#[test]
fn hmac_matches_rfc_4231_test_case_2() {
    let tag = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
    let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(
        hex,
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
}

#[test]
fn a_cursor_opens_only_under_its_binding() {
    let cursors = Cursors::new(b"k".to_vec(), Duration::from_secs(60));
    let sealed = cursors.seal(&binding("acme"), &key(), true);
    let opened = cursors.open(&binding("acme"), &sealed).unwrap();
    assert_eq!(opened.after.unwrap(), key());
    assert!(opened.backwards);
    let other_tenant = cursors.open(&binding("globex"), &sealed).unwrap_err();
    assert_eq!(other_tenant.scim_type, Some(ScimType::InvalidCursor));
    let mut other_query = binding("acme");
    other_query.filter = "";
    assert!(cursors.open(&other_query, &sealed).is_err());
    let other_key = Cursors::new(b"other".to_vec(), Duration::from_secs(60));
    assert!(other_key.open(&binding("acme"), &sealed).is_err());
}

#[test]
fn forged_and_expired_cursors_are_refused() {
    let cursors = Cursors::new(b"k".to_vec(), Duration::from_secs(60));
    let sealed = cursors.seal(&binding("acme"), &key(), false);
    let (body, tag) = sealed.split_once('.').unwrap();
    let mut payload: Value = serde_json::from_slice(&B64.decode(body).unwrap()).unwrap();
    payload["k"]["i"] = "someone-else".into();
    let forged = format!("{}.{tag}", B64.encode(payload.to_string()));
    for bad in [forged.as_str(), "", "x.y", "....", &sealed[1..]] {
        let e = cursors.open(&binding("acme"), bad).unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidCursor), "{bad}");
    }
    let later = now_secs() + 61;
    let e = cursors
        .open_at(&binding("acme"), &sealed, later)
        .unwrap_err();
    assert_eq!(e.scim_type, Some(ScimType::ExpiredCursor));
}
