#!/usr/bin/env bash
# The test command (README, .ci/run, `npm test`). From a fresh clone it installs everything the
# tests need (Debian packages, the Python venv, the base image, Node 22 and 24 from the npm
# registry, npm packages), then on Node 22, the oldest line mldeploy supports (package.json
# engines), installs the npm packages, builds, typechecks, lints and runs the whole suite, and runs
# the unit and orchestration tests again on the current LTS (Node 24), those two while the
# end-to-end tests run beside them. The machine's own node only installs Node 22 and 24. It ends
# with "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
LOG_PREFIX='test'
. scripts/lib.sh

step() { log "$*"; }
# npm's cache and its debug logs (one per npm command) stay in the cache folder, not in ~/.npm.
export npm_config_cache="$MLDEPLOY_CACHE/npm" npm_config_logs_dir="$MLDEPLOY_CACHE/npm-logs"
step "setup: system packages, venv, base image"
bash scripts/setup-system.sh || die "setup-system.sh failed"

# Node 22 and 24 come from the npm registry whatever the machine has (here 20, past its end
# of life): npm refuses `npm ci` under engine-strict on a Node below package.json's engines.
NODE22_BIN="$(registry_node 22)" || die "installing Node 22 from the npm registry failed"
NODE24_BIN="$(registry_node 24)" || die "installing Node 24 from the npm registry failed"
# From here on, `node` (and npm, which runs on the first node on PATH) is Node 22.
export PATH="$NODE22_BIN:$PATH"

step "setup: npm packages (npm $(npm --version) on Node $(node --version))"
npm ci --no-audit --no-fund --prefer-offline --cache "$MLDEPLOY_CACHE/npm" >/dev/null || die "npm ci failed"

step "build, typecheck, lint"
npm run build >/dev/null || die "build failed"
npm run typecheck || die "typecheck failed"
npm run lint || die "lint failed"

REPORTS="$MLDEPLOY_CACHE/test-reports"
rm -rf "$REPORTS" && mkdir -p "$REPORTS"
# The run gets a temp folder of its own: whatever a test (or the CLI under test) leaves in it is a
# leak, and fails the run below.
RUN_TMP="$(mktemp -d "${TMPDIR:-/tmp}/mldeploy-test-run-XXXXXX")" || die "cannot create a temp folder"
OUTER_TMPDIR="${TMPDIR-}"
export TMPDIR="$RUN_TMP"
# npm >= 10.9 turns on Node's compile cache for itself, in $TMPDIR/node-compile-cache: the tests
# that run npm (install, action, the CodeBuild agent) would leave it there.
export NODE_DISABLE_COMPILE_CACHE=1
vitest=(node_modules/vitest/vitest.mjs run --reporter=default --reporter=json)

# The end-to-end tests (real builds, one file at a time) are the long pole: they run in the
# background on Node 22 while the unit and orchestration tests run on Node 22, then on Node 24.
# Each run's output is kept beside its report: a run that fails outside any test (a global setup)
# has its error printed again above the closing line, where CI's tail shows it.
# --passWithNoTests: a run narrowed by arguments (npm test -- test/unit/x.test.ts) may leave a
# project nothing to run.
step "tests: end-to-end on Node $(node --version) in the background"
# Its global teardown lists in host-leaks.txt what the stack's stop left on the machine.
MLDEPLOY_HOST_LEAKS_FILE="$REPORTS/host-leaks.txt" \
  node "${vitest[@]}" --project e2e --passWithNoTests --outputFile.json="$REPORTS/e2e.json" "$@" \
  > "$REPORTS/e2e.log" 2>&1 &
e2e_pid=$!
# An interrupted run stops them too (SIGINT: vitest's teardown stops the stack).
trap 'kill -INT "$e2e_pid" 2>/dev/null; wait "$e2e_pid"; exit 130' INT TERM

step "tests on Node $(node --version) (unit and orchestration)"
node "${vitest[@]}" --project default --passWithNoTests --outputFile.json="$REPORTS/node22.json" "$@" 2>&1 |
  tee "$REPORTS/node22.log"

# Node 24 first on PATH: the tests' own children (the CLI under test, npm in the install tests) run
# on it too.
step "tests on Node $("$NODE24_BIN/node" --version) (unit and orchestration)"
PATH="$NODE24_BIN:$PATH" node "${vitest[@]}" --project default --passWithNoTests \
  --outputFile.json="$REPORTS/node24.json" "$@" 2>&1 | tee "$REPORTS/node24.log"

step "tests on Node $(node --version) (end-to-end): waiting for them"
wait "$e2e_pid"
trap - INT TERM
cat "$REPORTS/e2e.log"

# Leftovers are listed, counted as one failure in the summary, then removed.
find "$RUN_TMP" -mindepth 1 -maxdepth 1 > "$REPORTS/leftovers.txt"
if [ -n "${OUTER_TMPDIR}" ]; then export TMPDIR="$OUTER_TMPDIR"; else unset TMPDIR; fi
rm -rf "$RUN_TMP"
# A whole run (no arguments narrowing it) must have run tests in every project.
require_tests=()
[ "$#" -eq 0 ] && require_tests=(--require-tests)
node scripts/summarize-results.mjs "${require_tests[@]}" --leftovers "$REPORTS/leftovers.txt" --host-leaks "$REPORTS/host-leaks.txt" \
  "$REPORTS/node22.json" "$REPORTS/node24.json" "$REPORTS/e2e.json"
