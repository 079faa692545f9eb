#!/usr/bin/env bash
# End-to-end check of the local stack by hand-written shell (what mldeploy will
# automate): train -> import -> bentoml build -> containerize -> login -> push
# -> registry API check -> run the pushed image -> POST /predict.
# Needs scripts/setup-system.sh done; starts the stack if it isn't running.
# Usage: scripts/smoke.sh            (backends: podman, plus docker unless STACK_DOCKER=0)
#        SMOKE_BACKENDS=podman scripts/smoke.sh
set -euo pipefail
LOG_PREFIX=smoke
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

"$MLDEPLOY_REPO/scripts/stack.sh" start
# shellcheck disable=SC1091
. "$STATE/env.sh"

BACKENDS="${SMOKE_BACKENDS:-podman$([ "${STACK_DOCKER:-1}" != 0 ] && echo ' docker')}"
RUN_PORT="${SMOKE_RUN_PORT:-47080}"
PROJECT="$MLDEPLOY_REPO/examples/project"
TARGET="$PROJECT/deploy/iris/V1"
REPO_NAME=iris
SUMMARY=()

step() {
  local name="$1"; shift
  local t0 ms
  t0=$(date +%s%N)
  log "== $name"
  "$@"
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  SUMMARY+=("$(printf '%-34s %6d.%01ds' "$name" $((ms / 1000)) $(((ms % 1000) / 100)))")
}

ecr_password() {
  python - <<'EOF'
import base64, boto3
data = boto3.client("ecr").get_authorization_token()["authorizationData"][0]
print(base64.b64decode(data["authorizationToken"]).decode().split(":", 1)[1])
EOF
}

train() { (cd "$PROJECT" && python train.py); }
import_model() { (cd "$TARGET" && python create_bento_model.py); }
build() {
  # -o tag: one `__tag__:<name>:<version>` line on stdout, nothing else from bentoml.
  TAG="$(cd "$TARGET" && COLUMNS=10000 bentoml build -o tag | sed -n 's/^__tag__://p' | tail -n1)"
  [ -n "$TAG" ] || die "no tag from bentoml build"
  log "bento $TAG"
}
containerize() { (cd "$TARGET" && COLUMNS=10000 bentoml containerize "$TAG" --backend "$1" -t "$IMAGE"); }
login() { ecr_password | "$1" login --username AWS --password-stdin "$MLDEPLOY_REGISTRY"; }
push() { "$1" push "$IMAGE"; }
check_registry() {
  local auth="AWS:$MLDEPLOY_REGISTRY_PASSWORD" tag="${IMAGE##*:}" digest
  curl -fsS -u "$auth" "http://$MLDEPLOY_REGISTRY/v2/$REPO_NAME/tags/list" | grep -q "\"$tag\"" \
    || die "tag $tag not listed"
  digest="$(curl -fsSI -u "$auth" \
    -H 'Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' \
    "http://$MLDEPLOY_REGISTRY/v2/$REPO_NAME/manifests/$tag" | tr -d '\r' | sed -n 's/^[Dd]ocker-[Cc]ontent-[Dd]igest: //p')"
  [ -n "$digest" ] || die "no manifest digest for $tag"
  log "registry has $REPO_NAME:$tag @ $digest"
}
run_and_predict() {
  local engine="$1" name="mldeploy-smoke-$1" i out
  "$engine" rm -f "$name" >/dev/null 2>&1 || true
  "$engine" run -d --name "$name" -p "127.0.0.1:$RUN_PORT:3000" "$IMAGE" >/dev/null
  for ((i = 0; i < 240; i++)); do
    curl -fsS "http://127.0.0.1:$RUN_PORT/readyz" >/dev/null 2>&1 && break
    sleep 0.5
  done
  out="$(curl -fsS -X POST "http://127.0.0.1:$RUN_PORT/predict" -H 'Content-Type: application/json' \
    -d "{\"data\": $(python -c 'import json,pandas as pd; print(json.dumps(pd.read_csv("'"$TARGET"'/example_input.csv").to_dict(orient="records")))')}" || true)"
  "$engine" logs "$name" 2>&1 | tail -n 5 >&2
  "$engine" rm -f "$name" >/dev/null
  log "predict -> $out"
  [[ "$out" == *'"prediction"'* ]] || die "no prediction from $engine container"
}

step "train (mlflow log + register)" train
step "create_bento_model.py" import_model
step "bentoml build -o tag" build
"$MLDEPLOY_REPO/scripts/stack.sh" create-repo "$REPO_NAME" >/dev/null
for b in $BACKENDS; do
  IMAGE="$MLDEPLOY_REGISTRY/$REPO_NAME:${TAG#*:}-$b"
  step "containerize --backend $b" containerize "$b"
  step "$b login" login "$b"
  step "$b push" push "$b"
  step "registry check ($b)" check_registry
  step "$b run + POST /predict" run_and_predict "$b"
done
log "timings:"
printf '  %s\n' "${SUMMARY[@]}" >&2
