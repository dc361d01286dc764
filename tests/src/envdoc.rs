//! The environment-variable reference, `docs/env.md`, generated from the
//! binaries' own argument definitions (their `Cli` types): the variable,
//! the flag, the default and the doc comment of every argument that reads
//! the environment. The test `docs::env_reference_is_current` fails when
//! the file differs; `UPDATE_ENV_DOCS=1` rewrites it.

use clap::{Command, CommandFactory};

/// The binaries, in the order the reference lists them.
fn binaries() -> Vec<(&'static str, &'static str, Command)> {
    vec![
        (
            "gateway",
            "the SCIM gateway (HTTP)",
            gateway::cli::Cli::command(),
        ),
        (
            "identity",
            "users, groups, tenants, tokens and the change stream (gRPC); `identity migrate` reads only the database settings",
            identity::cli::Cli::command(),
        ),
        (
            "policy",
            "roles, assignments, locks, equipment and alerts (gRPC), following identity's change stream; `policy migrate` reads only the database settings",
            policy::cli::Cli::command(),
        ),
        (
            "console",
            "the tenant administrator's pages (HTTP)",
            console::cli::Cli::command(),
        ),
        (
            "scim-local",
            "`make run`: every service in one process on SQLite",
            all_in_one::Cli::command(),
        ),
    ]
}

/// One line of a table cell: newlines folded, pipes escaped.
fn cell(text: &str) -> String {
    let folded = text.split_whitespace().collect::<Vec<_>>().join(" ");
    folded.replace('|', "\\|")
}

/// The reference as it should stand in `docs/env.md`.
pub fn render() -> String {
    let mut out = String::from(
        "# Environment variables\n\n\
         Every setting of every binary, read from the environment (or the\n\
         flag named beside it). **This file is generated** from the\n\
         binaries' own argument definitions (`services/*/src/cli.rs`,\n\
         `services/all-in-one/src/lib.rs`); a test fails when it is out of\n\
         date, and `UPDATE_ENV_DOCS=1 cargo test -p e2e --test e2e -- docs::`\n\
         rewrites it. How the settings fit together is in\n\
         [sre.md](sre.md#services-and-configuration).\n\n\
         Every binary also reads `RUST_LOG` (log filter, default `info`),\n\
         `LOG_FORMAT` (`json` for one JSON object per line, with `trace_id`\n\
         and `span_id`; text otherwise) and the OpenTelemetry variables\n\
         (`OTEL_EXPORTER_OTLP_ENDPOINT` and the rest: see\n\
         [sre.md, \"Tracing\"](sre.md#tracing)).\n",
    );
    for (name, what, command) in binaries() {
        out.push_str(&format!(
            "\n## `{name}`\n\n{}.\n\n| variable | flag | default | meaning |\n| --- | --- | --- | --- |\n",
            upper_first(what)
        ));
        for arg in command.get_arguments() {
            let Some(env) = arg.get_env() else { continue };
            let flag = arg
                .get_long()
                .map_or_else(String::new, |l| format!("`--{l}`"));
            let defaults: Vec<String> = arg
                .get_default_values()
                .iter()
                .map(|v| v.to_string_lossy().into_owned())
                .collect();
            let default = if defaults.is_empty() {
                "none".to_owned()
            } else if defaults.iter().all(String::is_empty) {
                "empty".to_owned()
            } else {
                format!("`{}`", defaults.join(","))
            };
            let help = arg
                .get_long_help()
                .or_else(|| arg.get_help())
                .map(ToString::to_string)
                .unwrap_or_default();
            out.push_str(&format!(
                "| `{}` | {flag} | {default} | {} |\n",
                env.to_string_lossy(),
                cell(&help)
            ));
        }
    }
    out
}

fn upper_first(s: &str) -> String {
    let mut chars = s.chars();
    chars.next().map_or_else(String::new, |c| {
        c.to_uppercase().collect::<String>() + chars.as_str()
    })
}
