#!/bin/bash
# The template's ecr.sh (reference/template-README.md, "Desarrollo de Deployments"), verbatim but
# for the lines marked BENCH, which point it at the local stack. diff ecr.orig.sh ecr.sh shows them.

REGION="us-east-1"
# BENCH: --endpoint-url: the aws CLI 2.9 (Debian) reads no AWS_ENDPOINT_URL; points it at moto.
AWS_ACCOUNT_ID=$(aws sts get-caller-identity --endpoint-url "$AWS_ENDPOINT_URL" --query Account --output text)
ECR_NAME="<ECR-NAME>"
ECR_TAG="latest"
BACKEND="podman"


# Opciones por linea de comando
while [[ "$#" -gt 0 ]]; do
  case "$1" in
    --backend)
      BACKEND="$2"
      shift 2
      ;;
    --ecr-name)
      ECR_NAME="$2"
      shift 2
      ;;
    *)
      echo "Uso: $0 [--backend <docker|podman>] [--ecr-name <repo> ]"
      exit 1
      ;;
  esac
done

# 0. Registrar el modelo de mlflow en bento
echo "Creando el bento, no olvides prender la VPN ..."
python3 create_bento_model.py
# 1. Construir el Bento y extraer el tag
OUTPUT_BUILD=$(bentoml build 2>&1)
BENTO_FULL_TAG=$(echo "$OUTPUT_BUILD" | grep -oP 'Successfully built Bento\(tag="\K[^"]+')

if [[ -z "$BENTO_FULL_TAG" ]]; then
    echo "Error: Build fallido o tag no detectado"
    exit 1
fi

# 2. Containerizar DIRECTAMENTE con el tag de ECR
# BENCH: registry override: moto is no registry; images go to the local registry in $BENCH_REGISTRY.
ECR_IMAGE_TAG="${BENCH_REGISTRY}/${ECR_NAME}:${ECR_TAG}"

bentoml containerize "$BENTO_FULL_TAG" \
    --backend "$BACKEND" \
    --image-tag "$ECR_IMAGE_TAG" || {
    echo "Error en containerize"
    exit 1
}

# 3. Autenticación y Push
if [[ "$BACKEND" == "docker" ]]; then
    # BENCH: --endpoint-url (moto) and the registry override, as above.
    aws ecr get-login-password --region "$REGION" --endpoint-url "$AWS_ENDPOINT_URL" | \
    docker login --username AWS --password-stdin "${BENCH_REGISTRY}"
else
    # Para Podman
    # BENCH: --endpoint-url (moto) and the registry override, as above.
    aws ecr get-login-password --region "$REGION" --endpoint-url "$AWS_ENDPOINT_URL" | \
    podman login --username AWS --password-stdin "${BENCH_REGISTRY}"
fi || {
    echo "Error de autenticación"
    exit 1
}

echo "Subiendo imagen a ECR..."
$BACKEND push "$ECR_IMAGE_TAG"

echo "✅ Despliegue exitoso!"
echo "Imagen en ECR: $ECR_IMAGE_TAG"
