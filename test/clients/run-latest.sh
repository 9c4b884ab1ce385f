#!/usr/bin/env bash
# Runs the real-client tests against @latest of every client (the day a new release ships), instead of the pinned
# devDependencies: `npx projen test:clients:latest`. It installs the newest releases into node_modules without touching
# package.json or package-lock.json; `npm ci` goes back to the pinned versions.
set -uo pipefail
cd "$(dirname "$0")/../.."
npm install --no-save --no-audit --no-fund @anthropic-ai/claude-code@latest @anthropic-ai/sdk@latest openai@latest @openai/codex@latest || exit 1
node -e 'for (const p of ["@anthropic-ai/claude-code","@anthropic-ai/sdk","openai","@openai/codex"]) { try { console.log(p, require(p + "/package.json").version) } catch { console.log(p, "not installed") } }'
npx jest --coverage=false test/clients test/lambda/claude-code-fixtures.test.ts "$@"
status=$?
echo
echo "Ran against @latest. A new Claude Code version needs its fixtures: npx projen record:claude-code"
echo "Back to the pinned clients: npm ci"
exit $status
