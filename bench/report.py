# ruff: noqa: E501  (table rows are long lines)
"""The report: the tables and the targets printed from a run's results
(bench/results/results.json), and the ours/peer ratios they quote."""

from __future__ import annotations

import statistics
from typing import Any

from bench.settings import HOT_HTTP, HOT_INPROC


def ratios(r: dict[str, Any]) -> dict[str, Any]:
    """ours / peer: throughput ratios (> 1 means ours is faster) and p50 latency ratios (< 1 means ours is faster)."""
    out: dict[str, Any] = {}
    for op in ("login", "me"):
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


def render(r: dict[str, Any]) -> str:
    lines: list[str] = []
    add = lines.append
    lim = r["limits"]
    rt = r["ratios"]
    add(
        f"Augeo Platform API benchmark ({r['mode']} mode, BCRYPT_ROUNDS={r['bcrypt_rounds']}, {r['clients']} HTTP clients)"
    )
    add("")
    add(
        "| in-process (sequential) | ours p50 ms | ours p95 ms | ours /s | peer p50 ms | peer p95 ms | peer /s | ours/peer /s |"
    )
    add("|---|---:|---:|---:|---:|---:|---:|---:|")
    for op in ("login", "me", "refresh", "register", *hot_rows(r, "inproc")):
        o = r["inproc"]["ours"][op]
        p = r["inproc"]["peer"].get(op)
        peer_cells = (
            f"{p['p50_ms']:.2f} | {p['p95_ms']:.2f} | {p['per_s']:.1f} | {o['per_s'] / p['per_s']:.2f}"
            if p
            else "- | - | - | -"
        )
        add(f"| {label(op)} | {o['p50_ms']:.2f} | {o['p95_ms']:.2f} | {o['per_s']:.1f} | {peer_cells} |")
    add("")
    add(
        f"| HTTP ({r['clients']} clients) | ours p50 ms | ours p95 ms | ours req/s | peer p50 ms | peer p95 ms | peer req/s | ours/peer req/s |"
    )
    add("|---|---:|---:|---:|---:|---:|---:|---:|")
    for op in ("login", "me", "refresh", "register", *hot_rows(r, "http")):
        o = r["http"]["ours"][op]
        p = r["http"]["peer"].get(op)
        peer_cells = (
            f"{p['p50_ms']:.2f} | {p['p95_ms']:.2f} | {p['throughput_per_s']:.1f} | {o['throughput_per_s'] / p['throughput_per_s']:.2f}"
            if p
            else "- | - | - | -"
        )
        add(f"| {label(op)} | {o['p50_ms']:.2f} | {o['p95_ms']:.2f} | {o['throughput_per_s']:.1f} | {peer_cells} |")
    add("")
    add("| limit (same run, same cores) | value |")
    add("|---|---:|")
    add(
        f"| bcrypt.checkpw at {r['bcrypt_rounds']} rounds, 1 thread | {lim['bcrypt_checkpw_per_s_1_thread']:.2f} /s ({lim['bcrypt_checkpw_ms']:.0f} ms) |"
    )
    add(f"| bcrypt.checkpw, {lim['bcrypt_threads']} threads | {lim['bcrypt_checkpw_per_s_all_cores']:.2f} /s |")
    add(f"| Redis GET round trip | p50 {lim['redis_get']['p50_ms']:.3f} ms, p95 {lim['redis_get']['p95_ms']:.3f} ms |")
    add(f"| PK SELECT, pool checkout (pre-ping) + rollback | p50 {lim['pk_select_pool_checkout']['p50_ms']:.3f} ms |")
    add(f"| PK SELECT on a held connection | p50 {lim['pk_select_held_connection']['p50_ms']:.3f} ms |")
    add("")
    lines.extend(token_rows(r))
    lines.extend(round_trip_lines(r))
    add("| cold start | ours | peer | ours/peer |")
    add("|---|---:|---:|---:|")
    io, ip = r["import"]["ours"], r["import"]["peer"]
    add(
        f"| import (median of {len(io['runs'])} fresh processes) | {io['median_import_s']:.3f} s | {ip['median_import_s']:.3f} s | {rt['import_time']:.2f} |"
    )
    add(f"| whole process (interpreter + import) | {io['median_process_s']:.3f} s | {ip['median_process_s']:.3f} s | |")
    ho, hp = r["first_health"]["ours"], r["first_health"]["peer"]
    add(
        f"| process start to first /health (median of {len(ho['runs'])}) | {ho['median_s']:.3f} s | {hp['median_s']:.3f} s | {rt['first_health']:.2f} |"
    )
    if "first_request" in r:  # absent from results saved before these rows existed
        lines.extend(first_request_lines(r))
    else:
        add("")
    add(
        "| memory (server RSS) | start | after 1k /users/me | after 10k | growth 1k→10k |"
        if r["mode"] == "full"
        else "| memory (server RSS) | start | after first | after total | growth |"
    )
    add("|---|---:|---:|---:|---:|")
    for side in ("ours", "peer"):
        m = r["memory"][side]
        add(
            f"| {side} | {m['rss_start_mib']:.1f} MiB | {m['rss_after_first_mib']:.1f} MiB | {m['rss_after_total_mib']:.1f} MiB"
            f" | {m['rss_after_total_mib'] - m['rss_after_first_mib']:+.1f} MiB |"
        )
    add("")
    add(
        f"Cold server, {r['clients']} concurrent first logins: ours {r['cold_burst']['ours']}, peer {r['cold_burst']['peer']} (status: count)"
    )
    add("")
    add("Targets (reported, not asserted):")
    for line in targets(r):
        add(f"- {line}")
    return "\n".join(lines)


def first_request_lines(r: dict[str, Any]) -> list[str]:
    """The cold-start rows to a first login and a first /users/me, and ours vs the variant."""
    lines: list[str] = []
    add = lines.append
    rt, io = r["ratios"], r["import"]["ours"]
    fo, fp = r["first_request"]["ours"], r["first_request"]["peer"]
    for measure, what in (("login", "first login 200"), ("me", "first /users/me 200, token from an earlier process")):
        add(
            f"| process start to {what} (median of {fo[measure]['n']}) | {span(fo[measure])} | {span(fp[measure])} | {rt[f'first_{measure}']:.2f} |"
        )
    add("")
    add("Spans are median (interquartile range) [min-max] of fresh processes, sides interleaved.")
    add("")
    non_200 = {name: first["non_200_before_first_200"] for name, first in r["first_request"].items()}
    add(f"Answers other than 200 before the first 200 (statuses): {non_200}")
    add("")
    if "variant" in r["first_request"]:
        fv, iv = r["first_request"]["variant"], r["import"]["variant"]
        add(f"Variant: {r['variant']}, interleaved with ours round by round.")
        add("")
        add(
            "| cold start, ours vs variant | ours | variant | variant/ours | per round, variant - ours: median; variant faster in |"
        )
        add("|---|---:|---:|---:|---:|")
        add(
            f"| import (median of {len(iv['runs'])}) | {io['median_import_s']:.3f} s | {iv['median_import_s']:.3f} s"
            f" | {iv['median_import_s'] / io['median_import_s']:.2f} | {paired(io['runs'], iv['runs'])} |"
        )
        for measure, what in (("login", "first login"), ("me", "first /users/me")):
            o, v = fo[measure], fv[measure]
            add(
                f"| process start to {what} (median of {o['n']}) | {span(o)} | {span(v)}"
                f" | {v['median_s'] / o['median_s']:.2f} | {paired(o['runs'], v['runs'])} |"
            )
        add("")
    return lines


def span(s: dict[str, Any]) -> str:
    """A spread() as "median (q1-q3) [min-max]" in seconds."""
    return f"{s['median_s']:.3f} s ({s['q1_s']:.3f}-{s['q3_s']:.3f}) [{s['min_s']:.3f}-{s['max_s']:.3f}]"


def paired(ours: list[float], variant: list[float]) -> str:
    """Differences of timings taken in the same round: less exposed to the neighbours' load than the medians."""
    differences = [v - o for o, v in zip(ours, variant, strict=True)]
    faster = sum(d < 0 for d in differences)
    return f"{statistics.median(differences) * 1000:+.0f} ms; {faster} of {len(differences)}"


def token_rows(r: dict[str, Any]) -> list[str]:
    """The access-token table (absent from results saved before it existed)."""
    if "tokens" not in r:
        return []
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


def label(op: str) -> str:
    return {
        "login": "login",
        "me": "GET /users/me",
        "refresh": "refresh",
        "register": "register",
        "roles": "GET /roles (caller's state only)",
        "check": "POST /authz/check (state cached)",
        "check_uncached": "POST /authz/check (state not cached)",
    }[op]


def hot_rows(r: dict[str, Any], kind: str) -> list[str]:
    """The ours-only rows a run measured (none in results saved before they existed)."""
    return [op for op in (HOT_INPROC if kind == "inproc" else HOT_HTTP) if op in r[kind]["ours"]]


def round_trip_lines(r: dict[str, Any]) -> list[str]:
    """Round trips per request, one in-process call each (bench/ours_worker.py roundtrips)."""
    rt = r["round_trips"]
    if "transaction" not in rt["me"]:  # results saved before the statements were told apart
        lines = ["| round trips per request | Redis commands | SQL statements (events) | PostgreSQL wire round trips |"]
        lines.append("|---|---:|---:|---:|")
        lines += [f"| {label(op)} | {c['redis']} | {c['sql']} | {c['pg_round_trips']} |" for op, c in rt.items()]
        return [*lines, ""]
    lines = [
        "| round trips per request | Redis commands | SQL statements | + BEGIN / COMMIT | PostgreSQL wire round trips |",
        "|---|---:|---:|---:|---:|",
    ]
    for op, c in rt.items():
        lines.append(
            f"| {label(op)} | {c['redis']} | {len(c['statements'])} | {c['transaction']} | {c['pg_round_trips']} |"
        )
    return [*lines, ""]


# The reference: refresh p50 on the original backend (measured elsewhere, not in this run).
ORIGINAL_REFRESH_P50_MS = 2.9
# In-process p50 targets (ms) of the hot paths.
HOT_TARGETS = (("refresh", 4.0), ("check", 1.0), ("roles", 1.0), ("me", 1.5))


def hot_path_targets(r: dict[str, Any]) -> list[str]:
    """Each hot path's in-process p50 against its target, with its round trips."""
    ours, rt = r["inproc"]["ours"], r["round_trips"]
    if "check" not in ours or "transaction" not in rt["me"]:  # results saved before these targets existed
        p50 = ours["me"]["p50_ms"]
        return [f"/users/me p50 <= 1.5 ms in-process: {p50:.2f} ms: {'MET' if p50 <= 1.5 else 'MISSED'}"]

    def counts(op: str) -> str:
        c = rt[op]
        return (
            f"{c['redis']} Redis, {len(c['statements'])} SQL (+{c['transaction']} BEGIN/COMMIT),"
            f" {c['pg_round_trips']} PostgreSQL wire round trips"
        )

    out = []
    for op, limit in HOT_TARGETS:
        p50 = ours[op]["p50_ms"]
        line = f"{label(op)} p50 <= {limit:.1f} ms in-process: {p50:.3f} ms ({counts(op)}): {'MET' if p50 <= limit else 'MISSED'}"
        if op == "check" and "check_uncached" in ours:
            line += f"; state not cached: {ours['check_uncached']['p50_ms']:.3f} ms ({counts('check_uncached')})"
        out.append(line)
        if op == "refresh":
            out.append(refresh_against_peer(r))
    return out


def refresh_against_peer(r: dict[str, Any]) -> str:
    """Ours' refresh beside the peer's, or, since fastapi-users has no refresh, beside what there is."""
    ours, peer = r["inproc"]["ours"], r["inproc"]["peer"]
    mine = ours["refresh"]["p50_ms"]
    reference = f"the issue's {ORIGINAL_REFRESH_P50_MS} ms (original backend, another machine): {mine / ORIGINAL_REFRESH_P50_MS:.2f} x"
    if "refresh" in peer:
        theirs = peer["refresh"]["p50_ms"]
        return f"refresh vs the peer, same run: ours {mine:.2f} ms, peer {theirs:.2f} ms, {mine / theirs:.2f} x; {reference}"
    floor = peer["me"]["p50_ms"]
    return (
        f"refresh vs the peer: fastapi-users has no refresh route, nothing to time; its /users/me p50 in this run"
        f" (JWT check + one SELECT, less than any refresh on its stack) is {floor:.2f} ms, ours' refresh {mine / floor:.2f} x that; {reference}"
    )


def targets(r: dict[str, Any]) -> list[str]:
    lim, rt = r["limits"], r["ratios"]
    out = []

    def mark(ok: bool) -> str:
        return "MET" if ok else "MISSED"

    inproc_login = r["inproc"]["ours"]["login"]["per_s"] / lim["bcrypt_checkpw_per_s_1_thread"]
    http_login = r["http"]["ours"]["login"]["throughput_per_s"] / lim["bcrypt_checkpw_per_s_all_cores"]
    out.append(
        f"login throughput >= 0.9 x bcrypt limit: in-process {inproc_login:.2f} x (1 thread), HTTP {http_login:.2f} x (all cores): {mark(min(inproc_login, http_login) >= 0.9)}"
    )
    out.append(
        f"/users/me >= 1.0 x peer (with the revocation check): in-process {rt['inproc_me_throughput']:.2f} x, HTTP {rt['http_me_throughput']:.2f} x: "
        f"{mark(min(rt['inproc_me_throughput'], rt['http_me_throughput']) >= 1.0)}"
    )
    out.extend(hot_path_targets(r))
    me = r["round_trips"]["me"]
    out.append(
        f"authenticated read <= 1 Redis round trip and 1 SQL statement: {me['redis']} and {me['sql']} (but {me['pg_round_trips']} PostgreSQL wire round trips): {mark(me['redis'] <= 1 and me['sql'] <= 1)}"
    )
    imp = r["import"]["ours"]["median_import_s"]
    out.append(
        f"import function_app <= 0.6 s and faster than the peer: {imp:.3f} s, {rt['import_time']:.2f} x the peer: {mark(imp <= 0.6 and rt['import_time'] < 1)}"
    )
    m = r["memory"]["ours"]
    growth = m["rss_after_total_mib"] - m["rss_after_first_mib"]
    out.append(
        f"RSS flat between {m['first']} and {m['total']} requests: {growth:+.1f} MiB: {mark(abs(growth) <= max(2.0, 0.05 * m['rss_after_first_mib']))}"
    )
    return out
