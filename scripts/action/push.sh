#!/usr/bin/env bash
# The push step of the GitHub Action (action.yml): `mldeploy push` with the action's inputs. They
# arrive as environment variables, never pasted into this script, so a value stays data: it
# cannot become shell, and each one reaches mldeploy as a single argument.
# Environment:
#   MLDEPLOY_BIN        the folder holding the installed `mldeploy` (the install step's output)
#   INPUT_TARGET        <model>/<version> (required)
#   INPUT_TAGS          image tags, one a line or comma separated (replace the default `latest`)
#   INPUT_BACKEND       podman or docker
#   INPUT_ARGS          more flags for `mldeploy push`, split on whitespace (no quoting)
#   INPUT_RESULT_FILE   write the --json result there (the log then gets progress only)
# mldeploy itself writes the step outputs (image, image-by-digest, digest, bento-tag, images,
# status) to GITHUB_OUTPUT.
set -euo pipefail

fail() {
  echo "::error title=mldeploy push::$*" >&2
  exit 2
}

mldeploy="${MLDEPLOY_BIN:?MLDEPLOY_BIN is not set (the install step gives it)}/mldeploy"
target="${INPUT_TARGET:-}"
[ -n "$target" ] || fail "the input target is required: <model>/<version>, e.g. modelA/V1"
# A target that starts with - would be read as a flag.
case "$target" in -*) fail "target '$target' is not <model>/<version>" ;; esac

args=(push "$target")
# --tag=VALUE: a tag that starts with - stays the flag's value (and mldeploy refuses it).
while IFS= read -r tag; do
  tag="${tag#"${tag%%[![:space:]]*}"}" # leading and trailing blanks go
  tag="${tag%"${tag##*[![:space:]]}"}"
  [ -z "$tag" ] || args+=("--tag=$tag")
done < <(printf '%s\n' "${INPUT_TAGS:-}" | tr ',' '\n')
[ -z "${INPUT_BACKEND:-}" ] || args+=("--backend=$INPUT_BACKEND")
if [ -n "${INPUT_ARGS:-}" ]; then
  read -r -d '' -a extra <<< "$INPUT_ARGS" || true
  args+=("${extra[@]}")
fi

if [ -n "${INPUT_RESULT_FILE:-}" ]; then
  "$mldeploy" "${args[@]}" --json > "$INPUT_RESULT_FILE"
else
  "$mldeploy" "${args[@]}"
fi
