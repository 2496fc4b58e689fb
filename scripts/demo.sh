#!/usr/bin/env bash
# podrun's main job on this machine: set up, start a private containerd (and a local registry
# holding the example image), apply examples/ and show the pods.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
bash scripts/runtime.sh up >/dev/null
eval "$(bash scripts/runtime.sh env)"

node bin/run.js info
node bin/run.js apply -f examples/ --allowed-host-ports 18080
node bin/run.js get pods -o wide
echo
echo "The pods keep running. Try:  curl -s http://127.0.0.1:18080/"
echo "Use the same runtime:        eval \"\$(bash scripts/runtime.sh env)\"; node bin/run.js get pods"
echo "Clean up:                    node bin/run.js delete -f examples/ && bash scripts/runtime.sh down"
