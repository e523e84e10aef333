"""Running this project's Python in a child process, as an operator or the Functions host would.

A child process is how a test sees what a fresh interpreter sees: an import
with no settings, a CLI command's own stdout and stderr and its exit status.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from tests.support import ROOT


def run(
    *command: str | Path, env: Mapping[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """``command`` from the repository's root, to its end; its output captured as text.

    ``env`` replaces the environment (the test's own when None). A non-zero
    exit is returned, not raised: the tests assert on it.
    """
    return subprocess.run(
        [str(part) for part in command],
        cwd=ROOT,
        env=dict(os.environ if env is None else env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def run_python(
    *args: str, env: Mapping[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """``python <args>`` with this interpreter (see :func:`run`)."""
    return run(sys.executable, *args, env=env, timeout=timeout)


def run_cli(*args: str, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m shared.cli <args>``: an operator's command."""
    return run_python("-m", "shared.cli", *args, env=env)
