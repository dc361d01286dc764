#!/usr/bin/env bash
# Lints the Helm chart and validates its rendered manifests against the
# Kubernetes schemas (offline), failing on any unknown field.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-helm.sh >/dev/null
venv="${CHART_VENV:-/var/tmp/scim-chart-venv}"
if [ ! -x "$venv/bin/kubernetes-validate" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet 'kubernetes-validate==1.37.0'
fi
chart=deploy/helm/scim-platform
validate() { "$venv/bin/kubernetes-validate" --strict --quiet -k 1.33.0 -; }
prod="$chart/values-production.yaml"
helm lint --strict "$chart"
helm lint --strict "$chart" -f "$prod"
helm template rel "$chart" | validate
# Production-like values: Ingress, HPAs, NetworkPolicies, ServiceMonitor.
rendered=$(helm template rel "$chart" -f "$prod")
printf '%s\n' "$rendered" | validate
for kind in Ingress HorizontalPodAutoscaler NetworkPolicy ServiceMonitor PrometheusRule ConfigMap; do
  grep -q "^kind: $kind\$" <<<"$rendered" || { echo "chart: no $kind with $prod" >&2; exit 1; }
done
# The console: Deployment, Service, NetworkPolicy and its own Ingress host,
# its session key from the Secret named in values.
grep -q "name: rel-scim-platform-console$" <<<"$rendered" || { echo "chart: no console with $prod" >&2; exit 1; }
grep -q 'host: "console.scim.example.com"' <<<"$rendered" || { echo "chart: no console Ingress with $prod" >&2; exit 1; }
grep -q "name: scim-console-session$" <<<"$rendered" || { echo "chart: console session key not from its Secret" >&2; exit 1; }
# Two database roles: the migration Jobs connect as the owner (their own
# Secret in production-like values), the Deployments as the service role.
for want in "key: IDENTITY_MIGRATE_DATABASE_URL" "key: POLICY_MIGRATE_DATABASE_URL" \
  "key: IDENTITY_DATABASE_URL" "key: POLICY_DATABASE_URL" "name: scim-platform-prod-migrate"; do
  grep -q "$want" <<<"$rendered" || { echo "chart: production render lacks '$want'" >&2; exit 1; }
done
roles=$(mktemp)
printf '%s\n' "$rendered" >"$roles"
"$venv/bin/python" - "$roles" <<'PY' || { echo "chart: a migration Job or Deployment has the wrong database URL" >&2; exit 1; }
import sys, yaml
jobs = deployments = 0
for doc in yaml.safe_load_all(open(sys.argv[1])):
    if not doc or doc.get("kind") not in ("Job", "Deployment"):
        continue
    name = doc["metadata"]["name"]
    for c in doc["spec"]["template"]["spec"]["containers"]:
        for env in c.get("env", []):
            if env["name"] != "DATABASE_URL":
                continue
            ref = env["valueFrom"]["secretKeyRef"]
            migrating = doc["kind"] == "Job"
            assert ref["key"].endswith("_MIGRATE_DATABASE_URL") == migrating, (name, ref)
            assert (ref["name"] == "scim-platform-prod-migrate") == migrating, (name, ref)
            if migrating:
                jobs += 1
            else:
                deployments += 1
assert (jobs, deployments) == (2, 2), (jobs, deployments)
PY
rm -f "$roles"
# Every optional part at once, with the defaults otherwise.
helm template rel "$chart" --set ingress.enabled=true,ingress.tls.enabled=true \
  --set networkPolicy.enabled=true,metrics.serviceMonitor.enabled=true,metrics.prometheusRule.enabled=true \
  --set gateway.autoscaling.enabled=true,identity.autoscaling.enabled=true,policy.autoscaling.enabled=true \
  --set console.ingress.enabled=true,console.ingress.tls.enabled=true |
  validate
# gRPC over mutual TLS by default: generated CA and certificates, https
# URLs, the key files mounted, NetworkPolicies on.
defaults=$(helm template rel "$chart")
for want in "name: rel-scim-platform-grpc-ca" "name: rel-scim-platform-identity-grpc-tls" \
  "name: rel-scim-platform-gateway-grpc-tls" "https://rel-scim-platform-identity:" \
  "name: GRPC_TLS_KEY" "kind: NetworkPolicy" "path: /readyz"; do
  grep -q "$want" <<<"$defaults" || { echo "chart: default render lacks '$want'" >&2; exit 1; }
done
# Numbers reach the services as digits: Helm prints a large number that is
# only quoted (not `int64`) as 1.048576e+06, which the services refuse.
for render in "$defaults" "$rendered"; do
  if grep -nE 'value: "?[0-9.]+e[+-][0-9]+"?$' <<<"$render" >&2; then
    echo "chart: an environment value renders in exponent form (pipe it through int64)" >&2; exit 1
  fi
done
# The identity certificate names the Service it is reached by, and the CA signed it.
tmp=$(mktemp -d)
printf '%s\n' "$defaults" >"$tmp/rendered.yaml"
"$venv/bin/python" - "$tmp" <<'PY'
import base64, sys, yaml
out = sys.argv[1]
for doc in yaml.safe_load_all(open(f"{out}/rendered.yaml")):
    if doc and doc.get("kind") == "Secret" and doc["metadata"]["name"] == "rel-scim-platform-identity-grpc-tls":
        for key in ("ca.crt", "tls.crt"):
            open(f"{out}/{key}", "wb").write(base64.b64decode(doc["data"][key]))
PY
openssl verify -CAfile "$tmp/ca.crt" "$tmp/tls.crt" >/dev/null
openssl x509 -in "$tmp/tls.crt" -noout -ext subjectAltName | grep -q "DNS:rel-scim-platform-identity.default.svc" ||
  { echo "chart: identity certificate lacks its Service name" >&2; exit 1; }
rm -rf "$tmp"
# cert-manager and existing Secrets instead.
helm template rel "$chart" --set grpcTls.mode=certManager,grpcTls.certManager.issuerRef.name=internal-ca |
  grep -q "^kind: Certificate$" || { echo "chart: no Certificate with grpcTls.mode=certManager" >&2; exit 1; }
if helm template rel "$chart" --set grpcTls.mode=existing >/dev/null 2>&1; then
  echo "chart: grpcTls.mode=existing rendered without Secret names" >&2; exit 1
fi
helm template rel "$chart" --set grpcTls.mode=existing \
  --set grpcTls.existingSecrets.identity=i,grpcTls.existingSecrets.policy=p \
  --set grpcTls.existingSecrets.gateway=g,grpcTls.existingSecrets.console=c | validate
# The schema rejects values it does not know.
if helm lint --strict "$chart" --set gateway.replicaz=2 >/dev/null 2>&1; then
  echo "chart: values.schema.json accepted an unknown key" >&2; exit 1
fi
# The PrometheusRule is prometheus/rules.yml itself, runbook URLs prefixed
# (so the chart's rules cannot drift from the file promtool tests), and
# promtool accepts what the chart renders.
if command -v promtool >/dev/null 2>&1; then
  tmp=$(mktemp -d)
  printf '%s\n' "$rendered" >"$tmp/rendered.yaml"
  "$venv/bin/python" - "$tmp" "$chart/prometheus/rules.yml" <<'PY'
import sys, yaml
out, source = sys.argv[1], sys.argv[2]
rules = [d for d in yaml.safe_load_all(open(f"{out}/rendered.yaml")) if d and d.get("kind") == "PrometheusRule"]
assert len(rules) == 1, len(rules)
text = open(source).read().replace(
    "runbook_url: docs/", "runbook_url: https://git.example.com/scim-platform/blob/main/docs/")
assert rules[0]["spec"] == yaml.safe_load(text), "the PrometheusRule differs from prometheus/rules.yml"
yaml.safe_dump(rules[0]["spec"], open(f"{out}/rules.yml", "w"))
PY
  promtool check rules "$tmp/rules.yml" >/dev/null
  rm -rf "$tmp"
else
  echo "chart: promtool not found (apt-get install --no-install-recommends prometheus)" >&2; exit 1
fi
# The dashboard is valid JSON.
python3 -m json.tool "$chart/dashboards/scim-platform.json" >/dev/null
echo "chart: lint and schema validation passed"
