"""What the tests share besides fixtures: helpers (one module per concern), the contract
and infrastructure scripts run in their own virtualenvs, the vendored JSON schemas.

Fixtures live in the conftest files: tests/conftest.py (the settings of a test run,
nothing that reaches a server) and tests/integration/conftest.py (PostgreSQL, Redis,
the local server, accounts).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # this package is imported by the contract scripts too, in a venv without the app's packages
    import azure.functions as func

# The repository.
ROOT = Path(__file__).resolve().parent.parent.parent

# What the `functions` fixture gives: each registered function by name, as the host calls it.
FunctionsByName = dict[str, Callable[["func.HttpRequest"], "func.HttpResponse"]]
