#!/usr/bin/env bash
# After provisioning (azd postprovision hook, and the deploy pipeline):
#   1. read DATABASE_URL, REDIS_URL and JWT_SIGNING_KEYS from Key Vault,
#   2. open the PostgreSQL firewall to this machine's public IP for the run,
#   3. alembic upgrade head, directly on port 5432 (not through PgBouncer),
#   4. python -m shared.cli create-super-admin (idempotent).
# Needs: az (signed in), python3.11 (or PYTHON), curl, and the deployment
# outputs AZURE_RESOURCE_GROUP, AZURE_KEY_VAULT_NAME, POSTGRES_SERVER_NAME
# (azd exports them; the pipeline writes them to $GITHUB_ENV), plus
# SUPER_ADMIN_EMAIL and SUPER_ADMIN_PASSWORD. AUGEO_CLIENT_IP overrides the
# detected public IP; AUGEO_SKIP_FIREWALL_RULE=1 skips the temporary rule
# (a machine that already reaches the server, e.g. through postgresFirewallRules).
set -euo pipefail

: "${AZURE_RESOURCE_GROUP:?AZURE_RESOURCE_GROUP is not set (a deployment output)}"
: "${AZURE_KEY_VAULT_NAME:?AZURE_KEY_VAULT_NAME is not set (a deployment output)}"
: "${POSTGRES_SERVER_NAME:?POSTGRES_SERVER_NAME is not set (a deployment output)}"
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

app_database_url="$(read_secret database-url)"
REDIS_URL="$(read_secret redis-url)"
# The app's own settings load (and check) the signing keys; nothing here signs.
JWT_SIGNING_KEYS="$(read_secret jwt-signing-keys)"
# PgBouncer (6432) pools in transaction mode; schema migrations go straight to
# PostgreSQL on 5432. The password is percent-encoded, so ':6432/' can only be
# the port.
DATABASE_URL="$(printf '%s' "$app_database_url" | sed 's#:6432/#:5432/#')"
export DATABASE_URL REDIS_URL JWT_SIGNING_KEYS
export JWT_ALGORITHM="${JWT_ALGORITHM:-ES256}"  # a deployment output: what the keys are for
export ENVIRONMENT=production EMAIL_BACKEND=console DB_SSL=verify-full

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

echo "alembic upgrade head"
"$venv/bin/python" -m alembic upgrade head

echo "create-super-admin $SUPER_ADMIN_EMAIL"
"$venv/bin/python" -m shared.cli create-super-admin
