#!/usr/bin/env bash
# Mutation testing (`npm run mutation`, not part of CI). Stryker stays out of package.json (CI's
# `npm ci` does not install it for nothing): it is installed here, at run time, into
# $MLDEPLOY_CACHE/stryker with the Node 24 binary from the npm registry (as scripts/test.sh does),
# and run with Node 24 first on PATH.
#
#   bash scripts/mutation.sh                           # every file in stryker.config.json's `mutate`
#   bash scripts/mutation.sh 'src/steps/**/*.ts'       # one folder (or file): shorter runs
#   bash scripts/mutation.sh --ignoreStatic 'src/config/**/*.ts'   # options go to Stryker
#
# Only the unit tests run (vitest.mutation.config.ts): process-level tests cannot kill mutants.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
LOG_PREFIX=mutation
. scripts/lib.sh

STRYKER_VERSION=10.1.1
[ -f node_modules/vitest/package.json ] || die "no vitest in node_modules: run npm ci first"

NODE24_BIN="$(registry_node 24)" || die "installing Node 24 from the npm registry failed"
NODE24="$NODE24_BIN/node"

STRYKER_DIR="$MLDEPLOY_CACHE/stryker"
STAMP="$STRYKER_DIR/.installed-$STRYKER_VERSION"
if [ ! -f "$STAMP" ]; then
  log "setup: Stryker $STRYKER_VERSION into $STRYKER_DIR"
  rm -rf "$STRYKER_DIR" || die "cannot remove $STRYKER_DIR"
  mkdir -p "$STRYKER_DIR" || die "cannot create $STRYKER_DIR"
  # npm itself runs on Node 24, so the engines check passes for Stryker's >= 22. No peers: the
  # runner must use the project's own vitest (below), the one the test files import.
  # MLDEPLOY_MUTATION=1: the few unit tests that run a script as a child skip themselves.
PATH="$NODE24_BIN:$PATH" MLDEPLOY_MUTATION=1 "$NODE24" "$(command -v npm)" install --prefix "$STRYKER_DIR" --no-save --no-package-lock \
    --legacy-peer-deps --no-audit --no-fund --cache "$MLDEPLOY_CACHE/npm" \
    "@stryker-mutator/core@$STRYKER_VERSION" "@stryker-mutator/vitest-runner@$STRYKER_VERSION" >/dev/null ||
    die "installing Stryker failed"
  touch "$STAMP"
fi
# One vitest for the runner and the tests: a second copy would not see the tests' describe/it.
ln -sfn "$(cd node_modules/vitest && pwd -P)" "$STRYKER_DIR/node_modules/vitest"

args=()
patterns=()
for arg in "$@"; do
  case "$arg" in
    --*) args+=("$arg") ;;
    *) patterns+=("$arg") ;;
  esac
done
if [ ${#patterns[@]} -gt 0 ]; then args+=(--mutate "$(IFS=,; echo "${patterns[*]}")"); fi
log "Stryker on Node $("$NODE24" --version)"
# Stryker finds its vitest runner plugin next to itself, in its own install folder.
# MLDEPLOY_MUTATION=1: the few unit tests that run a script as a child skip themselves.
PATH="$NODE24_BIN:$PATH" MLDEPLOY_MUTATION=1 "$NODE24" "$STRYKER_DIR/node_modules/@stryker-mutator/core/bin/stryker.js" run stryker.config.json "${args[@]}"
