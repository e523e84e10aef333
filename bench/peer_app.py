# ruff: noqa: B008, PLC0415  (FastAPI dependencies are declared as defaults)
"""The peer: a minimal fastapi-users app (FastAPI, SQLAlchemy async + asyncpg,
JWT strategy, bcrypt at BCRYPT_ROUNDS) offering login, /users/me and /health.

Runs only under .venv-bench (fastapi-users-db-sqlalchemy needs SQLAlchemy < 2.1;
the app pins 2.1.x). Settings from the environment:
PEER_DATABASE_URL (postgresql+asyncpg://...), JWT_SECRET_KEY, BCRYPT_ROUNDS,
PEER_POOL_SIZE / PEER_MAX_OVERFLOW (default 2 / 2, the app's defaults).

The JWT strategy is stateless: /users/me verifies the token and reads the user
row (one SELECT); there is no session store, so no revocation check and no Redis.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncGenerator

from fastapi import Depends, FastAPI
from fastapi_users import BaseUserManager, FastAPIUsers, UUIDIDMixin, schemas
from fastapi_users.authentication import AuthenticationBackend, BearerTransport, JWTStrategy
from fastapi_users.password import PasswordHelper
from fastapi_users_db_sqlalchemy import SQLAlchemyBaseUserTableUUID, SQLAlchemyUserDatabase
from pwdlib import PasswordHash
from pwdlib.hashers.bcrypt import BcryptHasher
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase

DATABASE_URL = os.environ.get("PEER_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/augeo_bench_peer")
SECRET = os.environ.get("JWT_SECRET_KEY", "peer-secret-" + "x" * 40)
ROUNDS = int(os.environ.get("BCRYPT_ROUNDS", "12"))


class Base(DeclarativeBase):
    pass


class User(SQLAlchemyBaseUserTableUUID, Base):
    pass


class UserRead(schemas.BaseUser[uuid.UUID]):
    pass


class UserCreate(schemas.BaseUserCreate):
    pass


engine = create_async_engine(
    DATABASE_URL,
    pool_size=int(os.environ.get("PEER_POOL_SIZE", "2")),
    max_overflow=int(os.environ.get("PEER_MAX_OVERFLOW", "2")),
    pool_pre_ping=True,  # as the app does
)
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


def get_jwt_strategy() -> JWTStrategy:
    return JWTStrategy(secret=SECRET, lifetime_seconds=900)


auth_backend = AuthenticationBackend(
    name="jwt", transport=BearerTransport(tokenUrl="auth/jwt/login"), get_strategy=get_jwt_strategy
)
fastapi_users = FastAPIUsers[User, uuid.UUID](get_user_manager, [auth_backend])

app = FastAPI(title="peer")
app.include_router(fastapi_users.get_auth_router(auth_backend), prefix="/auth/jwt")
app.include_router(fastapi_users.get_users_router(UserRead, schemas.BaseUserUpdate), prefix="/users")


@app.get("/health")
async def health() -> dict[str, str]:
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
