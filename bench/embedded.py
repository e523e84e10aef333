"""Embedded PostgreSQL and Redis (devtools/services.py) for machines without
reachable servers; runs under the app's .venv, prints the URLs as one JSON line
and keeps the servers up until stdin closes (then stops those it started)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from devtools.services import DATA_DIR, start_embedded_postgres, start_embedded_redis  # noqa: E402

want = sys.argv[1:]
urls = {}
if "postgres" in want:
    urls["database_url"] = start_embedded_postgres(DATA_DIR / "bench", database="postgres").url
if "redis" in want:
    urls["redis_url"] = start_embedded_redis(DATA_DIR / "bench").url
print(json.dumps(urls), flush=True)
sys.stdin.read()
