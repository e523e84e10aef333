"""Deferred imports for the triggers, so that importing function_app stays cheap.

The Functions host imports function_app on every cold start just to index the
functions; the services (SQLAlchemy, Redis, bcrypt) are needed only when a
request arrives. ``lazy_module`` returns the real module object, loaded by
the standard library's ``importlib.util.LazyLoader`` on first attribute use.
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType


def lazy_module(name: str) -> ModuleType:
    """``name`` as a module that executes on first attribute access."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(name)
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module
