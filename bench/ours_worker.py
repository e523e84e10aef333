# ruff: noqa: PLC0415  (the app is imported inside the worker, after the environment is set)
"""Ours, in-process: the FunctionApp's functions called with an
azure.functions.HttpRequest, under the app's .venv. Also the limits (bcrypt,
Redis GET, primary-key SELECT), the round-trip counts, the pool policy switch
and a hung PostgreSQL (time to a 503). Driven by bench/run.py.
"""

from __future__ import annotations

import itertools
import json
import os
import secrets
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.worker_common import serve, timed  # noqa: E402

EMAIL = os.environ.get("BENCH_EMAIL", "bench-user@example.org")
PASSWORD = os.environ.get("BENCH_PASSWORD", "Gala-night-2026-bench")
ROUNDS = int(os.environ["BCRYPT_ROUNDS"])
IP = "203.0.113.7"
UA = "augeo-bench/1.0"
RUN = secrets.token_hex(4)

state: dict[str, Any] = {}


def _request(method: str, path: str, body: Any = None, token: str | None = None) -> Any:
    import azure.functions as func

    headers = {"User-Agent": UA, "X-Forwarded-For": IP}
    raw = b""
    if body is not None:
        headers["Content-Type"] = "application/json"
        raw = json.dumps(body).encode()
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return func.HttpRequest(method=method, url=f"http://localhost{path}", headers=headers, params={}, body=raw)


def _call(name: str, request: Any, expect: int) -> Any:
    response = state["functions"][name](request)
    if response.status_code != expect:
        raise RuntimeError(f"{name}: {response.status_code} {response.get_body()[:300]!r}")
    return response


def setup() -> dict[str, Any]:
    """Import the app, create the benchmark user (test-style, straight to the DB), sign in once."""
    started = time.perf_counter()
    import function_app
    from devtools.local_server import load_routes

    imported = time.perf_counter() - started
    state["functions"] = {route.name: route.call for route in load_routes(function_app.app)}

    from sqlalchemy import delete

    from shared.database import unit_of_work
    from shared.models import User
    from shared.security.passwords import hash_password

    with unit_of_work() as db:
        db.execute(delete(User).where(User.email == EMAIL))  # idempotent re-runs on a kept database
    with unit_of_work() as db:
        db.add(
            User(
                email=EMAIL,
                password_hash=hash_password(PASSWORD, ROUNDS),
                first_name="Bench",
                last_name="User",
                role="donor",
                email_verified=True,
                is_active=True,
            )
        )
    tokens = login_once()
    state["access"], state["refresh"] = tokens["access_token"], tokens["refresh_token"]
    state["user_id"] = tokens["user"]["id"]
    state["counter"] = itertools.count()
    return {"import_in_worker_s": imported}


def login_once() -> dict[str, Any]:
    body = {"email": EMAIL, "password": PASSWORD}
    return json.loads(_call("auth_login", _request("POST", "/api/v1/auth/login", body), 200).get_body())


def _me() -> None:
    _call("users_me", _request("GET", "/api/v1/users/me", token=state["access"]), 200)


def _refresh() -> None:
    response = _call("auth_refresh", _request("POST", "/api/v1/auth/refresh", {"refresh_token": state["refresh"]}), 200)
    tokens = json.loads(response.get_body())
    state["refresh"] = tokens["refresh_token"]


def _register() -> None:
    n = next(state["counter"])
    body = {"email": f"donor-{RUN}-{n}@example.org", "password": PASSWORD, "first_name": "Reg", "last_name": "Ister"}
    _call("auth_register", _request("POST", "/api/v1/auth/register", body), 201)


OPS = {"login": login_once, "me": _me, "refresh": _refresh, "register": _register}


def inproc(op: str, n: int) -> list[float]:
    return timed(OPS[op], n)


def tokens() -> dict[str, Any]:
    return {"access_token": state["access"], "email": EMAIL, "password": PASSWORD}


def roundtrips() -> dict[str, dict[str, Any]]:
    """Per request: commands sent to Redis (packed commands written to a socket, as
    tests/support/round_trips.py's counting_round_trips counts them), SQL statements (SQLAlchemy
    before_cursor_execute on shared.database.get_engine(); "sql" counts every event,
    "statements" all but the transaction's BEGIN, as the tests pin them), and
    PostgreSQL wire round trips (pg8000 waits for the server:
    CoreConnection.handle_messages), which include what the events do not see: the
    pool's pre-ping, COMMIT/ROLLBACK, and pg8000's extended-protocol steps (parse,
    describe/bind, execute) of each statement; "transaction" counts the BEGIN, COMMIT and
    ROLLBACK statements that reached the server (their wire round trips are in
    "pg_round_trips": pg8000 sends BEGIN as a simple query, COMMIT in three steps)."""
    import pg8000.core
    import redis.connection
    from sqlalchemy import event

    from shared.database import get_engine

    counts: dict[str, Any] = {}
    real_send = redis.connection.AbstractConnection.send_packed_command
    real_handle = pg8000.core.CoreConnection.handle_messages

    def counting_send(self: Any, command: Any, check_health: bool = True) -> Any:
        counts["redis"] += 1
        return real_send(self, command, check_health)

    def counting_handle(self: Any, context: Any) -> Any:
        counts["pg_round_trips"] += 1
        statement = " ".join(str(getattr(context, "statement", "")).split())[:50]
        counts["pg_wire"].append(statement)
        if context is not counts["last_context"] and statement.upper() in ("BEGIN", "COMMIT", "ROLLBACK"):
            counts["transaction"] += 1  # one statement, however many round trips it takes
        counts["last_context"] = context
        return real_handle(self, context)

    def on_statement(*args: Any) -> None:
        counts["sql"] += 1
        counts["statements"].append(" ".join(str(args[2]).split())[:80])

    out = {}
    for op in ROUND_TRIP_OPS:
        call, before, after = _round_trip_op(op)
        if before:
            before()
        call()  # warm
        if before:
            before()
        counts.update(redis=0, sql=0, pg_round_trips=0, transaction=0, last_context=None, statements=[], pg_wire=[])
        redis.connection.AbstractConnection.send_packed_command = counting_send  # type: ignore[method-assign]
        pg8000.core.CoreConnection.handle_messages = counting_handle  # type: ignore[method-assign]
        event.listen(get_engine(), "before_cursor_execute", on_statement)
        try:
            call()
        finally:
            event.remove(get_engine(), "before_cursor_execute", on_statement)
            redis.connection.AbstractConnection.send_packed_command = real_send  # type: ignore[method-assign]
            pg8000.core.CoreConnection.handle_messages = real_handle  # type: ignore[method-assign]
        if after:
            after()
        counts.pop("last_context")
        out[op] = {k: (list(v) if isinstance(v, list) else v) for k, v in counts.items()}
        out[op]["statements"] = [sql for sql in out[op]["statements"] if sql.upper() != "BEGIN"]
    return out


# -- hot paths: the permission check and a route that needs only the caller's state ----------

STAFF_EMAIL = os.environ.get("BENCH_STAFF_EMAIL", "bench-staff@example.org")
# The order of the round-trip table.
ROUND_TRIP_OPS = ("me", "roles", "check", "check_uncached", "refresh", "login")
hot: dict[str, Any] = {}


def setup_hot_paths() -> dict[str, Any]:
    """A staff user of one NPO assigned to one event registered to that NPO, written straight
    to the database (as setup() writes its user) before signing in, so the sign-in caches that state."""
    from sqlalchemy import delete

    from shared.database import unit_of_work
    from shared.models import Event, EventAssignment, User
    from shared.security.passwords import hash_password

    npo_id, event_id = uuid.uuid4(), uuid.uuid4()
    with unit_of_work() as db:
        db.execute(delete(User).where(User.email == STAFF_EMAIL))  # its assignments go with it (cascade)
    with unit_of_work() as db:
        staff = User(
            email=STAFF_EMAIL,
            password_hash=hash_password(PASSWORD, ROUNDS),
            first_name="Bench",
            last_name="Staff",
            role="staff",
            npo_id=npo_id,
            email_verified=True,
            is_active=True,
        )
        db.add_all([staff, Event(id=event_id, npo_id=npo_id)])
        db.flush()
        db.add(EventAssignment(user_id=staff.id, event_id=event_id))
    body = {"email": STAFF_EMAIL, "password": PASSWORD}
    tokens = json.loads(_call("auth_login", _request("POST", "/api/v1/auth/login", body), 200).get_body())
    hot["access"], hot["user_id"] = tokens["access_token"], tokens["user"]["id"]
    hot["check_body"] = {"permission": "checkin:perform", "event_id": str(event_id)}
    answer = json.loads(_check().get_body())
    if answer != {"allowed": True, "reason": "assigned_event"}:
        raise RuntimeError(f"the staff user's check answered {answer}")
    return {"check_body": hot["check_body"], "staff_user_id": hot["user_id"], "npo_id": str(npo_id)}


def _roles() -> None:
    """GET /api/v1/roles as the benchmark user: the session script, nothing else."""
    _call("roles_list", _request("GET", "/api/v1/roles", token=state["access"]), 200)


def _check() -> Any:
    """POST /api/v1/authz/check as the staff user: checkin:perform at their event."""
    return _call("authz_check", _request("POST", "/api/v1/authz/check", hot["check_body"], token=hot["access"]), 200)


def _drop_staff_state() -> None:
    """What a role or assignment change does: the cached state goes (the check never caches it back)."""
    from shared.redis_client import Keys, get_redis

    get_redis().delete(Keys.user_state(hot["user_id"]))


def _recache_staff_state() -> None:
    """An ordinary authenticated request of the staff user caches the state again."""
    _call("roles_list", _request("GET", "/api/v1/roles", token=hot["access"]), 200)


Hook = Callable[[], Any] | None
# op: (the timed call, untimed before each call, untimed after the last)
HOT_OPS: dict[str, tuple[Callable[[], Any], Hook, Hook]] = {
    "roles": (_roles, None, None),
    "check": (_check, None, None),
    "check_uncached": (_check, _drop_staff_state, _recache_staff_state),
}


def _round_trip_op(op: str) -> tuple[Callable[[], Any], Hook, Hook]:
    return HOT_OPS[op] if op in HOT_OPS else (OPS[op], None, None)


def inproc_hot(op: str, n: int) -> list[float]:
    """Latency in seconds of ``n`` sequential calls; the hooks are not timed."""
    call, before, after = HOT_OPS[op]
    out = []
    for _ in range(n):
        if before:
            before()
        started = time.perf_counter()
        call()
        out.append(time.perf_counter() - started)
    if after:
        after()
    return out


def limits(n: int) -> dict[str, Any]:
    """The floor under a read, measured in this process: one Redis GET, and one
    primary-key SELECT through the pool as the app reads (``without_transaction()``: no
    transaction; the connection was used moments ago, so the checkout pings
    nothing) and on a connection held throughout (no checkout at all)."""
    from sqlalchemy import text

    from shared.database import get_engine, without_transaction
    from shared.redis_client import get_redis

    client = get_redis()
    client.get("bench:warm")
    redis_get = timed(lambda: client.get("bench:missing-key"), n)
    user_id = state["user_id"]
    statement = text("SELECT id, email FROM users WHERE id = :id")

    def pooled() -> None:
        with without_transaction() as session:
            session.execute(statement, {"id": user_id}).one()

    pooled()
    pk_pool = timed(pooled, n)
    with get_engine().connect() as connection:
        pk_held = timed(lambda: connection.execute(statement, {"id": user_id}).one(), n)
    return {"redis_get_s": redis_get, "pk_select_read_only_s": pk_pool, "pk_select_held_connection_s": pk_held}


# What ours gives bcrypt: the SHA-256 pre-hash of the password, base64 (44 bytes).
BCRYPT_INPUT = b"x" * 44


def bcrypt_for(seconds: float, threads: int) -> dict[str, Any]:
    """The bcrypt limit: ``bcrypt.checkpw`` at BCRYPT_ROUNDS on ``threads`` threads, each
    checking until ``seconds`` have passed (the harness passes how long the login
    measure it is compared with ran). Per thread: checks made and the seconds they took."""
    import bcrypt

    if "bcrypt_hash" not in state:
        state["bcrypt_hash"] = bcrypt.hashpw(BCRYPT_INPUT, bcrypt.gensalt(rounds=ROUNDS))
    hashed = state["bcrypt_hash"]
    per_thread: list[dict[str, float]] = [{} for _ in range(threads)]
    started = time.perf_counter()
    deadline = started + seconds

    def burn(index: int) -> None:
        checks = 0
        while True:
            bcrypt.checkpw(BCRYPT_INPUT, hashed)
            checks += 1
            if time.perf_counter() >= deadline:
                break
        per_thread[index] = {"checks": checks, "seconds": time.perf_counter() - started}

    workers = [threading.Thread(target=burn, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return {"threads": per_thread}


def pool_policy(ping_after_idle_seconds: float | None) -> None:
    """Rebuild the pool with DB_PING_AFTER_IDLE_SECONDS at this value (0: ping every
    checkout of a used connection); None: back to the configured value."""
    os.environ.pop("DB_PING_AFTER_IDLE_SECONDS", None)
    if ping_after_idle_seconds is not None:
        os.environ["DB_PING_AFTER_IDLE_SECONDS"] = str(ping_after_idle_seconds)
    elif CONFIGURED_PING_AFTER_IDLE is not None:
        os.environ["DB_PING_AFTER_IDLE_SECONDS"] = CONFIGURED_PING_AFTER_IDLE
    _use_settings()


CONFIGURED_PING_AFTER_IDLE = os.environ.get("DB_PING_AFTER_IDLE_SECONDS")


def _use_settings(**env: str) -> None:
    """Settings from the environment again, with ``env`` changed; the engine is rebuilt on next use."""
    from shared.config import get_settings
    from shared.database import dispose_engine

    os.environ.update(env)
    get_settings.cache_clear()
    dispose_engine()


def hung_database(runs: int) -> dict[str, Any]:
    """Seconds from a sign-in request to its 503 when PostgreSQL stops answering.

    PostgreSQL is reached through tests/support/hung_server.py's proxy, which forwards
    until it hangs: then it answers nothing, and new connections are accepted
    and never answered, as a stuck server's kernel does. Two cases: the pooled
    connection has been idle (DB_PING_AFTER_IDLE_SECONDS=0 makes every used
    connection count as idle), so it is pinged, and then a new connection is
    tried; and the pooled connection is hot (no ping), so the first statement
    waits. Each run counts the connections tried while hung.
    """
    from sqlalchemy.engine import make_url

    from shared.config import get_settings
    from shared.database import STATEMENT_TIMEOUT_MARGIN_SECONDS
    from tests.support.hung_server import HangingProxy, upstream_address

    saved = {name: os.environ.get(name) for name in ("DATABASE_URL", "DB_PING_AFTER_IDLE_SECONDS")}
    database_url = os.environ["DATABASE_URL"]
    body = {"email": "nobody@example.org", "password": "Whatever-123"}
    out: dict[str, Any] = {}
    try:
        for case, ping_after in (("idle", "0"), ("hot", "3600")):
            out[case] = []
            for _ in range(runs):
                with HangingProxy(upstream_address(database_url)) as proxy:
                    through = make_url(database_url).set(host="127.0.0.1", port=proxy.port, query={})
                    _use_settings(
                        DATABASE_URL=through.render_as_string(hide_password=False),
                        DB_PING_AFTER_IDLE_SECONDS=ping_after,
                    )
                    _call("health", _request("GET", "/health"), 200)  # one pooled connection, used
                    proxy.hang()
                    started = time.perf_counter()
                    response = state["functions"]["auth_login"](_request("POST", "/api/v1/auth/login", body))
                    seconds = time.perf_counter() - started
                    _use_settings(DATABASE_URL=database_url)  # drops the connections to the proxy
                out[case].append(
                    {"seconds": seconds, "status": response.status_code, "connections_tried": proxy.accepted_while_hung}
                )
    finally:
        for name, value in saved.items():
            os.environ.pop(name, None)
            if value is not None:
                os.environ[name] = value
        _use_settings()
    settings = get_settings()
    out["bounds_s"] = {
        "idle": settings.db_ping_timeout_seconds + settings.db_connect_timeout_seconds,
        "hot": settings.db_statement_timeout_seconds + STATEMENT_TIMEOUT_MARGIN_SECONDS,
    }
    return out


def token_costs(n: int) -> dict[str, dict[str, list[float]]]:
    """Sign and verify one access token, per JWT_ALGORITHM, through the app's own functions (no I/O).

    RS256 uses a 3072-bit key (what `new-signing-key --algorithm RS256` makes);
    HS256 a 48-byte secret. Each verification is of a token signed by the same settings.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from shared.config import load_settings
    from shared.security.jwt_tokens import create_access_token, decode_access_token
    from shared.security.signing_keys import new_private_key_pem

    rsa_pem = (
        rsa.generate_private_key(public_exponent=65537, key_size=3072)
        .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        .decode()
    )
    keys: dict[str, dict[str, str]] = {
        "HS256": {"jwt_secret_key": secrets.token_urlsafe(48)},
        "ES256": {"jwt_signing_keys": new_private_key_pem("ES256")},
        "EdDSA": {"jwt_signing_keys": new_private_key_pem("EdDSA")},
        "RS256": {"jwt_signing_keys": rsa_pem},
    }
    user, session = str(uuid.uuid4()), str(uuid.uuid4())
    out = {}
    for algorithm in ("HS256", "ES256", "EdDSA", "RS256"):
        settings = load_settings(environment="test", jwt_algorithm=algorithm, **keys[algorithm])
        token, _ = create_access_token(settings, user_id=user, session_id=session, role="donor", npo_id=None)

        def sign(settings: Any = settings) -> None:
            create_access_token(settings, user_id=user, session_id=session, role="donor", npo_id=None)

        def verify(settings: Any = settings, token: str = token) -> None:
            decode_access_token(settings, token)

        sign()  # warm: first calls build PyJWT's and cryptography's objects
        verify()
        out[algorithm] = {"sign_s": timed(sign, n), "verify_s": timed(verify, n)}
    return out


def profile(op: str, n: int, path: str, site: str) -> str:
    """pyinstrument comes from .venv-bench's site-packages, appended last so the app's pins win."""
    if site not in sys.path:
        sys.path.append(site)
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.0002)
    profiler.start()
    if op in HOT_OPS:
        inproc_hot(op, n)
    else:
        timed(OPS[op], n)
    profiler.stop()
    Path(path).write_text(profiler.output_text(unicode=False, color=False, show_all=False))
    return path


if __name__ == "__main__":
    serve(
        {
            "setup": setup,
            "inproc": inproc,
            "tokens": tokens,
            "roundtrips": roundtrips,
            "setup_hot_paths": setup_hot_paths,
            "inproc_hot": inproc_hot,
            "limits": limits,
            "bcrypt_for": bcrypt_for,
            "pool_policy": pool_policy,
            "hung_database": hung_database,
            "token_costs": token_costs,
            "profile": profile,
            "exit": lambda: None,
        }
    )
