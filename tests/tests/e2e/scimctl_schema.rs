//! `scimctl schema`: registering, listing, showing and removing a tenant's
//! extension schema, seen through SCIM discovery.

use ::scimctl::{Cli, CliError, Parser as _};
use e2e::{TestApp, on_both_backends};
use serde_json::{Value, json};

on_both_backends!(schemas_are_put_listed_shown_and_deleted);

const URN: &str = "urn:example:scim:schemas:extension:hr:1.0:User";

async fn scimctl(app: &TestApp, args: &[&str]) -> Result<String, CliError> {
    let argv = ["scimctl", "--identity-url", &app.identity_url];
    let cli = Cli::try_parse_from(argv.iter().chain(args)).unwrap();
    let mut out = Vec::new();
    ::scimctl::run(cli, &mut out).await?;
    Ok(String::from_utf8(out).unwrap())
}

async fn schemas_are_put_listed_shown_and_deleted(app: &TestApp) {
    let t = app.tenant("ctl").await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hr.json");
    let schema = json!({"id": URN, "name": "HR", "attributes": [
        {"name": "costCenterCode", "type": "string", "caseExact": true},
        {"name": "grade", "type": "integer", "required": true}
    ]});
    std::fs::write(&file, schema.to_string()).unwrap();
    let path = file.to_str().unwrap();

    let out = scimctl(app, &["schema", "put", &t.id, "--file", path])
        .await
        .unwrap();
    assert!(out.starts_with(&format!("registered {URN}")), "{out}");
    assert!(out.contains("User") && out.contains(" 2 "), "{out}");
    let again = scimctl(app, &["schema", "put", &t.id, "--file", path])
        .await
        .unwrap();
    assert!(again.starts_with("replaced"), "{again}");

    let listed: Value = serde_json::from_str(
        &scimctl(app, &["--json", "schema", "list", &t.id])
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(listed[0]["urn"], URN);
    assert_eq!(listed[0]["resourceType"], "User");
    assert_eq!(listed[0]["schema"]["attributes"][1]["required"], true);
    let shown = scimctl(app, &["schema", "get", &t.id, URN]).await.unwrap();
    let shown: Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(shown["attributes"][0]["caseExact"], true);
    assert_eq!(shown["attributes"][0]["mutability"], "readWrite");

    let discovered = t.get(&format!("/Schemas/{URN}")).await;
    assert_eq!(discovered.body["name"], "HR");
    let user = t
        .post("/Users", json!({"userName": "a", URN: {"grade": 7}}))
        .await;
    assert_eq!(user.body[URN]["grade"], 7, "{}", user.body);

    let bad_file = scimctl(
        app,
        &["schema", "put", &t.id, "--file", "/nonexistent/x.json"],
    )
    .await;
    assert!(matches!(bad_file, Err(CliError::Input { .. })));
    std::fs::write(&file, r#"{"id": "urn:x", "attributes": []}"#).unwrap();
    let invalid = scimctl(app, &["schema", "put", &t.id, "--file", path])
        .await
        .unwrap_err();
    assert!(
        invalid.to_string().starts_with("INVALID_ARGUMENT"),
        "{invalid}"
    );

    let deleted = scimctl(app, &["schema", "delete", &t.id, URN])
        .await
        .unwrap();
    assert_eq!(deleted.trim(), format!("deleted {URN}"));
    let gone = scimctl(app, &["schema", "get", &t.id, URN])
        .await
        .unwrap_err();
    assert!(gone.to_string().starts_with("NOT_FOUND"), "{gone}");
    let gone = scimctl(app, &["schema", "delete", &t.id, URN])
        .await
        .unwrap_err();
    assert!(gone.to_string().starts_with("NOT_FOUND"), "{gone}");
}
