"""The chart of a run (bench/results/benchmark.png): in-process latency, HTTP
throughput and the ours/peer ratios. matplotlib comes from .venv-bench."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from bench.settings import LABELS


def chart(r: dict[str, Any], path: Path) -> None:
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8), width_ratios=(1, 1, 1.1))
    ops = ["login", "me", "refresh", "register"]
    width = 0.38
    xs = list(range(len(ops)))
    for ax, kind, key, title in (
        (axes[0], "inproc", "p50_ms", "in-process p50 latency (ms, log)"),
        (axes[1], "http", "throughput_per_s", f"HTTP throughput, {r['clients']} clients (req/s, log)"),
    ):
        ours_values = [r[kind]["ours"][op][key] for op in ops]
        ax.bar([x - width / 2 for x in xs], ours_values, width, label="ours (Azure Functions)")
        measured = [(x, r[kind]["peer"][op][key]) for x, op in zip(xs, ops, strict=True) if op in r[kind]["peer"]]
        ax.bar([x + width / 2 for x, _ in measured], [v for _, v in measured], width, label="peer (fastapi-users)")
        ax.set_xticks(xs, [LABELS[op].removeprefix("GET ") for op in ops])
        ax.set_xlim(-0.6, len(ops) - 0.4)
        ax.set_yscale("log")
        for x, op in zip(xs, ops, strict=True):  # a gap, not a zero: the peer has no such route
            if op not in r[kind]["peer"]:
                ax.annotate("no peer route", (x + width / 2, 0), xycoords=("data", "axes fraction"), xytext=(0, 4),
                            textcoords="offset points", rotation=90, fontsize=7, ha="center", va="bottom")  # fmt: skip
        ax.set_title(title)
        ax.legend(fontsize=8, loc="upper left", framealpha=0.9)
        ax.set_ylim(top=ax.get_ylim()[1] * 20)  # room for the legend above the bars
    ratio_items = [
        ("in-process login calls/s", r["ratios"]["inproc_login_throughput"]),
        ("in-process /users/me calls/s", r["ratios"]["inproc_me_throughput"]),
        ("HTTP login req/s", r["ratios"]["http_login_throughput"]),
        ("HTTP /users/me req/s", r["ratios"]["http_me_throughput"]),
        ("import time (lower=faster)", r["ratios"]["import_time"]),
        ("start to first login (lower=faster)", r["ratios"]["first_login"]),
        ("start to first /users/me (lower=faster)", r["ratios"]["first_me"]),
    ]
    axes[2].barh([k for k, _ in ratio_items], [v for _, v in ratio_items], color="tab:green")
    axes[2].axvline(1.0, color="black", linewidth=1)
    axes[2].set_title("ours / peer")
    fig.suptitle(f"Augeo Platform API vs fastapi-users, BCRYPT_ROUNDS={r['bcrypt_rounds']} ({r['mode']} mode)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
