#!/usr/bin/env bash
# The Python full-stack example (examples/python/full_stack/app.py) against the built wheel: synthesize it in a venv
# with aws-cdk-lib and cdk-nag from PyPI (its four nag packs run as validation plugins, so any unacknowledged finding
# fails synthesis), then check that its template has the same resources (logical ids and types) and outputs as the
# TypeScript full-stack example (test/bindings/full-stack-compare.ts).
#
#   bash test/bindings/python-full-stack.sh
#
# Needs the wheel in dist/python (`npx projen package:python`). Reuses a Python environment that already has the wheel
# and aws-cdk-lib when one is given as FULL_STACK_PYTHON=/path/to/venv/bin/python (test/bindings/run.sh passes its
# own); cdk-nag is added to it if missing. Otherwise makes a venv in a temporary folder. Ends with
# "python-full-stack: N passed, N failed".
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

node_major="$(node -p 'process.versions.node.split(".")[0]')"
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="$node_major"
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION=1
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION=1

CDK_VERSION="$(node -p "require('./package.json').peerDependencies['aws-cdk-lib'].replace(/^[\\^~>=]+/, '')")"
NAG_VERSION="$(node -p "require('cdk-nag/package.json').version")"
LIB_VERSION="$(node -p "require('./package.json').version")"

WORK="$(mktemp -d -t cdk-full-stack-XXXXXX)"
trap 'rm -rf "$WORK"' EXIT

fail() {
  echo "python-full-stack: $*" >&2
  echo "python-full-stack: 0 passed, 1 failed"
  exit 1
}

started=$(date +%s)
python="${FULL_STACK_PYTHON:-}"
if [ -n "$python" ]; then
  [ -x "$python" ] || fail "FULL_STACK_PYTHON=$python is not an executable"
  "$python" -c 'import aws_cdk, cdk_serverless_llm' 2>/dev/null || fail "$python lacks aws-cdk-lib or the cdk-serverless-llm wheel"
  if ! "$python" -c 'import cdk_nag' 2>/dev/null; then
    "$python" -m pip install --quiet --disable-pip-version-check "cdk-nag==$NAG_VERSION" "aws-cdk-lib==$CDK_VERSION" ||
      fail "pip could not add cdk-nag==$NAG_VERSION"
  fi
else
  wheels=(dist/python/*-"$LIB_VERSION"-py3-none-any.whl)
  [ -f "${wheels[0]}" ] || fail "no wheel for version $LIB_VERSION in dist/python: run 'npx projen package:python' (or package-all) first"
  command -v python3 >/dev/null || fail "python3 is not installed"
  python3 -m venv "$WORK/venv" || fail "python3 -m venv does not work here (Debian: apt-get install python3-venv)"
  python="$WORK/venv/bin/python"
  "$python" -m pip install --quiet --disable-pip-version-check "${wheels[0]}" "aws-cdk-lib==$CDK_VERSION" "cdk-nag==$NAG_VERSION" ||
    fail "pip could not install the wheel with aws-cdk-lib==$CDK_VERSION and cdk-nag==$NAG_VERSION"
fi
"$python" -m pip list --disable-pip-version-check 2>/dev/null | grep -E '^(aws-cdk-lib|cdk-nag|cdk-serverless-llm) ' | sed 's/^/python-full-stack:   /'

# Synthesize the Python app the way `cdk synth` runs it (CDK_OUTDIR), from a scratch folder.
t0=$(date +%s)
(cd "$WORK" && CDK_OUTDIR="$WORK/python.out" "$python" "$ROOT/examples/python/full_stack/app.py") >"$WORK/python.log" 2>&1 ||
  { tail -n 60 "$WORK/python.log" | sed 's/^/  | /'; fail "the Python full-stack app did not synthesize (a cdk-nag finding or an error, above)"; }
echo "python-full-stack: Python app synthesized in $(($(date +%s) - t0)) s with the four cdk-nag packs"
[ -f "$WORK/python.out/FullStack.template.json" ] || fail "no FullStack.template.json in the Python app's cloud assembly"

# Compare with the TypeScript app.
if npx ts-node --transpile-only --project test/tsconfig.json test/bindings/full-stack-compare.ts "$WORK/python.out/FullStack.template.json" python; then
  echo "python-full-stack: finished in $(($(date +%s) - started)) s"
  echo "python-full-stack: 1 passed, 0 failed"
else
  fail "the Python template does not match the TypeScript one, or the TypeScript app did not synthesize (above)"
fi
