# Two commands a newcomer needs: `make run` and `make test`.

CARGO ?= cargo
SHELL := bash

.PHONY: run test test-large build fmt fmt-check lint check

## Start every service in one process on SQLite (./data), SCIM on http://127.0.0.1:8080.
run:
	$(CARGO) run -p all-in-one --bin scim-local

## The whole test suite: unit, property and end-to-end tests (needs Postgres on 127.0.0.1:5432).
test:
	@set -o pipefail; $(CARGO) test --workspace --no-fail-fast 2>&1 | awk '{ print } \
	  /^test result:/ { passed += $$4; failed += $$6 } \
	  END { printf "tests: %d passed, %d failed\n", passed, failed }'

## The full-size scale tests the suite runs smaller (150,000-member groups; about 10 minutes).
test-large:
	$(CARGO) test -p e2e --test e2e -- --ignored scale::

build:
	$(CARGO) build --workspace --bins

fmt:
	$(CARGO) fmt --all

fmt-check:
	$(CARGO) fmt --all -- --check

lint:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

## What CI checks besides the tests.
check: fmt-check lint

.PHONY: rules-check
## promtool: check the Prometheus rules and run their unit tests (deploy/prometheus/rules.test.yml).
rules-check:
	bash scripts/rules-check.sh

.PHONY: image-smoke
## Build the container image with podman and run identity, policy and gateway from it as the chart
## runs them, against Postgres and Redis on this machine (root; see docs/sre.md, "The image").
image-smoke:
	bash scripts/image-smoke.sh

.PHONY: bench
## Load benchmark (production topology, make run, limits, peers, scale curves): writes bench/.
## BENCH_ARGS="--quick" for a short development run; see BENCHMARKS.md.
bench:
	$(CARGO) build --release -p gateway -p identity -p policy -p all-in-one -p bench
	"$${CARGO_TARGET_DIR:-target}/release/bench" run --bins "$${CARGO_TARGET_DIR:-target}/release" $(BENCH_ARGS)
