"""Print the OpenAPI document the app serves at /openapi.json, with no server and no services.

``python -m devtools.openapi_document`` is what the TypeScript client's
``npm run generate`` reads its types from. The document depends only on the
endpoint declarations (and APP_VERSION), but building it reads the settings,
which insist on a database, Redis and keys: where the environment does not
give them, harmless placeholders stand in. Nothing is connected to.
"""

from __future__ import annotations

import json
import os
import sys

# Settings the document never uses but the settings model requires.
_PLACEHOLDERS = {
    "ENVIRONMENT": "development",
    "DATABASE_URL": "postgresql+pg8000://placeholder@127.0.0.1:1/placeholder",
    "REDIS_URL": "redis://127.0.0.1:1/0",
}


def _fill_required_settings() -> None:
    """Placeholders (and throwaway keys) for the settings that are unset."""
    for name, value in _PLACEHOLDERS.items():
        os.environ.setdefault(name, value)
    if not os.environ.get("JWT_SIGNING_KEYS") and not os.environ.get("JWT_SECRET_KEY"):
        from shared.security.signing_keys import new_private_key_pem

        os.environ["JWT_ALGORITHM"] = "ES256"
        os.environ["JWT_SIGNING_KEYS"] = new_private_key_pem("ES256", development=True)
    if not os.environ.get("DATA_ENCRYPTION_KEYS"):
        from shared.security.encryption import new_key

        os.environ["DATA_ENCRYPTION_KEYS"] = new_key()


def document() -> dict[str, object]:
    """The served document: every blueprint registered, exactly as /openapi.json builds it."""
    _fill_required_settings()
    import function_app  # noqa: F401  (registers every endpoint declaration)
    from shared.openapi import build_openapi

    return build_openapi()


def main() -> None:
    json.dump(document(), sys.stdout, indent=2, sort_keys=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
