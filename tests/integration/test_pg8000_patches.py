"""The pg8000 patches (shared/pg8000_patches.py) are for the driver installed, and still take hold.

They reach into pg8000 beyond its documented API, so a new release must be
read against them before it is installed: these tests fail until it is.
"""

from __future__ import annotations

import importlib.metadata
from datetime import datetime

import pg8000.converters
import pg8000.legacy
from sqlalchemy import text

from shared.database import get_engine, unit_of_work, without_transaction
from shared.pg8000_patches import PATCHED_VERSION
from tests.support import ROOT


def test_the_installed_and_pinned_pg8000_is_the_release_the_patches_were_written_for() -> None:
    pins = dict(
        line.strip().split("==", 1)
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    )
    assert importlib.metadata.version("pg8000") == PATCHED_VERSION
    assert pins["pg8000"] == PATCHED_VERSION


def test_the_private_parts_the_patches_use_are_there_and_patched() -> None:
    get_engine()  # the engine applies the patches
    assert getattr(pg8000.legacy.convert_paramstyle, "augeo_cached", False), "the conversion cache is in place"
    assert callable(pg8000.converters.timestamptz_in), "the fallback for timestamps fromisoformat cannot read"
    with without_transaction() as db:
        driver = db.connection().connection.dbapi_connection
        assert driver is not None
        assert driver.autocommit is True
        assert callable(driver._usock.settimeout), "the socket whose read timeout is set per phase"
        assert driver._in_transaction is False, "the status the one-round-trip COMMIT and ROLLBACK read"
        now = db.scalar(text("SELECT now()"))
    assert isinstance(now, datetime) and now.tzinfo is not None
    with unit_of_work() as db:
        db.scalar(text("SELECT 1"))
        driver = db.connection().connection.dbapi_connection
        assert driver is not None and driver._in_transaction is True
