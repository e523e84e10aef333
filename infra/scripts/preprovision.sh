#!/usr/bin/env bash
# azd preprovision hook: refuse to start (before anything is created) when a
# value the deployment needs is missing from the azd environment, and say how
# to set it. azd exports the environment's values to this process.
set -euo pipefail

missing=0
need() {
  local name="$1" hint="$2"
  if [ -z "${!name:-}" ]; then
    echo "azd environment value $name is not set: $hint" >&2
    missing=1
  fi
}

need AUGEO_JWT_SECRET_KEY \
  "azd env set AUGEO_JWT_SECRET_KEY \"\$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')\""
need AUGEO_POSTGRES_ADMIN_PASSWORD \
  "azd env set AUGEO_POSTGRES_ADMIN_PASSWORD \"\$(python3 -c 'import secrets; print(\"Pg1-\" + secrets.token_urlsafe(24))')\""
need AUGEO_DEPLOYER_PRINCIPAL_NAME \
  "azd env set AUGEO_DEPLOYER_PRINCIPAL_NAME \"\$(az ad signed-in-user show --query userPrincipalName -o tsv)\" (you become the PostgreSQL Entra administrator that creates the app's database role)"
need SUPER_ADMIN_EMAIL "azd env set SUPER_ADMIN_EMAIL admin@your-domain.example"
need SUPER_ADMIN_PASSWORD "azd env set SUPER_ADMIN_PASSWORD '<at least 8 characters, a letter and a digit>'"

if [ -n "${AUGEO_JWT_SECRET_KEY:-}" ] && [ "$(printf '%s' "$AUGEO_JWT_SECRET_KEY" | wc -c)" -lt 32 ]; then
  echo "AUGEO_JWT_SECRET_KEY must be at least 32 bytes" >&2
  missing=1
fi

exit "$missing"
