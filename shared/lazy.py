"""Deferred imports for the triggers, so that importing function_app stays cheap.

The Functions host imports function_app on every cold start just to index the
functions; the services (SQLAlchemy, Redis, bcrypt) are needed only when a
request arrives. ``lazy_module`` returns a stand-in that imports the real
module on first attribute access through ``importlib.import_module``, whose
per-module import lock makes concurrent first requests wait for a fully
executed module. (``importlib.util.LazyLoader`` does not: on Python 3.11 a
second thread can see a half-executed module, which the benchmark caught as
500s on a cold server's concurrent first logins.)
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class _DeferredModule(ModuleType):
    """Stands in for a module until something is read from it."""

    def __getattr__(self, attribute: str) -> Any:
        module = self.__dict__.get("_loaded")
        if module is None:
            module = importlib.import_module(self.__name__)
            self.__dict__["_loaded"] = module
        return getattr(module, attribute)


def lazy_module(name: str) -> ModuleType:
    """``name``, imported on first attribute access (thread-safe)."""
    return _DeferredModule(name)
