"""A tiny JSON-lines command loop shared by the two in-process workers.

The orchestrator (bench/run.py) starts each side under its own interpreter and
sends one command per line; the worker answers one JSON line. The worker's
real stdout is kept for answers and fd 1 is pointed at stderr, so anything the
app prints or logs cannot corrupt the protocol.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any


def serve(handlers: dict[str, Callable[..., Any]]) -> None:
    answers = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    answers.write(json.dumps({"ready": True}) + "\n")
    for line in sys.stdin:
        if not line.strip():
            continue
        message = json.loads(line)
        cmd = message.pop("cmd")
        try:
            result = handlers[cmd](**message)
            answers.write(json.dumps({"ok": True, "result": result}) + "\n")
        except Exception:
            answers.write(json.dumps({"ok": False, "error": traceback.format_exc()}) + "\n")
        if cmd == "exit":
            break


def timed(call: Callable[[], Any], n: int) -> list[float]:
    """Latency in seconds of ``n`` sequential calls."""
    out = []
    for _ in range(n):
        started = time.perf_counter()
        call()
        out.append(time.perf_counter() - started)
    return out
