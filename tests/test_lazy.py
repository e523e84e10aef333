"""Deferred service imports are safe under concurrent first requests."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tests.conftest import ROOT

_PROBE = textwrap.dedent(
    """
    import sys, threading
    from shared.lazy import lazy_module
    authentication = lazy_module("shared.services.authentication")
    assert "sqlalchemy" not in sys.modules, "nothing heavy is imported before first use"
    barrier = threading.Barrier(16)
    failures = []

    def first_request():
        barrier.wait()
        try:
            authentication.login
            authentication.authenticate
        except AttributeError as error:
            failures.append(error)

    threads = [threading.Thread(target=first_request) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(len(failures))
    """
)


def test_concurrent_first_use_sees_a_fully_imported_module() -> None:
    for _ in range(3):  # a fresh interpreter each time: the module must be cold
        done = subprocess.run(
            [sys.executable, "-c", _PROBE], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "0"
