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
for kind in Ingress HorizontalPodAutoscaler NetworkPolicy ServiceMonitor ConfigMap; do
  grep -q "^kind: $kind\$" <<<"$rendered" || { echo "chart: no $kind with $prod" >&2; exit 1; }
done
# The console: Deployment, Service, NetworkPolicy and its own Ingress host,
# its session key from the Secret named in values.
grep -q "name: rel-scim-platform-console$" <<<"$rendered" || { echo "chart: no console with $prod" >&2; exit 1; }
grep -q 'host: "console.scim.example.com"' <<<"$rendered" || { echo "chart: no console Ingress with $prod" >&2; exit 1; }
grep -q "name: scim-console-session$" <<<"$rendered" || { echo "chart: console session key not from its Secret" >&2; exit 1; }
# Every optional part at once, with the defaults otherwise.
helm template rel "$chart" --set ingress.enabled=true,ingress.tls.enabled=true \
  --set networkPolicy.enabled=true,metrics.serviceMonitor.enabled=true \
  --set gateway.autoscaling.enabled=true,identity.autoscaling.enabled=true,policy.autoscaling.enabled=true \
  --set console.ingress.enabled=true,console.ingress.tls.enabled=true |
  validate
# The schema rejects values it does not know.
if helm lint --strict "$chart" --set gateway.replicaz=2 >/dev/null 2>&1; then
  echo "chart: values.schema.json accepted an unknown key" >&2; exit 1
fi
# The dashboard is valid JSON.
python3 -m json.tool "$chart/dashboards/scim-platform.json" >/dev/null
echo "chart: lint and schema validation passed"
