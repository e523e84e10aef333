# ruff: noqa: B008, PLC0415  (FastAPI dependencies are declared as defaults)
"""The peer: a minimal fastapi-users app (FastAPI, SQLAlchemy async + asyncpg,
JWT strategy, bcrypt at BCRYPT_ROUNDS) offering login, /users/me and /health.

Runs only under .venv-bench (fastapi-users-db-sqlalchemy needs SQLAlchemy < 2.1;
the app pins 2.1.x). Settings from the environment:
PEER_DATABASE_URL (postgresql+asyncpg://...), JWT_SECRET_KEY (the user
manager's token secrets), PEER_JWT_SIGNING_KEY (an ES256 private key, PEM:
access tokens are signed and verified with ES256, as ours' are), BCRYPT_ROUNDS,
PEER_POOL_SIZE / PEER_MAX_OVERFLOW (default 2 / 2, the app's defaults) and
PEER_PING_AFTER_IDLE_SECONDS (default 10, ours' DB_PING_AFTER_IDLE_SECONDS).

The JWT strategy is stateless: /users/me verifies the token and reads the user
row (one SELECT); there is no session store, so no revocation check and no Redis.
/health runs SELECT 1 through the pool, as ours' does (ours also pings Redis).
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import AsyncGenerator
from functools import cache
from typing import Any

from cryptography.hazmat.primitives.serialization import load_pem_private_key
from fastapi import Depends, FastAPI
from fastapi_users import BaseUserManager, FastAPIUsers, UUIDIDMixin, schemas
from fastapi_users.authentication import AuthenticationBackend, BearerTransport, JWTStrategy
from fastapi_users.password import PasswordHelper
from fastapi_users_db_sqlalchemy import SQLAlchemyBaseUserTableUUID, SQLAlchemyUserDatabase
from pwdlib import PasswordHash
from pwdlib.hashers.bcrypt import BcryptHasher
from sqlalchemy import Engine, event, text
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase

DATABASE_URL = os.environ.get("PEER_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/augeo_bench_peer")
SECRET = os.environ.get("JWT_SECRET_KEY", "peer-secret-" + "x" * 40)
ROUNDS = int(os.environ.get("BCRYPT_ROUNDS", "12"))
PING_AFTER_IDLE_SECONDS = float(os.environ.get("PEER_PING_AFTER_IDLE_SECONDS", "10"))


class Base(DeclarativeBase):
    pass


class User(SQLAlchemyBaseUserTableUUID, Base):
    pass


class UserRead(schemas.BaseUser[uuid.UUID]):
    pass


class UserCreate(schemas.BaseUserCreate):
    pass


def build_engine(ping_after_idle_seconds: float) -> AsyncEngine:
    """A pool of 2 + 2 connections that pings a connection idle for ``ping_after_idle_seconds``
    before handing it out, as ours does; 0 is SQLAlchemy's ``pool_pre_ping`` (every
    checkout of a used connection: for asyncpg a BEGIN, a ``;`` and a ROLLBACK)."""
    engine = create_async_engine(
        DATABASE_URL,
        pool_size=int(os.environ.get("PEER_POOL_SIZE", "2")),
        max_overflow=int(os.environ.get("PEER_MAX_OVERFLOW", "2")),
        pool_pre_ping=ping_after_idle_seconds == 0,
    )
    if ping_after_idle_seconds > 0:
        _ping_after_idle(engine.sync_engine, ping_after_idle_seconds)
    return engine


def _ping_after_idle(engine: Engine, idle_seconds: float) -> None:
    """The pool policy of ours' shared/database.py (which the peer's SQLAlchemy 2.0 cannot import):
    a connection just made is not pinged, one used and idle ``idle_seconds`` or more is."""

    @event.listens_for(engine, "connect")
    def _fresh(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = None

    @event.listens_for(engine, "checkin")
    def _idle_from_now(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < idle_seconds:
            return
        try:
            dbapi_connection.ping()  # the pool's own pre-ping call
        except Exception as error:
            raise DisconnectionError("pre-ping failed") from error


engine = build_engine(PING_AFTER_IDLE_SECONDS)
session_maker = async_sessionmaker(engine, expire_on_commit=False)


async def use_pool_policy(ping_after_idle_seconds: float | None) -> None:
    """The in-process worker's switch between the two pool policies it measures (None: the configured one)."""
    global engine, session_maker
    await engine.dispose()
    engine = build_engine(PING_AFTER_IDLE_SECONDS if ping_after_idle_seconds is None else ping_after_idle_seconds)
    session_maker = async_sessionmaker(engine, expire_on_commit=False)


password_helper = PasswordHelper(PasswordHash((BcryptHasher(rounds=ROUNDS),)))


async def get_session() -> AsyncGenerator[AsyncSession, None]:
    async with session_maker() as session:
        yield session


async def get_user_db(session: AsyncSession = Depends(get_session)) -> AsyncGenerator[SQLAlchemyUserDatabase, None]:
    yield SQLAlchemyUserDatabase(session, User)


class UserManager(UUIDIDMixin, BaseUserManager[User, uuid.UUID]):
    reset_password_token_secret = SECRET
    verification_token_secret = SECRET


async def get_user_manager(user_db: SQLAlchemyUserDatabase = Depends(get_user_db)) -> AsyncGenerator[UserManager, None]:
    yield UserManager(user_db, password_helper)


@cache
def get_jwt_strategy() -> JWTStrategy:
    """ES256 with the key loaded once, on first use (ours loads its keys on the first request too).

    PyJWT takes the cryptography key objects as they are: fastapi-users passes them through."""
    private_key = load_pem_private_key(os.environ["PEER_JWT_SIGNING_KEY"].encode(), password=None)
    return JWTStrategy(
        secret=private_key,
        public_key=private_key.public_key(),
        algorithm="ES256",
        lifetime_seconds=900,
    )


auth_backend = AuthenticationBackend(
    name="jwt", transport=BearerTransport(tokenUrl="auth/jwt/login"), get_strategy=get_jwt_strategy
)
fastapi_users = FastAPIUsers[User, uuid.UUID](get_user_manager, [auth_backend])

app = FastAPI(title="peer")
app.include_router(fastapi_users.get_auth_router(auth_backend), prefix="/auth/jwt")
app.include_router(fastapi_users.get_users_router(UserRead, schemas.BaseUserUpdate), prefix="/users")


@app.get("/health")
async def health() -> dict[str, str]:
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
    return {"status": "healthy"}


async def create_schema_and_user(email: str, password: str) -> None:
    """Set-up (not timed): the peer's tables and one verified, active user."""
    from sqlalchemy import delete

    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    async with session_maker() as session:
        await session.execute(delete(User).where(User.email == email))
        session.add(
            User(
                email=email,
                hashed_password=password_helper.hash(password),
                is_active=True,
                is_verified=True,
                is_superuser=False,
            )
        )
        await session.commit()
