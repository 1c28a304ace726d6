"""Prometheus text-format metrics, hand-written (no extra dependency): request and error
counters, active sessions, and per-stage latency histograms."""

from __future__ import annotations

import threading
from collections import defaultdict

LATENCY_BUCKETS_S = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


def _labels(pairs: tuple[tuple[str, str], ...]) -> str:
    if not pairs:
        return ""
    body = ",".join(f'{k}="{_escape(v)}"' for k, v in pairs)
    return "{" + body + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class Metrics:
    """Thread-safe; observed from the event loop and from worker threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: dict[tuple[tuple[str, str], ...], int] = defaultdict(int)
        self._errors: dict[tuple[tuple[str, str], ...], int] = defaultdict(int)
        self._sessions_total = 0
        self._sessions_rejected = 0
        self._ws_errors: dict[str, int] = defaultdict(int)
        self._hist: dict[str, list[int]] = {}
        self._hist_sum: dict[str, float] = defaultdict(float)
        self._hist_count: dict[str, int] = defaultdict(int)
        self.active_sessions = 0

    def request(self, route: str, method: str, status: int) -> None:
        key = (("route", route), ("method", method), ("status", str(status)))
        with self._lock:
            self._requests[key] += 1
            if status >= 400:
                self._errors[(("route", route), ("status", str(status)))] += 1

    def session_opened(self) -> None:
        with self._lock:
            self._sessions_total += 1
            self.active_sessions += 1

    def session_closed(self) -> None:
        with self._lock:
            self.active_sessions -= 1

    def session_rejected(self) -> None:
        with self._lock:
            self._sessions_rejected += 1

    def ws_error(self, code: str) -> None:
        with self._lock:
            self._ws_errors[code] += 1

    def observe(self, stage: str, seconds: float) -> None:
        with self._lock:
            buckets = self._hist.setdefault(stage, [0] * len(LATENCY_BUCKETS_S))
            for i, upper in enumerate(LATENCY_BUCKETS_S):
                if seconds <= upper:
                    buckets[i] += 1
            self._hist_sum[stage] += seconds
            self._hist_count[stage] += 1

    def render(self) -> str:
        with self._lock:
            out: list[str] = []
            out += ["# HELP voicecli_http_requests_total HTTP requests by route, method and status.",
                    "# TYPE voicecli_http_requests_total counter"]
            out += [f"voicecli_http_requests_total{_labels(k)} {v}" for k, v in sorted(self._requests.items())]
            out += ["# HELP voicecli_http_errors_total HTTP responses with status >= 400.",
                    "# TYPE voicecli_http_errors_total counter"]
            out += [f"voicecli_http_errors_total{_labels(k)} {v}" for k, v in sorted(self._errors.items())]
            out += ["# HELP voicecli_realtime_errors_total Error events sent to realtime clients, by code.",
                    "# TYPE voicecli_realtime_errors_total counter"]
            out += [f"voicecli_realtime_errors_total{_labels((('code', k),))} {v}"
                    for k, v in sorted(self._ws_errors.items())]
            out += ["# HELP voicecli_active_sessions Realtime sessions open now.",
                    "# TYPE voicecli_active_sessions gauge",
                    f"voicecli_active_sessions {self.active_sessions}",
                    "# HELP voicecli_sessions_total Realtime sessions opened.",
                    "# TYPE voicecli_sessions_total counter",
                    f"voicecli_sessions_total {self._sessions_total}",
                    "# HELP voicecli_sessions_rejected_total Realtime sessions refused (limit reached).",
                    "# TYPE voicecli_sessions_rejected_total counter",
                    f"voicecli_sessions_rejected_total {self._sessions_rejected}",
                    "# HELP voicecli_stage_latency_seconds Latency per pipeline stage.",
                    "# TYPE voicecli_stage_latency_seconds histogram"]
            for stage in sorted(self._hist):
                for upper, n in zip(LATENCY_BUCKETS_S, self._hist[stage], strict=True):
                    out.append(f'voicecli_stage_latency_seconds_bucket{{stage="{stage}",le="{upper}"}} {n}')
                count = self._hist_count[stage]
                out.append(f'voicecli_stage_latency_seconds_bucket{{stage="{stage}",le="+Inf"}} {count}')
                out.append(f'voicecli_stage_latency_seconds_sum{{stage="{stage}"}} {self._hist_sum[stage]:.6f}')
                out.append(f'voicecli_stage_latency_seconds_count{{stage="{stage}"}} {count}')
            return "\n".join(out) + "\n"
