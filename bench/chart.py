"""The chart of a run (bench/results/benchmark.png): in-process latency, HTTP
throughput and the ours/peer ratios. matplotlib comes from .venv-bench."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from bench.report import label


def chart(r: dict[str, Any], path: Path) -> None:
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    ops = ["login", "me", "refresh", "register"]
    names = [label(op) for op in ops]
    width = 0.38
    for ax, kind, key, title in (
        (axes[0], "inproc", "p50_ms", "in-process p50 latency (ms, log)"),
        (axes[1], "http", "throughput_per_s", f"HTTP throughput, {r['clients']} clients (req/s, log)"),
    ):
        ours_values = [r[kind]["ours"][op][key] for op in ops]
        peer_values = [r[kind]["peer"][op][key] if op in r[kind]["peer"] else 0 for op in ops]
        xs = range(len(ops))
        ax.bar([x - width / 2 for x in xs], ours_values, width, label="ours (Azure Functions)")
        ax.bar([x + width / 2 for x in xs], peer_values, width, label="peer (fastapi-users)")
        ax.set_xticks(list(xs), names)
        ax.set_yscale("log")
        ax.set_title(title)
        ax.legend(fontsize=8, loc="upper left", framealpha=0.9)
        ax.set_ylim(top=ax.get_ylim()[1] * 20)  # room for the legend above the bars
    ratio_items = [(k, v) for k, v in r["ratios"].items() if k.endswith("throughput")]
    ratio_items += [("import time (lower=faster)", r["ratios"]["import_time"])]
    if "first_login" in r["ratios"]:
        ratio_items += [("start to first login (lower=faster)", r["ratios"]["first_login"])]
        ratio_items += [("start to first /users/me (lower=faster)", r["ratios"]["first_me"])]
    axes[2].barh([k for k, _ in ratio_items], [v for _, v in ratio_items], color="tab:green")
    axes[2].axvline(1.0, color="black", linewidth=1)
    axes[2].set_title("ours / peer")
    fig.suptitle(f"Augeo Platform API vs fastapi-users, BCRYPT_ROUNDS={r['bcrypt_rounds']} ({r['mode']} mode)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
