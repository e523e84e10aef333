# ruff: noqa: PLC0415  (the peer is imported inside the worker, timed)
"""The peer, in-process: the fastapi-users ASGI app called directly (a minimal
ASGI scope, no server, no HTTP client), under .venv-bench. Driven by bench/run.py.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.worker_common import serve  # noqa: E402

EMAIL = os.environ.get("BENCH_EMAIL", "bench-user@example.org")
PASSWORD = os.environ.get("BENCH_PASSWORD", "Gala-night-2026-bench")
loop = asyncio.new_event_loop()
state: dict[str, Any] = {}


async def call(method: str, path: str, headers: dict[str, str], body: bytes = b"") -> tuple[int, bytes]:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("203.0.113.7", 50000),
        "server": ("localhost", 80),
    }
    sent = False
    status = 0
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await state["app"](scope, receive, send)
    return status, b"".join(chunks)


async def _login() -> dict[str, Any]:
    body = urlencode({"username": EMAIL, "password": PASSWORD}).encode()
    headers = {"content-type": "application/x-www-form-urlencoded", "content-length": str(len(body))}
    status, raw = await call("POST", "/auth/jwt/login", headers, body)
    if status != 200:
        raise RuntimeError(f"peer login {status} {raw[:200]!r}")
    return json.loads(raw)


async def _me() -> None:
    status, raw = await call("GET", "/users/me", {"authorization": f"Bearer {state['access']}"})
    if status != 200:
        raise RuntimeError(f"peer me {status} {raw[:200]!r}")


OPS = {"login": _login, "me": _me}


def setup() -> dict[str, Any]:
    started = time.perf_counter()
    from bench import peer_app

    imported = time.perf_counter() - started
    state["app"] = peer_app.app
    loop.run_until_complete(peer_app.create_schema_and_user(EMAIL, PASSWORD))
    state["access"] = loop.run_until_complete(_login())["access_token"]
    return {"import_in_worker_s": imported}


def inproc(op: str, n: int) -> list[float]:
    async def run() -> list[float]:
        out = []
        for _ in range(n):
            started = time.perf_counter()
            await OPS[op]()
            out.append(time.perf_counter() - started)
        return out

    return loop.run_until_complete(run())


def pool_policy(ping_after_idle_seconds: float | None) -> None:
    """Rebuild the peer's pool: ping a connection idle that long (0: every checkout of a used one;
    None: PEER_PING_AFTER_IDLE_SECONDS)."""
    from bench import peer_app

    loop.run_until_complete(peer_app.use_pool_policy(ping_after_idle_seconds))


def profile(op: str, n: int, path: str) -> str:
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.0002, async_mode="disabled")
    profiler.start()
    inproc(op, n)
    profiler.stop()
    Path(path).write_text(profiler.output_text(unicode=False, color=False))
    return path


if __name__ == "__main__":
    serve({"setup": setup, "inproc": inproc, "pool_policy": pool_policy, "profile": profile, "exit": lambda: None})
