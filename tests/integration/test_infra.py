"""Infrastructure as code: what must hold before anyone runs `azd up`.

Everything here is offline. pycep-parser, Checkov, PyYAML and check-jsonschema
live in the separate virtualenv .venv-infra (Checkov pins conflict with the
app's), built from requirements-infra.txt; they run as subprocesses. A missing
.venv-infra is a failure, never a skip.

Checkov covers the generic resource checks. It has no checks for PostgreSQL
Flexible Server, Azure Managed Redis or Communication Services, cannot read
parameter files, and does not look inside conditional resources, so the tests
below read the pycep JSON of the Bicep files and assert those properties
themselves, plus the connection budget of each parameter file.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pytest

from devtools.host_cors import SITE_SUPPORTS_CREDENTIALS
from shared.config import DEVELOPMENT_CORS_ORIGINS, Settings
from tests.support import ROOT, processes

INFRA = ROOT / "infra"
INFRA_VENV = ROOT / ".venv-infra"
INSPECT = ROOT / "tests" / "support" / "infra" / "inspect_infra.py"
PARAMETER_FILES = ("infra/main.parameters.json", "infra/main.prod.parameters.json")
KEY_VAULT_REFERENCE = re.compile(r"^@Microsoft\.KeyVault\(SecretUri=\$\{[A-Za-z]+\}\)$")

# Default max_connections of Azure Database for PostgreSQL flexible server per
# compute SKU, and the connections Azure reserves for replication and
# monitoring. Source: Microsoft Learn, "Limits in Azure Database for
# PostgreSQL flexible server", section "Maximum connections" (the table lists
# max connections and max user connections = max connections - 15).
PG_RESERVED_CONNECTIONS = 15
PG_MAX_CONNECTIONS = {
    # Burstable
    "Standard_B1ms": 50,
    "Standard_B2s": 429,
    "Standard_B2ms": 859,
    "Standard_B4ms": 1718,
    "Standard_B8ms": 3437,
    "Standard_B12ms": 5000,
    "Standard_B16ms": 5000,
    "Standard_B20ms": 5000,
    # General Purpose (D2s_v3 / D2ds_v4 / D2ds_v5 / D2ads_v5 share a row, and so on)
    **dict.fromkeys(("Standard_D2s_v3", "Standard_D2ds_v4", "Standard_D2ds_v5", "Standard_D2ads_v5"), 859),
    **dict.fromkeys(("Standard_D4s_v3", "Standard_D4ds_v4", "Standard_D4ds_v5", "Standard_D4ads_v5"), 1718),
    **dict.fromkeys(("Standard_D8s_v3", "Standard_D8ds_v4", "Standard_D8ds_v5", "Standard_D8ads_v5"), 3437),
    **dict.fromkeys(("Standard_D16s_v3", "Standard_D16ds_v4", "Standard_D16ds_v5", "Standard_D16ads_v5"), 5000),
    **dict.fromkeys(("Standard_D32s_v3", "Standard_D32ds_v4", "Standard_D32ds_v5", "Standard_D32ads_v5"), 5000),
    # Memory Optimized
    **dict.fromkeys(("Standard_E2s_v3", "Standard_E2ds_v4", "Standard_E2ds_v5", "Standard_E2ads_v5"), 1718),
    **dict.fromkeys(("Standard_E4s_v3", "Standard_E4ds_v4", "Standard_E4ds_v5", "Standard_E4ads_v5"), 3437),
    **dict.fromkeys(("Standard_E8s_v3", "Standard_E8ds_v4", "Standard_E8ds_v5", "Standard_E8ads_v5"), 5000),
}
PG_TIER_BY_PREFIX = {"Standard_B": "Burstable", "Standard_D": "GeneralPurpose", "Standard_E": "MemoryOptimized"}
CONNECTION_BUDGET_SHARE = 0.8
# Flex Consumption scales each non-HTTP trigger (the outbox timer) in its own
# instance group, outside maximumInstanceCount of the HTTP group; always-ready
# instances do not count toward maximumInstanceCount either. One Python worker
# process per instance (FUNCTIONS_WORKER_PROCESS_COUNT is not available on Flex).
NON_HTTP_INSTANCE_GROUPS = 1
# The retention timer runs in an instance group of its own too, but holds one
# connection at most (no pool: shared.database.build_retention_engine).
RETENTION_JOB_CONNECTIONS = 1

# App settings and site properties deprecated or rejected on Flex Consumption.
# Source: Microsoft Learn, "App settings reference for Azure Functions",
# section "Flex Consumption plan deprecations"; the runtime comes from
# functionAppConfig.runtime, scaling from functionAppConfig.scaleAndConcurrency.
FLEX_DEPRECATED_SETTINGS = {
    "DOCKER_REGISTRY_SERVER_PASSWORD",
    "DOCKER_REGISTRY_SERVER_URL",
    "DOCKER_REGISTRY_SERVER_USERNAME",
    "ENABLE_ORYX_BUILD",
    "FUNCTION_APP_EDIT_MODE",
    "FUNCTIONS_EXTENSION_VERSION",
    "FUNCTIONS_MAX_HTTP_CONCURRENCY",
    "FUNCTIONS_WORKER_PROCESS_COUNT",
    "FUNCTIONS_WORKER_RUNTIME",
    "FUNCTIONS_WORKER_RUNTIME_VERSION",
    "FUNCTIONS_WORKER_SHARED_MEMORY_DATA_TRANSFER_ENABLED",
    "SCM_DO_BUILD_DURING_DEPLOYMENT",
    "TZ",
    "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING",
    "WEBSITE_CONTENTOVERVNET",
    "WEBSITE_CONTENTSHARE",
    "WEBSITE_DNS_SERVER",
    "WEBSITE_MAX_DYNAMIC_APPLICATION_SCALE_OUT",
    "WEBSITE_NODE_DEFAULT_VERSION",
    "WEBSITE_RUN_FROM_PACKAGE",
    "WEBSITE_SKIP_CONTENTSHARE_VALIDATION",
    "WEBSITE_TIME_ZONE",
    "WEBSITE_USE_PLACEHOLDER_DOTNETISOLATED",
    "WEBSITE_VNET_ROUTE_ALL",
}
FLEX_DEPRECATED_SITE_CONFIG = {
    "alwaysOn",
    "functionAppScaleLimit",
    "javaVersion",
    "linuxFxVersion",
    "minimumElasticInstanceCount",
    "netFrameworkVersion",
    "powerShellVersion",
    "preWarmedInstanceCount",
    "use32BitWorkerProcess",
    "windowsFxVersion",
}
# Settings the platform and the Azure SDKs read, not shared/config.py.
PLATFORM_SETTINGS = {
    "AzureWebJobsStorage__accountName",
    "AzureWebJobsStorage__credential",
    "AzureWebJobsStorage__clientId",
    "APPLICATIONINSIGHTS_CONNECTION_STRING",
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
    "AZURE_CLIENT_ID",
}
SECRET_SETTINGS = {"REDIS_URL", "JWT_SIGNING_KEYS", "JWT_SECRET_KEY", "DATA_ENCRYPTION_KEYS", "ACS_CONNECTION_STRING"}
KEY_VAULT_SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"

pytestmark = pytest.mark.slow  # subprocesses: pycep, Checkov, check-jsonschema (about 15 s in all)


# --- the tools of .venv-infra ------------------------------------------------


def _infra_tool(name: str) -> Path:
    path = INFRA_VENV / "bin" / name
    if not path.exists():
        pytest.fail(
            f"{path} is missing: build the infrastructure tool venv with "
            "`python3.11 -m venv .venv-infra && .venv-infra/bin/pip install -r requirements-infra.txt` "
            "(`make test` does it first)."
        )
    return path


def _run(args: list[str | Path], timeout: int = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "LOG_LEVEL": "ERROR"}
    return processes.run(*args, env=env, timeout=timeout)


@pytest.fixture(scope="module")
def inspected() -> dict[str, Any]:
    """pycep JSON of every .bicep file and the parsed YAML documents, in one subprocess."""
    result = _run([_infra_tool("python"), INSPECT, ROOT])
    assert result.returncode == 0, result.stderr[-3000:]
    return cast(dict[str, Any], json.loads(result.stdout))


@pytest.fixture(scope="module")
def checkov_report() -> dict[str, Any]:
    """One Checkov run over infra/ (it exits 0 even on parse errors: read the summary)."""
    result = _run([_infra_tool("checkov"), "-d", "infra", "--framework", "bicep", "-o", "json", "--skip-download"])
    assert result.returncode in (0, 1), result.stderr[-3000:]
    report = json.loads(result.stdout)
    if isinstance(report, list):  # one entry per framework when several ran
        (report,) = [entry for entry in report if entry.get("check_type") == "bicep"]
    return cast(dict[str, Any], report)


def _bicep(inspected: dict[str, Any], name: str) -> dict[str, Any]:
    entry = inspected["bicep"][name]
    assert entry["ok"], f"{name} does not parse: {entry['error']}"
    document: dict[str, Any] = entry["json"]
    return document


# --- reading pycep JSON --------------------------------------------------------


def _body(resource: dict[str, Any]) -> dict[str, Any]:
    """The object of a resource, also when it is conditional (`= if (...) {...}`)."""
    config: dict[str, Any] = resource["config"]
    body: dict[str, Any] = config["config"] if "condition" in config and "config" in config else config
    return body


def _resources(document: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {
        symbol: resource
        for symbol, resource in document.get("resources", {}).items()
        if resource["type"] == resource_type and not resource.get("existing")
    }


def _one(document: dict[str, Any], resource_type: str) -> dict[str, Any]:
    (resource,) = _resources(document, resource_type).values()
    return _body(resource)


def _evaluate(expression: Any, env: dict[str, Any]) -> Any:
    """Evaluate the small subset of Bicep expressions used for switches; identifiers come from env."""
    if isinstance(expression, str):
        return env.get(expression, expression)
    if isinstance(expression, bool | int | float) or expression is None:
        return expression
    operator = expression["operator"]
    kind, operands = operator["type"], operator["operands"]
    if kind == "conditional":
        branch = "true_value" if _evaluate(operands["condition"], env) else "false_value"
        return _evaluate(operands[branch], env)
    left, right = _evaluate(operands["operand_1"], env), _evaluate(operands["operand_2"], env)
    binary: dict[str, Callable[[], bool]] = {
        "equals": lambda: left == right,
        "not_equals": lambda: left != right,
        "or": lambda: bool(left) or bool(right),
        "and": lambda: bool(left) and bool(right),
        "greater_than": lambda: left > right,
    }
    if kind not in binary:
        raise NotImplementedError(kind)
    return binary[kind]()


def _setting_variants(functionapp: dict[str, Any]) -> list[dict[str, Any]]:
    """Every possible app settings list (each branch of each conditional variable), as name -> value."""
    expression = _one(functionapp, "Microsoft.Web/sites")["properties"]["siteConfig"]["appSettings"]
    function = expression["function"]
    assert function["type"] == "concat", "appSettings is expected to be concat(<variables>)"
    choices = []
    for variable in function["parameters"].values():
        value = functionapp["variables"][variable]["value"]
        if isinstance(value, dict) and value.get("operator", {}).get("type") == "conditional":
            operands = value["operator"]["operands"]
            choices.append([operands["true_value"], operands["false_value"]])
        else:
            choices.append([value])
    variants = []
    for combination in itertools.product(*choices):
        settings = [item for part in combination for item in part]
        names = [item["name"] for item in settings]
        assert len(names) == len(set(names)), f"duplicate app settings: {names}"
        variants.append({item["name"]: item["value"] for item in settings})
    return variants


def _output_references(node: Any, module: str) -> set[str]:
    """Names X of every `module.outputs.X` in a pycep document."""
    found: set[str] = set()
    if isinstance(node, list):
        for item in node:
            found |= _output_references(item, module)
    elif isinstance(node, dict):
        operator = node.get("operator", {})
        if operator.get("type") == "property_accessor" and operator["operands"]["operand_1"] == module:
            inner = operator["operands"]["operand_2"]
            if isinstance(inner, dict) and inner.get("operator", {}).get("operands", {}).get("operand_1") == "outputs":
                found.add(inner["operator"]["operands"]["operand_2"])
        for value in node.values():
            found |= _output_references(value, module)
    return found


def _parameter_values(path: str) -> dict[str, Any]:
    document = json.loads((ROOT / path).read_text())
    return {name: entry["value"] for name, entry in document["parameters"].items()}


def _pool_maximum_per_process(values: dict[str, Any], main: dict[str, Any]) -> int:
    """DB_POOL_SIZE + DB_MAX_OVERFLOW as deployed: parameter file, else main.bicep default, else Settings default."""

    def pick(parameter: str, field: str) -> int:
        if parameter in values:
            return int(values[parameter])
        default = main["parameters"][parameter].get("default")
        return int(default if default is not None else Settings.model_fields[field].default)

    return pick("dbPoolSize", "db_pool_size") + pick("dbMaxOverflow", "db_max_overflow")


def _fits_connection_budget(sku: str, instances: int, pool_maximum: int) -> bool:
    user_connections = PG_MAX_CONNECTIONS[sku] - PG_RESERVED_CONNECTIONS
    return instances * pool_maximum <= CONNECTION_BUDGET_SHARE * user_connections


# --- parsing and scanning ------------------------------------------------------


def test_every_bicep_file_parses_with_pycep(inspected: dict[str, Any]) -> None:
    files = {path.relative_to(ROOT).as_posix() for path in INFRA.rglob("*.bicep")}
    assert "infra/main.bicep" in files and len(files) >= 5
    assert set(inspected["bicep"]) == files
    failures = {name: entry["error"] for name, entry in inspected["bicep"].items() if not entry["ok"]}
    assert not failures, failures


def test_modules_are_local_and_wired_correctly(inspected: dict[str, Any]) -> None:
    """Offline stand-in for `bicep build`: module paths, parameters and outputs match."""
    main = _bicep(inspected, "infra/main.bicep")
    assert main["modules"], "main.bicep declares no modules"
    for symbol, module in main["modules"].items():
        assert module["type"] == "local", f"{symbol} is a registry module: Checkov cannot scan it offline"
        path = (INFRA / module["detail"]["path"]).resolve()
        assert path.is_file(), path
        target = _bicep(inspected, path.relative_to(ROOT).as_posix())
        declared = target.get("parameters", {})
        passed = set(_body(module)["params"])
        assert passed <= set(declared), f"{symbol}: unknown parameters {passed - set(declared)}"
        required = {name for name, spec in declared.items() if spec.get("default") is None}
        assert required <= passed, f"{symbol}: missing parameters {required - passed}"
        for output in _output_references(main, symbol):
            assert output in target.get("outputs", {}), f"{symbol}.outputs.{output} does not exist"


def test_checkov_finds_no_failed_check_and_no_parsing_error(checkov_report: dict[str, Any]) -> None:
    summary = checkov_report["summary"]
    assert summary["parsing_errors"] == 0, summary
    failed = [(c["check_id"], c["resource"], c["file_path"]) for c in checkov_report["results"]["failed_checks"]]
    assert summary["failed"] == 0, failed
    assert summary["passed"] >= 20, summary
    assert summary["resource_count"] >= 30, summary


def test_every_checkov_skip_is_justified_and_used(checkov_report: dict[str, Any]) -> None:
    skipped = checkov_report["results"].get("skipped_checks", [])
    for check in skipped:
        reason = check["check_result"].get("suppress_comment", "")
        assert len(reason.strip()) >= 30, f"{check['check_id']} on {check['resource']} has no real reason"
    declared = set()
    for path in INFRA.rglob("*.bicep"):
        for match in re.finditer(r"checkov:skip=([A-Z0-9_]+)(:?)(.*)", path.read_text()):
            check_id, colon, reason = match.groups()
            assert colon and len(reason.strip()) >= 30, f"{path.name}: skip of {check_id} without a reason"
            declared.add(check_id)
    assert declared == {check["check_id"] for check in skipped}, "a skip comment does not match a skipped check"


# --- what Checkov cannot see -----------------------------------------------------


def test_postgres_is_16_with_tls_required_and_the_application_database(inspected: dict[str, Any]) -> None:
    postgres = _bicep(inspected, "infra/modules/postgres.bicep")
    server = _one(postgres, "Microsoft.DBforPostgreSQL/flexibleServers")
    assert server["properties"]["version"] == "16"
    assert server["properties"]["authConfig"]["passwordAuth"] == "Enabled", "the owner (migrations) signs in with it"
    settings = {
        _body(resource)["name"]: _body(resource)["properties"]["value"]
        for resource in _resources(postgres, "Microsoft.DBforPostgreSQL/flexibleServers/configurations").values()
    }
    assert settings["require_secure_transport"] == "on"
    assert settings["ssl_min_protocol_version"] == "TLSv1.2"
    database = _one(postgres, "Microsoft.DBforPostgreSQL/flexibleServers/databases")
    assert database["name"] == "databaseName"
    main = _bicep(inspected, "infra/main.bicep")
    assert main["variables"]["databaseName"]["value"] == "augeo"
    assert main["modules"]["postgres"]["config"]["params"]["databaseName"] == "databaseName"


@pytest.mark.parametrize("parameter_file", PARAMETER_FILES)
def test_pgbouncer_is_on_where_the_tier_allows_and_the_app_uses_its_port(
    inspected: dict[str, Any], parameter_file: str
) -> None:
    postgres = _bicep(inspected, "infra/modules/postgres.bicep")
    tier = _parameter_values(parameter_file)["postgresSkuTier"]
    env = {"skuTier": tier}
    env["pgBouncerEnabled"] = _evaluate(postgres["variables"]["pgBouncerEnabled"]["value"], env)
    (pgbouncer,) = [
        resource
        for resource in _resources(postgres, "Microsoft.DBforPostgreSQL/flexibleServers/configurations").values()
        if _body(resource)["name"] == "pgbouncer.enabled"
    ]
    deployed = _evaluate(pgbouncer["config"].get("condition", True), env)
    assert deployed is (tier in ("GeneralPurpose", "MemoryOptimized")), (tier, deployed)
    assert _body(pgbouncer)["properties"]["value"] == "true"
    port = _evaluate(postgres["outputs"]["port"]["value"], env)
    assert port == (6432 if deployed else 5432)
    # The app's DATABASE_URL is built from that port output, not from a literal.
    main = _bicep(inspected, "infra/main.bicep")
    port_param = main["modules"]["functionApp"]["config"]["params"]["postgresPort"]
    assert json.dumps(port_param).count('"port"') == 1 and '"postgres"' in json.dumps(port_param)
    for settings in _setting_variants(_bicep(inspected, "infra/modules/functionapp.bicep")):
        url = settings["DATABASE_URL"]
        assert url.startswith("postgresql+pg8000://") and "${postgresPort}" in url


def test_postgres_signs_the_app_in_with_microsoft_entra_and_no_password(inspected: dict[str, Any]) -> None:
    """Entra authentication on; the deployer is an Entra administrator (it creates the identity's role);
    the app's DATABASE_URL names the identity's role and carries no password; DB_AUTH=entra with
    the identity's client id; the owner's URL is a secret the app cannot read."""
    postgres = _bicep(inspected, "infra/modules/postgres.bicep")
    auth = _one(postgres, "Microsoft.DBforPostgreSQL/flexibleServers")["properties"]["authConfig"]
    assert auth["activeDirectoryAuth"] == "Enabled"
    assert "tenantId" in json.dumps(auth["tenantId"])
    (admin,) = _resources(postgres, "Microsoft.DBforPostgreSQL/flexibleServers/administrators").values()
    assert _body(admin)["name"] == "entraAdministratorObjectId"
    assert _body(admin)["properties"]["principalName"] == "entraAdministratorName"
    assert _body(admin)["properties"]["principalType"] == "entraAdministratorType"
    params = _bicep(inspected, "infra/main.bicep")["modules"]["postgres"]["config"]["params"]
    assert "deployerPrincipalId" in json.dumps(params["entraAdministratorObjectId"])
    assert params["entraAdministratorName"] == "deployerPrincipalName"
    functionapp = _bicep(inspected, "infra/modules/functionapp.bicep")
    for settings in _setting_variants(functionapp):
        url = settings["DATABASE_URL"]
        assert (
            url
            == "postgresql+pg8000://${uriComponent(databaseRole)}@${postgresHost}:${postgresPort}/${postgresDatabase}"
        )
        assert settings["DB_AUTH"] == "entra" and settings["DB_ENTRA_CLIENT_ID"] == "identityClientId"
        assert "MIGRATION_DATABASE_URL" not in settings and "DB_PASSWORD" not in settings
        assert settings["RETENTION_DATABASE_URL"] == (
            "postgresql+pg8000://${uriComponent(retentionDatabaseRole)}@${postgresHost}:${postgresPort}/${postgresDatabase}"
        )
        assert settings["DB_RETENTION_ROLE"] == "retentionDatabaseRole"
        assert settings["DB_RETENTION_ENTRA_CLIENT_ID"] == "retentionIdentityClientId"
    identities = _one(functionapp, "Microsoft.Web/sites")["identity"]["userAssignedIdentities"]
    assert set(identities) == {"'${identityId}'", "'${retentionIdentityId}'"}, identities
    main = _bicep(inspected, "infra/main.bicep")
    assert "identity" in json.dumps(main["modules"]["functionApp"]["config"]["params"]["databaseRole"])
    retention_role = json.dumps(main["modules"]["functionApp"]["config"]["params"]["retentionDatabaseRole"])
    assert "retentionIdentity" in retention_role
    secrets = _bicep(inspected, "infra/modules/keyvault-secrets.bicep")
    names = {_body(secret)["name"] for secret in _resources(secrets, "Microsoft.KeyVault/vaults/secrets").values()}
    assert "database-url" not in names and "migration-database-url" in names
    owner_url = _body(_resources(secrets, "Microsoft.KeyVault/vaults/secrets")["migrationDatabaseUrl"])["properties"]
    assert ":5432/" in owner_url["value"], "migrations go straight to PostgreSQL, not through PgBouncer"
    for output in (
        "AZURE_MANAGED_IDENTITY_NAME",
        "AZURE_MANAGED_IDENTITY_PRINCIPAL_ID",
        "AZURE_RETENTION_IDENTITY_NAME",
        "AZURE_RETENTION_IDENTITY_PRINCIPAL_ID",
        "POSTGRES_ENTRA_ADMIN_NAME",
    ):
        assert output in main["outputs"], output


def test_production_uses_pgbouncer() -> None:
    assert _parameter_values("infra/main.prod.parameters.json")["postgresSkuTier"] in (
        "GeneralPurpose",
        "MemoryOptimized",
    )


def test_redis_is_azure_managed_redis_over_tls(inspected: dict[str, Any]) -> None:
    redis = _bicep(inspected, "infra/modules/redis.bicep")
    cluster = _one(redis, "Microsoft.Cache/redisEnterprise")
    assert cluster["properties"]["minimumTlsVersion"] == "1.2"
    database = _one(redis, "Microsoft.Cache/redisEnterprise/databases")
    assert database["properties"]["clientProtocol"] == "Encrypted"
    assert database["properties"]["port"] == 10000
    assert database["properties"]["clusteringPolicy"] == "EnterpriseCluster", "the app uses a non-cluster client"
    assert not any(r["type"] == "Microsoft.Cache/redis" for f in [redis] for r in f["resources"].values())
    secrets = _bicep(inspected, "infra/modules/keyvault-secrets.bicep")
    url = _body(_resources(secrets, "Microsoft.KeyVault/vaults/secrets")["redisUrl"])["properties"]["value"]
    assert url.startswith("rediss://:") and url.endswith(":10000/0")


def test_redis_keeps_sessions_across_a_restart(inspected: dict[str, Any]) -> None:
    """Sessions live only in Redis: its data is persisted (AOF every second) in every environment,
    and prod adds high availability (a replica that takes over)."""
    redis = _bicep(inspected, "infra/modules/redis.bicep")
    persistence = _one(redis, "Microsoft.Cache/redisEnterprise/databases")["properties"]["persistence"]
    assert persistence == {"aofEnabled": True, "aofFrequency": "1s", "rdbEnabled": False}
    cluster = _one(redis, "Microsoft.Cache/redisEnterprise")
    assert _evaluate(cluster["properties"]["highAvailability"], {"highAvailability": True}) == "Enabled"
    main = _bicep(inspected, "infra/main.bicep")
    assert main["modules"]["redis"]["config"]["params"]["highAvailability"] == "redisHighAvailability"
    assert _parameter_values("infra/main.prod.parameters.json")["redisHighAvailability"] is True


def test_email_domain_is_azure_managed_and_linked(inspected: dict[str, Any]) -> None:
    email = _bicep(inspected, "infra/modules/email.bicep")
    domains = _resources(email, "Microsoft.Communication/emailServices/domains")
    ((domain_symbol, domain),) = domains.items()
    assert _body(domain)["properties"]["domainManagement"] == "AzureManaged"
    sender = _one(email, "Microsoft.Communication/emailServices/domains/senderUsernames")
    assert sender["parent"] == domain_symbol and sender["properties"]["username"] == "DoNotReply"
    service = _one(email, "Microsoft.Communication/communicationServices")
    linked = service["properties"]["linkedDomains"]
    assert linked == [
        {"operator": {"type": "property_accessor", "operands": {"operand_1": domain_symbol, "operand_2": "id"}}}
    ]
    assert (
        service["properties"]["dataLocation"]
        == _one(email, "Microsoft.Communication/emailServices")["properties"]["dataLocation"]
    )
    main = _bicep(inspected, "infra/main.bicep")
    assert "senderAddress" in json.dumps(main["modules"]["functionApp"]["config"]["params"]["emailSender"])


def test_app_settings_cover_every_setting_without_a_safe_default(inspected: dict[str, Any]) -> None:
    fields = Settings.model_fields
    required = {name.upper() for name, field in fields.items() if field.is_required()}
    local_defaults = {
        name.upper()
        for name, field in fields.items()
        if isinstance(field.default, str) and ("localhost" in field.default or ".local" in field.default)
    }
    assert required == {"DATABASE_URL", "REDIS_URL", "DATA_ENCRYPTION_KEYS"}, required
    assert {"EMAIL_SENDER", "FRONTEND_ADMIN_URL", "FRONTEND_DONOR_URL"} <= local_defaults
    # Required for the default JWT_ALGORITHM (ES256), so without a default in effect.
    conditionally_required = {"JWT_SIGNING_KEYS"}
    # console email and an implicit pool size are not what production runs on
    needed = (
        required
        | conditionally_required
        | local_defaults
        | {"ENVIRONMENT", "EMAIL_BACKEND", "DB_POOL_SIZE", "DB_MAX_OVERFLOW", "DB_SSL"}
    )
    needed |= {"DB_AUTH", "DB_ENTRA_CLIENT_ID"}  # the app signs in to PostgreSQL as its managed identity
    # ... and the retention timer as its own (the role that alone may purge the audit log)
    needed |= {"RETENTION_DATABASE_URL", "DB_RETENTION_ROLE", "DB_RETENTION_ENTRA_CLIENT_ID"}
    known = {name.upper() for name in fields}
    functionapp = _bicep(inspected, "infra/modules/functionapp.bicep")
    variants = _setting_variants(functionapp)
    assert len(variants) == 2, "expected the managed-identity and the connection-string email variants"
    for settings in variants:
        names = set(settings)
        assert needed <= names, needed - names
        assert names - PLATFORM_SETTINGS <= known, f"not read by the app: {names - PLATFORM_SETTINGS - known}"
        assert settings["ENVIRONMENT"] == "production"
        assert settings["EMAIL_BACKEND"] == "acs"
        assert settings["DB_SSL"] == "verify-full", "the server certificate is checked"
        assert settings["DB_AUTH"] == "entra", "no database password for the app"
        assert ("ACS_ENDPOINT" in names) != ("ACS_CONNECTION_STRING" in names)
        assert "SUPER_ADMIN_PASSWORD" not in names, "the bootstrap password never sits in app settings"


def test_secrets_are_key_vault_references(inspected: dict[str, Any]) -> None:
    functionapp = _bicep(inspected, "infra/modules/functionapp.bicep")
    for settings in _setting_variants(functionapp):
        for name, value in settings.items():
            if name in SECRET_SETTINGS:
                assert isinstance(value, str) and KEY_VAULT_REFERENCE.match(value), (name, value)
            else:
                assert "KeyVault" not in json.dumps(value), name
    app = _one(functionapp, "Microsoft.Web/sites")
    assert app["properties"]["keyVaultReferenceIdentity"] == "identityId"
    assert app["identity"]["type"] == "UserAssigned"


def _decorators(parameter: dict[str, Any]) -> dict[str, Any]:
    return {decorator["type"]: decorator.get("argument") for decorator in parameter["decorators"]}


def _accessor(module: str, *names: str) -> dict[str, Any]:
    """The pycep form of ``module.a.b``."""
    inner: Any = names[-1]
    for name in reversed(names[:-1]):
        inner = {"operator": {"type": "property_accessor", "operands": {"operand_1": name, "operand_2": inner}}}
    return {"operator": {"type": "property_accessor", "operands": {"operand_1": module, "operand_2": inner}}}


def test_the_signing_keys_reach_the_app_only_as_a_key_vault_reference(inspected: dict[str, Any]) -> None:
    """jwtSigningKeys: a secure parameter -> Key Vault secret jwt-signing-keys -> JWT_SIGNING_KEYS reference."""
    asymmetric = ["ES256", "EdDSA", "RS256"]
    main = _bicep(inspected, "infra/main.bicep")
    assert "jwtSecretKey" not in main["parameters"], "no shared secret is deployed any more"
    keys = _decorators(main["parameters"]["jwtSigningKeys"])
    assert "secure" in keys and keys["min_length"] >= 100
    assert main["parameters"]["jwtSigningKeys"].get("default") is None, "required: never a default key"
    algorithm = main["parameters"]["jwtAlgorithm"]
    assert _decorators(algorithm)["allowed"] == asymmetric and algorithm["default"] == "ES256"
    assert main["outputs"]["JWT_ALGORITHM"]["value"] == "jwtAlgorithm", "postprovision loads the settings with it"
    assert main["modules"]["secrets"]["config"]["params"]["jwtSigningKeys"] == "jwtSigningKeys"
    app_params = main["modules"]["functionApp"]["config"]["params"]
    assert app_params["jwtSigningKeysSecretUri"] == _accessor("secrets", "outputs", "jwtSigningKeysSecretUri")
    assert app_params["jwtAlgorithm"] == "jwtAlgorithm"

    secrets = _bicep(inspected, "infra/modules/keyvault-secrets.bicep")
    assert "secure" in _decorators(secrets["parameters"]["jwtSigningKeys"])
    by_name = {
        _body(r)["name"]: (symbol, _body(r))
        for symbol, r in _resources(secrets, "Microsoft.KeyVault/vaults/secrets").items()
    }
    assert "jwt-secret-key" not in by_name
    symbol, secret = by_name["jwt-signing-keys"]
    assert secret["properties"]["value"] == "jwtSigningKeys"
    assert "JWT_SIGNING_KEYS" in secret["properties"]["contentType"]
    assert secrets["outputs"]["jwtSigningKeysSecretUri"]["value"] == _accessor(symbol, "properties", "secretUri")

    functionapp = _bicep(inspected, "infra/modules/functionapp.bicep")
    assert _decorators(functionapp["parameters"]["jwtAlgorithm"])["allowed"] == asymmetric
    for settings in _setting_variants(functionapp):
        assert settings["JWT_SIGNING_KEYS"] == "@Microsoft.KeyVault(SecretUri=${jwtSigningKeysSecretUri})"
        assert settings["JWT_ALGORITHM"] == "jwtAlgorithm"
        assert "JWT_SECRET_KEY" not in settings, "the HS* secret would only confuse: nothing reads it"

    assert _parameter_values("infra/main.parameters.json")["jwtSigningKeys"] == "${AUGEO_JWT_SIGNING_KEYS}"
    workflow = (ROOT / ".github/workflows/deploy.yml").read_text()
    assert "JWT_SIGNING_KEYS: ${{ secrets.JWT_SIGNING_KEYS }}" in workflow
    assert 'jwtSigningKeys="$jwt_signing_keys"' in workflow and "JWT_SECRET_KEY" not in workflow
    postprovision = (INFRA / "scripts" / "postprovision.sh").read_text()
    assert "read_secret jwt-signing-keys" in postprovision and "JWT_SECRET_KEY" not in postprovision


def _run_preprovision(tmp_path: Path, **env: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """The hook with a stand-in `azd` that records its calls; returns the run and the arguments of
    its call that set AUGEO_JWT_SIGNING_KEYS (empty when there was none)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    record = tmp_path / "azd-args.json"
    fake_azd = bin_dir / "azd"
    fake_azd.write_text(
        f"#!{sys.executable}\nimport json, sys\nopen({str(record)!r}, 'a').write(json.dumps(sys.argv[1:]) + '\\n')\n"
    )
    fake_azd.chmod(0o755)
    base = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "AUGEO_POSTGRES_ADMIN_PASSWORD": "Pg1-" + "x" * 20,
        "AUGEO_DEPLOYER_PRINCIPAL_NAME": "deployer@example.org",
        "SUPER_ADMIN_EMAIL": "admin@example.org",
        "SUPER_ADMIN_PASSWORD": "a strong password 1",
        "AUGEO_FRONTEND_ADMIN_URL": "https://admin.example.org",
        "AUGEO_FRONTEND_DONOR_URL": "https://donate.example.org",
        **env,
    }
    done = processes.run("bash", INFRA / "scripts" / "preprovision.sh", env=base, timeout=120)
    calls = [json.loads(line) for line in record.read_text().splitlines()] if record.exists() else []
    signing = [call for call in calls if "AUGEO_JWT_SIGNING_KEYS" in call]
    return done, signing[0] if signing else []


@pytest.mark.parametrize("algorithm", ["ES256", "EdDSA"])
def test_preprovision_generates_a_signing_key_once_and_never_prints_it(tmp_path: Path, algorithm: str) -> None:
    from shared.security.signing_keys import AsymmetricAlgorithm, parse_signing_keys

    done, args = _run_preprovision(tmp_path, AUGEO_JWT_ALGORITHM=algorithm)
    assert done.returncode == 0, done.stderr
    assert args[:3] == ["env", "set", "--"] and args[3] == "AUGEO_JWT_SIGNING_KEYS", args[:4]
    value = args[4]
    assert "\n" not in value, "an azd value is one line"
    keys = parse_signing_keys(value, cast("AsymmetricAlgorithm", algorithm))
    assert len(keys.keys) == 1 and not keys.has_development_key
    body = value.split("-----")[2].split()[0]
    assert body not in done.stdout + done.stderr, "the key is never printed"
    assert "AUGEO_JWT_SIGNING_KEYS" in done.stdout

    again, args_again = _run_preprovision(tmp_path / "again", AUGEO_JWT_SIGNING_KEYS=value)
    assert again.returncode == 0 and args_again == [], "an existing key is kept"


def test_preprovision_refuses_a_value_that_holds_no_key(tmp_path: Path) -> None:
    done, _ = _run_preprovision(tmp_path, AUGEO_JWT_SIGNING_KEYS="oops")
    assert done.returncode == 1 and "AUGEO_JWT_SIGNING_KEYS holds no PEM private key" in done.stderr
    done, _ = _run_preprovision(tmp_path, AUGEO_JWT_ALGORITHM="HS256")
    assert done.returncode == 1 and "AUGEO_JWT_ALGORITHM" in done.stderr


@pytest.mark.parametrize("value", ["", "http://localhost:3000", "http://admin.example.org"])
def test_preprovision_refuses_email_link_targets_production_would_refuse(tmp_path: Path, value: str) -> None:
    """The app runs as production in Azure, which refuses them: say so before anything is created."""
    done, _ = _run_preprovision(tmp_path, AUGEO_FRONTEND_DONOR_URL=value)
    assert done.returncode == 1
    assert "AUGEO_FRONTEND_DONOR_URL must be the web app's https URL" in done.stderr


def test_the_link_targets_reach_the_app_and_the_hooks_without_a_local_default(inspected: dict[str, Any]) -> None:
    values = _parameter_values("infra/main.parameters.json")
    assert values["frontendAdminUrl"] == "${AUGEO_FRONTEND_ADMIN_URL}", "no localhost default: production refuses it"
    assert values["frontendDonorUrl"] == "${AUGEO_FRONTEND_DONOR_URL}"
    main = _bicep(inspected, "infra/main.bicep")
    assert main["outputs"]["FRONTEND_ADMIN_URL"]["value"] == "frontendAdminUrl"
    assert main["outputs"]["FRONTEND_DONOR_URL"]["value"] == "frontendDonorUrl"
    for settings in _setting_variants(_bicep(inspected, "infra/modules/functionapp.bicep")):
        assert (settings["FRONTEND_ADMIN_URL"], settings["FRONTEND_DONOR_URL"]) == (
            "frontendAdminUrl",
            "frontendDonorUrl",
        )
        assert "MFA_REQUIRED_ROLES" not in settings, "unset: production's default, super and NPO admins"
    postprovision = (INFRA / "scripts" / "postprovision.sh").read_text()
    assert "export FRONTEND_ADMIN_URL FRONTEND_DONOR_URL" in postprovision, "its production settings check them"


def test_no_setting_or_property_deprecated_on_flex(inspected: dict[str, Any]) -> None:
    functionapp = _bicep(inspected, "infra/modules/functionapp.bicep")
    deprecated = {name.upper() for name in FLEX_DEPRECATED_SETTINGS}
    for settings in _setting_variants(functionapp):
        assert not {name.upper() for name in settings} & deprecated
        # Shared keys are off: host storage is identity-based, never a connection string.
        assert "AzureWebJobsStorage" not in settings
        assert settings["AzureWebJobsStorage__credential"] == "managedidentity"
    app = _one(functionapp, "Microsoft.Web/sites")
    assert not set(app["properties"]["siteConfig"]) & FLEX_DEPRECATED_SITE_CONFIG
    assert "containerSize" not in app["properties"] and "dailyMemoryTimeQuota" not in app["properties"]
    config = app["properties"]["functionAppConfig"]
    assert config["runtime"] == {"name": "python", "version": "3.11"}
    assert config["deployment"]["storage"]["type"] == "blobContainer"
    assert config["deployment"]["storage"]["authentication"]["type"] == "UserAssignedIdentity"
    scale = config["scaleAndConcurrency"]
    assert scale["maximumInstanceCount"] == "maximumInstanceCount"
    assert scale["triggers"]["http"]["perInstanceConcurrency"] == "httpPerInstanceConcurrency"
    ready = scale["alwaysReady"]["operator"]["operands"]["true_value"]
    assert ready == [{"name": "http", "instanceCount": "alwaysReadyInstances"}]
    plan = _one(functionapp, "Microsoft.Web/serverfarms")
    assert plan["sku"] == {"name": "FC1", "tier": "FlexConsumption"} and plan["properties"]["reserved"] is True


def test_function_app_is_https_only_tls12_without_ftp(inspected: dict[str, Any]) -> None:
    functionapp = _bicep(inspected, "infra/modules/functionapp.bicep")
    app = _one(functionapp, "Microsoft.Web/sites")
    assert app["kind"] == "functionapp,linux"
    properties = app["properties"]
    assert properties["httpsOnly"] is True
    site = properties["siteConfig"]
    assert site["minTlsVersion"] == "1.2" and site["scmMinTlsVersion"] == "1.2"
    assert site["ftpsState"] == "Disabled"
    policies = {
        _body(resource)["name"]: _body(resource)["properties"]["allow"]
        for resource in _resources(functionapp, "Microsoft.Web/sites/basicPublishingCredentialsPolicies").values()
    }
    assert policies == {"ftp": False, "scm": False}
    assert app["tags"]["function"]["type"] == "union" and "azd-service-name" in json.dumps(app["tags"])


def test_the_hosts_cors_and_the_apps_cors_origins_come_from_one_parameter(inspected: dict[str, Any]) -> None:
    """siteConfig.cors (the host answers preflights, with credentials) and CORS_ORIGINS (the
    app) are one list; the local stand-in of the host answers with the same credentials."""
    main = _bicep(inspected, "infra/main.bicep")
    assert _body(main["modules"]["functionApp"])["params"]["corsAllowedOrigins"] == "corsAllowedOrigins"
    functionapp = _bicep(inspected, "infra/modules/functionapp.bicep")
    site = _one(functionapp, "Microsoft.Web/sites")["properties"]["siteConfig"]
    assert site["cors"] == {"allowedOrigins": "corsAllowedOrigins", "supportCredentials": SITE_SUPPORTS_CREDENTIALS}
    assert SITE_SUPPORTS_CREDENTIALS is True  # cookie sign-in needs it
    joined = {"function": {"type": "join", "parameters": {"input_array": "corsAllowedOrigins", "delimiter": ","}}}
    for settings in _setting_variants(functionapp):
        assert settings["CORS_ORIGINS"] == joined
    # A dev deployment lets the web apps' dev servers in, as `make run` does.
    assert _parameter_values("infra/main.parameters.json")["corsAllowedOrigins"] == list(DEVELOPMENT_CORS_ORIGINS)


def test_a_custom_domain_is_off_by_default_and_gets_a_managed_certificate_over_sni(inspected: dict[str, Any]) -> None:
    main = _bicep(inspected, "infra/main.bicep")
    assert main["parameters"]["apiCustomDomain"]["default"] == ""
    assert _body(main["modules"]["functionApp"])["params"]["customDomain"] == "apiCustomDomain"
    tls_module = main["modules"]["apiCustomDomainTls"]["config"]
    assert tls_module["condition"] == _unless_empty("apiCustomDomain")
    assert tls_module["config"]["params"]["domain"] == "apiCustomDomain"
    for path in PARAMETER_FILES:
        assert _parameter_values(path).get("apiCustomDomain", "") in ("", "${AUGEO_API_CUSTOM_DOMAIN=}")

    functionapp = _bicep(inspected, "infra/modules/functionapp.bicep")
    assert functionapp["parameters"]["customDomain"]["default"] == ""
    (plain,) = _resources(functionapp, "Microsoft.Web/sites/hostNameBindings").values()
    (certificate,) = _resources(functionapp, "Microsoft.Web/sites/certificates").values()
    for resource in (plain, certificate):
        assert resource["config"]["condition"] == _unless_empty("customDomain")
    assert _body(plain)["properties"]["sslState"] == "Disabled"
    assert _body(certificate)["properties"] == {"canonicalName": "customDomain"}  # managed: App Service issues it
    assert _body(certificate)["dependsOn"] == ["customDomainBinding"]

    tls = _one(_bicep(inspected, "infra/modules/custom-domain-tls.bicep"), "Microsoft.Web/sites/hostNameBindings")
    assert tls["name"] == "domain" and tls["properties"]["sslState"] == "SniEnabled"
    assert tls["properties"]["thumbprint"] == "certificateThumbprint"


def _unless_empty(parameter: str) -> dict[str, Any]:
    """pycep's form of `if (!empty(parameter))`."""
    empty = {"function": {"type": "empty", "parameters": {"item_to_test": parameter}}}
    return {"operator": {"type": "not", "operands": {"bool_value": empty}}}


def test_storage_monitoring_and_key_vault_hardening(inspected: dict[str, Any]) -> None:
    storage = _one(_bicep(inspected, "infra/modules/storage.bicep"), "Microsoft.Storage/storageAccounts")
    assert storage["properties"]["allowSharedKeyAccess"] is False
    assert storage["properties"]["allowBlobPublicAccess"] is False
    assert storage["properties"]["minimumTlsVersion"] == "TLS1_2"
    monitoring = _bicep(inspected, "infra/modules/monitoring.bicep")
    assert _one(monitoring, "Microsoft.Insights/components")["properties"]["DisableLocalAuth"] is True
    workspace = _one(monitoring, "Microsoft.OperationalInsights/workspaces")
    assert workspace["properties"]["features"]["disableLocalAuth"] is True
    functionapp = _bicep(inspected, "infra/modules/functionapp.bicep")
    for settings in _setting_variants(functionapp):
        assert "Authorization=AAD" in settings["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"]
    vault = _one(_bicep(inspected, "infra/modules/keyvault.bicep"), "Microsoft.KeyVault/vaults")["properties"]
    assert vault["enableRbacAuthorization"] is True
    assert vault["enableSoftDelete"] is True and vault["enablePurgeProtection"] is True
    secrets = _resources(_bicep(inspected, "infra/modules/keyvault-secrets.bicep"), "Microsoft.KeyVault/vaults/secrets")
    assert {_body(s)["name"] for s in secrets.values()} >= {"jwt-signing-keys", "migration-database-url", "redis-url"}
    for symbol, secret in secrets.items():
        assert _body(secret)["properties"].get("contentType"), f"{symbol} has no contentType"


def test_the_app_identity_gets_the_roles_it_needs(inspected: dict[str, Any]) -> None:
    roles = _bicep(inspected, "infra/modules/roles.bicep")
    granted = {}
    for resource in _resources(roles, "Microsoft.Authorization/roleAssignments").values():
        body = _body(resource)
        role_variable = body["properties"]["roleDefinitionId"]["function"]["parameters"]["resource_name_1"]
        role = roles["variables"][role_variable]["value"]
        granted[(body["scope"], body["properties"]["principalId"])] = role
    app = "appPrincipalId"
    assert granted[("storage", app)] == "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"  # Storage Blob Data Owner
    assert granted[("applicationInsights", app)] == "3913510d-42f4-4e42-8a64-420c390055eb"  # Metrics Publisher
    assert granted[("communicationService", app)] == "09976791-48a7-449e-bb21-39d1a415f350"  # Email Service Owner
    # The app reads its own secrets, each granted on its own; never the vault, which also
    # holds the database owner's URL (for the deployment).
    assert ("vault", app) not in granted
    secret_scopes = {
        scope for (scope, principal), role in granted.items() if principal == app and role == KEY_VAULT_SECRETS_USER
    }
    assert secret_scopes == {"jwtSecret", "dataEncryptionKeysSecret", "redisUrlSecret", "acsConnectionStringSecret"}
    existing = {symbol: r for symbol, r in roles["resources"].items() if r.get("existing")}
    assert {_body(existing[scope])["name"] for scope in secret_scopes} == {
        "jwtSigningKeysSecretName",
        "dataEncryptionKeysSecretName",
        "redisUrlSecretName",
        "acsConnectionStringSecretName",
    }
    assert granted[("vault", "deployerPrincipalId")] == KEY_VAULT_SECRETS_USER
    main = _bicep(inspected, "infra/main.bicep")
    assert main["modules"]["functionApp"]["config"]["dependsOn"] == ["roles"], "roles must exist before the app"


# --- parameter files and the connection budget ----------------------------------


@pytest.mark.parametrize("parameter_file", PARAMETER_FILES)
def test_parameter_file_names_only_declared_parameters(inspected: dict[str, Any], parameter_file: str) -> None:
    main = _bicep(inspected, "infra/main.bicep")
    values = _parameter_values(parameter_file)
    assert set(values) <= set(main["parameters"]), set(values) - set(main["parameters"])
    for name, value in values.items():
        allowed = [d["argument"] for d in main["parameters"][name]["decorators"] if d["type"] == "allowed"]
        if allowed and not (isinstance(value, str) and value.startswith("${")):
            assert value in allowed[0], (name, value)


@pytest.mark.parametrize("parameter_file", PARAMETER_FILES)
def test_connection_budget_fits_the_postgres_sku(inspected: dict[str, Any], parameter_file: str) -> None:
    main = _bicep(inspected, "infra/main.bicep")
    values = _parameter_values(parameter_file)
    sku, tier = values["postgresSkuName"], values["postgresSkuTier"]
    assert sku in PG_MAX_CONNECTIONS, f"add {sku} to PG_MAX_CONNECTIONS (Microsoft Learn limits table)"
    assert PG_TIER_BY_PREFIX[re.sub(r"\d.*$", "", sku)] == tier, (sku, tier)
    pool_maximum = _pool_maximum_per_process(values, main)
    maximum, always_ready = values["maximumInstanceCount"], values["alwaysReadyInstances"]
    user_connections = PG_MAX_CONNECTIONS[sku] - PG_RESERVED_CONNECTIONS
    budget = CONNECTION_BUDGET_SHARE * user_connections
    assert maximum * pool_maximum <= budget, f"{maximum} x {pool_maximum} > {budget:.0f} ({sku})"
    # Every instance that can exist at once: on-demand HTTP, always ready, the timer's group.
    worst_case = (maximum + always_ready + NON_HTTP_INSTANCE_GROUPS) * pool_maximum + RETENTION_JOB_CONNECTIONS
    assert worst_case <= budget, f"{worst_case} connections > {budget:.0f} ({sku})"
    # No request waits for a pooled connection on its own instance.
    assert values["httpPerInstanceConcurrency"] <= pool_maximum


def test_the_budget_check_rejects_an_oversized_scale_out() -> None:
    assert _fits_connection_budget("Standard_B1ms", 7, 4)  # 28 <= 0.8 x 35
    assert not _fits_connection_budget("Standard_B1ms", 8, 4)  # 32 > 28
    assert not _fits_connection_budget("Standard_D2ds_v5", 200, 4)  # 800 > 675.2


def test_dev_uses_the_smallest_skus_and_prod_is_resilient() -> None:
    dev = _parameter_values("infra/main.parameters.json")
    prod = _parameter_values("infra/main.prod.parameters.json")
    assert dev["postgresSkuName"] == "Standard_B1ms" and dev["redisSkuName"] == "Balanced_B0"
    assert dev["alwaysReadyInstances"] == 0
    assert prod["alwaysReadyInstances"] >= 1
    assert prod["postgresHighAvailability"] is True and prod["redisHighAvailability"] is True


def test_every_required_parameter_is_supplied(inspected: dict[str, Any]) -> None:
    main = _bicep(inspected, "infra/main.bicep")
    required = {name for name, spec in main["parameters"].items() if spec.get("default") is None}
    assert required - set(_parameter_values("infra/main.parameters.json")) == set(), "azd would prompt"
    workflow = (ROOT / ".github/workflows/deploy.yml").read_text()
    on_command_line = set(re.findall(r"^\s+([A-Za-z]+)=", workflow, flags=re.MULTILINE))
    supplied = set(_parameter_values("infra/main.prod.parameters.json")) | on_command_line
    assert required <= supplied, required - supplied


# --- azd, hooks, workflows, docs --------------------------------------------------


def test_azure_yaml_deploys_the_function_and_runs_migrations_and_bootstrap(inspected: dict[str, Any]) -> None:
    azure = inspected["yaml"]["azure.yaml"]
    assert azure["infra"] == {"provider": "bicep", "path": "infra", "module": "main"}
    assert azure["services"]["api"] == {"project": ".", "language": "python", "host": "function"}
    for hook, must_contain in (
        ("preprovision", ("AUGEO_JWT_SIGNING_KEYS", "azd env set", "SUPER_ADMIN_PASSWORD")),
        (
            "postprovision",
            ("shared.cli create-app-role", "alembic upgrade head", "shared.cli create-super-admin", "firewall-rule"),
        ),
    ):
        run = azure["hooks"][hook]["posix"]["run"]
        script = ROOT / run.split()[-1]
        assert script.is_file(), run
        text = script.read_text()
        assert all(fragment in text for fragment in must_contain), (hook, must_contain)
    result = _run(["bash", "-n", *sorted((INFRA / "scripts").glob("*.sh"))])
    assert result.returncode == 0, result.stderr


def test_workflows_are_valid_and_do_what_they_claim(inspected: dict[str, Any]) -> None:
    workflows = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
    assert [path.name for path in workflows] == ["ci.yml", "deploy.yml"]
    result = _run([_infra_tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *workflows])
    assert result.returncode == 0, result.stdout + result.stderr
    ci = inspected["yaml"][".github/workflows/ci.yml"]
    assert "workflow_call" in ci["on"] and "pull_request" in ci["on"]
    assert any(step.get("run") == "bash .ci/run" for step in ci["jobs"]["checks"]["steps"])
    deploy = inspected["yaml"][".github/workflows/deploy.yml"]
    assert deploy["permissions"]["id-token"] == "write"
    assert deploy["jobs"]["checks"]["uses"] == "./.github/workflows/ci.yml"
    steps = deploy["jobs"]["deploy"]["steps"]
    uses = {step.get("uses", "").split("@")[0]: step for step in steps}
    assert set(uses["azure/login"]["with"]) == {"client-id", "tenant-id", "subscription-id"}, "OIDC, no secret"
    runs = [step.get("run", "") for step in steps]
    deploy_run = next(run for run in runs if "config-zip" in run)
    assert "python -m devtools.package" in deploy_run and "--build-remote true" in deploy_run
    order = [
        next(i for i, run in enumerate(runs) if "az deployment sub create" in run),
        next(i for i, run in enumerate(runs) if "infra/scripts/postprovision.sh" in run),
        runs.index(deploy_run),
    ]
    assert order == sorted(order), "provision, then migrate, then deploy"


def test_workflow_actions_are_pinned_by_commit() -> None:
    """A tag can be moved by whoever controls the action; a commit cannot."""
    for path in sorted((ROOT / ".github" / "workflows").glob("*.yml")):
        for reference in re.findall(r"uses:\s*([^\s#]+)", path.read_text()):
            if reference.startswith("./"):
                continue
            assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", reference), (path.name, reference)


def test_operations_deploy_section_names_every_pipeline_secret_and_variable() -> None:
    operations = (ROOT / "docs" / "operations.md").read_text()
    match = re.search(r"^## Deploy\n(.*?)(?=^## |\Z)", operations, flags=re.MULTILINE | re.DOTALL)
    assert match, "docs/operations.md has no '## Deploy' section"
    section = match.group(1)
    workflow = (ROOT / ".github/workflows/deploy.yml").read_text()
    names = set(re.findall(r"\$\{\{\s*(?:secrets|vars)\.([A-Z_]+)\s*\}\}", workflow))
    assert names, "deploy.yml reads no secrets or variables"
    assert not {name for name in names if name not in section}
    for phrase in ("azd up", "rotat", "maximumInstanceCount", "AUGEO_JWT_SIGNING_KEYS", "new-signing-key"):
        assert phrase in section, phrase
