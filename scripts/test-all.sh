#!/usr/bin/env bash
# Runs every test: unit, fake-runtime, corpus and end-to-end against a real containerd that
# scripts/runtime.sh starts (and stops again afterwards if this script started it).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

started=0
if ! bash scripts/runtime.sh status >/dev/null 2>&1; then
  started=1
fi
stop_runtime() {
  if [ "$started" = 1 ] && [ -z "${PODRUN_KEEP_RUNTIME:-}" ]; then
    bash scripts/runtime.sh down >&2 || true
  fi
}
trap stop_runtime EXIT
bash scripts/runtime.sh up >/dev/null
eval "$(bash scripts/runtime.sh env)"

node scripts/run-tests.js "$@"
