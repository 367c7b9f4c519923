#!/bin/sh
# Start Rasa (python -m bot = Rasa's CLI with quiet library warnings) with the
# same variables as the local topology (README, "Configuration").
set -eu
# SHEBAO_CORS_ORIGINS is comma-separated; `rasa run --cors` takes a list.
CORS=$(printf '%s' "${SHEBAO_CORS_ORIGINS:?set SHEBAO_CORS_ORIGINS}" | tr ',' ' ')
# shellcheck disable=SC2086
exec python -m bot run \
  --model "${SHEBAO_MODEL:-/app/models}" \
  --interface "${SHEBAO_HOST:-0.0.0.0}" \
  --port "${RASA_PORT:-5005}" \
  --cors $CORS \
  --credentials credentials.yml \
  --endpoints "${SHEBAO_RASA_ENDPOINTS:-endpoints.yml}" \
  --logging-config-file logging.yml \
  "$@"
