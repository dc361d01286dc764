//! Generates the gRPC code from `proto/` with a vendored protoc, so a fresh
//! machine needs no system protobuf compiler.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    // tonic-prost-build 0.14 keeps an `emit_rerun_if_changed` flag but never acts on it, and
    // prost-build prints no rerun hints either, so the hint is given here.
    println!("cargo:rerun-if-changed=proto");
    let mut config = tonic_prost_build::Config::new();
    config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);
    tonic_prost_build::configure()
        .file_descriptor_set_path(out.join("descriptor.bin"))
        .compile_with_config(
            config,
            &[
                "proto/identity/v1/identity.proto",
                "proto/policy/v1/policy.proto",
            ],
            &["proto"],
        )?;
    Ok(())
}
