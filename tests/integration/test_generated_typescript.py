"""A frontend team's view of the contract: TypeScript generated from the served /openapi.json with
openapi-typescript's default options, and a strict-mode program written against it.

tests/support/typescript/web_app.ts registers with only the required fields, PATCHes one
profile field alone, narrows the login's answer on ``status``, switches exhaustively on the
login's 401/403 codes and reads a 429's ``retry_after_seconds`` without a cast; it must
compile, and the same program with one code misspelt must not. openapi-typescript and
TypeScript are the web client's (clients/typescript, pinned by its package-lock.json): one
set of pins for what the client and this test generate. Without node and npm these tests
are skipped, saying so (they fail in CI, where node is installed).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest

from tests.support import ROOT
from tests.support.node_tools import NODE, client_package, run, tsc

PROGRAM = ROOT / "tests" / "support" / "typescript" / "web_app.ts"
STRICT = ["--strict", "--noEmit", "--module", "ESNext", "--moduleResolution", "bundler", "--target", "ES2022"]
CORRECT = '"EMAIL_NOT_VERIFIED":'
MISSPELT = '"EMAIL_NOT_VERIFED":'


@pytest.fixture(scope="module")
def generated(base_url: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with openapi.d.ts, generated from the document the server serves, and the program."""
    package = client_package()
    folder = tmp_path_factory.mktemp("web-app")
    document = folder / "openapi.json"
    document.write_bytes(httpx.get(f"{base_url}/openapi.json").raise_for_status().content)
    cli = package / "node_modules" / "openapi-typescript" / "bin" / "cli.js"
    assert NODE
    run([NODE, str(cli), str(document), "--output", str(folder / "openapi.d.ts")], cwd=folder)
    shutil.copy(PROGRAM, folder / PROGRAM.name)
    return folder


def _compile(folder: Path, program: str, *, expect_success: bool) -> str:
    return tsc(*STRICT, program, cwd=folder, expect_success=expect_success)


@pytest.mark.slow
def test_a_strict_web_app_compiles_against_the_generated_types(generated: Path) -> None:
    assert CORRECT in PROGRAM.read_text()
    _compile(generated, PROGRAM.name, expect_success=True)


@pytest.mark.slow
def test_a_misspelt_error_code_does_not_compile(generated: Path) -> None:
    (generated / "misspelt.ts").write_text(PROGRAM.read_text().replace(CORRECT, MISSPELT))
    output = _compile(generated, "misspelt.ts", expect_success=False)
    assert "TS2678" in output and "EMAIL_NOT_VERIFED" in output, output
