#!/usr/bin/env bash
# Starts `make run`'s binary on a free port with a fresh data directory and a
# chosen token, runs scim2-tester against it, and stops it again.
# Needs: a built workspace (cargo build -p all-in-one) and a Python venv with
# scim2-tester (created here under $CONFORMANCE_VENV when missing).
set -euo pipefail
cd "$(dirname "$0")/.."

venv="${CONFORMANCE_VENV:-/var/tmp/scim-conformance-venv}"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import scim2_tester, httpx2' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet 'scim2-tester[httpx2]==0.5.2' 'scim2-client[httpx2]==0.13.2' 'scim2-models==0.12.3' 'httpx2==2.16.2'
fi

target="${CARGO_TARGET_DIR:-target}"
cargo build --quiet -p all-in-one --bin scim-local
cargo build --quiet -p scimctl --bin scimctl
data="$(mktemp -d)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
grpc="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
policy="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
console="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
# The checker sends far faster than an IdP: limits above its pace (docs/tenant-admin.md, "Rate limits and 429").
token="conformance-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"

DATA_DIR="$data" GATEWAY_LISTEN="127.0.0.1:$port" IDENTITY_LISTEN="127.0.0.1:$grpc" \
  POLICY_LISTEN="127.0.0.1:$policy" CONSOLE_LISTEN="127.0.0.1:$console" SCIM_DEV_TOKEN="$token" RUST_LOG=warn \
  RATE_LIMIT_DEFAULT_RATE=10000 RATE_LIMIT_DEFAULT_BURST=10000 \
  "$target/debug/scim-local" >"$data/out.txt" 2>"$data/err.txt" &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$data"' EXIT

# The binary prints its Tenant URL once it listens.
for _ in $(seq 1 100); do
  grep -q '^Tenant URL:' "$data/out.txt" 2>/dev/null && break
  kill -0 $server 2>/dev/null || { cat "$data/err.txt"; exit 1; }
  sleep 0.1
done
url="$(sed -n 's/^Tenant URL: //p' "$data/out.txt")"
# The checker is a strict RFC 7644 client: the tenant gets the generic
# profile (RFC-shaped error bodies, no IdP tolerances; docs/tenant-admin.md,
# "IdP profiles"), before its token's first use.
"$target/debug/scimctl" --identity-url "http://127.0.0.1:$grpc" tenant profile "${url##*/}" --set generic >/dev/null
"$venv/bin/python" scripts/conformance.py "$url" "$token"
