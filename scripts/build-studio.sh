#!/usr/bin/env bash
# Build the Studio (studio/) into api/static/studio/, which the API serves at /studio and
# the wheel ships as package data. Skips the build when nothing changed since the last one.
#   scripts/build-studio.sh [--force]
# Without Node/npm it says so and exits 3 (./dev up keeps the API running without it).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="api/static/studio"
STAMP="$OUT/.build-stamp"
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  if [ -f "$OUT/index.html" ]; then
    echo "Studio: Node.js 20+ and npm are not installed; serving the existing build in $OUT, not rebuilt" >&2
  else
    echo "Studio: Node.js 20+ and npm are not installed; the API runs without the Studio (/studio answers 503)" >&2
  fi
  exit 3
fi
# Everything the build reads: sources, configs and the lock file.
sources() { find studio -path studio/node_modules -prune -o -path studio/coverage -prune -o -name build.log -prune -o -name "*.tsbuildinfo" -prune -o -type f -print | LC_ALL=C sort; }
digest="$(sources | xargs sha256sum | sha256sum | cut -d' ' -f1)"
if [ "${1:-}" != "--force" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$digest" ] && [ -f "$OUT/index.html" ]; then
  exit 0
fi
echo "Studio: building (log: studio/build.log) ..." >&2
(
  cd studio
  if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund
  fi
  npm run build
) > studio/build.log 2>&1 || { tail -n 30 studio/build.log >&2; echo "Studio build failed; log in studio/build.log" >&2; exit 1; }
echo "$digest" > "$STAMP"
echo "Studio: built into $OUT" >&2
