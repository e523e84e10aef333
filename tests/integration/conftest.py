"""Test set-up: real PostgreSQL and Redis, the local server over real HTTP.

DATABASE_URL / REDIS_URL from the environment are used (CI points them at a
fresh database, as superuser ``postgres``); when unset, embedded servers start
under .data/ (or AUGEO_DATA_DIR) and the session stops those it started when
it ends.

The database URL (MIGRATION_DATABASE_URL if set, else DATABASE_URL) must be
allowed to create a role. It becomes the owner's: migrations run with it, and
so does the little test set-up only an owner may do (:func:`owner_engine`).
The app, everywhere in the suite, signs in as the runtime role made from it
(``<database>_app``, devtools/database_roles.py): DATABASE_URL is rewritten to it.
"""

from __future__ import annotations

import functools
import json
import os
import re
import secrets
import socket
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import azure.functions as func
import httpx
import pytest

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy import Connection, Engine

    from devtools.services import EmbeddedService

ROOT = Path(__file__).resolve().parent.parent
EMAIL_DIR = Path(tempfile.mkdtemp(prefix="augeo-test-emails-"))
EMBEDDED: list[EmbeddedService] = []


def pytest_configure(config: pytest.Config) -> None:
    """Point the app at real services before any of its modules reads settings."""
    os.environ["ENVIRONMENT"] = "test"
    _token_keys()
    os.environ.setdefault("BCRYPT_ROUNDS", "4")
    os.environ["EMAIL_BACKEND"] = "file"
    os.environ["EMAIL_FILE_DIR"] = str(EMAIL_DIR)
    os.environ.setdefault("CORS_ORIGINS", "http://localhost:3000")
    if not os.environ.get("DATABASE_URL") or not os.environ.get("REDIS_URL"):
        _start_embedded_services()
    _use_two_database_roles()
    from alembic import command
    from alembic.config import Config

    alembic_config = Config(str(ROOT / "alembic.ini"))
    alembic_config.attributes["configure_logger"] = False
    command.upgrade(alembic_config, "head")


def _token_keys() -> None:
    """A fresh signing key per session (the default ES256), and an HS256 secret for the tests of that family."""
    from shared.security.signing_keys import new_private_key_pem

    os.environ.setdefault("JWT_SIGNING_KEYS", new_private_key_pem("ES256", development=True))
    os.environ.setdefault("JWT_SECRET_KEY", secrets.token_urlsafe(48))
    from shared.security.encryption import new_key

    os.environ.setdefault("DATA_ENCRYPTION_KEYS", new_key())
    # Most tests sign admins in and act at once; the admin modules run with production's
    # default (second_factor_required_as_in_production), tests/test_mfa.py turns it on too.
    os.environ.setdefault("MFA_REQUIRED_ROLES", "")


def _start_embedded_services() -> None:
    """Embedded PostgreSQL and/or Redis for what the environment does not name."""
    from devtools.services import DATA_DIR, interrupt_on_signals, start_embedded_postgres, start_embedded_redis

    interrupt_on_signals()  # a SIGTERM (CI cancelling a job) must stop them too
    if not os.environ.get("DATABASE_URL"):
        EMBEDDED.append(start_embedded_postgres(database="augeo_test", fresh=True))
        os.environ["DATABASE_URL"] = EMBEDDED[-1].url
    if not os.environ.get("REDIS_URL"):
        EMBEDDED.append(start_embedded_redis(DATA_DIR / "test"))
        os.environ["REDIS_URL"] = EMBEDDED[-1].url
        import redis

        redis.Redis.from_url(os.environ["REDIS_URL"]).flushdb()  # the suite's own, embedded Redis


def _use_two_database_roles() -> None:
    """Owner for migrations, runtime role for the app, as in Azure (before any setting is read)."""
    from devtools.database_roles import derive_roles
    from shared.config import load_settings
    from shared.database_roles import ensure_app_role

    administrator_url = os.environ.get("MIGRATION_DATABASE_URL") or os.environ["DATABASE_URL"]
    os.environ.update(derive_roles(administrator_url, os.environ.get("DB_APP_ROLE")).environment())
    ensure_app_role(load_settings())


@functools.cache
def owner_engine() -> Engine:
    """The owner's connection: for what only the owner may do (migrate, terminate sessions, test triggers).

    One engine for the session, so its connections are pooled and reused
    rather than left open by an engine per call until garbage collection.
    """
    import sqlalchemy as sa

    return sa.create_engine(os.environ["MIGRATION_DATABASE_URL"])


def _with_database(url: str, name: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


@pytest.fixture
def scratch_database() -> Iterator[str]:
    """A new, empty database on the same server (the owner's URL to it), dropped afterwards."""
    import sqlalchemy as sa

    server_url = os.environ["MIGRATION_DATABASE_URL"]  # the owner's: it may create databases
    name = f"augeo_scratch_{secrets.token_hex(4)}"
    admin = sa.create_engine(_with_database(server_url, "postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield _with_database(server_url, name)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def alembic_config(url: str, **attributes: str) -> Config:
    """Alembic against ``url``, as the migrations' tests run it (``attributes``: app_role, retention_role)."""
    from alembic.config import Config

    config = Config(str(ROOT / "alembic.ini"))
    config.attributes["configure_logger"] = False
    config.attributes["database_url"] = url
    config.attributes.update(attributes)
    return config


def table_privileges(url: str, role: str, table: str) -> set[str]:
    """Which table privileges ``role`` holds on ``table`` in the database at ``url``."""
    import sqlalchemy as sa

    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as connection:
        return {
            privilege
            for privilege in ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")
            if connection.scalar(
                sa.text("SELECT has_table_privilege(:role, :table, :privilege)"),
                {"role": role, "table": table, "privilege": privilege},
            )
        }


def pytest_report_header() -> list[str]:
    return [
        f"embedded {service.name}: {'started' if service.started_here else 'reused, left running'}"
        f" (pid {service.pid}, {service.folder})"
        for service in EMBEDDED
    ]


def pytest_unconfigure(config: pytest.Config) -> None:
    """Stop the embedded servers this session started: `make test` leaves no process behind."""
    if not EMBEDDED:
        return
    from devtools.services import stop_embedded_services

    _reset_clients()
    stop_embedded_services()


@pytest.fixture(scope="session")
def local_server() -> Iterator[Any]:
    """The FunctionApp behind the local dev server on an ephemeral port."""
    from devtools.local_server import create_server, serve_in_thread

    server = create_server("127.0.0.1", 0)
    serve_in_thread(server)
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def base_url(local_server: Any) -> str:
    host, port = local_server.server_address[:2]
    return f"http://{host}:{port}"


@pytest.fixture
def client(base_url: str) -> Iterator[httpx.Client]:
    """An HTTP client from a loopback address of the test's own: no test spends another's limits."""
    with client_from(base_url, fresh_ip()) as http:
        yield http


# What the `functions` fixture gives: each registered function by name, as the host calls it.
FunctionsByName = dict[str, Callable[[func.HttpRequest], func.HttpResponse]]


@pytest.fixture(scope="session")
def functions(local_server: Any) -> FunctionsByName:
    """Each registered function by name, for in-process calls."""
    return {route.name: route.call for route in local_server.router.routes}


def _reset_clients() -> None:
    from shared.config import get_settings
    from shared.database import dispose_engine
    from shared.redis_client import reset_redis
    from shared.services.email.backends import get_backend

    get_settings.cache_clear()
    get_backend.cache_clear()
    dispose_engine()
    reset_redis()


@contextmanager
def settings_changed(**env: str | None) -> Iterator[None]:
    """Run with some settings changed (None: unset, so the default applies); process-wide
    clients are rebuilt around it."""
    saved = {name: os.environ.get(name) for name in env}
    for name, new_value in env.items():
        if new_value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = new_value
    _reset_clients()
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        _reset_clients()


def production_settings(**extra: str) -> dict[str, str]:
    """Settings under which the app runs as in production (for :func:`settings_changed`):
    what production refuses otherwise is set as an operator would set it."""
    from shared.security.signing_keys import new_private_key_pem

    return {
        "ENVIRONMENT": "production",
        "BCRYPT_ROUNDS": "12",
        "JWT_SIGNING_KEYS": new_private_key_pem("ES256"),  # an operator's key, not a development one
        "CORS_ORIGINS": "https://admin.example.org",
        **extra,
    }


@pytest.fixture
def unique_email() -> Callable[[str], str]:
    def make(prefix: str = "user") -> str:
        return f"{prefix}-{secrets.token_hex(6)}@example.org"

    return make


# -- accounts ---------------------------------------------------------------

PASSWORD = "Gala-night-2026"
_TOKEN_IN_LINK = re.compile(r"token=([A-Za-z0-9_-]+)")


def deliver_emails() -> None:
    """Run the outbox drain once, as the timer / local server would."""
    from shared.services.email.drain import drain_outbox

    while drain_outbox().handled:
        pass


def emails_to(address: str) -> list[dict[str, Any]]:
    """Every delivered message to ``address``, oldest first."""
    deliver_emails()
    found = []
    for path in sorted(EMAIL_DIR.glob("*.json")):
        message = json.loads(path.read_text())
        if message["to"] == address:
            found.append(message)
    return found


def token_from_last_email(address: str, subject_part: str) -> str:
    matching = [m for m in emails_to(address) if subject_part.lower() in m["subject"].lower()]
    assert matching, f"no email about {subject_part!r} to {address}"
    match = _TOKEN_IN_LINK.search(matching[-1]["text"])
    assert match, "no token link in the email"
    return match.group(1)


def app_connections_waiting_on_a_lock(probe: Connection) -> int:
    """How many of the app's connections wait for a lock right now (a race test's barrier)."""
    from sqlalchemy import text

    count = probe.execute(
        text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND application_name = 'augeo-platform-api' AND cardinality(pg_blocking_pids(pid)) > 0"
        )
    ).scalar_one()
    probe.rollback()  # activity statistics are a snapshot per transaction: look again next time
    return int(count)


# A user's row, locked as the services lock it before changing the user (``id``: the user's).
USER_ROW_LOCK = "SELECT 1 FROM users WHERE id = :id FOR UPDATE"


class LockWait:
    """A race test's barrier: locks the test holds, and a look at who waits for them."""

    def __init__(self, probe: Connection) -> None:
        self._probe = probe

    def waiting(self) -> int:
        """How many of the app's connections wait for a lock now."""
        return app_connections_waiting_on_a_lock(self._probe)

    def queued(self, expected: int) -> None:
        """Return once ``expected`` of the app's connections wait for a lock (fail after a while)."""
        wait_until(lambda: self.waiting() >= expected, f"{expected} of the app's connections waiting on a lock")


@contextmanager
def locks_held(statement: str, **parameters: object) -> Iterator[LockWait]:
    """Hold the locks ``statement`` takes, in a transaction of the test's own, until the block ends.

    The requests a race test starts queue on them; :meth:`LockWait.queued` says
    when they all have, so releasing the locks lets them run truly at once
    (never a sleep). The test's two connections (the holder, and the probe that
    watches pg_stat_activity) are its own, as the runtime role, outside the
    app's pool: every pooled connection is left to the requests that race.
    """
    import sqlalchemy as sa

    engine = sa.create_engine(
        os.environ["DATABASE_URL"], poolclass=sa.pool.NullPool, connect_args={"application_name": "augeo-tests"}
    )
    try:
        with engine.connect() as holder, engine.connect() as probe:
            # The role ends a transaction idle for 10 s; the test's may wait longer, when a race goes wrong.
            holder.execute(sa.text("SET idle_in_transaction_session_timeout = 0"))
            holder.execute(sa.text(statement), parameters)
            try:
                yield LockWait(probe)
            finally:
                holder.rollback()
    finally:
        engine.dispose()


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.01)


def unused_port() -> int:
    """A loopback TCP port nothing listens on (the system's pick, released at once)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def fresh_ip() -> str:
    """A loopback address of its own (127.x.y.z), so one test's rate limits never touch another's."""
    return f"127.{secrets.randbelow(254) + 1}.{secrets.randbelow(256)}.{secrets.randbelow(254) + 1}"


def client_from(base_url: str, ip: str) -> httpx.Client:
    """An HTTP client whose connections leave from ``ip``: the server sees it as the peer,
    and the local server, like Azure's front end, appends it to X-Forwarded-For."""
    return httpx.Client(base_url=base_url, timeout=30, transport=httpx.HTTPTransport(local_address=ip))


class Account:
    """A registered, verified user and helpers to act as them over HTTP from their own IP."""

    def __init__(self, http: httpx.Client, email: str, password: str = PASSWORD) -> None:
        self.ip = fresh_ip()
        self.http = client_from(str(http.base_url), self.ip)
        self.email = email
        self.password = password

    def headers(self, **extra: str) -> dict[str, str]:
        return {"User-Agent": "pytest-browser/1.0", **extra}

    def register(self, **fields: Any) -> httpx.Response:
        body = {"email": self.email, "password": self.password, "first_name": "Ada", "last_name": "Lovelace", **fields}
        return self.http.post("/api/v1/auth/register", json=body, headers=self.headers())

    def verify(self) -> httpx.Response:
        token = token_from_last_email(self.email, "confirm")
        return self.http.post("/api/v1/auth/verify-email", json={"token": token}, headers=self.headers())

    def login(self, password: str | None = None, **headers: str) -> httpx.Response:
        body = {"email": self.email, "password": password or self.password}
        return self.http.post("/api/v1/auth/login", json=body, headers=self.headers(**headers))

    def tokens(self, **headers: str) -> dict[str, Any]:
        response = self.login(**headers)
        assert response.status_code == 200, response.text
        tokens: dict[str, Any] = response.json()
        return tokens

    def me(self, access_token: str) -> httpx.Response:
        return self.http.get("/api/v1/users/me", headers=self.headers(Authorization=f"Bearer {access_token}"))


@pytest.fixture
def account(client: httpx.Client, unique_email: Callable[[str], str]) -> Account:
    """A verified, active donor."""
    created = Account(client, unique_email("donor"))
    assert created.register().status_code == 201
    assert created.verify().status_code == 200
    return created


@pytest.fixture
def new_account(client: httpx.Client, unique_email: Callable[[str], str]) -> Callable[[], Account]:
    def make() -> Account:
        created = Account(client, unique_email("donor"))
        assert created.register().status_code == 201
        assert created.verify().status_code == 200
        return created

    return make


def make_user(
    http: httpx.Client, role: str, npo_id: Any = None, *, email: str | None = None, verified: bool = True
) -> Account:
    """A user of any role, written straight to the database (test set-up), ready to sign in."""
    from shared.database import unit_of_work
    from shared.models import User
    from shared.security.passwords import hash_password

    address = email or f"{role}-{secrets.token_hex(6)}@example.org"
    with unit_of_work() as db:
        db.add(
            User(
                email=address,
                password_hash=hash_password(PASSWORD, int(os.environ["BCRYPT_ROUNDS"])),
                first_name=role.title(),
                last_name="Tester",
                role=role,
                npo_id=npo_id,
                email_verified=verified,
                is_active=verified,
            )
        )
    return Account(http, address)


class Actor:
    """A signed-in user: their account, id and a bearer header."""

    def __init__(self, account: Account) -> None:
        self.account = account
        tokens = account.tokens()
        self.id = tokens["user"]["id"]
        self.access_token = tokens["access_token"]
        self.refresh_token = tokens["refresh_token"]

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.access_token}", **kwargs.pop("headers", {})}
        return self.account.http.request(method, path, headers=headers, **kwargs)


TEMPORARY_PASSWORD = "Temporary-pass-11"


def created_with_temporary_password(admin: Actor, client: httpx.Client, root: Actor, npo_id: str) -> Account:
    """A staff user an NPO admin created with a password they must change; a super admin verified the address."""
    email = f"temp-{uuid.uuid4().hex[:8]}@example.org"
    body = {
        "email": email,
        "first_name": "T",
        "last_name": "P",
        "role": "staff",
        "npo_id": npo_id,
        "password": TEMPORARY_PASSWORD,
    }
    created = admin.request("POST", "/api/v1/users", json=body)
    assert created.status_code == 201, created.text
    assert root.request("POST", f"/api/v1/users/{created.json()['id']}/verify-email").status_code == 200
    return Account(client, email, password=TEMPORARY_PASSWORD)


@dataclass(frozen=True)
class TotpEnrolment:
    """A second factor turned on: what the enrolment showed, and the recovery codes it gave."""

    started: dict[str, Any]
    recovery_codes: list[str]

    @property
    def secret(self) -> str:
        secret: str = self.started["secret"]
        return secret


def enrol_second_factor(actor: Actor) -> TotpEnrolment:
    """Turn a TOTP second factor on, as a user does with an authenticator app: the code
    confirmed is the one for the app's clock (``shared.clock``, which a test may hold still)."""
    import pyotp

    from shared import clock

    started = actor.request("POST", "/api/v1/auth/mfa/totp")
    assert started.status_code == 200, started.text
    code = pyotp.TOTP(started.json()["secret"]).at(clock.now())
    confirmed = actor.request("POST", "/api/v1/auth/mfa/totp/confirm", json={"code": code})
    assert confirmed.status_code == 200, confirmed.text
    return TotpEnrolment(started.json(), confirmed.json()["recovery_codes"])


def second_factor_required(role: str) -> bool:
    """Whether the settings require a second factor of ``role`` (MFA_REQUIRED_ROLES)."""
    from shared.config import get_settings
    from shared.roles import RoleName

    return RoleName(role) in get_settings().mfa_required_roles


@pytest.fixture(scope="module")
def second_factor_required_as_in_production() -> Iterator[None]:
    """A module's tests with MFA_REQUIRED_ROLES at production's default (super and NPO admins
    must have a second factor), which the rest of the suite turns off: ``signed_in`` admins
    enrol one, and what they do is checked with the requirement on."""
    with settings_changed(MFA_REQUIRED_ROLES=None):
        assert second_factor_required("super_admin") and second_factor_required("npo_admin")
        yield


@pytest.fixture
def signed_in(client: httpx.Client) -> Callable[..., Actor]:
    """``signed_in("npo_admin", npo_id)``: a new user of that role, signed in.

    Where the settings require a second factor of the role (MFA_REQUIRED_ROLES,
    which the suite turns off unless a module asks for production's default),
    the user enrols one first, as production makes them.
    """

    def make(role: str, npo_id: Any = None) -> Actor:
        actor = Actor(make_user(client, role, npo_id))
        if second_factor_required(role):
            enrol_second_factor(actor)
        return actor

    return make


class RoundTrips:
    """What the clients sent during a block: Redis round trips and SQL statements."""

    def __init__(self) -> None:
        self.redis: list[object] = []
        self.sql: list[str] = []

    @property
    def statements(self) -> list[str]:
        """SQL statements other than the transaction's own BEGIN."""
        return [statement for statement in self.sql if statement.strip().upper() != "BEGIN"]


@contextmanager
def counting_round_trips(monkeypatch: pytest.MonkeyPatch) -> Iterator[RoundTrips]:
    """Count packed commands written to Redis sockets and statements sent to PostgreSQL."""
    import redis.connection
    from sqlalchemy import event

    from shared.database import get_engine

    seen = RoundTrips()
    # redis-py leaves send_packed_command unannotated: this is its signature.
    real_send: Callable[[Any, Any, bool], None] = redis.connection.AbstractConnection.send_packed_command

    def counting_send(self: Any, command: Any, check_health: bool = True) -> None:
        seen.redis.append(command)
        real_send(self, command, check_health)

    def count_statement(*args: Any) -> None:
        seen.sql.append(args[2])

    with monkeypatch.context() as patch:
        patch.setattr(redis.connection.AbstractConnection, "send_packed_command", counting_send)
        event.listen(get_engine(), "before_cursor_execute", count_statement)
        try:
            yield seen
        finally:
            event.remove(get_engine(), "before_cursor_execute", count_statement)
