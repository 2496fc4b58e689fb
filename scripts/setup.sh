#!/usr/bin/env bash
# Installs podrun's dependencies and builds it: npm packages (npm ci when the lock file changed
# since the last install) and the TypeScript build with its oclif manifest.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v node >/dev/null || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  echo "podrun needs Node.js 20 or newer on PATH" >&2
  exit 1
fi

stamp=node_modules/.podrun-lock-stamp
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  echo "setup: npm ci" >&2
  npm ci --no-audit --no-fund >&2
  cp package-lock.json "$stamp"
fi
echo "setup: build and type-check" >&2
npm run --silent build >&2
npm run --silent typecheck >&2
