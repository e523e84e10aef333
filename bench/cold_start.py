# ruff: noqa: S603  (starts fresh processes of each side)
"""Cold start, in fresh processes of each side: the import of the app, process
start to the first /health, and process start to the first real request (a
login, and a /users/me with a token an earlier process issued). The sides take
turns round by round, so the neighbours' load falls on all of them alike."""

from __future__ import annotations

import http.client
import json
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.load import Api
from bench.samples import spread
from bench.settings import ROOT, free_port
from bench.sides import ours_server_command, peer_server_command, start_ours, start_peer, stop_server

IMPORT_SNIPPET = (
    "import sys, time; sys.path.insert(0, '.'); t = time.perf_counter(); import {module}; "
    "print(time.perf_counter() - t)"
)


def import_time(python: str, module: str, env: dict[str, str], cwd: Path = ROOT) -> tuple[float, float]:
    started = time.perf_counter()
    out = subprocess.run(
        [python, "-c", IMPORT_SNIPPET.format(module=module)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return float(out.strip().splitlines()[-1]), time.perf_counter() - started


@dataclass(frozen=True)
class Importer:
    """One side's import in the import rows: its interpreter, module, environment and tree."""

    name: str
    python: str
    module: str
    env: dict[str, str]
    cwd: Path = ROOT


def import_times(importers: list[Importer], runs: int) -> dict[str, Any]:
    """``import <module>`` timed inside ``runs`` fresh processes per side, sides interleaved."""
    times: dict[str, dict[str, list[float]]] = {side.name: {"import_s": [], "process_s": []} for side in importers}
    for _ in range(runs):
        for side in importers:
            imported, process = import_time(side.python, side.module, side.env, side.cwd)
            times[side.name]["import_s"].append(imported)
            times[side.name]["process_s"].append(process)
    return {
        name: {
            "median_import_s": statistics.median(v["import_s"]),
            "median_process_s": statistics.median(v["process_s"]),
            "runs": v["import_s"],
        }
        for name, v in times.items()
    }


def first_health(env_ours: dict[str, str], env_peer: dict[str, str], runs: int) -> dict[str, Any]:
    """Process start to the first 200 from /health, ``runs`` fresh servers per side, interleaved."""
    health: dict[str, list[float]] = {"ours": [], "peer": []}
    for _ in range(runs):
        for side, start, env in (("ours", start_ours, env_ours), ("peer", start_peer, env_peer)):
            process, seconds = start(env, free_port())
            stop_server(process)
            health[side].append(seconds)
    return {side: {"median_s": statistics.median(v), "runs": v} for side, v in health.items()}


@dataclass(frozen=True)
class Side:
    """A server under test in the first-request rows: its HTTP dialect, tree and environment."""

    name: str  # "ours", "peer" or "variant"
    dialect: str  # "ours" or "peer" (see Api)
    cwd: Path
    env: dict[str, str]

    def command(self, port: int) -> list[str]:
        return peer_server_command(port) if self.dialect == "peer" else ours_server_command()

    def server_env(self, port: int) -> dict[str, str]:
        return self.env if self.dialect == "peer" else {**self.env, "PORT": str(port)}


Ask = Callable[[Api, http.client.HTTPConnection], tuple[int, bytes]]


def first_answer(side: Side, ask: Ask) -> tuple[float, bytes, list[int]]:
    """Start ``side`` as a fresh process and send ``ask`` until it answers 200.

    Returns the seconds from Popen to that 200, its body, and the statuses of
    the answers other than 200 that came first (a refused connection is not an
    answer: the server is not listening yet). The process is stopped before
    returning.
    """
    port = free_port()
    api = Api(side.dialect, port)
    started = time.perf_counter()
    process = subprocess.Popen(
        side.command(port),
        cwd=side.cwd,
        env=side.server_env(port),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    others: list[int] = []
    try:
        while time.perf_counter() < started + 60:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            try:
                status, raw = ask(api, connection)
            except OSError:
                if process.poll() is not None:
                    raise RuntimeError(f"{side.name} server exited with {process.returncode}") from None
                time.sleep(0.002)
                continue
            finally:
                connection.close()
            if status == 200:
                return time.perf_counter() - started, raw, others
            others.append(status)
            time.sleep(0.002)
        raise RuntimeError(f"{side.name}: no 200 within 60 s")
    finally:
        stop_server(process)


def first_requests(sides: list[Side], runs: int) -> dict[str, Any]:
    """Process start to the first successful login, and to the first successful
    GET /users/me with a token that an earlier process issued (a new instance's
    first real request: the token exists, the new process must verify it).

    Each round starts every side afresh for the login, then every side afresh for
    /users/me with the token from its login of that round. The order of the sides
    rotates from round to round, so the neighbours' load falls on all of them
    alike. Round 0 is untimed (page cache, bytecode of a fresh tree).
    """
    times: dict[str, dict[str, list[float]]] = {side.name: {"login": [], "me": []} for side in sides}
    others: dict[str, list[int]] = {name: [] for name in times}
    for round_number in range(runs + 1):
        shift = round_number % len(sides)
        order = sides[shift:] + sides[:shift]
        tokens: dict[str, str] = {}
        for measure in ("login", "me"):
            for side in order:
                if measure == "login":
                    seconds, raw, extra = first_answer(side, lambda api, c: api.login_request(c))
                    tokens[side.name] = json.loads(raw)["access_token"]
                else:
                    token = tokens[side.name]
                    seconds, _, extra = first_answer(side, lambda api, c, t=token: api.me_request(c, t))
                if round_number:
                    times[side.name][measure].append(seconds)
                    others[side.name] += extra
    return {
        name: {"login": spread(v["login"]), "me": spread(v["me"]), "non_200_before_first_200": others[name]}
        for name, v in times.items()
    }
