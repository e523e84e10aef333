# ruff: noqa: E501  (table rows are long lines)
"""The report: the tables printed from a run's results (bench/results/results.json),
each section a function, and the ours/peer ratios they and the chart quote.
The targets are in bench/targets.py."""

from __future__ import annotations

import statistics
from typing import Any

from bench.settings import HOT_HTTP, HOT_INPROC, LABELS, PEER_OPS
from bench.targets import spread_of, targets


def render(r: dict[str, Any]) -> str:
    sections = (
        header,
        in_process_table,
        http_table,
        limits_table,
        token_rows,
        round_trip_lines,
        cold_start_table,
        hung_database_table,
        memory_table,
    )
    lines = [line for section in sections for line in section(r)]
    lines.append("Targets (reported, not asserted; a verdict only when every round agrees):")
    lines.extend(f"- {line}" for line in targets(r))
    return "\n".join(lines)


def header(r: dict[str, Any]) -> list[str]:
    load = r.get("load_average", {})
    load_line = (
        f"1-minute load average during the run: {min(load['samples']):.2f}-{max(load['samples']):.2f}"
        f" (sampled every {load['every_s']} s; {r['machine']['nproc']} CPUs)."
        if load.get("samples")
        else ""
    )
    return [
        f"Augeo Platform API benchmark ({r['mode']} mode, BCRYPT_ROUNDS={r['bcrypt_rounds']}, {r['clients']} HTTP clients, {r['elapsed_s']:.0f} s)",
        "",
        *([load_line, ""] if load_line else []),
        "Both sides sign and verify ES256 access tokens with the same key, and both pools (2 + 2 connections) ping a"
        " connection only when it has been idle 10 s or more (ours' DB_PING_AFTER_IDLE_SECONDS, mirrored in the peer):"
        " no timed call pings, except in the row that says so.",
        "",
    ]


def in_process_table(r: dict[str, Any]) -> list[str]:
    rows = [
        "| in-process (one caller, sequential) | ours p50 ms | ours p95 ms | ours calls/s | peer p50 ms | peer p95 ms | peer calls/s | ours/peer calls/s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for op in ("login", "me", "me_pinged", "refresh", "register", *HOT_INPROC):
        o, p = r["inproc"]["ours"][op], r["inproc"]["peer"].get(op)
        peer_cells = (
            f"{p['p50_ms']:.2f} | {p['p95_ms']:.2f} | {p['per_s']:.1f} | {o['per_s'] / p['per_s']:.2f}"
            if p
            else "- | - | - | -"
        )
        rows.append(f"| {LABELS[op]} | {o['p50_ms']:.2f} | {o['p95_ms']:.2f} | {o['per_s']:.1f} | {peer_cells} |")
    return [
        *rows,
        "",
        "calls/s is 1 / the mean latency of one caller making the calls one after another (the calls' own time;"
        " the worker's loop between them is not counted). Over HTTP, req/s is requests over wall time.",
        "In the pinging row ours' ping is one round trip (`;`), the peer's SQLAlchemy pool_pre_ping on asyncpg"
        " three (BEGIN, `;`, ROLLBACK).",
        "",
    ]


def http_table(r: dict[str, Any]) -> list[str]:
    rows = [
        f"| HTTP ({r['clients']} clients) | ours p50 ms | ours p95 ms | ours req/s | peer p50 ms | peer p95 ms | peer req/s | ours/peer req/s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for op in ("login", "me", "refresh", "register", *HOT_HTTP):
        o, p = r["http"]["ours"][op], r["http"]["peer"].get(op)
        peer_cells = (
            f"{p['p50_ms']:.2f} | {p['p95_ms']:.2f} | {p['throughput_per_s']:.1f} | {o['throughput_per_s'] / p['throughput_per_s']:.2f}"
            if p
            else "- | - | - | -"
        )
        rows.append(
            f"| {LABELS[op]} | {o['p50_ms']:.2f} | {o['p95_ms']:.2f} | {o['throughput_per_s']:.1f} | {peer_cells} |"
        )
    return [*rows, ""]


def limits_table(r: dict[str, Any]) -> list[str]:
    lim, inproc, http = r["limits"], r["bcrypt"]["inproc"], r["bcrypt"]["http"]

    def bcrypt(b: dict[str, Any]) -> str:
        return (
            f"{b['per_s']:.2f} /s ({b['checks']} checks over {b['seconds']:.1f} s, {spread_of(b['rounds_per_s'])} /s)"
        )

    return [
        "| limit (same run, same cores) | value |",
        "|---|---:|",
        f"| bcrypt.checkpw at {r['bcrypt_rounds']} rounds, 1 thread, after ours' in-process logins of each round, as long | {bcrypt(inproc)} |",
        f"| bcrypt.checkpw, {http['threads']} threads, after ours' HTTP logins of each round, as long | {bcrypt(http)} |",
        f"| Redis GET round trip | p50 {lim['redis_get']['p50_ms']:.3f} ms, p95 {lim['redis_get']['p95_ms']:.3f} ms |",
        f"| PK SELECT through the pool as the app reads (without_transaction(): no BEGIN; a checkout without a ping) | p50 {lim['pk_select_read_only']['p50_ms']:.3f} ms |",
        f"| PK SELECT on a connection held throughout (no checkout) | p50 {lim['pk_select_held_connection']['p50_ms']:.3f} ms |",
        "",
    ]


def token_rows(r: dict[str, Any]) -> list[str]:
    rows = [
        "| access token, in-process (no I/O) | sign µs p50 | sign µs mean | verify µs p50 | verify µs mean |",
        "|---|---:|---:|---:|---:|",
    ]
    notes = {"RS256": " (3072-bit)", "HS256": " (shared secret)", "ES256": " (default)"}
    for algorithm, t in r["tokens"].items():
        rows.append(
            f"| {algorithm}{notes.get(algorithm, '')} | {t['sign_us_p50']:.1f} | {t['sign_us_mean']:.1f}"
            f" | {t['verify_us_p50']:.1f} | {t['verify_us_mean']:.1f} |"
        )
    return [*rows, ""]


def round_trip_lines(r: dict[str, Any]) -> list[str]:
    """Round trips per request, one in-process call each (bench/ours_worker.py roundtrips)."""
    lines = [
        "| round trips per request | Redis commands | SQL statements | + BEGIN / COMMIT | PostgreSQL wire round trips |",
        "|---|---:|---:|---:|---:|",
    ]
    for op, c in r["round_trips"].items():
        lines.append(
            f"| {LABELS[op]} | {c['redis']} | {len(c['statements'])} | {c['transaction']} | {c['pg_round_trips']} |"
        )
    return [*lines, ""]


def cold_start_table(r: dict[str, Any]) -> list[str]:
    rt = r["ratios"]
    io, ip = r["import"]["ours"], r["import"]["peer"]
    ho, hp = r["first_health"]["ours"], r["first_health"]["peer"]
    fo, fp = r["first_request"]["ours"], r["first_request"]["peer"]
    lines = [
        "| cold start | ours | peer | ours/peer |",
        "|---|---:|---:|---:|",
        f"| import (median of {len(io['runs'])} fresh processes) | {io['median_import_s']:.3f} s | {ip['median_import_s']:.3f} s | {rt['import_time']:.2f} |",
        f"| whole process (interpreter + import) | {io['median_process_s']:.3f} s | {ip['median_process_s']:.3f} s | |",
        f"| process start to first /health (median of {len(ho['runs'])}; ours: SELECT 1 and a Redis PING, peer: SELECT 1, it has no Redis) | {ho['median_s']:.3f} s | {hp['median_s']:.3f} s | {rt['first_health']:.2f} |",
    ]
    for measure, what in (("login", "first login 200"), ("me", "first /users/me 200, token from an earlier process")):
        lines.append(
            f"| process start to {what} (median of {fo[measure]['n']}) | {span(fo[measure])} | {span(fp[measure])} | {rt[f'first_{measure}']:.2f} |"
        )
    non_200 = {name: first["non_200_before_first_200"] for name, first in r["first_request"].items()}
    lines += [
        "",
        "Spans are median (interquartile range) [min-max] of fresh processes, sides interleaved.",
        "",
        f"Answers other than 200 before the first 200 (statuses): {non_200}",
        "",
        f"Cold server, {r['clients']} concurrent first logins: ours {r['cold_burst']['ours']}, peer {r['cold_burst']['peer']} (status: count)",
        "",
    ]
    return lines + variant_lines(r)


def variant_lines(r: dict[str, Any]) -> list[str]:
    """BENCH_VARIANT: ours against another checkout, round by round."""
    if "variant" not in r["first_request"]:
        return []
    io, iv = r["import"]["ours"], r["import"]["variant"]
    fo, fv = r["first_request"]["ours"], r["first_request"]["variant"]
    lines = [
        f"Variant: {r['variant']}, interleaved with ours round by round.",
        "",
        "| cold start, ours vs variant | ours | variant | variant/ours | per round, variant - ours: median; variant faster in |",
        "|---|---:|---:|---:|---:|",
        f"| import (median of {len(iv['runs'])}) | {io['median_import_s']:.3f} s | {iv['median_import_s']:.3f} s"
        f" | {iv['median_import_s'] / io['median_import_s']:.2f} | {paired(io['runs'], iv['runs'])} |",
    ]
    for measure, what in (("login", "first login"), ("me", "first /users/me")):
        o, v = fo[measure], fv[measure]
        lines.append(
            f"| process start to {what} (median of {o['n']}) | {span(o)} | {span(v)}"
            f" | {v['median_s'] / o['median_s']:.2f} | {paired(o['runs'], v['runs'])} |"
        )
    return [*lines, ""]


def hung_database_table(r: dict[str, Any]) -> list[str]:
    """Ours' sign-in when PostgreSQL stops answering: seconds to the 503, connections tried."""
    hung = r["hung_database"]
    cases = (
        (
            "idle",
            "pooled connection idle: pinged, then one new connection",
            "DB_PING_TIMEOUT_SECONDS + DB_CONNECT_TIMEOUT_SECONDS",
        ),
        (
            "hot",
            "pooled connection used moments ago: not pinged, the statement waits",
            "DB_STATEMENT_TIMEOUT_SECONDS + 1 s",
        ),
    )
    lines = [
        "| PostgreSQL stops answering (ours, in-process sign-in) | to the answer: median [min-max] | answers | connections tried while hung | bound set by |",
        "|---|---:|---:|---:|---|",
    ]
    for case, what, bound in cases:
        runs = hung[case]
        seconds = [run["seconds"] for run in runs]
        statuses = ", ".join(
            f"{status} x{[run['status'] for run in runs].count(status)}"
            for status in sorted({run["status"] for run in runs})
        )
        tried = sorted({run["connections_tried"] for run in runs})
        lines.append(
            f"| {what} | {statistics.median(seconds):.3f} s [{min(seconds):.3f}-{max(seconds):.3f}] | {statuses}"
            f" | {', '.join(map(str, tried))} | {bound} = {hung['bounds_s'][case]:.1f} s |"
        )
    return [*lines, ""]


def memory_table(r: dict[str, Any]) -> list[str]:
    lines = [
        "| memory (server RSS) | start | after 1k /users/me | after 10k | growth 1k→10k |"
        if r["mode"] == "full"
        else "| memory (server RSS) | start | after first | after total | growth |",
        "|---|---:|---:|---:|---:|",
    ]
    for side in ("ours", "peer"):
        m = r["memory"][side]
        lines.append(
            f"| {side} | {m['rss_start_mib']:.1f} MiB | {m['rss_after_first_mib']:.1f} MiB | {m['rss_after_total_mib']:.1f} MiB"
            f" | {m['rss_after_total_mib'] - m['rss_after_first_mib']:+.1f} MiB |"
        )
    return [*lines, ""]


def span(s: dict[str, Any]) -> str:
    """A spread() as "median (q1-q3) [min-max]" in seconds."""
    return f"{s['median_s']:.3f} s ({s['q1_s']:.3f}-{s['q3_s']:.3f}) [{s['min_s']:.3f}-{s['max_s']:.3f}]"


def paired(ours: list[float], variant: list[float]) -> str:
    """Differences of timings taken in the same round: less exposed to the neighbours' load than the medians."""
    differences = [v - o for o, v in zip(ours, variant, strict=True)]
    faster = sum(d < 0 for d in differences)
    return f"{statistics.median(differences) * 1000:+.0f} ms; {faster} of {len(differences)}"


def ratios(r: dict[str, Any]) -> dict[str, Any]:
    """ours / peer: throughput ratios (> 1 means ours is faster) and p50 latency ratios (< 1 means ours is faster)."""
    out: dict[str, Any] = {}
    for op in PEER_OPS:
        o, p = r["inproc"]["ours"][op], r["inproc"]["peer"][op]
        out[f"inproc_{op}_throughput"] = o["per_s"] / p["per_s"]
        out[f"inproc_{op}_p50"] = o["p50_ms"] / p["p50_ms"]
        o, p = r["http"]["ours"][op], r["http"]["peer"][op]
        out[f"http_{op}_throughput"] = o["throughput_per_s"] / p["throughput_per_s"]
        out[f"http_{op}_p50"] = o["p50_ms"] / p["p50_ms"]
    out["import_time"] = r["import"]["ours"]["median_import_s"] / r["import"]["peer"]["median_import_s"]
    out["first_health"] = r["first_health"]["ours"]["median_s"] / r["first_health"]["peer"]["median_s"]
    first = r["first_request"]
    for measure in ("login", "me"):
        out[f"first_{measure}"] = first["ours"][measure]["median_s"] / first["peer"][measure]["median_s"]
        if "variant" in first:
            out[f"first_{measure}_variant_vs_ours"] = (
                first["variant"][measure]["median_s"] / first["ours"][measure]["median_s"]
            )
    return out
