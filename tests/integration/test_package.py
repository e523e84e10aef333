"""The deployment package carries the app and nothing a user's machine or CI needs."""

from __future__ import annotations

import zipfile
from pathlib import Path

from devtools.package import build


def test_package_holds_the_app_and_leaves_out_tests_tools_and_secrets(tmp_path: Path) -> None:
    target = tmp_path / "app.zip"
    build(target)
    names = set(zipfile.ZipFile(target).namelist())
    for needed in ("function_app.py", "host.json", "requirements.txt", "functions/auth.py", "shared/config.py"):
        assert needed in names
    assert "shared/data/common-passwords.txt.gz" in names
    for asset in ("swagger-ui-dist/swagger-ui-bundle.js", "redoc/redoc.standalone.js", "redoc/LICENSE"):
        assert f"shared/static/api-docs/{asset}" in names
    assert not any(
        name.startswith(("tests/", "devtools/", "bench/", "clients/", "infra/", ".github/", ".ci/", "docs/"))
        for name in names
    )
    assert not names & {".env", "local.settings.json", "local.settings.json.example", "Makefile", ".gitignore"}
