"""The TypeScript client's contract with this API: generated types that are current, an ErrorCode
derived from them that holds every code of the server and no other, and a package a web app can
install.

The client's own behaviour is tested by its `node --test` units (`make test-client`) and
in a browser by tests/integration/test_web_client_browser.py.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
import tarfile
from pathlib import Path

import pytest

from shared.errors import ErrorCode
from tests.support.node_tools import CLIENT_DIR, NPM, client_package, node, run, tsc

GENERATED = CLIENT_DIR / "src" / "generated" / "openapi.d.ts"


@pytest.mark.slow
def test_generated_types_match_the_served_document(tmp_path: Path) -> None:
    """`npm run generate` writes what the committed file says: else the client is typed against an old API."""
    package = client_package()
    fresh = tmp_path / "openapi.d.ts"
    node("scripts/generate-types.mjs", "--out", str(fresh), cwd=package, PYTHON=sys.executable)
    assert fresh.read_text() == GENERATED.read_text(), (
        "clients/typescript/src/generated/openapi.d.ts is stale: run `npm run generate` in clients/typescript"
    )


# The client's compiler options (as its tsconfig.json), for a program compiled beside a copy of src/.
STRICT = ["--noEmit", "--strict", "--target", "ES2022", "--module", "NodeNext", "--moduleResolution", "NodeNext"]
STRICT += ["--lib", "ES2022,DOM", "--noUncheckedIndexedAccess", "--noImplicitOverride", "--verbatimModuleSyntax"]
ADDED = "ADDED_BY_THE_DOCUMENT"


def _exhaustive_switch(codes: list[str]) -> str:
    """A program with one `case` per code over the client's ErrorCode, and a `default` that takes only never.

    It compiles exactly when the codes are the union: a code the union lacks is TS2678 at its
    case, a code of the union with no case reaches the default (TS2345, not assignable to never).
    """
    cases = "\n".join(f'    case "{code}":' for code in codes)
    return (
        'import type { ErrorCode } from "./src/index.js";\n'
        "function unhandled(code: never): never {\n  throw new Error(code);\n}\n"
        "export function handled(code: ErrorCode): true {\n  switch (code) {\n"
        f"{cases}\n      return true;\n    default:\n      return unhandled(code);\n  }}\n}}\n"
    )


def _client_copy(folder: Path) -> Path:
    """A copy of the client's sources, with a program switching over every code the server has."""
    client_package()
    shutil.copytree(CLIENT_DIR / "src", folder / "src")
    (folder / "package.json").write_text(json.dumps({"type": "module"}))  # ES modules, as the package is
    (folder / "switch.ts").write_text(_exhaustive_switch([code.value for code in ErrorCode]))
    return folder


@pytest.mark.slow
def test_every_error_code_of_the_server_is_in_the_client_and_no_other(tmp_path: Path) -> None:
    """A switch over the client's ErrorCode, a case per code of shared.errors.ErrorCode, compiles and is exhaustive."""
    folder = _client_copy(tmp_path)
    tsc(*STRICT, "switch.ts", cwd=folder, expect_success=True)


@pytest.mark.slow
def test_the_clients_error_code_is_derived_from_the_generated_types(tmp_path: Path) -> None:
    """A code added to the generated document's enum reaches the client's ErrorCode: the same switch is no longer
    exhaustive, and that is the only error. (A list kept by hand would not gain the code.)"""
    folder = _client_copy(tmp_path)
    generated = folder / "src" / "generated" / "openapi.d.ts"
    doctored, count = re.subn(r"(\n\s+ErrorCode: )", rf'\1"{ADDED}" | ', generated.read_text())
    assert count == 1, "the generated types have no ErrorCode enum"
    generated.write_text(doctored)
    output = tsc(*STRICT, "switch.ts", cwd=folder, expect_success=False)
    assert f"""error TS2345: Argument of type '"{ADDED}"' is not assignable to parameter of type 'never'""" in output
    assert output.count("error TS") == 1, output


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
        "import { createAuthClient, AuthError, isAuthError, type ErrorCode, type SignInResult }"
        ' from "@augeo/auth-client";\n'
        'const auth = createAuthClient({ baseUrl: "https://api.example.org", transport: "cookie" });\n'
        "export async function signIn(): Promise<string> {\n"
        '  const result: SignInResult = await auth.signIn({ email: "ada@example.org", password: "x" });\n'
        '  if (result.status === "mfa_required") return (await result.verify("492039")).user.email;\n'
        '  return result.passwordChangeRequired ? "change the password" : result.user.role;\n'
        "}\n"
        'export const ended: ErrorCode = "SESSION_ENDED";\n'
        'export const isExpired = (e: unknown) => e instanceof AuthError && e.code === "TOKEN_EXPIRED";\n'
        "export const wait = (e: unknown): number | undefined =>\n"
        '  isAuthError(e) && e.code === "RATE_LIMITED" ? e.details?.retry_after_seconds : undefined;\n'
    )
    flags = ["--noEmit", "--strict", "--module", "ESNext", "--moduleResolution", "bundler", "--target", "ES2022"]
    tsc(*flags, "--lib", "ES2022,DOM", "app.ts", cwd=app, expect_success=True)
    script = "console.log(Object.keys(await import('@augeo/auth-client')))"
    exported = node("--input-type=module", "-e", script, cwd=app)
    assert "createAuthClient" in exported and "AuthError" in exported
