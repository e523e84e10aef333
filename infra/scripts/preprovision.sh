#!/usr/bin/env bash
# azd preprovision hook: refuse to start (before anything is created) when a
# value the deployment needs is missing from the azd environment, and say how
# to set it. azd exports the environment's values to this process.
#
# The token signing key is the exception: when AUGEO_JWT_SIGNING_KEYS is not
# set, a new private key is generated (openssl, else the project's CLI) and
# stored in the azd environment, never printed. Bicep writes it to Key Vault
# (secret jwt-signing-keys); the app reads it as a Key Vault reference.
set -euo pipefail

missing=0
need() {
  local name="$1" hint="$2"
  if [ -z "${!name:-}" ]; then
    echo "azd environment value $name is not set: $hint" >&2
    missing=1
  fi
}

# One PEM private key for JWT_ALGORITHM on stdout (and nowhere else).
new_signing_key() {
  local algorithm="$1"
  if command -v openssl >/dev/null 2>&1; then
    case "$algorithm" in
      ES256) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 2>/dev/null && return 0 ;;
      EdDSA) openssl genpkey -algorithm ED25519 2>/dev/null && return 0 ;;
      RS256) openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 2>/dev/null && return 0 ;;
    esac
  fi
  local root python_bin
  root="$(cd "$(dirname "$0")/../.." && pwd)"
  python_bin="${PYTHON:-$(command -v python3.11 || command -v python3)}"
  (cd "$root" && "$python_bin" -m shared.cli new-signing-key --algorithm "$algorithm")
}

algorithm="${AUGEO_JWT_ALGORITHM:-ES256}"
case "$algorithm" in
  ES256 | EdDSA | RS256) ;;
  *)
    echo "AUGEO_JWT_ALGORITHM must be ES256, EdDSA or RS256 (got $algorithm)" >&2
    exit 1
    ;;
esac

if [ -z "${AUGEO_JWT_SIGNING_KEYS:-}" ]; then
  # An azd value is one line: the key's line breaks become spaces, which the app reads as such.
  if ! key="$(new_signing_key "$algorithm" | tr '\r\n' '  ')" || [ -z "${key// /}" ]; then
    echo "could not generate a signing key: install openssl, or run with the project's requirements installed" >&2
    exit 1
  fi
  # "--": the value starts with dashes, which must not be read as an option.
  azd env set -- AUGEO_JWT_SIGNING_KEYS "$key" >/dev/null
  export AUGEO_JWT_SIGNING_KEYS="$key"
  unset key
  echo "generated a new $algorithm signing key into azd value AUGEO_JWT_SIGNING_KEYS (not shown)"
fi
case "$AUGEO_JWT_SIGNING_KEYS" in
  *"-----BEGIN "*"PRIVATE KEY-----"*) ;;
  *)
    echo "AUGEO_JWT_SIGNING_KEYS holds no PEM private key: unset it to have one generated" >&2
    missing=1
    ;;
esac

if [ -z "${AUGEO_DATA_ENCRYPTION_KEYS:-}" ]; then
  # A Fernet key: 32 random bytes, url-safe base64 (what `python -m shared.cli new-encryption-key` prints).
  if ! key="$(head -c 32 /dev/urandom | base64 | tr '+/' '-_')" || [ "${#key}" -ne 44 ]; then
    echo "could not generate a data encryption key" >&2
    exit 1
  fi
  azd env set AUGEO_DATA_ENCRYPTION_KEYS "$key" >/dev/null
  export AUGEO_DATA_ENCRYPTION_KEYS="$key"
  unset key
  echo "generated a new data encryption key into azd value AUGEO_DATA_ENCRYPTION_KEYS (not shown)"
fi

need AUGEO_POSTGRES_ADMIN_PASSWORD \
  "azd env set AUGEO_POSTGRES_ADMIN_PASSWORD \"\$(python3 -c 'import secrets; print(\"Pg1-\" + secrets.token_urlsafe(24))')\""
need AUGEO_DEPLOYER_PRINCIPAL_NAME \
  "azd env set AUGEO_DEPLOYER_PRINCIPAL_NAME \"\$(az ad signed-in-user show --query userPrincipalName -o tsv)\" (you become the PostgreSQL Entra administrator that creates the app's database role)"
# The app runs as production, which wants the web apps' https URLs (not a local host) for email links.
for name in AUGEO_FRONTEND_ADMIN_URL AUGEO_FRONTEND_DONOR_URL; do
  case "${!name:-}" in
    https://*) ;;
    *)
      echo "azd environment value $name must be the web app's https URL (email links open it): azd env set $name https://app.your-domain.example" >&2
      missing=1
      ;;
  esac
done
need SUPER_ADMIN_EMAIL "azd env set SUPER_ADMIN_EMAIL admin@your-domain.example"
need SUPER_ADMIN_PASSWORD "azd env set SUPER_ADMIN_PASSWORD '<at least 8 characters, a letter and a digit>'"

exit "$missing"
