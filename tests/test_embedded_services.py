"""The embedded-services path of `make run` / `make test`, exercised once for real."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow

_PROBE = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    import redis, sqlalchemy as sa
    from devtools.services import start_embedded_postgres, start_embedded_redis
    data = Path(sys.argv[1])
    pg_url = start_embedded_postgres(data, database="augeo_probe")
    redis_url = start_embedded_redis(data)
    engine = sa.create_engine(pg_url)
    with engine.connect() as c:
        print("pg", c.execute(sa.text("SELECT current_database()")).scalar())
    engine.dispose()
    print("redis", redis.Redis.from_url(redis_url).ping())
    """
)


def test_embedded_postgres_and_redis_start_answer_and_stop(tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "pg augeo_probe" in done.stdout
    assert "redis True" in done.stdout
    # Both servers stop with the process that started them.
    postmaster = tmp_path / "pg" / "postmaster.pid"
    assert not postmaster.exists()
