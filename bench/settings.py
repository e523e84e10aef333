"""The run's settings: where things are, the environment knobs, the benchmark
accounts and how many times each thing is measured. Read once, at import."""

from __future__ import annotations

import os
import socket
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
OURS_PY = str(ROOT / ".venv" / "bin" / "python")  # ours always runs under the app's venv
PEER_PY = sys.executable  # the peer and the harness under .venv-bench
QUICK = os.environ.get("BENCH_QUICK", "") not in ("", "0")
ROUNDS = int(os.environ.get("BCRYPT_ROUNDS", "12"))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "8"))
EMAIL = "bench-user@example.org"
STAFF_EMAIL = "bench-staff@example.org"  # assigned to one event: the check route's caller
PASSWORD = "Gala-night-2026-bench"

# What both sides serve (fastapi-users: sign-in and the current user): the compared operations.
PEER_OPS = ("login", "me")

# The hot paths only ours has (fastapi-users has no check route and no roles list):
# measured in the same interleaved rounds, shown as ours-only rows.
HOT_INPROC = ("roles", "check", "check_uncached")
HOT_HTTP = ("roles", "check")

# What each operation is called in the tables, the targets and the chart.
LABELS = {
    "login": "login",
    "me": "GET /users/me",
    "me_pinged": "GET /users/me, both pools pinging every checkout",
    "refresh": "refresh",
    "register": "register",
    "roles": "GET /roles (caller's state only)",
    "check": "POST /authz/check (state cached)",
    "check_uncached": "POST /authz/check (state not cached)",
}

# Iterations: (full, quick)
N = {
    "import_runs": (10, 3),
    "health_runs": (5, 2),
    "first_request_runs": (20, 2),  # fresh processes per side and measure (+1 untimed round)
    "rounds": (4, 2),  # interleaved rounds, ours then peer
    "inproc_login": (6, 1),  # each round's bcrypt limit runs as long as ours' logins of the round
    "inproc_me": (500, 100),
    "inproc_me_pinged": (500, 100),  # both pools pinging every checkout
    "inproc_refresh": (100, 20),
    "inproc_register": (3, 1),
    "inproc_roles": (500, 100),
    "inproc_check": (500, 100),
    "inproc_check_uncached": (200, 50),
    "http_rounds": (3, 1),
    "http_me": (150, 25),  # per client per round
    "http_login": (2, 1),
    "http_refresh": (40, 8),
    "http_register": (2, 1),
    "http_roles": (150, 25),
    "http_check": (150, 25),
    "limit_ops": (2000, 300),
    "hung_runs": (3, 1),  # per case: an idle and a hot pooled connection
    "token_ops": (2000, 300),
    "mem_first": (1000, 1000),
    "mem_total": (10000, 3000),
}


def n(key: str) -> int:
    return N[key][1 if QUICK else 0]


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
