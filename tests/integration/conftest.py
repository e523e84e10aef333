"""Integration tests: real PostgreSQL and Redis, the local server over real HTTP.

Loaded only when tests of this folder are collected, so `make test-unit`
starts nothing. Services are found or started, the runtime role made and the
schema migrated before any test module here is imported
(:mod:`tests.support.services` says which, and how).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.support import FunctionsByName
from tests.support.accounts import Account, Actor, enrol_second_factor, make_user, second_factor_required
from tests.support.database import scratch_database as new_scratch_database
from tests.support.emails import EMAIL_DIR
from tests.support.network import client_from, fresh_ip, served_at
from tests.support.services import embedded_services_report, prepare_services, stop_embedded_services_started_here
from tests.support.settings import settings_changed, use_test_settings


def pytest_configure(config: pytest.Config) -> None:
    """Point the app at real services before any of its modules reads settings."""
    use_test_settings()  # tests/conftest.py's too, for a session that loads only this file (-p)
    os.environ["EMAIL_BACKEND"] = "file"
    os.environ["EMAIL_FILE_DIR"] = str(EMAIL_DIR)
    prepare_services()


def pytest_report_collectionfinish(config: pytest.Config) -> list[str]:
    """Which embedded servers this session started or reused (they start during collection)."""
    return embedded_services_report()


def pytest_unconfigure(config: pytest.Config) -> None:
    stop_embedded_services_started_here()


@pytest.fixture
def scratch_database() -> Iterator[str]:
    """A new, empty database on the same server (the owner's URL to it), dropped afterwards."""
    with new_scratch_database() as url:
        yield url


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
    return served_at(local_server)


@pytest.fixture
def client(base_url: str) -> Iterator[httpx.Client]:
    """An HTTP client from a loopback address of the test's own: no test spends another's limits."""
    with client_from(base_url, fresh_ip()) as http:
        yield http


@pytest.fixture(scope="session")
def functions(local_server: Any) -> FunctionsByName:
    """Each registered function by name, for in-process calls."""
    return {route.name: route.call for route in local_server.router.routes}


@pytest.fixture
def unique_email() -> Callable[[str], str]:
    def make(prefix: str = "user") -> str:
        return f"{prefix}-{secrets.token_hex(6)}@example.org"

    return make


@pytest.fixture
def new_account(client: httpx.Client, unique_email: Callable[[str], str]) -> Callable[[], Account]:
    """``new_account()``: a verified, active donor, each call a new one."""

    def make() -> Account:
        created = Account(client, unique_email("donor"))
        assert created.register().status_code == 201
        assert created.verify().status_code == 200
        return created

    return make


@pytest.fixture
def account(new_account: Callable[[], Account]) -> Account:
    """A verified, active donor."""
    return new_account()


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
