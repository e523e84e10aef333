"""Node and npm for the tests of the TypeScript client (clients/typescript).

Outside CI a machine without node and npm skips these tests and says why
(`make test` says so too); in CI, where .ci/run installs them, they fail.
The package's devDependencies come from the npm registry with `npm ci`, once,
when node_modules is missing or older than package-lock.json.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support import ROOT

CLIENT_DIR = ROOT / "clients" / "typescript"
NODE = shutil.which("node")
NPM = shutil.which("npm")


def client_package() -> Path:
    """The client's folder with its devDependencies installed (skipped, or failed in CI, without node)."""
    if not (NODE and NPM):
        message = "node and npm are needed for the TypeScript client's tests (Debian packages nodejs and npm)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    marker = CLIENT_DIR / "node_modules" / ".package-lock.json"
    lock = CLIENT_DIR / "package-lock.json"
    if not marker.exists() or marker.stat().st_mtime < lock.stat().st_mtime:
        run([NPM, "ci", "--no-audit", "--no-fund"])
    return CLIENT_DIR


def run(command: list[str], *, cwd: Path = CLIENT_DIR, **env: str) -> str:
    """Run a command of the package; its output is the assertion message when it fails."""
    environment = {**os.environ, **env}
    done = subprocess.run(command, check=False, cwd=cwd, capture_output=True, text=True, env=environment, timeout=600)
    assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def node(*args: str, cwd: Path = CLIENT_DIR, **env: str) -> str:
    assert NODE
    return run([NODE, *args], cwd=cwd, **env)


def tsc(*args: str, cwd: Path, expect_success: bool) -> str:
    """The client's TypeScript compiler (pinned by its package-lock.json) on ``args``: its output,
    after asserting that it succeeded or failed as ``expect_success`` says."""
    assert NODE
    compiler = CLIENT_DIR / "node_modules" / "typescript" / "bin" / "tsc"
    command = [NODE, str(compiler), *args]
    done = subprocess.run(command, check=False, cwd=cwd, capture_output=True, text=True, timeout=600)
    output = done.stdout + done.stderr
    assert (done.returncode == 0) is expect_success, output
    return output
