"""Summaries of timings (seconds): what the report prints of a list of samples."""

from __future__ import annotations

import statistics
from typing import Any


def stats(samples: list[float]) -> dict[str, Any]:
    """Percentiles of request latencies, in ms, and calls per second of one sequential caller."""
    ordered = sorted(samples)
    if not ordered:
        return {"n": 0}
    return {
        "n": len(ordered),
        "p50_ms": statistics.median(ordered) * 1000,
        "p95_ms": ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))] * 1000,
        "mean_ms": statistics.fmean(ordered) * 1000,
        "per_s": len(ordered) / sum(ordered) if sum(ordered) else 0.0,
    }


def spread(samples: list[float]) -> dict[str, Any]:
    """Median, quartiles and extremes of a few timings (seconds), and the timings."""
    q1, _, q3 = statistics.quantiles(samples, n=4, method="inclusive") if len(samples) > 1 else (samples[0],) * 3
    return {
        "n": len(samples),
        "median_s": statistics.median(samples),
        "q1_s": q1,
        "q3_s": q3,
        "min_s": min(samples),
        "max_s": max(samples),
        "runs": samples,
    }


def token_costs(raw: dict[str, dict[str, list[float]]]) -> dict[str, dict[str, float]]:
    """Per algorithm: p50 and mean microseconds of one sign and one verify (in-process, no I/O)."""
    out = {}
    for algorithm, samples in raw.items():
        sign, verify = stats(samples["sign_s"]), stats(samples["verify_s"])
        out[algorithm] = {
            "sign_us_p50": sign["p50_ms"] * 1000,
            "sign_us_mean": sign["mean_ms"] * 1000,
            "verify_us_p50": verify["p50_ms"] * 1000,
            "verify_us_mean": verify["mean_ms"] * 1000,
            "n": sign["n"],
        }
    return out
