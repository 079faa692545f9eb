#!/bin/bash

REGION="us-east-1"
AWS_ACCOUNT_ID=$(aws sts get-caller-identity --query Account --output text)
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
ECR_IMAGE_TAG="${AWS_ACCOUNT_ID}.dkr.ecr.${REGION}.amazonaws.com/${ECR_NAME}:${ECR_TAG}"

bentoml containerize "$BENTO_FULL_TAG" \
    --backend "$BACKEND" \
    --image-tag "$ECR_IMAGE_TAG" || {
    echo "Error en containerize"
    exit 1
}

# 3. Autenticación y Push
if [[ "$BACKEND" == "docker" ]]; then
    aws ecr get-login-password --region "$REGION" | \
    docker login --username AWS --password-stdin "${AWS_ACCOUNT_ID}.dkr.ecr.${REGION}.amazonaws.com"
else
    # Para Podman
    aws ecr get-login-password --region "$REGION" | \
    podman login --username AWS --password-stdin "${AWS_ACCOUNT_ID}.dkr.ecr.${REGION}.amazonaws.com"
fi || {
    echo "Error de autenticación"
    exit 1
}

echo "Subiendo imagen a ECR..."
$BACKEND push "$ECR_IMAGE_TAG"

echo "✅ Despliegue exitoso!"
echo "Imagen en ECR: $ECR_IMAGE_TAG"
