#!/usr/bin/env bash
# Checks the Prometheus rules (deploy/helm/scim-platform/prometheus/rules.yml)
# and runs their unit tests (deploy/prometheus/rules.test.yml) with promtool,
# from Debian's `prometheus` package.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v promtool >/dev/null 2>&1 || {
  echo "rules-check: promtool not found (apt-get install --no-install-recommends prometheus)" >&2
  exit 1
}
promtool check rules deploy/helm/scim-platform/prometheus/rules.yml
(cd deploy/prometheus && promtool test rules rules.test.yml)
# Every alert has a unit test and a runbook section its runbook_url names.
python3 - <<'PY'
import re, sys
rules = open("deploy/helm/scim-platform/prometheus/rules.yml").read()
tests = open("deploy/prometheus/rules.test.yml").read()
runbooks = open("docs/runbooks.md").read()
anchors = {re.sub(r"[^a-z0-9 -]", "", h.strip().lower()).replace(" ", "-")
           for h in re.findall(r"^## (.+)$", runbooks, re.M)}
alerts = re.findall(r"^\s*- alert: (\S+)$", rules, re.M)
urls = re.findall(r"runbook_url: docs/runbooks\.md#(\S+)$", rules, re.M)
bad = []
if len(urls) != len(alerts):
    bad.append(f"{len(alerts)} alerts but {len(urls)} runbook_url annotations")
for alert, url in zip(alerts, urls):
    if url != alert.lower():
        bad.append(f"{alert}: runbook_url #{url} is not #{alert.lower()}")
    if url not in anchors:
        bad.append(f"{alert}: docs/runbooks.md has no section #{url}")
    if not re.search(rf"alertname: {alert}$", tests, re.M):
        bad.append(f"{alert}: no promtool test in deploy/prometheus/rules.test.yml")
for b in bad:
    print(f"rules-check: {b}", file=sys.stderr)
sys.exit(1 if bad else 0)
PY
echo "rules: check, unit tests, runbooks passed"
