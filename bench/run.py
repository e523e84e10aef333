# ruff: noqa: E501, S602, S603, PLC0415, PLR0912, PLR0915  (a benchmark script: subprocesses, long table lines)
"""`make bench`: cold start, per-request cost, limits, round trips, memory, and
the fastapi-users peer, in one run against real PostgreSQL and Redis.

Runs under .venv-bench (the load client, the chart, the peer). Ours always runs
under the app's .venv, as subprocesses: bench/ours_worker.py (in-process calls)
and `python -m devtools.local_server` (HTTP). The peer runs under .venv-bench:
bench/peer_worker.py (in-process ASGI calls) and uvicorn (HTTP). Measurements
of the two sides are interleaved, round by round.

Environment: DATABASE_URL / REDIS_URL (else 127.0.0.1:5432 / :6379, else the
embedded servers of devtools/services.py), BCRYPT_ROUNDS (default 12, both
sides), BENCH_QUICK=1 (smoke run), BENCH_CLIENTS (HTTP clients, default 8),
BENCH_PROFILE=1 (pyinstrument profiles into bench/results/), BENCH_DATABASE
(the database dropped and created for ours, default augeo_bench; the peer's is
<that>_peer), BENCH_VARIANT=<directory> (another checkout of the repository,
e.g. a variant of ours: its import and first-request cold start are measured
beside ours, interleaved, under the same .venv and database).
Writes bench/results/results.json and bench/results/benchmark.png.
`bench/run.py --tokens` prints only the access-token sign/verify table.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import platform
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
OURS_PY = str(ROOT / ".venv" / "bin" / "python")
PEER_PY = sys.executable
QUICK = os.environ.get("BENCH_QUICK", "") not in ("", "0")
ROUNDS = int(os.environ.get("BCRYPT_ROUNDS", "12"))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "8"))
EMAIL = "bench-user@example.org"
STAFF_EMAIL = "bench-staff@example.org"  # assigned to one event: the check route's caller
PASSWORD = "Gala-night-2026-bench"
BIG = "1000000000"

# The hot paths only ours has (fastapi-users has no check route and no roles list):
# measured in the same interleaved rounds, shown as ours-only rows.
HOT_INPROC = ("roles", "check", "check_uncached")
HOT_HTTP = ("roles", "check")

# Iterations: (full, quick)
N = {
    "import_runs": (10, 3),
    "health_runs": (5, 2),
    "first_request_runs": (20, 2),  # fresh processes per side and measure (+1 untimed round)
    "rounds": (4, 2),  # interleaved rounds, ours then peer
    "inproc_login": (3, 1),
    "inproc_me": (500, 100),
    "inproc_refresh": (100, 20),
    "inproc_register": (3, 1),
    "inproc_roles": (500, 100),
    "inproc_check": (500, 100),
    "inproc_check_uncached": (200, 50),
    "http_rounds": (3, 1),
    "http_me": (150, 25),  # per client per round
    "http_login": (2, 1),
    "http_refresh": (40, 8),
    "http_register": (2, 1),
    "http_roles": (150, 25),
    "http_check": (150, 25),
    "bcrypt": (8, 4),
    "limit_ops": (2000, 300),
    "token_ops": (2000, 300),
    "mem_first": (1000, 1000),
    "mem_total": (10000, 3000),
}


def n(key: str) -> int:
    return N[key][1 if QUICK else 0]


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stats(samples: list[float]) -> dict[str, Any]:
    ordered = sorted(samples)
    if not ordered:
        return {"n": 0}
    return {
        "n": len(ordered),
        "p50_ms": statistics.median(ordered) * 1000,
        "p95_ms": ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))] * 1000,
        "mean_ms": statistics.fmean(ordered) * 1000,
        "per_s": len(ordered) / sum(ordered) if sum(ordered) else 0.0,
    }


# -- services and environments -------------------------------------------------------------


class Services:
    def __init__(self) -> None:
        self.embedded: subprocess.Popen[str] | None = None
        database_url = os.environ.get("DATABASE_URL")
        redis_url = os.environ.get("REDIS_URL")
        want = []
        if not database_url and not reachable("127.0.0.1", 5432):
            want.append("postgres")
        if not redis_url and not reachable("127.0.0.1", 6379):
            want.append("redis")
        embedded: dict[str, str] = {}
        if want:
            log(f"starting embedded {', '.join(want)} (devtools/services.py)")
            self.embedded = subprocess.Popen(
                [OURS_PY, str(ROOT / "bench" / "embedded.py"), *want],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                cwd=ROOT,
            )
            assert self.embedded.stdout is not None
            embedded = json.loads(self.embedded.stdout.readline())
        base = database_url or embedded.get("database_url") or "postgresql+pg8000://postgres@127.0.0.1:5432/postgres"
        url = make_url(base)
        self.ours_db = os.environ.get("BENCH_DATABASE", "augeo_bench")
        self.peer_db = self.ours_db + "_peer"
        self.database_url = url.set(database=self.ours_db).render_as_string(hide_password=False)
        query = dict(url.query)
        peer = url.set(drivername="postgresql+asyncpg", database=self.peer_db, query={})
        if "unix_sock" in query:  # pg8000's socket path -> asyncpg's host=<directory>
            peer = peer.set(host=None, query={"host": str(Path(str(query["unix_sock"])).parent)})
        self.peer_database_url = peer.render_as_string(hide_password=False)
        self.redis_url = redis_url or embedded.get("redis_url") or "redis://127.0.0.1:6379/14"
        self.flush_redis = not redis_url  # our own database (14 locally, or the embedded one)

    def close(self) -> None:
        if self.embedded:
            assert self.embedded.stdin is not None
            self.embedded.stdin.close()
            self.embedded.wait(timeout=30)


def throwaway_encryption_key() -> str:
    """A Fernet key for DATA_ENCRYPTION_KEYS: the settings require one, the benchmark stores no secret for long."""
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def ours_env(services: Services, email_dir: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHONHOME"))}
    env.update(
        ENVIRONMENT="production",
        LOG_LEVEL="WARNING",
        DATABASE_URL=services.database_url,
        REDIS_URL=services.redis_url,
        JWT_SECRET_KEY=SECRET,
        JWT_SIGNING_KEYS=ours_signing_key(),
        DATA_ENCRYPTION_KEYS=throwaway_encryption_key(),
        BCRYPT_ROUNDS=str(ROUNDS),
        EMAIL_BACKEND="file",
        EMAIL_FILE_DIR=email_dir,
        BENCH_EMAIL=EMAIL,
        BENCH_STAFF_EMAIL=STAFF_EMAIL,
        BENCH_PASSWORD=PASSWORD,
        PYTHONDONTWRITEBYTECODE="0",
    )
    for name in ("LOGIN_PER_IP", "LOGIN_PER_ACCOUNT", "REGISTER_PER_IP", "EMAIL_PER_IP", "EMAIL_PER_ADDRESS"):
        env[f"RATE_LIMIT_{name}"] = BIG
    env.update(hot_path_limits())
    return env


def hot_path_limits() -> dict[str, str]:
    """The benchmark signs the same two users in hundreds of times and keeps every session:
    no sign-in limit, no refresh limit, and no session evicted for room."""
    return {
        "RATE_LIMIT_LOGIN_SUCCESS_PER_ACCOUNT": BIG,
        "RATE_LIMIT_REFRESH_PER_IP": BIG,
        "MAX_SESSIONS_PER_USER": BIG,
    }


def peer_env(services: Services) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        PEER_DATABASE_URL=services.peer_database_url,
        JWT_SECRET_KEY=SECRET,
        BCRYPT_ROUNDS=str(ROUNDS),
        BENCH_EMAIL=EMAIL,
        BENCH_PASSWORD=PASSWORD,
    )
    return env


SECRET = secrets.token_urlsafe(48)


def variant_tree() -> Path | None:
    """BENCH_VARIANT: another checkout of the repository, measured beside ours."""
    value = os.environ.get("BENCH_VARIANT")
    if not value:
        return None
    tree = Path(value).resolve()
    if not (tree / "function_app.py").is_file():
        sys.exit(f"BENCH_VARIANT={value}: no function_app.py there")
    return tree


def ours_signing_key() -> str:
    """An ES256 key made as operators make one: ours runs with ENVIRONMENT=production, which refuses dev keys."""
    command = [OURS_PY, "-m", "shared.cli", "new-signing-key"]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True).stdout


class Worker:
    """A JSON-lines worker subprocess (bench/ours_worker.py or bench/peer_worker.py)."""

    def __init__(self, python: str, script: str, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [python, str(ROOT / "bench" / script)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=env,
        )
        assert json.loads(self._readline()).get("ready")

    def _readline(self) -> str:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"worker exited with {self.process.wait()}")
        return line

    def __call__(self, cmd: str, **args: Any) -> Any:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"cmd": cmd, **args}) + "\n")
        self.process.stdin.flush()
        answer = json.loads(self._readline())
        if not answer["ok"]:
            raise RuntimeError(answer["error"])
        return answer["result"]

    def close(self) -> None:
        try:
            self("exit")
        finally:
            self.process.wait(timeout=30)


# -- cold start --------------------------------------------------------------------------------

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


def start_server(command: list[str], env: dict[str, str], port: int) -> tuple[subprocess.Popen[bytes], float]:
    """Start a server process; return it and the seconds until its first /health answer."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = started + 60
    while time.perf_counter() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/health")
            response = connection.getresponse()
            response.read()
            connection.close()
            if response.status == 200:
                return process, time.perf_counter() - started
        except OSError:
            pass
        if process.poll() is not None:
            raise RuntimeError(f"server {command} exited with {process.returncode}")
        time.sleep(0.002)
    process.kill()
    raise RuntimeError(f"server {command} did not answer /health")


def spread(samples: list[float]) -> dict[str, Any]:
    """Median, quartiles and extremes of a few timings (seconds), and the timings."""
    q1, _, q3 = statistics.quantiles(samples, n=4, method="inclusive") if len(samples) > 1 else (samples[0],) * 3
    return {
        "n": len(samples),
        "median_s": statistics.median(samples),
        "q1_s": q1,
        "q3_s": q3,
        "min_s": min(samples),
        "max_s": max(samples),
        "runs": samples,
    }


def stop_server(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def ours_server_command() -> list[str]:
    return [OURS_PY, "-m", "devtools.local_server"]


def peer_server_command(port: int) -> list[str]:
    return [
        PEER_PY, "-m", "uvicorn", "bench.peer_app:app", "--host", "127.0.0.1", "--port", str(port),
        "--no-access-log", "--log-level", "warning", "--workers", "1",
    ]  # fmt: skip


# -- HTTP load -----------------------------------------------------------------------------------


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
            api.login(connection)
            statuses.append(200)
        except RuntimeError as error:
            statuses.append(int(str(error).split()[2]))
        finally:
            connection.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {str(code): statuses.count(code) for code in sorted(set(statuses))}


# -- cold start: a new instance's first real request -------------------------------------------


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


def merge_http(parts: list[dict[str, Any]]) -> dict[str, Any]:
    samples = [x for part in parts for x in part["samples"]]
    count = sum(part["count"] for part in parts)
    wall = sum(part["wall_s"] for part in parts)
    out = stats(samples)
    out["throughput_per_s"] = count / wall if wall else 0.0
    out.pop("per_s", None)
    return out


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


# -- the run --------------------------------------------------------------------------------------


def machine(pg_version: str) -> dict[str, Any]:
    def sh(command: str) -> str:
        try:
            return subprocess.run(
                command, shell=True, check=False, capture_output=True, text=True, timeout=10
            ).stdout.strip()
        except Exception:
            return ""

    ours_python = sh(f"{OURS_PY} --version")
    return {
        "nproc": sh("nproc"),
        "loadavg_at_start": Path("/proc/loadavg").read_text().strip(),
        "lscpu": sh("lscpu | head -n 15"),
        "memory": sh("free -h | head -n 2"),
        "kernel": platform.release(),
        "python_ours": ours_python,
        "python_peer": platform.python_version(),
        "postgresql": pg_version,
        "redis": sh("redis-server --version") or sh("redis-cli INFO server | grep redis_version"),
    }


def main() -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    begun = time.perf_counter()
    if not Path(OURS_PY).exists():
        sys.exit("the app's .venv is missing: run `make test` (or `make run`) first")
    log(f"mode {'quick' if QUICK else 'full'}, BCRYPT_ROUNDS={ROUNDS}, {CLIENTS} HTTP clients")
    services = Services()
    email_dir = tempfile.mkdtemp(prefix="augeo-bench-emails-")
    env_ours = ours_env(services, email_dir)
    env_peer = peer_env(services)
    results: dict[str, Any] = {"mode": "quick" if QUICK else "full", "bcrypt_rounds": ROUNDS, "clients": CLIENTS}
    variant = variant_tree()
    if variant:
        results["variant"] = str(variant)
        log(f"variant of ours: {variant}")
    servers: list[subprocess.Popen[bytes]] = []
    workers: list[Worker] = []
    try:
        log("creating and migrating the benchmark databases")
        pg_version = (
            subprocess.run(
                [OURS_PY, str(ROOT / "bench" / "prepare_db.py"), services.database_url, services.peer_db],
                cwd=ROOT,
                env=env_ours,
                capture_output=True,
                text=True,
                check=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        if services.flush_redis:
            subprocess.run(
                [OURS_PY, "-c", f"import redis; redis.Redis.from_url({services.redis_url!r}).flushdb()"], check=True
            )
        results["machine"] = machine(pg_version)
        results["services"] = {"database": services.database_url.split("@")[-1], "redis": services.redis_url}

        log("cold start: import of each app in fresh processes")
        importers = [
            ("ours", OURS_PY, "function_app", env_ours, ROOT),
            ("peer", PEER_PY, "bench.peer_app", env_peer, ROOT),
        ]
        if variant:
            importers.append(("variant", OURS_PY, "function_app", env_ours, variant))
            import_time(OURS_PY, "function_app", env_ours, variant)  # untimed: writes the tree's bytecode
        imports: dict[str, dict[str, list[float]]] = {s[0]: {"import_s": [], "process_s": []} for s in importers}
        for _ in range(n("import_runs")):
            for side, python, module, env, cwd in importers:
                imported, process = import_time(python, module, env, cwd)
                imports[side]["import_s"].append(imported)
                imports[side]["process_s"].append(process)
        results["import"] = {
            side: {
                "median_import_s": statistics.median(v["import_s"]),
                "median_process_s": statistics.median(v["process_s"]),
                "runs": v["import_s"],
            }
            for side, v in imports.items()
        }

        log("cold start: process start to first /health answer")
        health: dict[str, list[float]] = {"ours": [], "peer": []}
        for _ in range(n("health_runs")):
            port = free_port()
            process, seconds = start_server(ours_server_command(), {**env_ours, "PORT": str(port)}, port)
            stop_server(process)
            health["ours"].append(seconds)
            port = free_port()
            process, seconds = start_server(peer_server_command(port), env_peer, port)
            stop_server(process)
            health["peer"].append(seconds)
        results["first_health"] = {s: {"median_s": statistics.median(v), "runs": v} for s, v in health.items()}

        log("in-process workers: set-up")
        ours = Worker(OURS_PY, "ours_worker.py", env_ours)
        workers.append(ours)
        peer = Worker(PEER_PY, "peer_worker.py", env_peer)
        workers.append(peer)
        ours("setup")
        hot_setup = ours("setup_hot_paths")
        peer("setup")
        # Untimed warm-up of every measured operation: first calls build pydantic
        # validators and fill SQLAlchemy's statement caches.
        for op, count in (("login", 1), ("me", 50), ("refresh", 10), ("register", 1)):
            ours("inproc", op=op, n=count)
            if op in ("login", "me"):
                peer("inproc", op=op, n=count)
        for op in HOT_INPROC:
            ours("inproc_hot", op=op, n=50)

        log("limits: bcrypt, Redis GET, primary-key SELECT")
        raw_limits = ours("limits", bcrypt_n=n("bcrypt"), n=n("limit_ops"))
        one = raw_limits["bcrypt_checkpw_1_thread_s"]
        results["limits"] = {
            "bcrypt_checkpw_per_s_1_thread": len(one) / sum(one),
            "bcrypt_checkpw_per_s_all_cores": raw_limits["bcrypt_checkpw_per_s_all_cores"],
            "bcrypt_threads": raw_limits["bcrypt_threads"],
            "bcrypt_checkpw_ms": statistics.median(one) * 1000,
            "redis_get": stats(raw_limits["redis_get_s"]),
            "pk_select_pool_checkout": stats(raw_limits["pk_select_pool_checkout_s"]),
            "pk_select_held_connection": stats(raw_limits["pk_select_held_connection_s"]),
        }

        log("access tokens: sign and verify per algorithm")
        results["tokens"] = token_costs(ours("token_costs", n=n("token_ops")))

        log("in-process, interleaved rounds")
        samples: dict[str, dict[str, list[float]]] = {"ours": {}, "peer": {}}
        for _ in range(n("rounds")):
            for op in ("login", "me", "refresh", "register"):
                count = n(f"inproc_{op}")
                samples["ours"].setdefault(op, []).extend(ours("inproc", op=op, n=count))
                if op in ("login", "me"):
                    samples["peer"].setdefault(op, []).extend(peer("inproc", op=op, n=count))
            for op in HOT_INPROC:
                samples["ours"].setdefault(op, []).extend(ours("inproc_hot", op=op, n=n(f"inproc_{op}")))
        results["inproc"] = {side: {op: stats(v) for op, v in ops.items()} for side, ops in samples.items()}

        log("round trips")
        results["round_trips"] = ours("roundtrips")

        if os.environ.get("BENCH_PROFILE"):
            log("profiling (pyinstrument)")
            for op, count in (("me", 2000), ("roles", 2000), ("check", 2000), ("refresh", 200), ("login", 5)):
                ours("profile", op=op, n=count, path=str(RESULTS / f"profile-ours-{op}.txt"), site=site_packages())
            peer("profile", op="me", n=2000, path=str(RESULTS / "profile-peer-me.txt"))

        for worker in workers:
            worker.close()
        workers.clear()

        log("cold start: process start to the first login and to the first /users/me")
        sides = [Side("ours", "ours", ROOT, env_ours), Side("peer", "peer", ROOT, env_peer)]
        if variant:
            sides.insert(1, Side("variant", "ours", variant, env_ours))
        results["first_request"] = first_requests(sides, n("first_request_runs"))
        for name, first in results["first_request"].items():
            log(f"  {name}: first login {span(first['login'])}, first /users/me {span(first['me'])}")

        log(f"HTTP, {CLIENTS} clients, interleaved rounds")
        ours_port, peer_port = free_port(), free_port()
        ours_server, _ = start_server(ours_server_command(), {**env_ours, "PORT": str(ours_port)}, ours_port)
        servers.append(ours_server)
        peer_server, _ = start_server(peer_server_command(peer_port), env_peer, peer_port)
        servers.append(peer_server)
        apis = {"ours": Api("ours", ours_port), "peer": Api("peer", peer_port)}
        apis["ours"].check_body = hot_setup["check_body"]
        parts: dict[str, dict[str, list[dict[str, Any]]]] = {"ours": {}, "peer": {}}
        # A cold server's first requests arriving together (both pools empty, nothing
        # cached); report what they answered.
        results["cold_burst"] = {side: burst(apis[side], CLIENTS) for side in ("ours", "peer")}
        for side in ("ours", "peer"):  # then warm both servers one request at a time, untimed
            for op in ("login", "me", "refresh", "register", *HOT_HTTP) if side == "ours" else ("login", "me"):
                load(apis[side], op, 1, 3)
            load(apis[side], "me", 2, 20)
        for _ in range(n("http_rounds")):
            for op in ("me", "login", "refresh", "register", *HOT_HTTP):
                for side in ("ours", "peer"):
                    if side == "peer" and op not in ("me", "login"):
                        continue
                    parts[side].setdefault(op, []).append(load(apis[side], op, CLIENTS, n(f"http_{op}")))
        results["http"] = {side: {op: merge_http(v) for op, v in ops.items()} for side, ops in parts.items()}
        for process in servers:
            stop_server(process)
        servers.clear()

        log("memory: RSS after 1k and 10k /users/me")
        results["memory"] = {}
        for side in ("ours", "peer"):
            port = free_port()
            if side == "ours":
                process, _ = start_server(ours_server_command(), {**env_ours, "PORT": str(port)}, port)
            else:
                process, _ = start_server(peer_server_command(port), env_peer, port)
            servers.append(process)
            api = Api(side, port)
            clients = 4
            load(api, "me", 1, 3)  # one at a time first (see cold_burst)
            start_rss = rss_kib(process.pid)
            load(api, "me", clients, n("mem_first") // clients)
            first = rss_kib(process.pid)
            load(api, "me", clients, (n("mem_total") - n("mem_first")) // clients)
            total = rss_kib(process.pid)
            results["memory"][side] = {
                "rss_start_mib": start_rss / 1024,
                "rss_after_first_mib": first / 1024,
                "rss_after_total_mib": total / 1024,
                "first": n("mem_first"),
                "total": n("mem_total"),
            }
            stop_server(process)
            servers.remove(process)
    finally:
        for worker in workers:
            try:
                worker.close()
            except Exception:
                worker.process.kill()
        for process in servers:
            stop_server(process)
        services.close()
    results["ratios"] = ratios(results)
    results["elapsed_s"] = time.perf_counter() - begun
    (RESULTS / "results.json").write_text(json.dumps(results, indent=2))
    print(render(results))
    chart(results, RESULTS / "benchmark.png")
    log(f"wrote {RESULTS / 'results.json'} and {RESULTS / 'benchmark.png'} in {results['elapsed_s']:.0f} s")


def site_packages() -> str:
    """.venv-bench's site-packages, appended (last) to ours' sys.path only for pyinstrument."""
    import pyinstrument

    return str(Path(pyinstrument.__file__).resolve().parent.parent)


def ratios(r: dict[str, Any]) -> dict[str, Any]:
    """ours / peer: throughput ratios (> 1 means ours is faster) and p50 latency ratios (< 1 means ours is faster)."""
    out: dict[str, Any] = {}
    for op in ("login", "me"):
        o, p = r["inproc"]["ours"][op], r["inproc"]["peer"][op]
        out[f"inproc_{op}_throughput"] = o["per_s"] / p["per_s"]
        out[f"inproc_{op}_p50"] = o["p50_ms"] / p["p50_ms"]
        o, p = r["http"]["ours"][op], r["http"]["peer"][op]
        out[f"http_{op}_throughput"] = o["throughput_per_s"] / p["throughput_per_s"]
        out[f"http_{op}_p50"] = o["p50_ms"] / p["p50_ms"]
    out["import_time"] = r["import"]["ours"]["median_import_s"] / r["import"]["peer"]["median_import_s"]
    out["first_health"] = r["first_health"]["ours"]["median_s"] / r["first_health"]["peer"]["median_s"]
    first = r["first_request"]
    for measure in ("login", "me"):
        out[f"first_{measure}"] = first["ours"][measure]["median_s"] / first["peer"][measure]["median_s"]
        if "variant" in first:
            out[f"first_{measure}_variant_vs_ours"] = (
                first["variant"][measure]["median_s"] / first["ours"][measure]["median_s"]
            )
    return out


def render(r: dict[str, Any]) -> str:
    lines: list[str] = []
    add = lines.append
    lim = r["limits"]
    rt = r["ratios"]
    add(
        f"Augeo Platform API benchmark ({r['mode']} mode, BCRYPT_ROUNDS={r['bcrypt_rounds']}, {r['clients']} HTTP clients)"
    )
    add("")
    add(
        "| in-process (sequential) | ours p50 ms | ours p95 ms | ours /s | peer p50 ms | peer p95 ms | peer /s | ours/peer /s |"
    )
    add("|---|---:|---:|---:|---:|---:|---:|---:|")
    for op in ("login", "me", "refresh", "register", *hot_rows(r, "inproc")):
        o = r["inproc"]["ours"][op]
        p = r["inproc"]["peer"].get(op)
        peer_cells = (
            f"{p['p50_ms']:.2f} | {p['p95_ms']:.2f} | {p['per_s']:.1f} | {o['per_s'] / p['per_s']:.2f}"
            if p
            else "- | - | - | -"
        )
        add(f"| {label(op)} | {o['p50_ms']:.2f} | {o['p95_ms']:.2f} | {o['per_s']:.1f} | {peer_cells} |")
    add("")
    add(
        f"| HTTP ({r['clients']} clients) | ours p50 ms | ours p95 ms | ours req/s | peer p50 ms | peer p95 ms | peer req/s | ours/peer req/s |"
    )
    add("|---|---:|---:|---:|---:|---:|---:|---:|")
    for op in ("login", "me", "refresh", "register", *hot_rows(r, "http")):
        o = r["http"]["ours"][op]
        p = r["http"]["peer"].get(op)
        peer_cells = (
            f"{p['p50_ms']:.2f} | {p['p95_ms']:.2f} | {p['throughput_per_s']:.1f} | {o['throughput_per_s'] / p['throughput_per_s']:.2f}"
            if p
            else "- | - | - | -"
        )
        add(f"| {label(op)} | {o['p50_ms']:.2f} | {o['p95_ms']:.2f} | {o['throughput_per_s']:.1f} | {peer_cells} |")
    add("")
    add("| limit (same run, same cores) | value |")
    add("|---|---:|")
    add(
        f"| bcrypt.checkpw at {r['bcrypt_rounds']} rounds, 1 thread | {lim['bcrypt_checkpw_per_s_1_thread']:.2f} /s ({lim['bcrypt_checkpw_ms']:.0f} ms) |"
    )
    add(f"| bcrypt.checkpw, {lim['bcrypt_threads']} threads | {lim['bcrypt_checkpw_per_s_all_cores']:.2f} /s |")
    add(f"| Redis GET round trip | p50 {lim['redis_get']['p50_ms']:.3f} ms, p95 {lim['redis_get']['p95_ms']:.3f} ms |")
    add(f"| PK SELECT, pool checkout (pre-ping) + rollback | p50 {lim['pk_select_pool_checkout']['p50_ms']:.3f} ms |")
    add(f"| PK SELECT on a held connection | p50 {lim['pk_select_held_connection']['p50_ms']:.3f} ms |")
    add("")
    lines.extend(token_rows(r))
    lines.extend(round_trip_lines(r))
    add("| cold start | ours | peer | ours/peer |")
    add("|---|---:|---:|---:|")
    io, ip = r["import"]["ours"], r["import"]["peer"]
    add(
        f"| import (median of {len(io['runs'])} fresh processes) | {io['median_import_s']:.3f} s | {ip['median_import_s']:.3f} s | {rt['import_time']:.2f} |"
    )
    add(f"| whole process (interpreter + import) | {io['median_process_s']:.3f} s | {ip['median_process_s']:.3f} s | |")
    ho, hp = r["first_health"]["ours"], r["first_health"]["peer"]
    add(
        f"| process start to first /health (median of {len(ho['runs'])}) | {ho['median_s']:.3f} s | {hp['median_s']:.3f} s | {rt['first_health']:.2f} |"
    )
    if "first_request" in r:  # absent from results saved before these rows existed
        lines.extend(first_request_lines(r))
    else:
        add("")
    add(
        "| memory (server RSS) | start | after 1k /users/me | after 10k | growth 1k→10k |"
        if not QUICK
        else "| memory (server RSS) | start | after first | after total | growth |"
    )
    add("|---|---:|---:|---:|---:|")
    for side in ("ours", "peer"):
        m = r["memory"][side]
        add(
            f"| {side} | {m['rss_start_mib']:.1f} MiB | {m['rss_after_first_mib']:.1f} MiB | {m['rss_after_total_mib']:.1f} MiB"
            f" | {m['rss_after_total_mib'] - m['rss_after_first_mib']:+.1f} MiB |"
        )
    add("")
    add(
        f"Cold server, {r['clients']} concurrent first logins: ours {r['cold_burst']['ours']}, peer {r['cold_burst']['peer']} (status: count)"
    )
    add("")
    add("Targets (reported, not asserted):")
    for line in targets(r):
        add(f"- {line}")
    return "\n".join(lines)


def first_request_lines(r: dict[str, Any]) -> list[str]:
    """The cold-start rows to a first login and a first /users/me, and ours vs the variant."""
    lines: list[str] = []
    add = lines.append
    rt, io = r["ratios"], r["import"]["ours"]
    fo, fp = r["first_request"]["ours"], r["first_request"]["peer"]
    for measure, what in (("login", "first login 200"), ("me", "first /users/me 200, token from an earlier process")):
        add(
            f"| process start to {what} (median of {fo[measure]['n']}) | {span(fo[measure])} | {span(fp[measure])} | {rt[f'first_{measure}']:.2f} |"
        )
    add("")
    add("Spans are median (interquartile range) [min-max] of fresh processes, sides interleaved.")
    add("")
    non_200 = {name: first["non_200_before_first_200"] for name, first in r["first_request"].items()}
    add(f"Answers other than 200 before the first 200 (statuses): {non_200}")
    add("")
    if "variant" in r["first_request"]:
        fv, iv = r["first_request"]["variant"], r["import"]["variant"]
        add(f"Variant: {r['variant']}, interleaved with ours round by round.")
        add("")
        add(
            "| cold start, ours vs variant | ours | variant | variant/ours | per round, variant - ours: median; variant faster in |"
        )
        add("|---|---:|---:|---:|---:|")
        add(
            f"| import (median of {len(iv['runs'])}) | {io['median_import_s']:.3f} s | {iv['median_import_s']:.3f} s"
            f" | {iv['median_import_s'] / io['median_import_s']:.2f} | {paired(io['runs'], iv['runs'])} |"
        )
        for measure, what in (("login", "first login"), ("me", "first /users/me")):
            o, v = fo[measure], fv[measure]
            add(
                f"| process start to {what} (median of {o['n']}) | {span(o)} | {span(v)}"
                f" | {v['median_s'] / o['median_s']:.2f} | {paired(o['runs'], v['runs'])} |"
            )
        add("")
    return lines


def span(s: dict[str, Any]) -> str:
    """A spread() as "median (q1-q3) [min-max]" in seconds."""
    return f"{s['median_s']:.3f} s ({s['q1_s']:.3f}-{s['q3_s']:.3f}) [{s['min_s']:.3f}-{s['max_s']:.3f}]"


def paired(ours: list[float], variant: list[float]) -> str:
    """Differences of timings taken in the same round: less exposed to the neighbours' load than the medians."""
    differences = [v - o for o, v in zip(ours, variant, strict=True)]
    faster = sum(d < 0 for d in differences)
    return f"{statistics.median(differences) * 1000:+.0f} ms; {faster} of {len(differences)}"


def token_costs(raw: dict[str, dict[str, list[float]]]) -> dict[str, dict[str, float]]:
    """Per algorithm: p50 and mean microseconds of one sign and one verify (in-process, no I/O)."""
    out = {}
    for algorithm, samples in raw.items():
        sign, verify = stats(samples["sign_s"]), stats(samples["verify_s"])
        out[algorithm] = {
            "sign_us_p50": sign["p50_ms"] * 1000,
            "sign_us_mean": sign["mean_ms"] * 1000,
            "verify_us_p50": verify["p50_ms"] * 1000,
            "verify_us_mean": verify["mean_ms"] * 1000,
            "n": sign["n"],
        }
    return out


def token_rows(r: dict[str, Any]) -> list[str]:
    """The access-token table (absent from results saved before it existed)."""
    if "tokens" not in r:
        return []
    rows = [
        "| access token, in-process (no I/O) | sign µs p50 | sign µs mean | verify µs p50 | verify µs mean |",
        "|---|---:|---:|---:|---:|",
    ]
    notes = {"RS256": " (3072-bit)", "HS256": " (shared secret)", "ES256": " (default)"}
    for algorithm, t in r["tokens"].items():
        rows.append(
            f"| {algorithm}{notes.get(algorithm, '')} | {t['sign_us_p50']:.1f} | {t['sign_us_mean']:.1f}"
            f" | {t['verify_us_p50']:.1f} | {t['verify_us_mean']:.1f} |"
        )
    return [*rows, ""]


def tokens_only() -> None:
    """`bench/run.py --tokens`: only the access-token table; no services, no peer, any venv with SQLAlchemy."""
    env = {
        **os.environ,
        "BCRYPT_ROUNDS": str(ROUNDS),
        "DATABASE_URL": os.environ.get("DATABASE_URL", "postgresql+pg8000://bench@127.0.0.1:5432/unused"),
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/14"),
        "DATA_ENCRYPTION_KEYS": throwaway_encryption_key(),
    }
    worker = Worker(OURS_PY, "ours_worker.py", env)
    try:
        print("\n".join(token_rows({"tokens": token_costs(worker("token_costs", n=n("token_ops")))})))
    finally:
        worker.close()


def label(op: str) -> str:
    return {
        "login": "login",
        "me": "GET /users/me",
        "refresh": "refresh",
        "register": "register",
        "roles": "GET /roles (caller's state only)",
        "check": "POST /authz/check (state cached)",
        "check_uncached": "POST /authz/check (state not cached)",
    }[op]


def hot_rows(r: dict[str, Any], kind: str) -> list[str]:
    """The ours-only rows a run measured (none in results saved before they existed)."""
    return [op for op in (HOT_INPROC if kind == "inproc" else HOT_HTTP) if op in r[kind]["ours"]]


def round_trip_lines(r: dict[str, Any]) -> list[str]:
    """Round trips per request, one in-process call each (bench/ours_worker.py roundtrips)."""
    rt = r["round_trips"]
    if "transaction" not in rt["me"]:  # results saved before the statements were told apart
        lines = ["| round trips per request | Redis commands | SQL statements (events) | PostgreSQL wire round trips |"]
        lines.append("|---|---:|---:|---:|")
        lines += [f"| {label(op)} | {c['redis']} | {c['sql']} | {c['pg_round_trips']} |" for op, c in rt.items()]
        return [*lines, ""]
    lines = [
        "| round trips per request | Redis commands | SQL statements | + BEGIN / COMMIT | PostgreSQL wire round trips |",
        "|---|---:|---:|---:|---:|",
    ]
    for op, c in rt.items():
        lines.append(
            f"| {label(op)} | {c['redis']} | {len(c['statements'])} | {c['transaction']} | {c['pg_round_trips']} |"
        )
    return [*lines, ""]


# The reference: refresh p50 on the original backend (measured elsewhere, not in this run).
ORIGINAL_REFRESH_P50_MS = 2.9
# In-process p50 targets (ms) of the hot paths.
HOT_TARGETS = (("refresh", 4.0), ("check", 1.0), ("roles", 1.0), ("me", 1.5))


def hot_path_targets(r: dict[str, Any]) -> list[str]:
    """Each hot path's in-process p50 against its target, with its round trips."""
    ours, rt = r["inproc"]["ours"], r["round_trips"]
    if "check" not in ours or "transaction" not in rt["me"]:  # results saved before these targets existed
        p50 = ours["me"]["p50_ms"]
        return [f"/users/me p50 <= 1.5 ms in-process: {p50:.2f} ms: {'MET' if p50 <= 1.5 else 'MISSED'}"]

    def counts(op: str) -> str:
        c = rt[op]
        return (
            f"{c['redis']} Redis, {len(c['statements'])} SQL (+{c['transaction']} BEGIN/COMMIT),"
            f" {c['pg_round_trips']} PostgreSQL wire round trips"
        )

    out = []
    for op, limit in HOT_TARGETS:
        p50 = ours[op]["p50_ms"]
        line = f"{label(op)} p50 <= {limit:.1f} ms in-process: {p50:.3f} ms ({counts(op)}): {'MET' if p50 <= limit else 'MISSED'}"
        if op == "check" and "check_uncached" in ours:
            line += f"; state not cached: {ours['check_uncached']['p50_ms']:.3f} ms ({counts('check_uncached')})"
        out.append(line)
        if op == "refresh":
            out.append(refresh_against_peer(r))
    return out


def refresh_against_peer(r: dict[str, Any]) -> str:
    """Ours' refresh beside the peer's, or, since fastapi-users has no refresh, beside what there is."""
    ours, peer = r["inproc"]["ours"], r["inproc"]["peer"]
    mine = ours["refresh"]["p50_ms"]
    reference = f"the issue's {ORIGINAL_REFRESH_P50_MS} ms (original backend, another machine): {mine / ORIGINAL_REFRESH_P50_MS:.2f} x"
    if "refresh" in peer:
        theirs = peer["refresh"]["p50_ms"]
        return f"refresh vs the peer, same run: ours {mine:.2f} ms, peer {theirs:.2f} ms, {mine / theirs:.2f} x; {reference}"
    floor = peer["me"]["p50_ms"]
    return (
        f"refresh vs the peer: fastapi-users has no refresh route, nothing to time; its /users/me p50 in this run"
        f" (JWT check + one SELECT, less than any refresh on its stack) is {floor:.2f} ms, ours' refresh {mine / floor:.2f} x that; {reference}"
    )


def targets(r: dict[str, Any]) -> list[str]:
    lim, rt = r["limits"], r["ratios"]
    out = []

    def mark(ok: bool) -> str:
        return "MET" if ok else "MISSED"

    inproc_login = r["inproc"]["ours"]["login"]["per_s"] / lim["bcrypt_checkpw_per_s_1_thread"]
    http_login = r["http"]["ours"]["login"]["throughput_per_s"] / lim["bcrypt_checkpw_per_s_all_cores"]
    out.append(
        f"login throughput >= 0.9 x bcrypt limit: in-process {inproc_login:.2f} x (1 thread), HTTP {http_login:.2f} x (all cores): {mark(min(inproc_login, http_login) >= 0.9)}"
    )
    out.append(
        f"/users/me >= 1.0 x peer (with the revocation check): in-process {rt['inproc_me_throughput']:.2f} x, HTTP {rt['http_me_throughput']:.2f} x: "
        f"{mark(min(rt['inproc_me_throughput'], rt['http_me_throughput']) >= 1.0)}"
    )
    out.extend(hot_path_targets(r))
    me = r["round_trips"]["me"]
    out.append(
        f"authenticated read <= 1 Redis round trip and 1 SQL statement: {me['redis']} and {me['sql']} (but {me['pg_round_trips']} PostgreSQL wire round trips): {mark(me['redis'] <= 1 and me['sql'] <= 1)}"
    )
    imp = r["import"]["ours"]["median_import_s"]
    out.append(
        f"import function_app <= 0.6 s and faster than the peer: {imp:.3f} s, {rt['import_time']:.2f} x the peer: {mark(imp <= 0.6 and rt['import_time'] < 1)}"
    )
    m = r["memory"]["ours"]
    growth = m["rss_after_total_mib"] - m["rss_after_first_mib"]
    out.append(
        f"RSS flat between {m['first']} and {m['total']} requests: {growth:+.1f} MiB: {mark(abs(growth) <= max(2.0, 0.05 * m['rss_after_first_mib']))}"
    )
    return out


def chart(r: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    ops = ["login", "me", "refresh", "register"]
    names = [label(op) for op in ops]
    width = 0.38
    for ax, kind, key, title in (
        (axes[0], "inproc", "p50_ms", "in-process p50 latency (ms, log)"),
        (axes[1], "http", "throughput_per_s", f"HTTP throughput, {r['clients']} clients (req/s, log)"),
    ):
        ours_values = [r[kind]["ours"][op][key] for op in ops]
        peer_values = [r[kind]["peer"][op][key] if op in r[kind]["peer"] else 0 for op in ops]
        xs = range(len(ops))
        ax.bar([x - width / 2 for x in xs], ours_values, width, label="ours (Azure Functions)")
        ax.bar([x + width / 2 for x in xs], peer_values, width, label="peer (fastapi-users)")
        ax.set_xticks(list(xs), names)
        ax.set_yscale("log")
        ax.set_title(title)
        ax.legend(fontsize=8, loc="upper left", framealpha=0.9)
        ax.set_ylim(top=ax.get_ylim()[1] * 20)  # room for the legend above the bars
    ratio_items = [(k, v) for k, v in r["ratios"].items() if k.endswith("throughput")]
    ratio_items += [("import time (lower=faster)", r["ratios"]["import_time"])]
    if "first_login" in r["ratios"]:
        ratio_items += [("start to first login (lower=faster)", r["ratios"]["first_login"])]
        ratio_items += [("start to first /users/me (lower=faster)", r["ratios"]["first_me"])]
    axes[2].barh([k for k, _ in ratio_items], [v for _, v in ratio_items], color="tab:green")
    axes[2].axvline(1.0, color="black", linewidth=1)
    axes[2].set_title("ours / peer")
    fig.suptitle(f"Augeo Platform API vs fastapi-users, BCRYPT_ROUNDS={r['bcrypt_rounds']} ({r['mode']} mode)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--render":  # table and chart again from a results.json
        saved = json.loads(Path(sys.argv[2]).read_text())
        QUICK = saved["mode"] == "quick"
        print(render(saved))
        chart(saved, RESULTS / "benchmark.png")
    elif sys.argv[1:] == ["--tokens"]:
        tokens_only()
    else:
        main()
