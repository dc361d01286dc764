//! Documentation that is generated from the code stays current.

use std::path::Path;

/// `docs/env.md` is what the binaries' argument definitions say
/// (`UPDATE_ENV_DOCS=1` rewrites it).
#[test]
fn env_reference_is_current() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/env.md");
    let want = e2e::envdoc::render();
    if std::env::var_os("UPDATE_ENV_DOCS").is_some() {
        std::fs::write(&path, &want).unwrap();
        return;
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    if have != want {
        let first = have
            .lines()
            .zip(want.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| have.lines().count().min(want.lines().count()));
        panic!(
            "docs/env.md is out of date with the binaries' arguments (first difference at line {}: \
             have {:?}, want {:?}); run UPDATE_ENV_DOCS=1 cargo test -p e2e --test e2e -- docs::",
            first + 1,
            have.lines().nth(first).unwrap_or(""),
            want.lines().nth(first).unwrap_or("")
        );
    }
}
