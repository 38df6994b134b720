#!/usr/bin/env bash
# promptfoo (Node) from evaluator/promptfoo/package-lock.json, for configs that `resumeopt eval
# export-promptfoo` writes and for tests/evaluator/test_promptfoo.py. Run by bootstrap.sh.
# Installed once per (lock, this script, Node version) into a cache outside the clone
# ($RESUMEOPT_NODE_CACHE, default ~/.cache/resumeopt/promptfoo-<hash>), as bootstrap.sh does for the
# llama.cpp wheel, and linked as .cache/promptfoo: a fresh clone (each CI run) links it in no time
# instead of spending ~30 s in npm ci.
#   --ignore-scripts: nothing from the registry runs at install (the packages that have install scripts
#     are optional ones we omit, and esbuild's, which only checks its binary); the lock carries integrity
#     hashes for every file.
#   --omit=optional: 426 packages and ~260 MB instead of ~800 and ~1.9 GB (provider SDKs, onnxruntime,
#     playwright, sharp, ...: none is used by an eval against an OpenAI-compatible endpoint). libsql's
#     Linux x86-64 binary is optional for promptfoo but needed at start, so package.json lists it itself.
# Without Node or npm it says so and returns 0, so `make setup` still sets up the Python side; the
# promptfoo test then fails, naming this script, rather than skipping.
set -euo pipefail
cd "$(dirname "$0")/.."

SRC=evaluator/promptfoo
LINK=.cache/promptfoo

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "==> promptfoo: node/npm not found: not installed (tests/evaluator/test_promptfoo.py will fail)" >&2
  exit 0
fi
# engines in package.json: ^20.20.0 || >=22.22.0 (promptfoo 0.121.20's own range)
if ! node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a===20&&b>=20||a>22||a===22&&b>=22?0:1)'; then
  echo "==> promptfoo: Node $(node --version) is outside ^20.20.0 || >=22.22.0: not installed" >&2
  exit 0
fi
want=$(cat "$SRC/package.json" "$SRC/package-lock.json" deploy/setup_promptfoo.sh <(node --version) | sha256sum | cut -d' ' -f1)
DEST=${RESUMEOPT_NODE_CACHE:-$HOME/.cache/resumeopt}/promptfoo-${want:0:12}

if [[ ! -x $DEST/node_modules/.bin/promptfoo ]]; then
  echo "==> installing promptfoo from $SRC/package-lock.json into $DEST (~1 min the first time)" >&2
  start=$(date +%s)
  mkdir -p "$(dirname "$DEST")"
  tmp=$(mktemp -d "$DEST.tmp.XXXXXX")  # installed aside, then renamed: a half-done install is never used
  cp "$SRC/package.json" "$SRC/package-lock.json" "$tmp/"
  npm ci --prefix "$tmp" --ignore-scripts --omit=optional --no-audit --no-fund --loglevel=error
  mv -T "$tmp" "$DEST" 2>/dev/null || rm -rf "$tmp"  # another clone finished first: keep its copy
  echo "==> promptfoo $(node -p 'require("'"$DEST"'/node_modules/promptfoo/package.json").version') installed in $(( $(date +%s) - start ))s" >&2
fi
if [[ $(readlink "$LINK" 2>/dev/null) != "$DEST" ]]; then
  mkdir -p .cache
  rm -rf "$LINK"  # an older in-clone install, or a link to another version
  ln -s "$DEST" "$LINK"
fi
