#!/usr/bin/env bash
# Run an image pushed by mldeploy and ask it for a prediction on loopback with the example's
# sample input; prints the answer, fails if there is none. The container is removed afterwards.
# Usage: scripts/predict.sh IMAGE [podman|docker]   (with the stack's environment loaded)
set -euo pipefail
LOG_PREFIX=predict
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
IMAGE="$1"
ENGINE="${2:-podman}"
PORT="${MLDEPLOY_PREDICT_PORT:-47081}"
NAME="mldeploy-predict-$ENGINE"
SAMPLE="$MLDEPLOY_REPO/examples/project/deploy/iris/V1/example_input.csv"

"$ENGINE" rm -f "$NAME" >/dev/null 2>&1 || true
"$ENGINE" run -d --name "$NAME" -p "127.0.0.1:$PORT:3000" "$IMAGE" >/dev/null
trap '"$ENGINE" rm -f "$NAME" >/dev/null 2>&1 || true' EXIT
for ((i = 0; i < 240; i++)); do
  curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break
  sleep 0.5
done
BODY=$(python3 -c 'import csv, json, sys
rows = [{k: float(v) for k, v in row.items()} for row in csv.DictReader(open(sys.argv[1]))]
print(json.dumps({"data": rows}))' "$SAMPLE")
ANSWER=$(curl -fsS -X POST "http://127.0.0.1:$PORT/predict" -H 'Content-Type: application/json' -d "$BODY") ||
  { "$ENGINE" logs "$NAME" 2>&1 | tail -n 20 >&2; die "no answer from $IMAGE"; }
[[ "$ANSWER" == *'"prediction"'* ]] || die "unexpected answer: $ANSWER"
echo "prediction: $ANSWER"
