#!/usr/bin/env bash
# The install step of the GitHub Actions (action.yml, install/action.yml): the README's Install
# path from the action's own checkout, which the workflow pinned by commit SHA. No package is
# looked up by name: `npm ci` fetches package-lock.json's dependencies by their integrity hashes,
# `npm pack` builds mldeploy-<version>.tgz, and that file is installed.
# Environment:
#   RUNNER_TEMP              where the tarball and the install go (set by the runner)
#   GITHUB_OUTPUT, GITHUB_PATH  (set by the runner)
#   MLDEPLOY_TARBALL_SHA256  optional: the tarball's expected sha256; any other fails the step
# Outputs: version, bin (the folder holding `mldeploy`, also added to PATH), tarball, tarball-sha256.
set -euo pipefail

fail() {
  # An annotation on the run's page; the same line in the log.
  echo "::error title=mldeploy install::$*" >&2
  exit 1
}

: "${RUNNER_TEMP:?RUNNER_TEMP is not set (the runner sets it)}"
: "${GITHUB_OUTPUT:?GITHUB_OUTPUT is not set (the runner sets it)}"
: "${GITHUB_PATH:?GITHUB_PATH is not set (the runner sets it)}"
# The repository root: two folders up from this script, whichever action (root or install/) runs it.
source_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

# A field of the package.json in folder $1 ("engines.node").
package_field() {
  node -p 'process.argv[2].split(".").reduce((value, key) => value[key], require(process.argv[1]))' \
    "$1/package.json" "$2"
}

command -v node >/dev/null || fail "node is not on PATH: add actions/setup-node (Node 22 or 24) before this action"
# package.json's engines (">=22.13"): npm would only warn about it when installing the tarball.
node -e '
  const want = require(process.argv[1]).engines.node.replace(/^>=/, "").split(".").map(Number)
  const have = process.versions.node.split(".").map(Number)
  process.exit(have[0] > want[0] || (have[0] === want[0] && have[1] >= (want[1] ?? 0)) ? 0 : 1)
' "$source_dir/package.json" ||
  fail "mldeploy needs Node $(package_field "$source_dir" engines.node), this runner has $(node --version): set actions/setup-node's node-version"

work="$RUNNER_TEMP/mldeploy"
rm -rf "$work"
mkdir -p "$work"
tarball="$work/$(package_field "$source_dir" name)-$(package_field "$source_dir" version).tgz"

cd "$source_dir"
echo "mldeploy: npm ci in $source_dir"
npm ci --no-audit --no-fund
echo "mldeploy: npm pack"
npm pack --pack-destination "$work" >/dev/null
[ -f "$tarball" ] || fail "npm pack wrote no $tarball"

sha256="$(node -e '
  const {createHash} = require("node:crypto")
  process.stdout.write(createHash("sha256").update(require("node:fs").readFileSync(process.argv[1])).digest("hex"))
' "$tarball")"
echo "mldeploy: $(basename "$tarball") sha256 $sha256"
expected="${MLDEPLOY_TARBALL_SHA256:-}"
if [ -n "$expected" ] && [ "$sha256" != "$(printf '%s' "$expected" | tr 'A-F' 'a-f')" ]; then
  fail "$(basename "$tarball") has sha256 $sha256, not the $expected given in tarball-sha256: this checkout builds another package than the one you checked"
fi

# Into a prefix of its own under RUNNER_TEMP (emptied for every job): nothing is written to the
# runner's global npm folder.
npm install --global --prefix "$work/prefix" --no-audit --no-fund "$tarball"
bin="$work/prefix/bin"
"$bin/mldeploy" --version
{
  echo "version=$(package_field "$work/prefix/lib/node_modules/mldeploy" version)"
  echo "bin=$bin"
  echo "tarball=$tarball"
  echo "tarball-sha256=$sha256"
} >> "$GITHUB_OUTPUT"
echo "$bin" >> "$GITHUB_PATH"
