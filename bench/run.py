# ruff: noqa: S602, S603, PLC0415  (starts subprocesses; matplotlib and pyinstrument only where used)
"""`make bench`: cold start, per-request cost, limits, round trips, memory, and
the fastapi-users peer, in one run against real PostgreSQL and Redis.

Runs under .venv-bench (the load client, the chart, the peer). Ours always runs
under the app's .venv, as subprocesses: bench/ours_worker.py (in-process calls)
and `python -m devtools.local_server` (HTTP). The peer runs under .venv-bench:
bench/peer_worker.py (in-process ASGI calls) and uvicorn (HTTP). Measurements
of the two sides are interleaved, round by round.

This module is the order of the run; the parts live beside it: settings.py
(knobs and iteration counts), sides.py (the servers, environments and
workers), cold_start.py, load.py (the HTTP load client), samples.py (summaries),
report.py (the tables and targets) and chart.py.

Environment: DATABASE_URL / REDIS_URL (else 127.0.0.1:5432 / :6379, else the
embedded servers of devtools/services.py), BCRYPT_ROUNDS (default 12, both
sides), BENCH_QUICK=1 (smoke run), BENCH_CLIENTS (HTTP clients, default 8),
BENCH_PROFILE=1 (pyinstrument profiles into bench/results/), BENCH_DATABASE
(the database dropped and created for ours, default augeo_bench; the peer's is
<that>_peer), BENCH_VARIANT=<directory> (another checkout of the repository,
e.g. a variant of ours: its import and first-request cold start are measured
beside ours, interleaved, under the same .venv and database).
Writes bench/results/results.json and bench/results/benchmark.png.
`bench/run.py --render <results.json>` prints the tables and redraws the chart of a saved run;
`bench/run.py --tokens` prints only the access-token sign/verify table.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `python bench/run.py` imports bench.*

from bench.cold_start import Importer, Side, first_health, first_requests, import_times
from bench.load import Api, burst, load, merge_http
from bench.report import ratios, render, span, token_rows
from bench.samples import stats, token_costs
from bench.settings import (
    CLIENTS,
    HOT_HTTP,
    HOT_INPROC,
    OURS_PY,
    PEER_OPS,
    PEER_PY,
    QUICK,
    RESULTS,
    ROOT,
    ROUNDS,
    free_port,
    log,
    n,
)
from bench.sides import (
    Services,
    Worker,
    es256_signing_key,
    ours_env,
    peer_env,
    start_ours,
    start_peer,
    stop_server,
    throwaway_encryption_key,
    variant_tree,
)


def main() -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    begun = time.perf_counter()
    if not Path(OURS_PY).exists():
        sys.exit("the app's .venv is missing: run `make test` (or `make run`) first")
    log(f"mode {'quick' if QUICK else 'full'}, BCRYPT_ROUNDS={ROUNDS}, {CLIENTS} HTTP clients")
    services = Services()
    signing_key = es256_signing_key()
    env_ours = ours_env(services, tempfile.mkdtemp(prefix="augeo-bench-emails-"), signing_key)
    env_peer = peer_env(services, signing_key)
    results: dict[str, Any] = {"mode": "quick" if QUICK else "full", "bcrypt_rounds": ROUNDS, "clients": CLIENTS}
    variant = variant_tree()
    if variant:
        results["variant"] = str(variant)
        log(f"variant of ours: {variant}")
    load_average = sample_load_average(every_s=10)
    try:
        results["machine"] = machine(prepare_services(services, env_ours))
        results["services"] = {"database": services.database_url.split("@")[-1], "redis": services.redis_url}
        results.update(cold_start_imports(env_ours, env_peer, variant))
        results.update(in_process(env_ours, env_peer))
        log("cold start: process start to the first login and to the first /users/me")
        sides = [Side("ours", "ours", ROOT, env_ours), Side("peer", "peer", ROOT, env_peer)]
        if variant:
            sides.insert(1, Side("variant", "ours", variant, env_ours))
        results["first_request"] = first_requests(sides, n("first_request_runs"))
        for name, first in results["first_request"].items():
            log(f"  {name}: first login {span(first['login'])}, first /users/me {span(first['me'])}")
        http = over_http(env_ours, env_peer, results["check_body"])
        results["bcrypt"]["http"] = http.pop("bcrypt")
        results.update(http)
        results["memory"] = memory(env_ours, env_peer)
    finally:
        services.close()
        results["load_average"] = load_average()
    results["ratios"] = ratios(results)
    results["elapsed_s"] = time.perf_counter() - begun
    (RESULTS / "results.json").write_text(json.dumps(results, indent=2))
    print(render(results))
    draw_chart(results)
    log(f"wrote {RESULTS / 'results.json'} and {RESULTS / 'benchmark.png'} in {results['elapsed_s']:.0f} s")


def sample_load_average(every_s: int) -> Callable[[], dict[str, Any]]:
    """Read the 1-minute load average every ``every_s`` seconds (the run's own load and the
    neighbours'); the function returned stops the sampling and gives the samples."""
    samples: list[float] = []
    stop = threading.Event()

    def sample() -> None:
        while True:
            samples.append(float(Path("/proc/loadavg").read_text().split()[0]))
            if stop.wait(every_s):
                return

    threading.Thread(target=sample, daemon=True).start()

    def stopped() -> dict[str, Any]:
        stop.set()
        return {"every_s": every_s, "samples": samples}

    return stopped


def prepare_services(services: Services, env_ours: dict[str, str]) -> str:
    """Both benchmark databases afresh (ours migrated), Redis flushed when it is ours alone; the server's version."""
    log("creating and migrating the benchmark databases")
    output = subprocess.run(
        [OURS_PY, str(ROOT / "bench" / "prepare_db.py"), services.database_url, services.peer_db],
        cwd=ROOT,
        env=env_ours,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if services.flush_redis:
        flush = f"import redis; redis.Redis.from_url({services.redis_url!r}).flushdb()"
        subprocess.run([OURS_PY, "-c", flush], check=True)
    return output.strip().splitlines()[-1]


def machine(pg_version: str) -> dict[str, Any]:
    def sh(command: str) -> str:
        try:
            return subprocess.run(
                command, shell=True, check=False, capture_output=True, text=True, timeout=10
            ).stdout.strip()
        except Exception:
            return ""

    return {
        "nproc": sh("nproc"),
        "loadavg_at_start": Path("/proc/loadavg").read_text().strip(),
        "lscpu": sh("lscpu | head -n 15"),
        "memory": sh("free -h | head -n 2"),
        "kernel": platform.release(),
        "python_ours": sh(f"{OURS_PY} --version"),
        "python_peer": platform.python_version(),
        "postgresql": pg_version,
        "redis": sh("redis-server --version") or sh("redis-cli INFO server | grep redis_version"),
    }


def cold_start_imports(env_ours: dict[str, str], env_peer: dict[str, str], variant: Path | None) -> dict[str, Any]:
    """The import of each app, and process start to the first /health, in fresh processes."""
    log("cold start: import of each app in fresh processes")
    importers = [
        Importer("ours", OURS_PY, "function_app", env_ours),
        Importer("peer", PEER_PY, "bench.peer_app", env_peer),
    ]
    if variant:
        importers.append(Importer("variant", OURS_PY, "function_app", env_ours, variant))
        import_times(importers[-1:], 1)  # untimed: writes the tree's bytecode
    imports = import_times(importers, n("import_runs"))
    log("cold start: process start to first /health answer")
    return {"import": imports, "first_health": first_health(env_ours, env_peer, n("health_runs"))}


def in_process(env_ours: dict[str, str], env_peer: dict[str, str]) -> dict[str, Any]:
    """Both workers: warm-up, the limits, the token table, the interleaved rounds,
    the round trips, and a hung PostgreSQL."""
    log("in-process workers: set-up")
    workers: list[Worker] = []
    try:
        ours = Worker(OURS_PY, "ours_worker.py", env_ours)
        workers.append(ours)
        peer = Worker(PEER_PY, "peer_worker.py", env_peer)
        workers.append(peer)
        ours("setup")
        hot_setup = ours("setup_hot_paths")
        peer("setup")
        # Untimed warm-up of every measured operation: first calls build pydantic
        # validators and fill SQLAlchemy's statement caches.
        for op, count in (("login", 1), ("me", 50), ("refresh", 10), ("register", 1)):
            ours("inproc", op=op, n=count)
            if op in PEER_OPS:
                peer("inproc", op=op, n=count)
        for op in HOT_INPROC:
            ours("inproc_hot", op=op, n=50)

        log("limits: Redis GET, primary-key SELECT")
        raw = ours("limits", n=n("limit_ops"))
        limits = {name.removesuffix("_s"): stats(samples) for name, samples in raw.items()}
        log("access tokens: sign and verify per algorithm")
        tokens = token_costs(ours("token_costs", n=n("token_ops")))
        log("in-process, interleaved rounds (with the bcrypt limit beside ours' logins)")
        rounds, bcrypt_rounds = in_process_rounds(ours, peer)
        log("round trips")
        round_trips = ours("roundtrips")
        if os.environ.get("BENCH_PROFILE"):
            profile(ours, peer)
        log("a hung PostgreSQL: time to a 503")
        hung = ours("hung_database", runs=n("hung_runs"))
    finally:
        for worker in workers:
            try:
                worker.close()
            except Exception:
                worker.process.kill()
    return {
        "limits": limits,
        "bcrypt": {"inproc": bcrypt_limit(bcrypt_rounds)},
        "tokens": tokens,
        "inproc": {side: {op: by_round(batches) for op, batches in ops.items()} for side, ops in rounds.items()},
        "round_trips": round_trips,
        "hung_database": hung,
        "check_body": hot_setup["check_body"],
    }


def in_process_rounds(ours: Worker, peer: Worker) -> tuple[dict[str, dict[str, list[list[float]]]], list[Any]]:
    """Each round: every operation on both sides in turn, the bcrypt limit on one thread for
    as long as ours' logins of the round took, and /users/me again with both pools pinging
    every checkout. Returns each side's batches per operation (one per round) and the bcrypt rounds."""
    batches: dict[str, dict[str, list[list[float]]]] = {"ours": {}, "peer": {}}
    bcrypt_rounds = []
    for _ in range(n("rounds")):
        for op in ("login", "me", "refresh", "register"):
            count = n(f"inproc_{op}")
            batches["ours"].setdefault(op, []).append(batch := ours("inproc", op=op, n=count))
            if op == "login":
                bcrypt_rounds.append(ours("bcrypt_for", seconds=sum(batch), threads=1))
            if op in PEER_OPS:
                batches["peer"].setdefault(op, []).append(peer("inproc", op=op, n=count))
        for op in HOT_INPROC:
            batches["ours"].setdefault(op, []).append(ours("inproc_hot", op=op, n=n(f"inproc_{op}")))
        for side, worker in (("ours", ours), ("peer", peer)):
            worker("pool_policy", ping_after_idle_seconds=0)
            worker("inproc", op="me", n=20)  # untimed: the new pool's connection
            batches[side].setdefault("me_pinged", []).append(worker("inproc", op="me", n=n("inproc_me_pinged")))
            worker("pool_policy", ping_after_idle_seconds=None)  # back to the configured policy
            worker("inproc", op="me", n=20)
    return batches, bcrypt_rounds


def by_round(batches: list[list[float]]) -> dict[str, Any]:
    """Latency percentiles and calls/s of all the batches, and each round's p50 and calls/s."""
    rounds = [{"p50_ms": s["p50_ms"], "per_s": s["per_s"]} for s in map(stats, batches)]
    return {**stats([x for batch in batches for x in batch]), "rounds": rounds}


def bcrypt_limit(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Checks per second of each round (the threads' rates added up) and of all rounds together."""
    per_round = [sum(t["checks"] / t["seconds"] for t in r["threads"]) for r in rounds]
    checks = sum(t["checks"] for r in rounds for t in r["threads"])
    seconds = sum(statistics.fmean(t["seconds"] for t in r["threads"]) for r in rounds)
    return {
        "threads": len(rounds[0]["threads"]),
        "checks": checks,
        "seconds": seconds,
        "per_s": checks / seconds,
        "rounds_per_s": per_round,
    }


def profile(ours: Worker, peer: Worker) -> None:
    """BENCH_PROFILE=1: pyinstrument profiles of the hot paths into bench/results/."""
    import pyinstrument

    log("profiling (pyinstrument)")
    site = str(Path(pyinstrument.__file__).resolve().parent.parent)  # appended last to ours' sys.path
    for op, count in (("me", 2000), ("roles", 2000), ("check", 2000), ("refresh", 200), ("login", 5)):
        ours("profile", op=op, n=count, path=str(RESULTS / f"profile-ours-{op}.txt"), site=site)
    peer("profile", op="me", n=2000, path=str(RESULTS / "profile-peer-me.txt"))


def over_http(env_ours: dict[str, str], env_peer: dict[str, str], check_body: dict[str, str]) -> dict[str, Any]:
    """A cold burst of first logins, then each operation under CLIENTS clients, sides alternating;
    after ours' logins of each round, the bcrypt limit on every core for as long as they took."""
    log(f"HTTP, {CLIENTS} clients, interleaved rounds (with the bcrypt limit beside ours' logins)")
    servers = []
    bcrypt_worker = Worker(OURS_PY, "ours_worker.py", env_ours)  # for bcrypt_for only: no app set up
    try:
        ours_server, _ = start_ours(env_ours, ours_port := free_port())
        servers.append(ours_server)
        peer_server, _ = start_peer(env_peer, peer_port := free_port())
        servers.append(peer_server)
        apis = {"ours": Api("ours", ours_port), "peer": Api("peer", peer_port)}
        apis["ours"].check_body = check_body
        # A cold server's first requests arriving together (both pools empty, nothing
        # cached); report what they answered.
        cold_burst = {side: burst(apis[side], CLIENTS) for side in ("ours", "peer")}
        for side in ("ours", "peer"):  # then warm both servers one request at a time, untimed
            for op in (*PEER_OPS, "refresh", "register", *HOT_HTTP) if side == "ours" else PEER_OPS:
                load(apis[side], op, 1, 3)
            load(apis[side], "me", 2, 20)
        parts: dict[str, dict[str, list[dict[str, Any]]]] = {"ours": {}, "peer": {}}
        bcrypt_rounds = []
        for _ in range(n("http_rounds")):
            for op in ("me", "login", "refresh", "register", *HOT_HTTP):
                for side in ("ours", "peer"):
                    if side == "peer" and op not in PEER_OPS:
                        continue
                    parts[side].setdefault(op, []).append(part := load(apis[side], op, CLIENTS, n(f"http_{op}")))
                    if (side, op) == ("ours", "login"):
                        threads = os.cpu_count() or 1
                        bcrypt_rounds.append(bcrypt_worker("bcrypt_for", seconds=part["wall_s"], threads=threads))
    finally:
        bcrypt_worker.close()
        for process in servers:
            stop_server(process)
    http = {side: {op: merge_http(v) for op, v in ops.items()} for side, ops in parts.items()}
    return {"cold_burst": cold_burst, "http": http, "bcrypt": bcrypt_limit(bcrypt_rounds)}


def memory(env_ours: dict[str, str], env_peer: dict[str, str]) -> dict[str, Any]:
    """RSS of a fresh server of each side after mem_first and mem_total /users/me (4 clients)."""
    log("memory: RSS after 1k and 10k /users/me")
    out = {}
    for side, start, env in (("ours", start_ours, env_ours), ("peer", start_peer, env_peer)):
        process, _ = start(env, port := free_port())
        try:
            api = Api(side, port)
            clients = 4
            load(api, "me", 1, 3)  # one at a time first (see cold_burst)
            start_rss = rss_kib(process.pid)
            load(api, "me", clients, n("mem_first") // clients)
            first = rss_kib(process.pid)
            load(api, "me", clients, (n("mem_total") - n("mem_first")) // clients)
            total = rss_kib(process.pid)
        finally:
            stop_server(process)
        out[side] = {
            "rss_start_mib": start_rss / 1024,
            "rss_after_first_mib": first / 1024,
            "rss_after_total_mib": total / 1024,
            "first": n("mem_first"),
            "total": n("mem_total"),
        }
    return out


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def draw_chart(results: dict[str, Any]) -> None:
    from bench.chart import chart  # matplotlib: .venv-bench only

    chart(results, RESULTS / "benchmark.png")


def tokens_only() -> None:
    """`bench/run.py --tokens`: only the access-token table; no services, no peer, any venv with SQLAlchemy."""
    env = {
        **os.environ,
        "BCRYPT_ROUNDS": str(ROUNDS),
        "DATABASE_URL": os.environ.get("DATABASE_URL", "postgresql+pg8000://bench@127.0.0.1:5432/unused"),
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/14"),
        "DATA_ENCRYPTION_KEYS": throwaway_encryption_key(),
    }
    worker = Worker(OURS_PY, "ours_worker.py", env)
    try:
        print("\n".join(token_rows({"tokens": token_costs(worker("token_costs", n=n("token_ops")))})))
    finally:
        worker.close()


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--render":  # table and chart again from a results.json
        saved = json.loads(Path(sys.argv[2]).read_text())
        print(render(saved))
        draw_chart(saved)
    elif sys.argv[1:] == ["--tokens"]:
        tokens_only()
    else:
        main()
