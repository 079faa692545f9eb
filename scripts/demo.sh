#!/usr/bin/env bash
# The README's first command: from a fresh clone, set everything up, start the local stack, train
# the example model into its MLflow server and push the example deploy target for real with
# mldeploy (podman), then run the pushed image and ask it for a prediction. Safe to run again:
# every run trains a new model version, builds a new bento and moves `latest`.
#   MLDEPLOY_KEEP_STACK=1   leave the stack running afterwards (scripts/stack.sh stop ends it)
#   MLDEPLOY_BACKEND=docker push with the private Docker engine instead of podman
set -euo pipefail
cd "$(dirname "$0")/.."
LOG_PREFIX=demo
. scripts/lib.sh

log "setup: system packages, venv, base image"
bash scripts/setup-system.sh
log "setup: npm packages and build"
npm ci --no-audit --no-fund --prefer-offline --cache "$MLDEPLOY_CACHE/npm" >/dev/null
npm run build >/dev/null

bash scripts/stack.sh start
if [ "${MLDEPLOY_KEEP_STACK:-0}" != 1 ]; then trap 'bash scripts/stack.sh stop' EXIT; fi
eval "$(bash scripts/stack.sh env)"

REPOSITORY=iris/v1
bash scripts/stack.sh create-repo "$REPOSITORY"
log "training the example model into $MLFLOW_TRACKING_URI"
(cd examples/project && python train.py)

log "mldeploy push iris/V1"
RESULT="$MLDEPLOY_CACHE/demo-result.json"
(cd examples/project && node ../../bin/run.cjs push iris/V1 --backend "${MLDEPLOY_BACKEND:-podman}" --json) > "$RESULT"
IMAGE=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).images[0])' "$RESULT")
DIGEST=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).digest)' "$RESULT")

log "checking the registry: $IMAGE"
REPO_PATH="${IMAGE#*/}"
REPO_PATH="${REPO_PATH%:*}"
REGISTRY_DIGEST=$(curl -sfI -u "AWS:$MLDEPLOY_REGISTRY_PASSWORD" \
  -H 'Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' \
  "http://$MLDEPLOY_REGISTRY/v2/$REPO_PATH/manifests/latest" | tr -d '\r' | awk -F': ' 'tolower($1)=="docker-content-digest"{print $2}')
[ "$REGISTRY_DIGEST" = "$DIGEST" ] || die "registry has $REGISTRY_DIGEST for latest, mldeploy reported $DIGEST"

log "running the pushed image and asking for a prediction"
bash scripts/predict.sh "$IMAGE" "${MLDEPLOY_BACKEND:-podman}"

echo
echo "image:  $IMAGE"
echo "digest: $DIGEST"
