#!/usr/bin/env bash
# After provisioning (azd postprovision hook, and the deploy pipeline):
#   1. read the owner's database URL, REDIS_URL, JWT_SIGNING_KEYS and DATA_ENCRYPTION_KEYS from Key Vault,
#   2. open the PostgreSQL firewall to this machine's public IP for the run,
#   3. python -m shared.cli create-app-role: as the PostgreSQL Entra
#      administrator (the deployer, with its az login token), create the
#      database roles of the app's managed identity and of the retention
#      job's identity, and set their limits,
#   4. alembic upgrade head as the owner, directly on port 5432 (not through
#      PgBouncer); it grants both roles their rights,
#   5. python -m shared.cli create-super-admin (idempotent).
# Every step is idempotent, so re-running `azd up` is safe.
# Needs: az (signed in), python3.11 (or PYTHON), curl, and the deployment
# outputs AZURE_RESOURCE_GROUP, AZURE_KEY_VAULT_NAME, POSTGRES_SERVER_NAME,
# AZURE_MANAGED_IDENTITY_NAME, AZURE_MANAGED_IDENTITY_PRINCIPAL_ID,
# AZURE_RETENTION_IDENTITY_NAME, AZURE_RETENTION_IDENTITY_PRINCIPAL_ID and
# POSTGRES_ENTRA_ADMIN_NAME, FRONTEND_ADMIN_URL and FRONTEND_DONOR_URL (azd
# exports them; the pipeline writes them to $GITHUB_ENV), plus
# SUPER_ADMIN_EMAIL and SUPER_ADMIN_PASSWORD.
# AUGEO_CLIENT_IP overrides the detected public IP; AUGEO_SKIP_FIREWALL_RULE=1
# skips the temporary rule (a machine that already reaches the server, e.g.
# through postgresFirewallRules).
set -euo pipefail

: "${AZURE_RESOURCE_GROUP:?AZURE_RESOURCE_GROUP is not set (a deployment output)}"
: "${AZURE_KEY_VAULT_NAME:?AZURE_KEY_VAULT_NAME is not set (a deployment output)}"
: "${POSTGRES_SERVER_NAME:?POSTGRES_SERVER_NAME is not set (a deployment output)}"
: "${AZURE_MANAGED_IDENTITY_NAME:?AZURE_MANAGED_IDENTITY_NAME is not set (a deployment output)}"
: "${AZURE_MANAGED_IDENTITY_PRINCIPAL_ID:?AZURE_MANAGED_IDENTITY_PRINCIPAL_ID is not set (a deployment output)}"
: "${AZURE_RETENTION_IDENTITY_NAME:?AZURE_RETENTION_IDENTITY_NAME is not set (a deployment output)}"
: "${AZURE_RETENTION_IDENTITY_PRINCIPAL_ID:?AZURE_RETENTION_IDENTITY_PRINCIPAL_ID is not set (a deployment output)}"
: "${POSTGRES_ENTRA_ADMIN_NAME:?POSTGRES_ENTRA_ADMIN_NAME is empty: deploy with deployerPrincipalId and deployerPrincipalName (azd: AUGEO_DEPLOYER_PRINCIPAL_NAME) so the deployer is the PostgreSQL Entra administrator}"
: "${FRONTEND_ADMIN_URL:?FRONTEND_ADMIN_URL is not set (a deployment output)}"
: "${FRONTEND_DONOR_URL:?FRONTEND_DONOR_URL is not set (a deployment output)}"
: "${SUPER_ADMIN_EMAIL:?SUPER_ADMIN_EMAIL is not set}"
: "${SUPER_ADMIN_PASSWORD:?SUPER_ADMIN_PASSWORD is not set}"

root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"

# The deployer's Key Vault role was granted moments ago; role assignments take
# a few minutes to apply, so retry for up to five minutes.
read_secret() {
  local name="$1" value attempt
  for attempt in $(seq 1 30); do
    if value="$(az keyvault secret show --vault-name "$AZURE_KEY_VAULT_NAME" --name "$name" --query value -o tsv 2>/dev/null)" \
      && [ -n "$value" ]; then
      printf '%s' "$value"
      return 0
    fi
    echo "waiting for read access to Key Vault secret $name ($attempt/30)" >&2
    sleep 10
  done
  echo "could not read Key Vault secret $name from $AZURE_KEY_VAULT_NAME" >&2
  return 1
}

# The owner's URL (port 5432: schema migrations do not go through PgBouncer).
# This script's own commands sign in as the owner; the app signs in as its
# managed identity (DB_APP_ROLE), with a token and no password.
MIGRATION_DATABASE_URL="$(read_secret migration-database-url)"
DATABASE_URL="$MIGRATION_DATABASE_URL"
REDIS_URL="$(read_secret redis-url)"
# The app's own settings load (and check) the signing keys; nothing here signs.
JWT_SIGNING_KEYS="$(read_secret jwt-signing-keys)"
DATA_ENCRYPTION_KEYS="$(read_secret data-encryption-keys)"
DB_APP_ROLE="$AZURE_MANAGED_IDENTITY_NAME"
DB_RETENTION_ROLE="$AZURE_RETENTION_IDENTITY_NAME"
export MIGRATION_DATABASE_URL DATABASE_URL REDIS_URL JWT_SIGNING_KEYS DATA_ENCRYPTION_KEYS DB_APP_ROLE DB_RETENTION_ROLE
export JWT_ALGORITHM="${JWT_ALGORITHM:-ES256}"  # a deployment output: what the keys are for
export ENVIRONMENT=production EMAIL_BACKEND=console DB_SSL=verify-full
export FRONTEND_ADMIN_URL FRONTEND_DONOR_URL  # production checks them: https, not a local host

if [ "${AUGEO_SKIP_FIREWALL_RULE:-0}" != "1" ]; then
  client_ip="${AUGEO_CLIENT_IP:-$(curl -fsS --retry 3 https://api.ipify.org)}"
  rule="deploy-$(date +%Y%m%d%H%M%S)"
  echo "allowing $client_ip on $POSTGRES_SERVER_NAME for this run (rule $rule)"
  az postgres flexible-server firewall-rule create \
    --resource-group "$AZURE_RESOURCE_GROUP" --name "$POSTGRES_SERVER_NAME" \
    --rule-name "$rule" --start-ip-address "$client_ip" --end-ip-address "$client_ip" -o none
  cleanup() {
    az postgres flexible-server firewall-rule delete \
      --resource-group "$AZURE_RESOURCE_GROUP" --name "$POSTGRES_SERVER_NAME" \
      --rule-name "$rule" --yes -o none || echo "could not delete firewall rule $rule" >&2
  }
  trap cleanup EXIT
fi

python_bin="${PYTHON:-$(command -v python3.11 || command -v python3)}"
venv="${AUGEO_DEPLOY_VENV:-${TMPDIR:-/tmp}/augeo-deploy-venv}"
if [ ! -x "$venv/bin/python" ]; then
  "$python_bin" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r requirements.txt

echo "create-app-role $DB_APP_ROLE and $DB_RETENTION_ROLE (as the Entra administrator $POSTGRES_ENTRA_ADMIN_NAME)"
"$venv/bin/python" -m shared.cli create-app-role \
  --entra-admin "$POSTGRES_ENTRA_ADMIN_NAME" --entra-object-id "$AZURE_MANAGED_IDENTITY_PRINCIPAL_ID" \
  --retention-entra-object-id "$AZURE_RETENTION_IDENTITY_PRINCIPAL_ID"

echo "alembic upgrade head"
"$venv/bin/python" -m alembic upgrade head

echo "create-super-admin $SUPER_ADMIN_EMAIL"
"$venv/bin/python" -m shared.cli create-super-admin
