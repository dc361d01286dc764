//! The short fuzz run of CI, on stable Rust: the cargo-fuzz entry points
//! (`scim::fuzz`) over the seed corpus in `fuzz/corpus/<target>/`, then over
//! random bytes and mutated seeds for a bounded number of cases
//! (`FUZZ_SHORT_CASES`, default 5000 per target). No input may panic.

use std::path::PathBuf;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

type Target = fn(&[u8]);

const TARGETS: &[(&str, Target)] = &[
    ("filter_parser", scim::fuzz::filter_parser),
    ("attribute_path", scim::fuzz::attribute_path),
    ("patch_engine", scim::fuzz::patch_engine),
    ("resource_validation", scim::fuzz::resource_validation),
];

fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut seeds: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| std::fs::read(entry.unwrap().path()).unwrap())
        .collect();
    assert!(!seeds.is_empty(), "no seeds in {}", dir.display());
    seeds.sort();
    seeds
}

/// A seed with a few bytes overwritten, cut short, or spliced with another.
fn mutated(seeds: Vec<Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    let n = seeds.len();
    (
        0..n,
        0..n,
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
        any::<prop::sample::Index>(),
        any::<bool>(),
    )
        .prop_map(move |(a, b, flips, cut, splice)| {
            let mut bytes = seeds[a].clone();
            for (at, byte) in flips {
                if !bytes.is_empty() {
                    let i = at.index(bytes.len());
                    bytes[i] = byte;
                }
            }
            if splice {
                let i = cut.index(bytes.len() + 1);
                bytes.truncate(i);
                bytes.extend_from_slice(&seeds[b][cut.index(seeds[b].len() + 1)..]);
            }
            bytes
        })
}

fn cases() -> u32 {
    std::env::var("FUZZ_SHORT_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5000)
}

#[test]
fn every_seed_passes_every_target() {
    for (name, target) in TARGETS {
        for seed in corpus(name) {
            target(&seed);
        }
    }
}

#[test]
fn short_fuzz_run_of_every_target() {
    for (name, target) in TARGETS {
        let strategy = prop_oneof![
            prop::collection::vec(any::<u8>(), 0..512),
            mutated(corpus(name)),
        ];
        let mut runner = TestRunner::new(Config {
            cases: cases(),
            failure_persistence: None,
            ..Config::default()
        });
        runner
            .run(&strategy, |input| {
                target(&input);
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}
