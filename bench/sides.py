# ruff: noqa: S603  (starts the servers and workers under test)
"""The two apps under test and what they run against: the PostgreSQL and
Redis servers, each side's environment, its in-process worker and its HTTP
server command. Ours runs under the app's .venv, the peer under .venv-bench."""

from __future__ import annotations

import base64
import http.client
import json
import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from bench.settings import EMAIL, OURS_PY, PASSWORD, PEER_PY, ROOT, ROUNDS, STAFF_EMAIL, log

BIG = "1000000000"
SECRET = secrets.token_urlsafe(48)


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


class Services:
    """PostgreSQL and Redis: DATABASE_URL / REDIS_URL, else local, else embedded (devtools/services.py)."""

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


def es256_signing_key() -> str:
    """An ES256 key made as operators make one (ours runs with ENVIRONMENT=production, which
    refuses dev keys); the peer signs with the same key, so both verify ES256."""
    command = [OURS_PY, "-m", "shared.cli", "new-signing-key"]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True).stdout


def ours_env(services: Services, email_dir: str, signing_key: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHONHOME"))}
    env.update(
        ENVIRONMENT="production",
        LOG_LEVEL="WARNING",
        DATABASE_URL=services.database_url,
        REDIS_URL=services.redis_url,
        JWT_SECRET_KEY=SECRET,
        JWT_SIGNING_KEYS=signing_key,
        DATA_ENCRYPTION_KEYS=throwaway_encryption_key(),
        BCRYPT_ROUNDS=str(ROUNDS),
        EMAIL_BACKEND="file",
        EMAIL_FILE_DIR=email_dir,
        FRONTEND_ADMIN_URL="https://admin.example.org",  # production refuses a local link target
        FRONTEND_DONOR_URL="https://donate.example.org",
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
    """The benchmark signs the same two users in hundreds of times and keeps every session, and
    asks the permission check for one user thousands of times a minute: no sign-in limit, no
    refresh limit, no per-user check limit, and no session evicted for room."""
    return {
        "RATE_LIMIT_LOGIN_SUCCESS_PER_ACCOUNT": BIG,
        "RATE_LIMIT_REFRESH_PER_IP": BIG,
        "RATE_LIMIT_AUTHZ_CHECK_PER_USER": BIG,
        "MAX_SESSIONS_PER_USER": BIG,
    }


def peer_env(services: Services, signing_key: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        PEER_DATABASE_URL=services.peer_database_url,
        JWT_SECRET_KEY=SECRET,
        PEER_JWT_SIGNING_KEY=signing_key,
        BCRYPT_ROUNDS=str(ROUNDS),
        BENCH_EMAIL=EMAIL,
        BENCH_PASSWORD=PASSWORD,
    )
    return env


def variant_tree() -> Path | None:
    """BENCH_VARIANT: another checkout of the repository, measured beside ours."""
    value = os.environ.get("BENCH_VARIANT")
    if not value:
        return None
    tree = Path(value).resolve()
    if not (tree / "function_app.py").is_file():
        sys.exit(f"BENCH_VARIANT={value}: no function_app.py there")
    return tree


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


def ours_server_command() -> list[str]:
    return [OURS_PY, "-m", "devtools.local_server"]


def peer_server_command(port: int) -> list[str]:
    return [
        PEER_PY, "-m", "uvicorn", "bench.peer_app:app", "--host", "127.0.0.1", "--port", str(port),
        "--no-access-log", "--log-level", "warning", "--workers", "1",
    ]  # fmt: skip


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


def start_ours(env: dict[str, str], port: int) -> tuple[subprocess.Popen[bytes], float]:
    return start_server(ours_server_command(), {**env, "PORT": str(port)}, port)


def start_peer(env: dict[str, str], port: int) -> tuple[subprocess.Popen[bytes], float]:
    return start_server(peer_server_command(port), env, port)


def stop_server(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
