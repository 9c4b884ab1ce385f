#!/usr/bin/env bash
# Runs every benchmark and writes bench/RESULTS.md (each benchmark also runs on its own: see the header of its file).
# Needs only node and the repository's node_modules; every server it starts listens on 127.0.0.1.
#
#   bash bench/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ts="node -r ts-node/register/transpile-only"

$ts build-tools/bundle.ts     # assets/ (the shipped bundles) - what the dev server and cold-start figures use
$ts bench/build.ts            # the fake Bedrock as a plain script, and the cold-start floor bundle
$ts bench/translation.ts
$ts bench/coldstart.ts
$ts bench/memory.ts
$ts bench/overhead.ts
$ts bench/gateway.ts          # the gateway table on moto (needs moto: scripts/install-test-prereqs.sh)
# Instructions per request under callgrind (needs valgrind); BENCH_BASELINE=<another bundled checkout> adds its figures.
$ts bench/instructions.ts ${BENCH_BASELINE:+--baseline "$BENCH_BASELINE"}
$ts bench/upstream-layer.ts
$ts bench/load.ts
$ts bench/synth-streaming-llm-proxy.ts 3   # synth time of StreamingLlmProxy alone, default and fully featured
$ts bench/synth-examples.ts      # synth time of the examples/ apps with every cdk-nag pack
$ts bench/report.ts           # bench/out/*.md -> bench/RESULTS.md
