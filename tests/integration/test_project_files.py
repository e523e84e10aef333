"""host.json, local.settings.json.example and requirements.txt as the platform expects them."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, cast

import jsonschema

from tests.support import ROOT

SCHEMAS = ROOT / "tests" / "support" / "schemastore"  # copies with their licence; see README there


def _validate(document_path: Path, schema_name: str) -> dict[str, Any]:
    schema = json.loads((SCHEMAS / schema_name).read_text())
    document = cast(dict[str, Any], json.loads(document_path.read_text()))
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors]
    return document


def test_host_json_is_valid_and_routes_come_out_as_designed() -> None:
    host = _validate(ROOT / "host.json", "host.schema.json")
    assert host["version"] == "2.0"
    assert host["extensionBundle"]["version"] == "[4.*, 5.0.0)"
    assert host["extensions"]["http"]["routePrefix"] == ""


def test_local_settings_example_is_valid_for_core_tools() -> None:
    settings = _validate(ROOT / "local.settings.json.example", "local.settings.schema.json")
    assert set(settings) <= {"IsEncrypted", "Values", "Host", "ConnectionStrings"}
    assert settings["IsEncrypted"] is False
    assert all(isinstance(value, str) for value in settings["Values"].values())
    assert all(":" not in key and "__" not in key for key in settings["Values"])
    assert settings["Values"]["FUNCTIONS_WORKER_RUNTIME"] == "python"


def test_under_core_tools_the_host_cors_is_the_apps_as_in_azure() -> None:
    """func start's own CORS (Host.CORS) names the origins of CORS_ORIGINS, with credentials, like siteConfig.cors."""
    from devtools.host_cors import SITE_SUPPORTS_CREDENTIALS
    from shared.config import DEVELOPMENT_CORS_ORIGINS

    settings = json.loads((ROOT / "local.settings.json.example").read_text())
    assert settings["Host"]["CORS"] == settings["Values"]["CORS_ORIGINS"] == ",".join(DEVELOPMENT_CORS_ORIGINS)
    assert settings["Host"]["CORSCredentials"] is SITE_SUPPORTS_CREDENTIALS


def test_local_settings_example_names_only_real_settings() -> None:
    from shared.config import Settings

    values = json.loads((ROOT / "local.settings.json.example").read_text())["Values"]
    platform = {"FUNCTIONS_WORKER_RUNTIME", "AzureWebJobsStorage", "AzureWebJobsFeatureFlags"}
    known = {name.upper() for name in Settings.model_fields}
    assert set(values) - platform <= known


def test_requirements_are_pinned_and_fit_the_platform() -> None:
    lines = [
        line.strip()
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    pins = dict(line.split("==", 1) for line in lines)
    assert all("==" in line for line in lines)
    assert re.match(r"^1\.", pins["azure-functions"]), "azure-functions 2.x needs Python 3.13"
    assert not any(name.startswith("azure-functions-worker") for name in pins)
    for needed in (
        "sqlalchemy",
        "pg8000",
        "redis",
        "bcrypt",
        "pyjwt",
        "cryptography",
        "pydantic",
        "pydantic-settings",
        "alembic",
        "email-validator",
        "azure-communication-email",
    ):
        assert needed in pins


def test_deployment_hooks_migrate_over_verified_tls() -> None:
    """The hooks run the app's own settings with ENVIRONMENT=production, which refuses a
    plaintext remote database: they must ask for a verified TLS connection."""
    script = (ROOT / "infra" / "scripts" / "postprovision.sh").read_text()
    exports = [line for line in script.splitlines() if "ENVIRONMENT=production" in line]
    assert exports and all("DB_SSL=verify-full" in line for line in exports)


def test_the_repository_stands_alone() -> None:
    """No tracked file points at documents outside the repository: a clone is all a user has."""
    import subprocess

    outside = ("../" + "shared", "design" + ".md", "design" + " §")
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    offenders = [
        name
        for name in files
        if (ROOT / name).is_file()
        and not name.endswith((".gz", ".png"))
        and any(marker in (ROOT / name).read_text(errors="ignore") for marker in outside)
    ]
    assert not offenders
