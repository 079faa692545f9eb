#!/usr/bin/env bash
# The lint's shell and workflow half (npm run lint): shellcheck on the scripts, actionlint (which
# runs shellcheck on each run: block too) on the README's release workflow. Both come from
# setup-system.sh: shellcheck from Debian (apt), actionlint from the Go module proxy (lint-tools).
# bench/ecr*.sh (the replaced ecr.sh, kept as it was for the benchmark) and the test fixtures'
# scripts are not ours to restyle: they are left out.
set -euo pipefail
cd "$(dirname "$0")/.." || exit 1
LOG_PREFIX=lint
# shellcheck source=lib.sh
. scripts/lib.sh

command -v shellcheck >/dev/null || die "shellcheck is missing: bash scripts/setup-system.sh apt"
ACTIONLINT="$MLDEPLOY_CACHE/go/bin/actionlint"
[ -x "$ACTIONLINT" ] || ACTIONLINT="$(command -v actionlint)" ||
  die "actionlint is missing: bash scripts/setup-system.sh lint-tools"

shellcheck -x -P SCRIPTDIR scripts/*.sh scripts/action/*.sh .ci/run

# The README's release workflow: the first yaml block after its heading.
workflow="$(awk '/^### A release workflow$/ { found = 1 } found && /^```yaml$/ { inside = 1; next } inside && /^```$/ { exit } inside' README.md)"
[ -n "$workflow" ] || die "README.md: no yaml block after '### A release workflow'"
printf '%s\n' "$workflow" | "$ACTIONLINT" -stdin-filename README.md:release-workflow.yml -
