#!/usr/bin/env bash
# Set-up for a fresh machine, run by `make demo` and `make test` (so CI and a new laptop do the same).
# Idempotent and quick when nothing changed: it re-syncs only when the lock file or pyproject changed.
#   1. uv, pinned by hash, in its own small venv (.cache/bootstrap)
#   2. .venv with every dependency from deps/requirements.lock, exact versions, hashes required
#      (litellm 1.82.7/1.82.8 were malicious releases: nothing unlocked gets in)
#   3. llama-cpp-python built from source with portable CPU flags: the native build died with
#      "Illegal instruction" on these machines (FACTS.md); uv caches the built wheel (~8 min once)
#   4. this project, editable
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-$(command -v python3.11 || command -v python3)}
BOOT=.cache/bootstrap
STAMP=.venv/.resumeopt-lock.sha
want=$(cat deps/requirements.lock pyproject.toml deps/bootstrap.lock | sha256sum | cut -d' ' -f1)

if [[ -f $STAMP && $(cat "$STAMP") == "$want" && -x .venv/bin/resumeopt ]]; then
  exit 0
fi

echo "==> setting up (first run builds the local model server: several minutes on 2 cores)" >&2
start=$(date +%s)
if [[ ! -x $BOOT/bin/uv ]]; then
  "$PY" -m venv "$BOOT"
  "$BOOT/bin/pip" install --quiet --disable-pip-version-check --require-hashes -r deps/bootstrap.lock
fi
UV=$BOOT/bin/uv
[[ -x .venv/bin/python ]] || "$UV" venv --quiet --python "$PY" .venv
export CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"
"$UV" pip sync --quiet --python .venv/bin/python --require-hashes deps/requirements.lock
"$UV" pip install --quiet --python .venv/bin/python --no-deps -e .
echo "$want" > "$STAMP"
echo "==> set-up done in $(( $(date +%s) - start ))s" >&2
