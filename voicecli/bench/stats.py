"""Order statistics for timings. Pure; no models."""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Summary:
    """p50 / p95 / max (and min, mean, n) of a set of measurements, in the caller's unit."""

    p50: float
    p95: float
    max: float
    min: float
    mean: float
    n: int

    def as_json(self, digits: int = 3) -> dict[str, float | int]:
        return {"p50": round(self.p50, digits), "p95": round(self.p95, digits), "max": round(self.max, digits),
                "min": round(self.min, digits), "mean": round(self.mean, digits), "n": self.n}


def percentile(sorted_values: list[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default 'linear' method), ``q`` in [0, 100]."""
    if not sorted_values:
        raise ValueError("percentile of no values")
    if len(sorted_values) == 1:
        return sorted_values[0]
    pos = (len(sorted_values) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def summarize(values: Iterable[float]) -> Summary:
    vals = sorted(float(v) for v in values)
    if not vals:
        raise ValueError("cannot summarise no measurements")
    return Summary(p50=percentile(vals, 50), p95=percentile(vals, 95), max=vals[-1], min=vals[0],
                   mean=sum(vals) / len(vals), n=len(vals))


def median(values: Iterable[float]) -> float:
    return summarize(values).p50


def now_ms() -> float:
    """Monotonic high-resolution clock in milliseconds."""
    return time.perf_counter() * 1000.0
