#!/usr/bin/env bash
# The LiteLLM proxy for the comparison benchmark, in a venv of its own (its pins conflict with ours),
# locked with hashes: litellm 1.82.7/1.82.8 shipped a credential stealer in a .pth file, so the lock
# pins 1.106.1 and this script refuses to go on if any .pth file mentions litellm.
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV=.cache/perf/litellm
STAMP=$VENV/.checked
[[ -f $STAMP ]] && exit 0
UV=.cache/bootstrap/bin/uv
[[ -x $VENV/bin/python ]] || "$UV" venv --quiet --python "$(command -v python3.11 || command -v python3)" "$VENV"
"$UV" pip sync --quiet --python "$VENV/bin/python" --require-hashes deps/perf-litellm.lock
suspicious=$(find "$VENV" -name "*.pth" -exec grep -il litellm {} + || true)
if [[ -n $suspicious ]]; then
  echo "refusing: .pth files mention litellm (the malicious releases hid in one): $suspicious" >&2
  exit 1
fi
touch "$STAMP"
