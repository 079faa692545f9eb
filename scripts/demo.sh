#!/usr/bin/env bash
# The README's first command: from a fresh clone, set everything up, start the local stack, train
# the example model into its MLflow server and push the example deploy target for real with
# mldeploy (podman), then run the pushed image and ask it for a prediction. Safe to run again:
# every run trains a new model version, builds a new bento and moves `latest`.
# It prints one line a step; what the steps print (apt, debootstrap, pip, npm, the stack, bentoml,
# the push) goes to $MLDEPLOY_CACHE/demo.log, named at the start, and its last lines are shown
# when a step fails. The stack is stopped at the end, leaving the machine as it was (stack.sh stop).
#   MLDEPLOY_KEEP_STACK=1   leave the stack running afterwards (scripts/stack.sh stop ends it)
#   MLDEPLOY_BACKEND=docker push with the private Docker engine instead of podman
set -euo pipefail
cd "$(dirname "$0")/.."
LOG_PREFIX=demo
# shellcheck source=lib.sh
. scripts/lib.sh

LOG="$MLDEPLOY_CACHE/demo.log"
BACKEND="${MLDEPLOY_BACKEND:-podman}"
: > "$LOG"
log "the steps' own output goes to $LOG"

step_name=""
stack_started=0
on_exit() {
  local rc=$?
  if [ "$rc" -ne 0 ]; then
    log "FAILED${step_name:+ in: $step_name} (exit $rc); the last lines of $LOG:"
    tail -n 40 "$LOG" | sed 's/^/  | /' >&2
  fi
  if [ "$stack_started" = 1 ] && [ "${MLDEPLOY_KEEP_STACK:-0}" != 1 ]; then
    log "stopping the stack"
    bash scripts/stack.sh stop >> "$LOG" 2>&1 || log "scripts/stack.sh stop failed: see $LOG"
  fi
  [ "$rc" -eq 0 ] || log "full output: $LOG"
  exit "$rc"
}
trap on_exit EXIT

# step NAME CMD...: one line on the terminal, CMD's output in the log, its time at the end.
step() {
  step_name="$1"; shift
  local t0=$SECONDS
  log "$step_name ..."
  printf '\n==== %s: %s\n' "$step_name" "$*" >> "$LOG"
  "$@" >> "$LOG" 2>&1
  log "$step_name: done in $((SECONDS - t0)) s"
}

step "setup: system packages, venv, base image" bash scripts/setup-system.sh
# Node 22 from the npm registry (mldeploy's engines; the machine's may be 20, past its end of life):
# npm ci, the build and the push run on it.
step_name="setup: Node 22 from the npm registry"
NODE22_BIN="$(registry_node 22 2>> "$LOG")"
export PATH="$NODE22_BIN:$PATH"
step "setup: npm packages" npm ci --no-audit --no-fund --prefer-offline --cache "$MLDEPLOY_CACHE/npm"
step "build" npm run build

stack_started=1
step "starting the local stack (moto, registry, mlflow, dockerd)" bash scripts/stack.sh start
eval "$(bash scripts/stack.sh env)"

REPOSITORY=iris/v1
step "creating the repository $REPOSITORY" bash scripts/stack.sh create-repo "$REPOSITORY"
train() (cd examples/project && python train.py)
step "training the example model into $MLFLOW_TRACKING_URI" train

RESULT="$MLDEPLOY_CACHE/demo-result.json"
# The CLI's code cache with the demo's other caches, not in ~/.cache (as in the end-to-end tests).
export MLDEPLOY_CACHE_DIR="$MLDEPLOY_CACHE/demo-code-cache"
push() (cd examples/project && node ../../bin/run.cjs push iris/V1 --backend "$BACKEND" --json > "$RESULT")
step "mldeploy push iris/V1 --backend $BACKEND (import, build, containerize, login, push, verify)" push
IMAGE=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).images[0])' "$RESULT")
DIGEST=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).digest)' "$RESULT")

step_name="checking the registry: $IMAGE"
log "$step_name"
REPO_PATH="${IMAGE#*/}"
REPO_PATH="${REPO_PATH%:*}"
REGISTRY_DIGEST=$(curl -sfI -u "AWS:$MLDEPLOY_REGISTRY_PASSWORD" \
  -H 'Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' \
  "http://$MLDEPLOY_REGISTRY/v2/$REPO_PATH/manifests/latest" | tr -d '\r' | awk -F': ' 'tolower($1)=="docker-content-digest"{print $2}')
[ "$REGISTRY_DIGEST" = "$DIGEST" ] || die "registry has $REGISTRY_DIGEST for latest, mldeploy reported $DIGEST"

step "running the pushed image and asking for a prediction" bash scripts/predict.sh "$IMAGE" "$BACKEND"
step_name=""
grep "^prediction: " "$LOG" | tail -n 1

echo
echo "image:  $IMAGE"
echo "digest: $DIGEST"
