#!/usr/bin/env bash
# Builds the container image from deploy/Dockerfile with podman and runs it
# the way the Helm chart does, against this machine's Postgres and Redis.
#
# What it proves:
# - the Dockerfile builds (the `prebuilt` variant: binaries built here by
#   cargo, on a Debian bookworm base made by debootstrap, since no registry
#   is needed or assumed) and the image holds every binary the chart runs;
# - the chart's own containers run from it: the chart is rendered with
#   `helm template` and each container's command, environment, volumes,
#   podSecurityContext, securityContext and readiness probe are turned into
#   podman options (a setting it cannot mirror stops the run), so a chart
#   change is tested as soon as it is made;
# - under the chart's security context: user 10001 with fsGroup 10001 as a
#   supplementary group, a read-only root filesystem with no tmpfs (the
#   chart mounts none), every capability dropped, no privilege escalation,
#   the runtime's default seccomp profile; each service's /proc/1/status is
#   checked for exactly that, and /tmp must not be writable;
# - the migration Jobs (`identity migrate`, `policy migrate`) as the tables'
#   owners and the Deployments as unprivileged service roles (no
#   DATABASE_ALLOW_PRIVILEGED_ROLE; identity with the owner's URL must be
#   refused), on fresh databases with the roles of docs/sre.md;
# - internal gRPC over mutual TLS with a throwaway CA made here by openssl,
#   certificates named as the chart's `generate` mode names them, mounted
#   as its Secret volumes are, and services reached by the chart's Service
#   names; the gateway's certificate must be refused CreateTenant;
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
# Needs root (podman with runc, apt-get for what is missing), helm
# (scripts/install-helm.sh), Python with PyYAML, Postgres on
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
# The chart rendered as release `image-smoke` in namespace `default`.
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

# ---------------------------------------------------------------- the chart
# The chart rendered for a release `image-smoke` in namespace `default`, on
# free ports of this host, and turned into podman options: each container's
# command, environment (secretKeyRefs answered by the values below, as the
# chart's Secret would), volumes (the gRPC Secret: these certificates, its
# defaultMode and fsGroup applied to the files; an emptyDir: a tmpfs),
# podSecurityContext and securityContext (anything this does not know how to
# mirror stops the run), and its readiness probe.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
gateway_port=$(free_port)
identity_port=$(free_port)
policy_port=$(free_port)
chart_values=(
  --set "gateway.port=$gateway_port,gateway.metricsPort=$(free_port)"
  --set "identity.port=$identity_port,identity.metricsPort=$(free_port)"
  --set "policy.port=$policy_port,policy.metricsPort=$(free_port)"
  --set "publicBaseUrl=http://127.0.0.1:$gateway_port"
)
bash scripts/install-helm.sh >/dev/null
yaml_python=python3
if ! python3 -c 'import yaml' 2>/dev/null; then
  [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import yaml' 2>/dev/null \
    || { apt-get update -qq && apt-get install -y -qq python3-yaml >/dev/null; }
  yaml_python=/usr/bin/python3
fi
helm template "$release" deploy/helm/scim-platform --namespace default "${chart_values[@]}" \
  >"$work/chart.yaml"
mkdir -p "$work/run"
SECRETS="$(jq -n \
  --arg iu "$(db_url "${db_id}_identity" "${db_id}_identity")" \
  --arg imu "$(db_url "${db_id}_identity_owner" "${db_id}_identity")" \
  --arg pu "$(db_url "${db_id}_policy" "${db_id}_policy")" \
  --arg pmu "$(db_url "${db_id}_policy_owner" "${db_id}_policy")" \
  --arg cursor "$(openssl rand -hex 32)" \
  '{IDENTITY_DATABASE_URL: $iu, IDENTITY_MIGRATE_DATABASE_URL: $imu,
    POLICY_DATABASE_URL: $pu, POLICY_MIGRATE_DATABASE_URL: $pmu,
    REDIS_URL: "redis://127.0.0.1:6379", CURSOR_SECRET: $cursor}')" \
FULL="$full" PKI="$pki" "$yaml_python" - "$work/chart.yaml" "$work/run" <<'PY'
import json, os, re, sys, yaml

rendered, out = sys.argv[1], sys.argv[2]
full, pki = os.environ["FULL"], os.environ["PKI"]
secrets = json.loads(os.environ["SECRETS"])
wanted = {("Deployment", f"{full}-{c}"): c for c in ("identity", "policy", "gateway")}
wanted.update({("Job", f"{full}-{c}-migrate"): f"{c}-migrate" for c in ("identity", "policy")})
found = {}

def die(what):
    sys.exit(f"chart: {what}")

def security(name, pod, ctr):
    opts, user, group = [], None, None
    for key, value in pod.items():
        if key == "runAsNonRoot":
            pass  # checked below, with the user
        elif key == "runAsUser":
            user = value
        elif key == "runAsGroup":
            group = value
        elif key == "fsGroup":
            opts += ["--group-add", str(value)]
        elif key == "seccompProfile" and value == {"type": "RuntimeDefault"}:
            pass  # podman's default profile
        else:
            die(f"{name}: podSecurityContext.{key}={value!r} is not mirrored")
    for key, value in ctr.items():
        if key == "allowPrivilegeEscalation" and value is False:
            opts += ["--security-opt", "no-new-privileges"]
        elif key == "readOnlyRootFilesystem" and value is True:
            opts += ["--read-only", "--read-only-tmpfs=false"]
        elif key == "capabilities" and set(value) <= {"drop", "add"}:
            for cap in value.get("drop", []):
                opts += ["--cap-drop", cap.lower()]
            for cap in value.get("add", []):
                opts += ["--cap-add", cap.lower()]
        elif key == "runAsUser":
            user = value
        elif key == "runAsGroup":
            group = value
        else:
            die(f"{name}: securityContext.{key}={value!r} is not mirrored")
    if user is None:
        die(f"{name}: no runAsUser")
    if (pod.get("runAsNonRoot") or ctr.get("runAsNonRoot")) and user == 0:
        die(f"{name}: runAsNonRoot with user 0")
    opts += ["--user", f"{user}:{group}" if group is not None else str(user)]
    return opts, pod.get("fsGroup")

for doc in yaml.safe_load_all(open(rendered)):
    if not doc:
        continue
    component = wanted.get((doc["kind"], doc["metadata"]["name"]))
    if component is None:
        continue
    spec = doc["spec"]["template"]["spec"]
    (ctr,) = spec["containers"]
    opts, fs_group = security(component, spec.get("securityContext", {}), ctr.get("securityContext", {}))
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    for mount in ctr.get("volumeMounts", []):
        volume = volumes[mount["name"]]
        if "secret" in volume:
            m = re.fullmatch(re.escape(full) + r"-(\w+)-grpc-tls", volume["secret"]["secretName"])
            if not m:
                die(f"{component}: Secret volume {volume['secret']['secretName']} is not mirrored")
            source = os.path.join(pki, m.group(1))
            mode = volume["secret"].get("defaultMode", 0o644)
            for f in os.listdir(source):
                os.chown(os.path.join(source, f), 0, fs_group if fs_group is not None else 0)
                os.chmod(os.path.join(source, f), mode)
            ro = ",readonly" if mount.get("readOnly") else ""
            opts += ["--mount", f"type=bind,source={source},target={mount['mountPath']}{ro}"]
        elif "emptyDir" in volume:
            opts += ["--tmpfs", mount["mountPath"]]
        else:
            die(f"{component}: volume {mount['name']} is not mirrored")
    env = {}
    for e in ctr.get("env", []):
        if "value" in e:
            value = re.sub(r"\$\((\w+)\)", lambda m: env.get(m.group(1), m.group(0)), str(e["value"]))
        elif "secretKeyRef" in e.get("valueFrom", {}):
            ref = e["valueFrom"]["secretKeyRef"]
            if ref["key"] in secrets:
                value = secrets[ref["key"]]
            elif ref.get("optional"):
                continue
            else:
                die(f"{component}: {e['name']} needs Secret key {ref['key']}")
        elif "fieldRef" in e.get("valueFrom", {}):
            value = {"metadata.name": f"{component}-0", "metadata.namespace": "default"}[
                e["valueFrom"]["fieldRef"]["fieldPath"]]
        else:
            die(f"{component}: env {e['name']} is not mirrored")
        env[e["name"]] = value
    for key, value in env.items():
        opts += ["-e", f"{key}={value}"]
    command = ctr.get("command") or die(f"{component}: no command")
    opts += ["--entrypoint", json.dumps(command)]
    ready = ""
    if "readinessProbe" in ctr:
        probe = ctr["readinessProbe"]["httpGet"]
        ports = {p["name"]: p["containerPort"] for p in ctr.get("ports", [])}
        port = ports.get(probe["port"], probe["port"])
        ready = f"http://127.0.0.1:{port}{probe['path']}"
    with open(os.path.join(out, component + ".opts"), "w") as f:
        f.write("\n".join(opts) + "\n")
    with open(os.path.join(out, component + ".args"), "w") as f:
        f.write("".join(a + "\n" for a in ctr.get("args", [])))
    with open(os.path.join(out, component + ".ready"), "w") as f:
        f.write(ready)
    found[component] = True
missing = {c for c in wanted.values()} - set(found)
if missing:
    die(f"no {', '.join(sorted(missing))} in the rendered chart")
PY

# ---------------------------------------------------------------- containers
# --network host, with the chart's Service names of identity and policy
# resolving to this host.
podman_run=(
  podman "${runtime[@]}" run --network host
  --add-host "$full-identity:127.0.0.1" --add-host "$full-policy:127.0.0.1"
)
run_chart() { # component, container name, extra podman options (before the image)
  local component="$1" name="image-smoke-$run_id-$2" opts args
  shift 2
  mapfile -t opts <"$work/run/$component.opts"
  mapfile -t args <"$work/run/$component.args"
  containers+=("$name")
  "${podman_run[@]}" --name "$name" "${opts[@]}" "$@" "$image" ${args[@]+"${args[@]}"}
}

step "identity migrate, policy migrate (the chart's Jobs, as the owners)"
run_chart identity-migrate identity-migrate >/dev/null
run_chart policy-migrate policy-migrate >/dev/null

# Why two roles: identity's Deployment with the owner's URL is refused.
if run_chart identity identity-as-owner \
  -e METRICS_LISTEN="127.0.0.1:$(free_port)" -e IDENTITY_LISTEN="127.0.0.1:$(free_port)" \
  -e DATABASE_URL="$(db_url "${db_id}_identity_owner" "${db_id}_identity")" >/dev/null 2>&1; then
  fail "identity served as the tables' owner"
fi
grep -q 'owns (or may act as the owner of) the tables' \
  <<<"$(podman logs "image-smoke-$run_id-identity-as-owner" 2>&1)" \
  || fail "identity as the owner: no role refusal in its log"
step "identity refuses to serve as the tables' owner"

step "starting identity, policy, gateway (the chart's Deployments)"
identity_c="image-smoke-$run_id-identity"
policy_c="image-smoke-$run_id-policy"
gateway_c="image-smoke-$run_id-gateway"
run_chart identity identity -d >/dev/null
run_chart policy policy -d >/dev/null
run_chart gateway gateway -d >/dev/null

# The chart's readiness probes (identity's and policy's metrics port, the
# gateway's HTTP port).
wait_ready() { # component
  local c="image-smoke-$run_id-$1" url i
  url="$(cat "$work/run/$1.ready")"
  [ -n "$url" ] || fail "$1 has no readiness probe in the chart"
  for i in $(seq 1 120); do
    curl -fsS -o /dev/null "$url" 2>/dev/null && return 0
    [ "$(podman inspect -f '{{.State.Running}}' "$c")" = true ] || fail "$c exited"
    sleep 0.5
  done
  fail "$c not ready at $url after 60 s"
}
wait_ready identity
wait_ready policy
wait_ready gateway
ready="$(curl -fsS "$(cat "$work/run/gateway.ready")")"
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
# scimctl as an operator's Job would run it: the chart's security context
# (the migration Job's), a client certificate mounted like the services'.
mapfile -t job_security < <(awk '/^(--user|--group-add|--cap-drop|--security-opt)$/ { print; getline; print }
  /^--read-only/ { print }' "$work/run/identity-migrate.opts")
scimctl_as() { # certificate, arguments
  local cert="$1"
  shift
  "${podman_run[@]}" --rm "${job_security[@]}" --entrypoint /usr/local/bin/scimctl \
    --mount "type=bind,source=$pki/$cert,target=/etc/scim/grpc-tls,readonly" \
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
