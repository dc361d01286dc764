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
helm lint --strict "$chart"
helm template rel "$chart" | "$venv/bin/kubernetes-validate" --strict --quiet -k 1.33.0 -
echo "chart: lint and schema validation passed"
