# The two commands of the README. Both set the machine up first (deploy/bootstrap.sh, idempotent).
.PHONY: demo test test-fast gate bench bench-store lock setup

setup:
	@deploy/bootstrap.sh

demo: setup
	@.venv/bin/resumeopt demo

# Bytecode is written even where the environment says not to (PYTHONDONTWRITEBYTECODE=1 on these machines):
# the suite starts ~80 Python subprocesses, and without .pyc files each recompiles every module it imports.
test: setup
	@env -u PYTHONDONTWRITEBYTECODE .venv/bin/python -m pytest --durations=15

# The quality gate .ci/run runs after the tests: the `ci` golden set through the whole optimiser (real local
# model) with the stable judges, against evaluator/ci/ (thresholds, baseline); exit 1 on a regression.
# Its own store in a fresh folder: the gate's runs never mix with a developer's.
gate: setup
	@d=$$(mktemp -d); env -u PYTHONDONTWRITEBYTECODE RESUMEOPT_DATA_DIR=$$d .venv/bin/resumeopt eval gate --dataset ci \
		--thresholds evaluator/ci/thresholds.yaml --baseline evaluator/ci/baseline.json; rc=$$?; rm -rf $$d; exit $$rc

test-fast: setup
	@env -u PYTHONDONTWRITEBYTECODE .venv/bin/python -m pytest -m "not e2e"

bench: setup
	@tests/perf/setup_litellm.sh
	@.venv/bin/python -m tests.perf.bench_gateway

# Store reads at 1M and 10M synthetic calls, raw vs rollups, and writer ingestion (~10 min on 2 cores).
bench-store: setup
	@.venv/bin/python -m tests.perf.bench_store

# Re-lock after changing pyproject.toml dependencies (hashes for every file of every pinned version).
lock:
	@.cache/bootstrap/bin/uv pip compile pyproject.toml --extra test --generate-hashes --python-version 3.11 -o deps/requirements.lock
