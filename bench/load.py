"""The HTTP load client: each side's HTTP dialect (Api), keep-alive clients
that sign in untimed and then send timed requests (load), and a cold server's
concurrent first logins (burst). Runs in the harness, under .venv-bench."""

from __future__ import annotations

import http.client
import json
import secrets
import threading
import time
from typing import Any
from urllib.parse import urlencode

from bench.samples import stats
from bench.settings import EMAIL, HOT_HTTP, PASSWORD, STAFF_EMAIL


class Api:
    """One side's HTTP dialect: how to sign in and what each operation sends."""

    def __init__(self, side: str, port: int) -> None:
        self.side = side
        self.port = port
        self.counter = 0
        self.lock = threading.Lock()
        self.run = secrets.token_hex(4)
        self.check_body: dict[str, str] = {}  # from ours' worker: the staff user's question

    def login_request(self, connection: http.client.HTTPConnection, email: str = EMAIL) -> tuple[int, bytes]:
        """The benchmark user's sign-in, in this side's dialect (JSON or form body)."""
        if self.side == "ours":
            body = json.dumps({"email": email, "password": PASSWORD})
            return send(connection, "POST", "/api/v1/auth/login", body, {"Content-Type": "application/json"})
        body = urlencode({"username": EMAIL, "password": PASSWORD})
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        return send(connection, "POST", "/auth/jwt/login", body, headers)

    def me_request(self, connection: http.client.HTTPConnection, access_token: str) -> tuple[int, bytes]:
        path = "/api/v1/users/me" if self.side == "ours" else "/users/me"
        return send(connection, "GET", path, None, {"Authorization": f"Bearer {access_token}"})

    def login(self, connection: http.client.HTTPConnection, email: str = EMAIL) -> dict[str, Any]:
        status, raw = self.login_request(connection, email)
        if status != 200:
            raise RuntimeError(f"{self.side} login {status} {raw[:200]!r}")
        return json.loads(raw)

    def op(self, name: str, connection: http.client.HTTPConnection, session: dict[str, Any]) -> None:
        if name == "login":
            self.login(connection)
            return
        if name == "me":
            status, raw = self.me_request(connection, session["access_token"])
            expect = 200
        elif name == "refresh":
            body = json.dumps({"refresh_token": session["refresh_token"]})
            status, raw = send(connection, "POST", "/api/v1/auth/refresh", body, {"Content-Type": "application/json"})
            expect = 200
            if status == 200:
                session["refresh_token"] = json.loads(raw)["refresh_token"]
        elif name in HOT_HTTP:
            status, raw = self.hot_request(name, connection, session["access_token"])
            expect = 200
        elif name == "register":
            with self.lock:
                self.counter += 1
                number = self.counter
            body = json.dumps(
                {
                    "email": f"http-{self.run}-{number}@example.org",
                    "password": PASSWORD,
                    "first_name": "A",
                    "last_name": "B",
                }
            )
            status, raw = send(connection, "POST", "/api/v1/auth/register", body, {"Content-Type": "application/json"})
            expect = 201
        else:
            raise ValueError(name)
        if status != expect:
            raise RuntimeError(f"{self.side} {name} {status} {raw[:200]!r}")

    def hot_request(self, name: str, connection: http.client.HTTPConnection, access_token: str) -> tuple[int, bytes]:
        """GET /api/v1/roles (the benchmark user) or POST /api/v1/authz/check (the staff user)."""
        headers = {"Authorization": f"Bearer {access_token}"}
        if name == "roles":
            return send(connection, "GET", "/api/v1/roles", None, headers)
        headers["Content-Type"] = "application/json"
        return send(connection, "POST", "/api/v1/authz/check", json.dumps(self.check_body), headers)


def send(
    connection: http.client.HTTPConnection, method: str, path: str, body: str | None, headers: dict[str, str]
) -> tuple[int, bytes]:
    headers = {"User-Agent": "augeo-bench/1.0", **headers}
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    return response.status, response.read()


def load(api: Api, name: str, clients: int, per_client: int) -> dict[str, Any]:
    """``clients`` keep-alive connections, each signed in first (untimed), then
    ``per_client`` requests each; latency per request and throughput over the wall time."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors: list[BaseException] = []
    ready = threading.Barrier(clients + 1)
    go = threading.Event()

    def client(index: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", api.port, timeout=120)
        try:
            session = api.login(connection, STAFF_EMAIL if name == "check" else EMAIL) if name in SIGNED_IN else {}
        except BaseException as error:
            errors.append(error)
            session = {}
        ready.wait()
        go.wait()
        try:
            for _ in range(per_client):
                started = time.perf_counter()
                api.op(name, connection, session)
                latencies[index].append(time.perf_counter() - started)
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    ready.wait()
    started = time.perf_counter()
    go.set()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"{api.side} {name}: {errors[0]!r}")
    samples = [x for per in latencies for x in per]
    return {"samples": samples, "wall_s": wall, "count": len(samples)}


# Operations whose clients sign in (untimed) before their timed requests.
SIGNED_IN = ("me", "refresh", *HOT_HTTP)


def burst(api: Api, clients: int) -> dict[str, int]:
    """``clients`` concurrent first logins on a fresh server: how many of each status."""
    statuses: list[int] = []
    ready = threading.Barrier(clients)

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", api.port, timeout=120)
        ready.wait()
        try:
            status, _ = api.login_request(connection)
            statuses.append(status)
        finally:
            connection.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {str(code): statuses.count(code) for code in sorted(set(statuses))}


def merge_http(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """One operation's loads, one per round: latency percentiles, and requests over wall time (all, and per round)."""
    samples = [x for part in parts for x in part["samples"]]
    count = sum(part["count"] for part in parts)
    wall = sum(part["wall_s"] for part in parts)
    out = stats(samples)
    out["throughput_per_s"] = count / wall if wall else 0.0
    out["rounds_throughput_per_s"] = [part["count"] / part["wall_s"] for part in parts]
    out.pop("per_s", None)
    return out
