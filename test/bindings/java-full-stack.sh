#!/usr/bin/env bash
# The Java full-stack example (examples/java/full-stack) against the jar in dist/java: compile it with Maven against
# aws-cdk-lib and cdk-nag from Maven Central, synthesize it (its four nag packs run as validation plugins, so any
# unacknowledged finding fails synthesis), then check that its template has the same resources (logical ids and types)
# and outputs as the TypeScript full-stack example (test/bindings/full-stack-compare.ts).
#
#   bash test/bindings/java-full-stack.sh
#
# Needs dist/java (`npx projen package:java`), java and mvn. Uses its own Maven local repository in a temporary folder,
# so the freshly built jar is always the one resolved and nothing races with other Maven runs; other artifacts already in
# ~/.m2/repository (or BINDINGS_MAVEN_REPO) are copied from a read-only view of it instead of downloaded. Ends with
# "java-full-stack: N passed, N failed".
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
MAVEN_GROUP="$(node -p "require('./package.json').jsii.targets.java.maven.groupId")"
CACHE="${BINDINGS_MAVEN_REPO:-$HOME/.m2/repository}"

WORK="$(mktemp -d -t cdk-java-full-stack-XXXXXX)"
trap 'rm -rf "$WORK"' EXIT

fail() {
  echo "java-full-stack: $*" >&2
  echo "java-full-stack: 0 passed, 1 failed"
  exit 1
}

started=$(date +%s)
[ -d "dist/java/${MAVEN_GROUP//.//}" ] || fail "no Maven repository in dist/java: run 'npx projen package:java' (or package-all) first"
command -v mvn >/dev/null || fail "mvn is not installed (Debian: apt-get install maven)"
command -v java >/dev/null || fail "java is not installed (Debian: apt-get install openjdk-17-jdk-headless)"

# The app runs from a copy of its folder placed where ../../chat-web/web still resolves to the chat page.
mkdir -p "$WORK/examples/java" && cp -r examples/java/full-stack "$WORK/examples/java/full-stack" && cp -r examples/chat-web "$WORK/examples/chat-web" ||
  fail "cannot copy the example"
mkdir -p "$WORK/m2"
# A read-only view of the cache without this library's group, so only dist/java can supply the library.
view="$WORK/cache-view"
mirror_without() { # <source dir> <target dir> <relative path to leave out>
  local src="$1" dst="$2" skip="$3" head rest entry
  head="${skip%%/*}"
  rest="${skip#*/}"
  [ "$rest" = "$skip" ] && rest=""
  mkdir -p "$dst"
  for entry in "$src"/* ; do
    [ -e "$entry" ] || continue
    if [ "$(basename "$entry")" != "$head" ]; then
      ln -s "$entry" "$dst/$(basename "$entry")"
    elif [ -n "$rest" ]; then
      mirror_without "$entry" "$dst/$head" "$rest"
    fi
  done
}
if [ -d "$CACHE" ]; then mirror_without "$CACHE" "$view" "${MAVEN_GROUP//.//}"; else mkdir -p "$view"; fi
cat >"$WORK/settings.xml" <<XML
<settings>
  <profiles><profile><id>cache</id>
    <repositories><repository><id>local-cache</id><url>file://$view</url>
      <releases><enabled>true</enabled></releases><snapshots><enabled>false</enabled></snapshots></repository></repositories>
    <pluginRepositories><pluginRepository><id>local-cache</id><url>file://$view</url></pluginRepository></pluginRepositories>
  </profile></profiles>
  <activeProfiles><activeProfile>cache</activeProfile></activeProfiles>
</settings>
XML

t0=$(date +%s)
(
  cd "$WORK/examples/java/full-stack" &&
    CDK_OUTDIR="$WORK/java.out" mvn --batch-mode --quiet -Dstyle.color=never -s "$WORK/settings.xml" "-Dmaven.repo.local=$WORK/m2" \
      "-Ddist.repo=file://$ROOT/dist/java" "-Dlib.version=$LIB_VERSION" "-Dcdk.version=$CDK_VERSION" "-Dcdk-nag.version=$NAG_VERSION" \
      compile exec:java
) >"$WORK/java.log" 2>&1 ||
  { tail -n 60 "$WORK/java.log" | sed 's/^/  | /'; fail "the Java full-stack app did not compile or synthesize (a cdk-nag finding or an error, above)"; }
echo "java-full-stack: Java app compiled and synthesized in $(($(date +%s) - t0)) s with the four cdk-nag packs (aws-cdk-lib $CDK_VERSION, cdknag $NAG_VERSION)"
[ -f "$WORK/java.out/FullStack.template.json" ] || fail "no FullStack.template.json in the Java app's cloud assembly"

if npx ts-node --transpile-only --project test/tsconfig.json test/bindings/full-stack-compare.ts "$WORK/java.out/FullStack.template.json" java; then
  echo "java-full-stack: finished in $(($(date +%s) - started)) s"
  echo "java-full-stack: 1 passed, 0 failed"
else
  fail "the Java template does not match the TypeScript one, or the TypeScript app did not synthesize (above)"
fi
