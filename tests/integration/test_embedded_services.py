"""The embedded-services path of `make run` / `make test`, proved by process ids.

Every case runs its processes with DATABASE_URL / REDIS_URL unset and
AUGEO_DATA_DIR pointing at a temporary folder (one per module: initdb once),
finds the PostgreSQL and Redis processes of that folder in /proc, stops what
it started, and checks that exactly those processes are gone.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from devtools.services import process_alive
from tests.support import ROOT, processes
from tests.support.network import unused_port

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

pytestmark = pytest.mark.slow

START_TIMEOUT = 90.0  # initdb on a busy two-core machine
STOP_TIMEOUT = 30.0
_CLEARED = (
    *("DATABASE_URL", "MIGRATION_DATABASE_URL", "DB_APP_ROLE", "REDIS_URL"),
    *("RETENTION_DATABASE_URL", "DB_RETENTION_ROLE"),
    *("SUPER_ADMIN_EMAIL", "SUPER_ADMIN_PASSWORD", "LOG_LEVEL", "PORT", "HOST"),
)


# -- processes of a data folder ---------------------------------------------------


def _proc_pids() -> list[int]:
    return [int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit()]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _parent(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def server_roots(data: Path) -> set[int]:
    """Live servers of ``data``: the processes naming its pg/ or a redis/ folder on their
    command line (the postmaster, redis-server)."""
    markers = (f"{data}/pg", f"{data}/redis", f"{data}/test/redis")
    return {pid for pid in _proc_pids() if any(marker in _cmdline(pid) for marker in markers) and process_alive(pid)}


def server_pids(data: Path) -> set[int]:
    """The servers of ``data`` and their children (PostgreSQL's workers and connections)."""
    roots = server_roots(data)
    return roots | {pid for pid in _proc_pids() if _parent(pid) in roots and process_alive(pid)}


def pid_file_pids(data: Path, redis_folder: str = "redis") -> dict[str, int]:
    """The pids the servers wrote: postmaster.pid's first line, redis.pid."""
    postmaster = int((data / "pg" / "postmaster.pid").read_text().split("\n", 1)[0])
    return {"postgres": postmaster, "redis": int((data / redis_folder / "redis.pid").read_text())}


def wait_until_gone(pids: set[int], timeout: float = STOP_TIMEOUT) -> set[int]:
    """The pids still alive after ``timeout`` (empty when all have ended)."""
    deadline = time.monotonic() + timeout
    while (alive := {pid for pid in pids if process_alive(pid)}) and time.monotonic() < deadline:
        time.sleep(0.1)
    return alive


def kill_leftovers(data: Path) -> None:
    """A failed test must not leave servers running either, nor a stale pid file for the next case.

    SIGINT first (PostgreSQL's fast shutdown; Redis saves and exits), then SIGKILL.
    """
    for signum, pids in ((signal.SIGINT, server_roots(data)), (signal.SIGKILL, server_pids(data))):
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)
        wait_until_gone(pids, timeout=10)
    (data / "pg" / "postmaster.pid").unlink(missing_ok=True)


# -- `python -m devtools.run` as a subprocess ---------------------------------------


def child_env(data: Path, **extra: str) -> dict[str, str]:
    """This environment without the settings that would bypass or steer the embedded servers."""
    env = {key: value for key, value in os.environ.items() if key not in _CLEARED}
    return {**env, "AUGEO_DATA_DIR": str(data), "EMAIL_FILE_DIR": str(data / "emails"), **extra}


@dataclass
class Run:
    """A `make run` in the background, its output in files."""

    process: subprocess.Popen[bytes]
    port: int
    stdout: Path
    stderr: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def healthy(self) -> bool:
        try:
            return httpx.get(f"{self.base_url}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def wait_until_healthy(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while not self.healthy():
            assert self.process.poll() is None, f"make run ended early:\n{self.stderr.read_text()[-3000:]}"
            assert time.monotonic() < deadline, "make run did not answer /health in time"
            time.sleep(0.1)

    def stop(self, signum: signal.Signals) -> int:
        self.process.send_signal(signum)
        return self.process.wait(timeout=STOP_TIMEOUT)

    def output(self) -> tuple[str, str]:
        return self.stdout.read_text(), self.stderr.read_text()


def run_python(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``python <args>`` with the embedded servers' environment of ``data``, to its end."""
    return processes.run_python(*args, env=child_env(data), timeout=START_TIMEOUT)


def start_run(data: Path, logs: Path, *args: str, **env: str) -> Run:
    port = unused_port()
    stdout, stderr = logs / f"run-{port}.out", logs / f"run-{port}.err"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "devtools.run", *args],
            cwd=ROOT,
            env=child_env(data, PORT=str(port), **env),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
        )
    run = Run(process, port, stdout, stderr)
    run.wait_until_healthy()
    return run


@pytest.fixture(scope="module")
def data_dir() -> Iterator[Path]:
    """One data folder for the module: PostgreSQL's initdb runs once.

    Not under pytest's temporary folder: run as root, pgserver runs PostgreSQL
    as its own user and opens the folders above its data for it, and every
    pytest session that starts sets /tmp/pytest-of-root back to 0700, cutting
    a running server off from its own files.
    """
    data = Path(tempfile.mkdtemp(prefix="augeo-embedded-test-"))
    yield data
    kill_leftovers(data)
    shutil.rmtree(data, ignore_errors=True)


@pytest.fixture
def runs(data_dir: Path) -> Iterator[list[Run]]:
    """The runs a test starts; any still running at the end are killed, and their servers with them."""
    started: list[Run] = []
    yield started
    leftover = [run for run in started if run.process.poll() is None]
    for run in leftover:
        run.process.kill()
        run.process.wait()
    if leftover:
        kill_leftovers(data_dir)


# -- the cases ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("signum", "args"), [(signal.SIGTERM, ()), (signal.SIGINT, ("-v",))], ids=["SIGTERM-quiet", "SIGINT-verbose"]
)
def test_run_stops_the_servers_it_started(
    data_dir: Path, tmp_path: Path, runs: list[Run], signum: signal.Signals, args: tuple[str, ...]
) -> None:
    assert not server_pids(data_dir), "another case left servers running"
    runs.append(run := start_run(data_dir, tmp_path, *args))
    pids = server_pids(data_dir)
    assert server_roots(data_dir) == set(pid_file_pids(data_dir).values())
    assert len(pids) > 2  # the postmaster, its workers, redis-server

    assert run.stop(signum) == 0
    assert wait_until_gone(pids) == set()
    assert server_pids(data_dir) == set()
    assert not (data_dir / "pg" / "postmaster.pid").exists()
    assert not (data_dir / "redis" / "redis.pid").exists()

    out, err = run.output()
    assert f"{run.base_url}/docs" in out
    assert f"written as JSON files to {data_dir / 'emails'}" in out
    assert "SUPER_ADMIN_EMAIL and SUPER_ADMIN_PASSWORD" in out
    assert "python -m shared.cli create-super-admin" in out
    assert "so are the embedded Redis and PostgreSQL it started" in out
    if args:  # -v: the rest of the story
        assert "pgserver" in err and "alembic" in err and "GET /health -> 200" in err
    else:  # a few lines, nothing on stderr
        assert len(out.splitlines()) <= 8, out
        assert err == ""


def test_a_second_run_reuses_the_running_servers_and_leaves_them_running(
    data_dir: Path, tmp_path: Path, runs: list[Run]
) -> None:
    runs.append(first := start_run(data_dir, tmp_path))
    roots, pids = server_roots(data_dir), server_pids(data_dir)
    written = pid_file_pids(data_dir)
    assert roots == set(written.values())
    admin = {"SUPER_ADMIN_EMAIL": "root@example.org", "SUPER_ADMIN_PASSWORD": "Gala-night-2026"}
    runs.append(second := start_run(data_dir, tmp_path, **admin))
    assert server_roots(data_dir) == roots  # no second server

    assert second.stop(signal.SIGTERM) == 0
    out, _ = second.output()
    assert f"reusing the one already running in {data_dir / 'pg'} (pid {written['postgres']})" in out
    assert f"reusing the one already running in {data_dir / 'redis'} (pid {written['redis']})" in out
    assert "Super admin         exists" in out
    assert out.rstrip().endswith("Stopped.")
    assert all(process_alive(pid) for pid in roots)  # its own connections have ended, the servers have not
    assert first.healthy()

    assert first.stop(signal.SIGTERM) == 0
    assert wait_until_gone(pids) == set()


# -- signing in with a password -----------------------------------------------------------


def signs_in_as(url: str | URL) -> str | None:
    """The role a connection to ``url`` gets, or None when the server refuses it."""
    import sqlalchemy as sa

    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            role: str = connection.scalar(sa.text("SELECT current_user"))
            return role
    except sa.exc.DBAPIError:
        return None
    finally:
        engine.dispose()


def with_wrong_password(url: str) -> URL:
    """``url`` with another password (a URL object, whose repr in a failure hides the password)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    return parsed.set(password=f"not-{parsed.password}")


_SIGN_IN_PROBE = textwrap.dedent(
    """
    import json
    import os
    import sys
    from pathlib import Path

    from sqlalchemy.engine import make_url

    from devtools.derived_roles import derive_roles
    from devtools.services import start_embedded_postgres
    from shared.config import load_settings
    from shared.database_roles import ensure_app_role
    from tests.integration.test_embedded_services import signs_in_as, with_wrong_password

    postgres = start_embedded_postgres(Path(sys.argv[1]), database="augeo_scram")
    roles = derive_roles(postgres.url)
    os.environ.update(roles.environment())
    ensure_app_role(load_settings(redis_url="redis://127.0.0.1:6379/0"))  # what make run and the suite do
    def attempts(url):
        wrong = with_wrong_password(url)
        return {"password": bool(make_url(url).password), "right": signs_in_as(url), "wrong": signs_in_as(wrong)}

    print(json.dumps({"app": attempts(roles.app_url), "retention": attempts(roles.retention_url)}))
    """
)


def test_the_runtime_and_retention_roles_sign_in_with_their_password_and_no_other(data_dir: Path) -> None:
    """The embedded PostgreSQL asks for passwords (SCRAM), so this runs wherever the suite does, CI
    included, whose own server trusts everyone: the right password signs in, a wrong one is refused."""
    assert not server_pids(data_dir), "another case left servers running"
    done = run_python(data_dir, "-c", _SIGN_IN_PROBE, str(data_dir))
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.splitlines()[-1])
    log = (data_dir / "pg" / "log").read_text()
    for kind, role in (("app", "augeo_scram_app"), ("retention", "augeo_scram_retention")):
        assert found[kind] == {"password": True, "right": role, "wrong": None}, found
        assert f'password authentication failed for user "{role}"' in log, "refused for its password"
    assert wait_until_gone(server_pids(data_dir), timeout=10) == set()


_PROBE_TEST = textwrap.dedent(
    """
    import json
    import os
    from pathlib import Path

    from tests.integration.test_embedded_services import pid_file_pids, signs_in_as, with_wrong_password


    def test_records_the_embedded_server_pids() -> None:
        data = Path(os.environ["AUGEO_DATA_DIR"])
        (data / "suite-pids.json").write_text(json.dumps(pid_file_pids(data, redis_folder="test/redis")))


    def test_the_app_signs_in_with_the_runtime_roles_password() -> None:
        assert signs_in_as(os.environ["DATABASE_URL"]) == os.environ["DB_APP_ROLE"]
        assert signs_in_as(with_wrong_password(os.environ["DATABASE_URL"])) is None
    """
)


def test_a_test_session_stops_the_servers_it_started(data_dir: Path, tmp_path: Path) -> None:
    """What `make test` does without DATABASE_URL / REDIS_URL, in a one-test session."""
    assert not server_pids(data_dir), "another case left servers running"
    probe = tmp_path / "test_probe.py"
    probe.write_text(_PROBE_TEST)
    done = run_python(
        data_dir, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.integration.conftest", str(probe)
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    pids = set(json.loads((data_dir / "suite-pids.json").read_text()).values())
    assert len(pids) == 2
    assert wait_until_gone(pids, timeout=5) == set()
    assert server_pids(data_dir) == set()


_EXITING_PROBE = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    import redis, sqlalchemy as sa
    from devtools.services import start_embedded_postgres, start_embedded_redis
    data = Path(sys.argv[1])
    postgres = start_embedded_postgres(data, database="augeo_probe")
    cache = start_embedded_redis(data)
    engine = sa.create_engine(postgres.url)
    with engine.connect() as c:
        print("pg", c.execute(sa.text("SELECT current_database()")).scalar())
    engine.dispose()
    print("redis", redis.Redis.from_url(cache.url).ping())
    print("pids", postgres.pid, cache.pid)
    """
)


def test_a_script_that_simply_exits_stops_the_servers_it_started(data_dir: Path) -> None:
    assert not server_pids(data_dir), "another case left servers running"
    done = run_python(data_dir, "-c", _EXITING_PROBE, str(data_dir))
    assert done.returncode == 0, done.stderr[-2000:]
    assert "pg augeo_probe" in done.stdout
    assert "redis True" in done.stdout
    pids = {int(pid) for pid in done.stdout.split("pids", 1)[1].split()}
    assert wait_until_gone(pids, timeout=5) == set()
    assert server_pids(data_dir) == set()
