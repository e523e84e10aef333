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
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.services import process_alive
from tests.conftest import ROOT

pytestmark = pytest.mark.slow

START_TIMEOUT = 90.0  # initdb on a busy two-core machine
STOP_TIMEOUT = 30.0
_CLEARED = ("DATABASE_URL", "REDIS_URL", "SUPER_ADMIN_EMAIL", "SUPER_ADMIN_PASSWORD", "LOG_LEVEL", "PORT", "HOST")


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


# -- subprocesses --------------------------------------------------------------------


def child_env(data: Path, **extra: str) -> dict[str, str]:
    """This environment without the settings that would bypass or steer the embedded servers."""
    env = {key: value for key, value in os.environ.items() if key not in _CLEARED}
    return {**env, "AUGEO_DATA_DIR": str(data), "EMAIL_FILE_DIR": str(data / "emails"), **extra}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One data folder for the module: PostgreSQL's initdb runs once."""
    data = tmp_path_factory.mktemp("augeo-data")
    yield data
    kill_leftovers(data)


# -- the cases ------------------------------------------------------------------------


_PROBE_TEST = textwrap.dedent(
    """
    import json
    import os
    from pathlib import Path

    from tests.test_embedded_services import pid_file_pids


    def test_records_the_embedded_server_pids() -> None:
        data = Path(os.environ["AUGEO_DATA_DIR"])
        (data / "suite-pids.json").write_text(json.dumps(pid_file_pids(data, redis_folder="test/redis")))
    """
)


def test_a_test_session_stops_the_servers_it_started(data_dir: Path, tmp_path: Path) -> None:
    """What `make test` does without DATABASE_URL / REDIS_URL, in a one-test session."""
    assert not server_pids(data_dir), "another case left servers running"
    probe = tmp_path / "test_probe.py"
    probe.write_text(_PROBE_TEST)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.conftest", str(probe)],
        cwd=ROOT,
        env=child_env(data_dir),
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT,
        check=False,
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
    done = subprocess.run(
        [sys.executable, "-c", _EXITING_PROBE, str(data_dir)],
        cwd=ROOT,
        env=child_env(data_dir),
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "pg augeo_probe" in done.stdout
    assert "redis True" in done.stdout
    pids = {int(pid) for pid in done.stdout.split("pids", 1)[1].split()}
    assert wait_until_gone(pids, timeout=5) == set()
    assert server_pids(data_dir) == set()
