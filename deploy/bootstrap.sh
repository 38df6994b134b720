#!/usr/bin/env bash
# Set-up for a fresh machine, run by `make demo` and `make test` (so CI and a new laptop do the same).
# Idempotent and quick when nothing changed: it re-syncs only when the lock file or pyproject changed.
#   1. uv, pinned by hash, in its own small venv (.cache/bootstrap)
#   2. .venv with every dependency from deps/requirements.lock, exact versions, hashes required
#      (litellm 1.82.7/1.82.8 were malicious releases: nothing unlocked gets in)
#   3. llama-cpp-python built once from its hash-checked sdist with portable CPU flags (the native
#      build died with "Illegal instruction" on these machines, FACTS.md) into a wheel cache outside
#      the clone, so later clones and CI install it in seconds. uv's own sdist cache was seen to
#      rebuild it (~5 min) on every fresh clone here, hence our own cache.
#   4. this project, editable
#   5. promptfoo (Node) from its own lock, with its own stamp: deploy/setup_promptfoo.sh
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-$(command -v python3.11 || command -v python3)}
BOOT=.cache/bootstrap
STAMP=.venv/.resumeopt-lock.sha
CMAKE_FLAGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"
WHEELS=${RESUMEOPT_WHEEL_CACHE:-$HOME/.cache/resumeopt/wheels}/llama-$(echo "$CMAKE_FLAGS" | sha256sum | cut -c1-12)
want=$(cat deps/requirements.lock pyproject.toml deps/bootstrap.lock deploy/bootstrap.sh | sha256sum | cut -d' ' -f1)

deploy/setup_promptfoo.sh  # before the early exit below: its lock changes without the Python side's

if [[ -f $STAMP && $(cat "$STAMP") == "$want" && -x .venv/bin/resumeopt ]]; then
  exit 0
fi

echo "==> setting up (the first run on a machine builds the local model server: ~5 min on 2 cores)" >&2
start=$(date +%s)
if [[ ! -x $BOOT/bin/uv ]]; then
  "$PY" -m venv "$BOOT"
  "$BOOT/bin/pip" install --quiet --disable-pip-version-check --require-hashes -r deps/bootstrap.lock
fi
UV=$BOOT/bin/uv

# Split the lock: llama-cpp-python (its sdist hashes) is built by us; everything else uv installs.
awk '/^llama-cpp-python==/{f=1} f&&!/^ /&&!/^llama-cpp-python==/{f=0} f' deps/requirements.lock > .cache/llama.req
awk '/^llama-cpp-python==/{f=1} f&&!/^ /&&!/^llama-cpp-python==/{f=0} !f' deps/requirements.lock > .cache/main.req
version=$(sed -n 's/^llama-cpp-python==\([^ ]*\).*/\1/p' .cache/llama.req)
if ! ls "$WHEELS"/llama_cpp_python-"$version"-*.whl >/dev/null 2>&1; then
  echo "==> building llama-cpp-python $version (portable CPU flags) into $WHEELS" >&2
  mkdir -p "$WHEELS"
  CMAKE_ARGS="$CMAKE_FLAGS" "$BOOT/bin/pip" wheel --quiet --disable-pip-version-check --no-deps \
    --require-hashes -r .cache/llama.req -w "$WHEELS"
fi

[[ -x .venv/bin/python ]] || "$UV" venv --quiet --python "$PY" .venv
"$UV" pip sync --quiet --python .venv/bin/python --require-hashes .cache/main.req
"$UV" pip install --quiet --python .venv/bin/python --no-deps "$WHEELS"/llama_cpp_python-"$version"-*.whl
"$UV" pip install --quiet --python .venv/bin/python --no-deps -e .
echo "$want" > "$STAMP"
echo "==> set-up done in $(( $(date +%s) - start ))s" >&2
