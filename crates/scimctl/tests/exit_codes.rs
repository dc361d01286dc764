//! The binary's contract with shells: exit codes and what goes to stderr.
//! No server is needed: these cases fail before or at connecting.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Output};

fn scimctl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_scimctl"))
        .args(args)
        .env_remove("SCIMCTL_IDENTITY_URL")
        .env_remove("SCIMCTL_POLICY_URL")
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap()
}

/// A URL on which nothing listens: a port that was free a moment ago.
fn closed_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

#[test]
fn usage_errors_exit_2() {
    let out = scimctl(&["tenant", "frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
    let out = scimctl(&["user", "list", "acme", "--descending"]);
    assert_eq!(out.status.code(), Some(2), "--descending needs --sort-by");
}

#[test]
fn an_unreachable_server_is_one_error_line_and_exit_1() {
    let url = closed_url();
    let out = scimctl(&["--identity-url", &url, "tenant", "list"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.starts_with(&format!(
            "error: UNAVAILABLE: cannot reach the identity service at {url}"
        )),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn an_unreachable_policy_service_is_one_error_line_and_exit_1() {
    let url = closed_url();
    let out = scimctl(&["role", "list", "acme", "--policy-url", &url]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.starts_with(&format!(
            "error: UNAVAILABLE: cannot reach the policy service at {url}"
        )),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn a_dry_run_names_exactly_one_change() {
    assert_eq!(scimctl(&["dry-run", "acme"]).status.code(), Some(2));
    let both = [
        "dry-run",
        "acme",
        "--remove-assignment",
        "g",
        "--set-default-role",
        "R",
    ];
    assert_eq!(scimctl(&both).status.code(), Some(2));
    let bad = ["dry-run", "acme", "--set-assignment", "g:R:high"];
    assert_eq!(scimctl(&bad).status.code(), Some(2));
}

#[test]
fn global_flags_go_after_the_subcommand_too() {
    let url = closed_url();
    let out = scimctl(&["token", "list", "acme", "--json", "--identity-url", &url]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains(&url), "{stderr}");
}
