#!/usr/bin/env bash
# Binding smoke tests: use the jsii packages that `npx projen package-all` built in dist/ the way a consumer of each
# language would, and synthesize a stack with GithubOidcDeployer, asserting on the template it produced.
#
#   python  a fresh venv with the wheel from dist/python and aws-cdk-lib from PyPI   (test/bindings/python/app.py)
#   java    a Maven project depending on the jar in dist/java and aws-cdk-lib from Maven Central  (test/bindings/java)
#   go      a Go module using dist/go through a replace directive, aws-cdk-go from the Go module proxy  (test/bindings/go)
#   full_stack_python / full_stack_java   examples/full-stack rewritten in Python / Java, synthesized under the four
#           cdk-nag packs and compared with the TypeScript app (logical ids and types): python-full-stack.sh, java-full-stack.sh
#
# aws-cdk-lib is installed at exactly the version of the package's peer dependency (its lowest supported release).
# Each language runs in a temporary copy, so nothing is written into the checkout. Ends with "bindings: N passed, N failed"
# and exits non-zero if any language failed. Run one or more languages with `bash test/bindings/run.sh python go`.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

# The jsii runtime starts Node.js; keep its version banners out of the logs.
node_major="$(node -p 'process.versions.node.split(".")[0]')"
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="$node_major"
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION=1
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION=1

CDK_VERSION="$(node -p "require('./package.json').peerDependencies['aws-cdk-lib'].replace(/^[\\^~>=]+/, '')")"
LIB_VERSION="$(node -p "require('./package.json').version")"
GO_MODULE="$(node -p "require('./package.json').jsii.targets.go.moduleName")"
MAVEN_GROUP="$(node -p "require('./package.json').jsii.targets.java.maven.groupId")"

WORK="$(mktemp -d -t cdk-bindings-XXXXXX)"
trap 'rm -rf "$WORK"' EXIT

# Each language runs in a subshell, so die ends only that language.
die() { echo "$*" >&2; exit 1; }

python_smoke() {
  local wheels=(dist/python/*-"$LIB_VERSION"-py3-none-any.whl)
  [ -f "${wheels[0]}" ] || die "no wheel for version $LIB_VERSION in dist/python: run 'npx projen package:python' (or package-all) first"
  [ "${#wheels[@]}" -eq 1 ] || die "more than one wheel for version $LIB_VERSION in dist/python: ${wheels[*]}"
  command -v python3 >/dev/null || die "python3 is not installed"
  python3 -m venv "$WORK/venv" ||
    die "python3 -m venv does not work here: install the venv module (Debian: apt-get install python3-venv)"
  "$WORK/venv/bin/python" -m pip install --quiet --no-compile --disable-pip-version-check "${wheels[0]}" "aws-cdk-lib==$CDK_VERSION" ||
    die "pip could not install the wheel with aws-cdk-lib==$CDK_VERSION"
  "$WORK/venv/bin/python" -m pip list --disable-pip-version-check 2>/dev/null | grep -E '^(aws-cdk-lib|cdk-serverless-llm|constructs|jsii) '
  (cd "$WORK" && "$WORK/venv/bin/python" "$ROOT/test/bindings/python/app.py")
}

java_smoke() {
  [ -d "dist/java/${MAVEN_GROUP//.//}" ] || die "no Maven repository in dist/java: run 'npx projen package:java' (or package-all) first"
  command -v mvn >/dev/null || die "mvn is not installed (Debian: apt-get install maven)"
  command -v java >/dev/null || die "java is not installed (Debian: apt-get install openjdk-17-jdk-headless)"
  local repo="${BINDINGS_MAVEN_REPO:-$HOME/.m2/repository}"
  # Maven never downloads a release version again once it is in the local repository: drop the last build's copy.
  rm -rf "${repo:?}/${MAVEN_GROUP//.//}" || die "cannot clear $repo/${MAVEN_GROUP//.//}"
  cp -r test/bindings/java "$WORK/java" || die "cannot copy test/bindings/java"
  mvn --batch-mode --quiet -Dstyle.color=never -f "$WORK/java/pom.xml" "-Dmaven.repo.local=$repo" \
    "-Ddist.repo=file://$ROOT/dist/java" "-Dlib.version=$LIB_VERSION" "-Dcdk.version=$CDK_VERSION" \
    compile exec:java
}

go_smoke() {
  local module_dir
  module_dir="$(find dist/go -mindepth 2 -maxdepth 2 -name go.mod -printf '%h\n' 2>/dev/null | head -1)"
  [ -n "$module_dir" ] || die "no Go module in dist/go: run 'npx projen package:go' (or package-all) first"
  command -v go >/dev/null || die "go is not installed"
  cp -r test/bindings/go "$WORK/go" || die "cannot copy test/bindings/go"
  (
    cd "$WORK/go" &&
      go mod edit -replace "$GO_MODULE/$(basename "$module_dir")=$ROOT/$module_dir" &&
      go mod tidy &&
      go build -o smoke . &&
      ./smoke
  )
}

# The full-stack reference app (examples/full-stack) written in Python and in Java against the built packages: each
# synthesizes with the four cdk-nag packs as plugins and must match the TypeScript app resource for resource.
full_stack_python_smoke() { bash test/bindings/python-full-stack.sh; }
full_stack_java_smoke() { bash test/bindings/java-full-stack.sh; }

languages=("$@")
[ "${#languages[@]}" -gt 0 ] || languages=(python java go full_stack_python full_stack_java)

passed=0
failed=0
started=$(date +%s)
echo "bindings: aws-cdk-lib $CDK_VERSION, cdk-serverless-llm $LIB_VERSION, languages: ${languages[*]}"
# The languages run side by side (most of their time is downloads and the jsii runtime starting Node.js); each writes
# its own log, reported in order once all are done.
for lang in "${languages[@]}"; do
  (
    # Each language its own jsii package cache: two JVMs (java, full_stack_java) extracting this library into one
    # shared cache race for its lock, and the loser fails with EEXIST when the extraction outlasts the lock's retries.
    export JSII_RUNTIME_PACKAGE_CACHE_ROOT="$WORK/jsii-cache-$lang"
    t0=$(date +%s)
    ("${lang}_smoke") >"$WORK/$lang.log" 2>&1
    echo "$? $(($(date +%s) - t0))" >"$WORK/$lang.result"
  ) &
done
wait
for lang in "${languages[@]}"; do
  read -r status seconds <"$WORK/$lang.result"
  if [ "$status" -eq 0 ]; then
    passed=$((passed + 1))
    echo "bindings: $lang ok in $seconds s"
    sed 's/\x1b\[[0-9;]*m//g' "$WORK/$lang.log" | grep -E '^(python|java|go|python-full-stack|java-full-stack): ' | sed 's/^/  /'
  else
    failed=$((failed + 1))
    echo "bindings: $lang FAILED after $seconds s; last lines of its log:"
    tail -n 60 "$WORK/$lang.log" | sed 's/^/  | /'
  fi
done
echo "bindings: finished in $(($(date +%s) - started)) s"
echo "bindings: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
