"""The TypeScript client's contract with this API: generated types that are current, every
error code known to it, and a package a web app can install.

The client's own behaviour is tested by its `node --test` units (`make test-client`) and
in a browser by tests/integration/test_web_client_browser.py.
"""

from __future__ import annotations

import json
import re
import sys
import tarfile
from pathlib import Path

import pytest

from shared.errors import ErrorCode
from tests.support.node_tools import CLIENT_DIR, NPM, client_package, node, run

GENERATED = CLIENT_DIR / "src" / "generated" / "openapi.d.ts"
CONTRACT = CLIENT_DIR / "src" / "contract.ts"


@pytest.mark.slow
def test_generated_types_match_the_served_document(tmp_path: Path) -> None:
    """`npm run generate` writes what the committed file says: else the client is typed against an old API."""
    package = client_package()
    fresh = tmp_path / "openapi.d.ts"
    node("scripts/generate-types.mjs", "--out", str(fresh), cwd=package, PYTHON=sys.executable)
    assert fresh.read_text() == GENERATED.read_text(), (
        "clients/typescript/src/generated/openapi.d.ts is stale: run `npm run generate` in clients/typescript"
    )


def test_the_client_knows_every_error_code_of_the_server() -> None:
    """Until the document enumerates the codes, src/contract.ts lists them by hand: none may be missing."""
    union = CONTRACT.read_text().split("export type ErrorCode =", 1)[1].split(";", 1)[0]
    declared = set(re.findall(r'"([A-Z_]+)"', union))
    assert {code.value for code in ErrorCode} <= declared, "add the missing codes to ErrorCode in src/contract.ts"


@pytest.mark.slow
def test_the_package_builds_to_a_tarball_a_web_app_installs(tmp_path: Path) -> None:
    package = client_package()
    assert NPM
    run([NPM, "pack", "--pack-destination", str(tmp_path)], cwd=package)
    (tarball,) = tmp_path.glob("*.tgz")
    with tarfile.open(tarball) as archive:
        names = set(archive.getnames())
    for built in ("index.js", "index.d.ts", "client.js", "client.d.ts", "generated/openapi.d.ts"):
        assert f"package/dist/{built}" in names
    assert not any(name.startswith(("package/src/", "package/test/", "package/node_modules/")) for name in names)

    app = tmp_path / "web-app"
    app.mkdir()
    (app / "package.json").write_text(json.dumps({"name": "web-app", "private": True, "type": "module"}))
    run([NPM, "install", "--offline", "--no-audit", "--no-fund", str(tarball)], cwd=app)
    manifest = json.loads((app / "node_modules" / "@augeo" / "auth-client" / "package.json").read_text())
    assert not manifest.get("dependencies"), "the client has no runtime dependency"
    (app / "app.ts").write_text(
        'import { createAuthClient, AuthError, type ErrorCode, type SignInResult } from "@augeo/auth-client";\n'
        'const auth = createAuthClient({ baseUrl: "https://api.example.org", transport: "cookie" });\n'
        "export async function signIn(): Promise<string> {\n"
        '  const result: SignInResult = await auth.signIn({ email: "ada@example.org", password: "x" });\n'
        '  return result.status === "mfa_required" ? (await result.verify("492039")).user.email : result.user.role;\n'
        "}\n"
        'export const ended: ErrorCode = "SESSION_ENDED";\n'
        'export const isExpired = (e: unknown) => e instanceof AuthError && e.code === "TOKEN_EXPIRED";\n'
    )
    tsc = str(package / "node_modules" / "typescript" / "bin" / "tsc")
    flags = ["--noEmit", "--strict", "--module", "ESNext", "--moduleResolution", "bundler", "--target", "ES2022"]
    node(tsc, *flags, "--lib", "ES2022,DOM", "app.ts", cwd=app)
    script = "console.log(Object.keys(await import('@augeo/auth-client')))"
    exported = node("--input-type=module", "-e", script, cwd=app)
    assert "createAuthClient" in exported and "AuthError" in exported
