#!/usr/bin/env bash
# Generate the Studio's API types from the app's OpenAPI document (no server needed).
#   scripts/studio-api-types.sh          rewrite studio/src/api/schema.d.ts
#   scripts/studio-api-types.sh --check  fail if the checked-in file differs (CI)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-.venv/bin/python}"
OUT="studio/src/api/schema.d.ts"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$PYTHON" -m api.openapi_export "$work/openapi.json" 2>/dev/null
(cd studio && node_modules/.bin/openapi-typescript "$work/openapi.json" -o "$work/schema.d.ts" >/dev/null)
if [ "${1:-}" = "--check" ]; then
  if ! diff -u "$OUT" "$work/schema.d.ts" > "$work/drift.diff"; then
    head -n 40 "$work/drift.diff" >&2
    echo "$OUT is out of date with the API: run scripts/studio-api-types.sh and commit it" >&2
    exit 1
  fi
  exit 0
fi
cp "$work/schema.d.ts" "$OUT"
echo "wrote $OUT"
