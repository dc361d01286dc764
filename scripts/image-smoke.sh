#!/usr/bin/env bash
# Builds the container image from deploy/Dockerfile with podman and runs it
# the way the Helm chart does, against this machine's Postgres and Redis.
#
# What it proves:
# - the Dockerfile builds (the `prebuilt` variant: binaries built here by
#   cargo, on a Debian bookworm base made by debootstrap, since no registry
#   is needed or assumed) and the image holds every binary the chart runs;
# - identity, policy and gateway start from it under the chart's security
#   context: user 10001 (fsGroup 10001 as a supplementary group), read-only
#   root filesystem with no tmpfs (the chart mounts none), every capability
#   dropped, no privilege escalation, the runtime's default seccomp profile;
#   each service's /proc/1/status is checked for exactly that;
# - with the chart's commands, environment and mounts: `identity migrate` and
#   `policy migrate` as the tables' owner (the migration Jobs), `serve` as an
#   unprivileged service role (no DATABASE_ALLOW_PRIVILEGED_ROLE), internal
#   gRPC over mutual TLS with certificates mounted read-only, mode 0440, at
#   /etc/scim/grpc-tls and named as the chart names them (a throwaway CA
#   made here with openssl), service URLs by the chart's Service names;
# - a tenant and a token issued by scimctl from the image (operator
#   certificate), a user provisioned over SCIM through the gateway with curl
#   and read back, and policy following identity's change stream: the user's
#   effective role is the tenant's default role, then `Disabled` after a
#   SCIM deactivation.
#
# Binaries: debug ones by default, release ones with
# IMAGE_SMOKE_PROFILE=release. The debug binaries are built together with
# the test targets (`cargo build --workspace --tests --bin …`), so their
# dependencies are the ones `make test` already compiled, with the test
# build's features: after `make test` this only compiles and links the five
# binaries (about a minute on 2 cores), where a release build starts from
# nothing (about 20 minutes on a shared 2-core machine). The smoke test
# checks behaviour, not speed.
#
# Needs root (podman with runc, apt-get for what is missing), Postgres on
# 127.0.0.1:5432 (user postgres, trust) and Redis on 127.0.0.1:6379. The
# debootstrap base is cached in /var/tmp (IMAGE_SMOKE_CACHE) and in podman's
# storage; everything else (containers, the image, databases, roles,
# certificates) is removed on exit. The whole run is bounded by
# IMAGE_SMOKE_TIMEOUT seconds (default 900).
set -euo pipefail

# The whole run, cleanup included, under one bound.
if [ -z "${IMAGE_SMOKE_BOUNDED:-}" ]; then
  exec timeout --kill-after=30 "${IMAGE_SMOKE_TIMEOUT:-900}" \
    env IMAGE_SMOKE_BOUNDED=1 bash "$(realpath "$0")" "$@"
fi
cd "$(dirname "$0")/.."

started=$SECONDS
step() { printf '[image-smoke %3ds] %s\n' "$((SECONDS - started))" "$*"; }
fail() { printf '[image-smoke] FAILED: %s\n' "$*" >&2; exit 1; }

profile="${IMAGE_SMOKE_PROFILE:-debug}"
bins=(gateway identity policy console scimctl)
case "$profile" in
  debug) # the test build's selection, plus the five binaries
    cargo_args=(--workspace --tests)
    for b in "${bins[@]}"; do cargo_args+=(--bin "$b"); done ;;
  release) # deploy/Dockerfile's compile stage
    cargo_args=(--release --bins)
    for b in "${bins[@]}"; do cargo_args+=(-p "$b"); done ;;
  *) fail "IMAGE_SMOKE_PROFILE is debug or release, not $profile" ;;
esac
target="${CARGO_TARGET_DIR:-target}"
cache="${IMAGE_SMOKE_CACHE:-/var/tmp/image-smoke-cache}"
base=localhost/debian:bookworm-slim
run_id="$(date +%s)-$$"
db_id="image_smoke_$(date +%s)_$$"
image="localhost/scim-platform:smoke-$run_id"
# The chart's names for a release `image-smoke` in namespace `default`.
release=image-smoke
full="$release-scim-platform"
runtime=(--runtime /usr/sbin/runc)
work="$(mktemp -d /tmp/image-smoke.XXXXXX)"
containers=()

dump_logs() {
  local c
  for c in "${containers[@]}"; do
    printf '\n--- logs of %s ---\n' "$c" >&2
    podman logs --tail 200 "$c" >&2 2>&1 || true
  done
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ "$rc" -ne 0 ]; then
    printf '[image-smoke] failed (exit %s) after %ss\n' "$rc" "$((SECONDS - started))" >&2
    dump_logs
  fi
  local c
  for c in "${containers[@]}"; do podman rm -f -t 0 "$c" >/dev/null 2>&1 || true; done
  podman rmi -f "$image" >/dev/null 2>&1 || true
  if [ -n "${dbs_created:-}" ]; then
    for db in "${db_id}_identity" "${db_id}_policy"; do
      psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true
    done
    for role in "${db_id}_identity" "${db_id}_identity_owner" "${db_id}_policy" "${db_id}_policy_owner"; do
      psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP ROLE IF EXISTS \"$role\"" >/dev/null 2>&1 || true
    done
  fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 143' INT TERM

# ---------------------------------------------------------------- tools
missing=()
command -v podman >/dev/null 2>&1 || missing+=(podman)
[ -x /usr/sbin/runc ] || missing+=(runc)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v jq >/dev/null 2>&1 || missing+=(jq)
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v psql >/dev/null 2>&1 || missing+=(postgresql-client)
if [ "${#missing[@]}" -gt 0 ]; then
  step "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# crun cannot run here (cgroups in hybrid mode): runc, and no default ulimits.
if ! [ -f /etc/containers/containers.conf ]; then
  mkdir -p /etc/containers
  printf '[containers]\ndefault_ulimits = []\n' >/etc/containers/containers.conf
fi
pg_isready -q -h 127.0.0.1 -p 5432 || fail "Postgres is not answering on 127.0.0.1:5432"

# ---------------------------------------------------------------- base image
# Debian bookworm minbase with ca-certificates, trimmed like the -slim
# image (no documentation, manuals, locales, package lists).
if ! podman image exists "$base"; then
  rootfs_tar="$cache/debian-bookworm-minbase.tar"
  if ! [ -s "$rootfs_tar" ]; then
    step "debootstrap bookworm (cached in $rootfs_tar)"
    mkdir -p "$cache"
    rootfs="$work/rootfs"
    debootstrap --variant=minbase --include=ca-certificates bookworm "$rootfs" \
      http://deb.debian.org/debian >"$work/debootstrap.log" 2>&1 \
      || { tail -n 30 "$work/debootstrap.log" >&2; fail "debootstrap"; }
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/apt/*.bin \
      "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/*
    find "$rootfs/usr/share/doc" -mindepth 1 ! -name copyright ! -type d -delete
    tar -C "$rootfs" -cf "$rootfs_tar.part" . && mv "$rootfs_tar.part" "$rootfs_tar"
    rm -rf "$rootfs"
  fi
  step "importing $base"
  podman import -q "$rootfs_tar" "$base" >/dev/null
fi

# ---------------------------------------------------------------- image
step "building binaries ($profile)"
cargo build --locked --quiet "${cargo_args[@]}"
mkdir -p "$work/ctx/bin"
for b in "${bins[@]}"; do
  cp "$target/$profile/$b" "$work/ctx/bin/"
done
step "podman build $image"
# No layer cache: nothing of this build outlives the run but the base.
podman build "${runtime[@]}" --pull=never --layers=false --network host -q \
  -f deploy/Dockerfile --build-arg BINARIES=prebuilt -t "$image" "$work/ctx" >/dev/null
[ "$(podman image inspect -f '{{.Config.User}}' "$image")" = "10001:10001" ] \
  || fail "the image's user is not 10001:10001"

# ---------------------------------------------------------------- certificates
# What the chart's `grpcTls.mode: generate` makes: a CA and, per component, a
# certificate named by its role and its Service's DNS names, for server and
# client use; plus an operator's certificate for scimctl.
step "certificates"
pki="$work/pki"
mkdir -p "$pki"
openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -days 1 \
  -subj "/CN=$full internal gRPC CA" -keyout "$pki/ca.key" -out "$pki/ca.crt" 2>/dev/null
issue() { # name, subjectAltName
  local dir="$pki/$1"
  mkdir -p "$dir"
  openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -subj "/CN=$1" \
    -addext "subjectAltName=$2" -addext "extendedKeyUsage=serverAuth,clientAuth" \
    -addext "keyUsage=critical,digitalSignature,keyEncipherment" -addext "basicConstraints=CA:FALSE" \
    -keyout "$dir/tls.key" -out "$dir/tls.csr" 2>/dev/null
  openssl x509 -req -in "$dir/tls.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
    -days 1 -copy_extensions copy -out "$dir/tls.crt" 2>/dev/null
  cp "$pki/ca.crt" "$dir/ca.crt"
  rm "$dir/tls.csr"
  # The chart's Secret volume: defaultMode 0440, group fsGroup (10001).
  chown 0:10001 "$dir"/ca.crt "$dir"/tls.crt "$dir"/tls.key
  chmod 0440 "$dir"/ca.crt "$dir"/tls.crt "$dir"/tls.key
  chmod 0755 "$dir"
}
for c in identity policy gateway; do
  svc="$full-$c"
  issue "$c" "DNS:$c,DNS:$svc,DNS:$svc.default,DNS:$svc.default.svc,DNS:$svc.default.svc.cluster.local"
done
issue operator "DNS:operator"

# ---------------------------------------------------------------- databases
# Each database with its two roles, as docs/sre.md "Row-level security"
# sets them up: the owner (migrations) and the service role (serve).
step "databases ${db_id}_identity, ${db_id}_policy"
dbs_created=1
for svc in identity policy; do
  db="${db_id}_$svc" owner="${db_id}_${svc}_owner" role="${db_id}_$svc"
  psql -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -U postgres -d postgres <<SQL >/dev/null
CREATE ROLE "$owner" LOGIN NOSUPERUSER NOBYPASSRLS;
CREATE ROLE "$role" LOGIN NOSUPERUSER NOBYPASSRLS;
CREATE DATABASE "$db" OWNER "$owner";
SQL
  psql -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -U postgres -d "$db" <<SQL >/dev/null
GRANT USAGE ON SCHEMA public TO "$role";
ALTER DEFAULT PRIVILEGES FOR ROLE "$owner" IN SCHEMA public
  GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO "$role";
ALTER DEFAULT PRIVILEGES FOR ROLE "$owner" IN SCHEMA public
  GRANT USAGE, SELECT ON SEQUENCES TO "$role";
SQL
done
db_url() { echo "postgres://$1@127.0.0.1:5432/$2"; }

# ---------------------------------------------------------------- ports
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
identity_port=$(free_port) identity_metrics=$(free_port)
policy_port=$(free_port) policy_metrics=$(free_port)
gateway_port=$(free_port) gateway_metrics=$(free_port)

# ---------------------------------------------------------------- containers
# The chart's podSecurityContext and securityContext (values.yaml), the
# chart's Service names resolving to this host, its commonEnv (values' log
# level and format).
chart_run=(
  podman "${runtime[@]}" run --network host
  --user 10001 --group-add 10001
  --read-only --read-only-tmpfs=false
  --cap-drop=all --security-opt no-new-privileges
  --add-host "$full-identity:127.0.0.1" --add-host "$full-policy:127.0.0.1"
  -e RUST_LOG=info -e LOG_FORMAT=json
)
tls_env=(
  -e GRPC_TLS_CA=/etc/scim/grpc-tls/ca.crt
  -e GRPC_TLS_CERT=/etc/scim/grpc-tls/tls.crt
  -e GRPC_TLS_KEY=/etc/scim/grpc-tls/tls.key
)
tls_mount() { echo "type=bind,source=$pki/$1,target=/etc/scim/grpc-tls,readonly"; }

migrate() { # service
  local name="image-smoke-$run_id-$1-migrate"
  containers+=("$name")
  "${chart_run[@]}" --name "$name" --entrypoint "/usr/local/bin/$1" \
    -e DATABASE_URL="$(db_url "${db_id}_$1_owner" "${db_id}_$1")" \
    "$image" migrate >/dev/null
}
step "identity migrate, policy migrate (as the owners)"
migrate identity
migrate policy

# Why two roles: `serve` as the tables' owner is refused.
owner_c="image-smoke-$run_id-identity-as-owner"
containers+=("$owner_c")
if "${chart_run[@]}" --name "$owner_c" --entrypoint /usr/local/bin/identity \
  "${tls_env[@]}" --mount "$(tls_mount identity)" \
  -e METRICS_LISTEN="127.0.0.1:$(free_port)" -e IDENTITY_LISTEN="127.0.0.1:$(free_port)" \
  -e DATABASE_URL="$(db_url "${db_id}_identity_owner" "${db_id}_identity")" \
  "$image" serve >/dev/null 2>&1; then
  fail "identity served as the tables' owner"
fi
grep -q 'owns (or may act as the owner of) the tables' <<<"$(podman logs "$owner_c" 2>&1)" \
  || fail "identity as the owner: no role refusal in its log"
step "identity refuses to serve as the tables' owner"

step "starting identity, policy, gateway"
identity_c="image-smoke-$run_id-identity"
containers+=("$identity_c")
"${chart_run[@]}" -d --name "$identity_c" --entrypoint /usr/local/bin/identity \
  "${tls_env[@]}" --mount "$(tls_mount identity)" \
  -e METRICS_LISTEN="0.0.0.0:$identity_metrics" -e IDENTITY_LISTEN="0.0.0.0:$identity_port" \
  -e DATABASE_MAX_CONNECTIONS=10 -e DATABASE_STATEMENT_TIMEOUT_MS=5000 -e DATABASE_LOCK_TIMEOUT_MS=2000 \
  -e REQUEST_LOG_RETENTION_DAYS=30 -e REQUEST_LOG_MAX_PER_TENANT=100000 \
  -e DATABASE_URL="$(db_url "${db_id}_identity" "${db_id}_identity")" \
  "$image" serve >/dev/null

policy_c="image-smoke-$run_id-policy"
containers+=("$policy_c")
"${chart_run[@]}" -d --name "$policy_c" --entrypoint /usr/local/bin/policy \
  "${tls_env[@]}" --mount "$(tls_mount policy)" \
  -e METRICS_LISTEN="0.0.0.0:$policy_metrics" -e POLICY_LISTEN="0.0.0.0:$policy_port" \
  -e DATABASE_MAX_CONNECTIONS=10 -e DATABASE_STATEMENT_TIMEOUT_MS=5000 -e DATABASE_LOCK_TIMEOUT_MS=2000 \
  -e DATABASE_URL="$(db_url "${db_id}_policy" "${db_id}_policy")" \
  -e IDENTITY_URL="https://$full-identity:$identity_port" \
  "$image" serve >/dev/null

gateway_c="image-smoke-$run_id-gateway"
containers+=("$gateway_c")
"${chart_run[@]}" -d --name "$gateway_c" --entrypoint /usr/local/bin/gateway \
  "${tls_env[@]}" --mount "$(tls_mount gateway)" \
  -e METRICS_LISTEN="0.0.0.0:$gateway_metrics" -e GATEWAY_LISTEN="0.0.0.0:$gateway_port" \
  -e IDENTITY_URL="https://$full-identity:$identity_port" \
  -e PUBLIC_BASE_URL="http://127.0.0.1:$gateway_port" \
  -e AUTH_CACHE_TTL_SECONDS=10 -e MAX_BODY_BYTES=1048576 -e SHUTDOWN_DELAY_SECONDS=5 \
  -e REDIS_URL=redis://127.0.0.1:6379 -e CURSOR_SECRET="$(openssl rand -hex 32)" \
  "$image" >/dev/null

# The chart's readiness probes: identity's and policy's metrics port, the
# gateway's HTTP port.
wait_ready() { # container, url
  local i
  for i in $(seq 1 120); do
    curl -fsS -o /dev/null "$2" 2>/dev/null && return 0
    [ "$(podman inspect -f '{{.State.Running}}' "$1")" = true ] || fail "$1 exited"
    sleep 0.5
  done
  fail "$1 not ready at $2 after 60 s"
}
wait_ready "$identity_c" "http://127.0.0.1:$identity_metrics/readyz"
wait_ready "$policy_c" "http://127.0.0.1:$policy_metrics/readyz"
wait_ready "$gateway_c" "http://127.0.0.1:$gateway_port/readyz"
ready="$(curl -fsS "http://127.0.0.1:$gateway_port/readyz")"
[ "$(jq -r '.checks.identity + " " + .checks.redis' <<<"$ready")" = "ok ok" ] \
  || fail "gateway readiness: $ready"
step "ready: $ready"

# What each service runs as, from its own /proc/1/status.
for c in "$identity_c" "$policy_c" "$gateway_c"; do
  status="$(podman exec "$c" cat /proc/1/status)"
  for want in 'Uid:	10001	10001	10001	10001' 'CapEff:	0000000000000000' \
              'CapPrm:	0000000000000000' 'NoNewPrivs:	1' 'Seccomp:	2'; do
    grep -qF "$want" <<<"$status" || fail "$c: no '$want' in /proc/1/status"
  done
  grep -q '^Groups:.*\b10001\b' <<<"$status" || fail "$c: not in group 10001"
  # /tmp is writable for everyone unless the root filesystem is read-only
  # with no tmpfs over it.
  if podman exec "$c" touch /tmp/probe 2>/dev/null; then
    fail "$c: /tmp is writable"
  fi
done
podman exec "$policy_c" test -s /etc/ssl/certs/ca-certificates.crt \
  || fail "the image has no CA bundle (ca-certificates), which policy's HTTPS webhooks need"
for c in "$identity_c" "$policy_c"; do
  grep -q 'serves gRPC over mutual TLS' <<<"$(podman logs "$c" 2>&1)" || fail "$c does not serve mutual TLS"
done
step "identity, policy, gateway run as 10001, no capabilities, no new privileges, seccomp, read-only root; mutual TLS; CA bundle present"

# ---------------------------------------------------------------- provisioning
scimctl_as() { # certificate, arguments
  local cert="$1"
  shift
  "${chart_run[@]}" --rm --entrypoint /usr/local/bin/scimctl --mount "$(tls_mount "$cert")" \
    "$image" --json \
    --identity-url "https://$full-identity:$identity_port" --policy-url "https://$full-policy:$policy_port" \
    --ca /etc/scim/grpc-tls/ca.crt --cert /etc/scim/grpc-tls/tls.crt --key /etc/scim/grpc-tls/tls.key "$@"
}
scimctl() { scimctl_as operator "$@"; }
tenant="smoke-$$"
# The certificate's name decides the role: the gateway's may not create tenants.
if out="$(scimctl_as gateway tenant create "$tenant" 2>&1)"; then
  fail "the gateway's certificate created a tenant"
fi
grep -q 'PERMISSION_DENIED' <<<"$out" || fail "the gateway's certificate: expected PERMISSION_DENIED, got: $out"
step "scimctl: tenant $tenant, token, role Viewer as the default role"
scimctl tenant create "$tenant" >/dev/null
token="$(scimctl token issue "$tenant" --description image-smoke | jq -er .secret)"
scimctl role create "$tenant" Viewer --description "read only" >/dev/null
scimctl default-role set "$tenant" Viewer >/dev/null

url="http://127.0.0.1:$gateway_port/scim/v2/$tenant"
auth=(-H "Authorization: Bearer $token" -H "Content-Type: application/scim+json")
step "SCIM: POST $url/Users"
created="$(curl -fsS "${auth[@]}" -X POST "$url/Users" -d '{
  "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
  "userName": "alice@contoso.com", "externalId": "a1",
  "name": {"givenName": "Alice", "familyName": "Example"},
  "emails": [{"value": "alice@contoso.com", "type": "work", "primary": true}],
  "active": true}')" || fail "POST /Users"
user_id="$(jq -er .id <<<"$created")"
got="$(curl -fsS "${auth[@]}" "$url/Users/$user_id")" || fail "GET /Users/$user_id"
jq -e --arg id "$user_id" --arg loc "$url/Users/$user_id" \
  '.id == $id and .userName == "alice@contoso.com" and .externalId == "a1"
   and .name.givenName == "Alice" and .active == true
   and .emails[0].value == "alice@contoso.com" and .meta.location == $loc' <<<"$got" >/dev/null \
  || fail "GET /Users/$user_id answered $got"
step "SCIM: user $user_id read back"

role_is() { # wanted role; policy applies identity's change stream
  local i role=""
  for i in $(seq 1 60); do
    role="$(scimctl effective "$tenant" "$user_id" 2>/dev/null | jq -r '.role // empty')" || true
    [ "$role" = "$1" ] && return 0
    sleep 0.5
  done
  fail "policy: the effective role of $user_id is '${role}', not $1"
}
role_is Viewer
step "policy: $user_id is Viewer (the default role)"
curl -fsS -o /dev/null "${auth[@]}" -X PATCH "$url/Users/$user_id" -d '{
  "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
  "Operations": [{"op": "Replace", "path": "active", "value": "False"}]}' || fail "PATCH active"
role_is Disabled
step "policy: $user_id is Disabled after the deactivation"

step "passed in $((SECONDS - started)) s"
