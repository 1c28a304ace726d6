"""Render a bench report (its JSON form): Rich tables, a comparison with an older report, and a
latency-breakdown plot. Pure: data in, renderables or files out; works on loaded JSON too."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Group
from rich.table import Table

from voicecli.errors import VoicecliError


@dataclass(frozen=True)
class Figure:
    key: str
    """Dotted path in the report JSON."""
    label: str
    unit: str
    higher_is_better: bool = False


HEADLINES: tuple[Figure, ...] = (
    Figure("voice_to_voice_ms.p50", "voice-to-voice p50", "ms"),
    Figure("voice_to_voice_ms.p95", "voice-to-voice p95", "ms"),
    Figure("voice_to_voice_ms.max", "voice-to-voice max", "ms"),
    Figure("stages_ms.endpoint_wait.p50", "e2e endpoint wait p50", "ms"),
    Figure("stages_ms.stt.p50", "e2e STT compute p50", "ms"),
    Figure("stages_ms.stt_wait.p50", "e2e STT wait p50", "ms"),
    Figure("stages_ms.llm_first_token.p50", "e2e LLM first token p50", "ms"),
    Figure("stages_ms.tts_first_audio.p50", "e2e TTS first audio p50", "ms"),
    Figure("stages_ms.other.p50", "e2e other p50", "ms"),
    Figure("stages_ms.after_endpoint.p50", "e2e after endpoint p50", "ms"),
    Figure("vad.frame_ms_p50", "VAD per 32 ms frame p50", "ms"),
    Figure("stt.latency_ms.p50", "STT latency p50", "ms"),
    Figure("stt.rtf", "STT real-time factor", "x"),
    Figure("stt.wer", "STT word error rate", ""),
    Figure("llm.first_token_cold_ms", "LLM first token, cold", "ms"),
    Figure("llm.first_token_ms.p50", "LLM first token, cached p50", "ms"),
    Figure("llm.tokens_per_s", "LLM tokens/s", "tok/s", higher_is_better=True),
    Figure("tts.first_audio_short_ms", "TTS first audio, short reply", "ms"),
    Figure("tts.first_audio_long_ms", "TTS first audio, long reply", "ms"),
    Figure("tts.rtf", "TTS real-time factor", "x"),
)

BREAKDOWN = ("endpoint_wait", "stt_wait", "llm_first_token", "tts_first_audio", "other")
"""The sequential parts of voice-to-voice, in order (``stt`` overlaps them when speculative)."""
BREAKDOWN_LABELS = {"endpoint_wait": "endpoint wait", "stt": "STT compute", "stt_wait": "STT wait",
                    "llm_first_token": "LLM first token", "tts_first_audio": "TTS first audio",
                    "other": "other (first clause, hand-offs)",
                    "hidden_by_speculation": "hidden by speculative reply",
                    "after_endpoint": "after endpoint (v2v − endpoint wait)"}
NOISE_PCT = 5.0
"""Changes smaller than this are shown as noise in comparisons."""


def get(data: dict[str, Any], key: str) -> Any:
    cur: Any = data
    for part in key.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur


def _fmt(value: Any, unit: str = "") -> str:
    """ms → "812 ms" / "0.215 ms"; "" (a ratio like WER) → "4.68%"; "x" (a factor) → "0.131"."""
    if value is None:
        return "—"
    v = float(value)
    if unit == "ms":
        return f"{v:.0f} ms" if v >= 100 else (f"{v:.1f} ms" if v >= 1 else f"{v:.3f} ms")
    if unit == "":
        return f"{v:.2%}"
    if unit == "x":
        return f"{v:.3f}"
    return f"{v:.1f} {unit}"


def _row(table: Table, stage: str, figure: str, value: str, note: str = "") -> None:
    table.add_row(stage, figure, value, note)


def render(data: dict[str, Any]) -> Group:
    """The bench report as Rich tables: headline figures, then the voice-to-voice breakdown."""
    t = Table(title="voicecli bench" + (" (quick)" if data.get("mode") == "quick" else ""),
              title_justify="left")
    t.add_column("stage", style="bold")
    t.add_column("figure")
    t.add_column("value", justify="right")
    t.add_column("notes", style="dim")
    models = data.get("models", {})
    v = data.get("vad")
    if v:
        _row(t, "VAD", "per 32 ms frame p50 / p95", f"{v['frame_ms_p50']:.3f} / {v['frame_ms_p95']:.3f} ms",
             f"RTF {v['rtf']:.4f}, {v['frames']} frames")
    s = data.get("stt")
    if s:
        name = models.get("stt", {}).get("name", "")
        latency = f"{_fmt(s['latency_ms']['p50'], 'ms')} / {_fmt(s['latency_ms']['p95'], 'ms')}"
        _row(t, "STT", "latency p50 / p95", latency, f"{name}, {s['clips_n']} clips × {s['repeats']}")
        for b in s["latency_ms_by_length"]:
            lo, hi = b["bucket_s"]
            span = f"{lo:g}–{hi:g} s" if hi is not None else f"≥ {lo:g} s"
            _row(t, "", f"latency, utterances {span}", _fmt(b["latency_ms_p50"], "ms"),
                 f"{b['clips']} clips, mean {b['audio_s_mean']:.1f} s, RTF {b['rtf']:.3f}")
        _row(t, "", "real-time factor", f"{s['rtf']:.3f}", f"{s['audio_s']:.0f} s of audio")
        _row(t, "", "word error rate", f"{s['wer']:.2%}",
             f"{s['wer_errors']} errors / {s['wer_reference_words']} words (English clips)")
    m = data.get("llm")
    if m:
        name = models.get("llm", {}).get("name", "")
        _row(t, "LLM", "first token, cold", _fmt(m["first_token_cold_ms"], "ms"),
             f"{name}, {m['prompt_tokens']}-token prompt")
        _row(t, "", "first token, prompt cached p50 / p95",
             f"{_fmt(m['first_token_ms']['p50'], 'ms')} / {_fmt(m['first_token_ms']['p95'], 'ms')}",
             f"{m['first_token_ms']['n']} runs")
        _row(t, "", "generation speed", f"{m['tokens_per_s']:.1f} tok/s", f"{m['reply_tokens']} tokens")
    x = data.get("tts")
    if x:
        name = models.get("tts", {}).get("name", "")
        _row(t, "TTS", "first audio, short reply", _fmt(x["first_audio_short_ms"], "ms"), name)
        _row(t, "", "first audio, long reply", _fmt(x["first_audio_long_ms"], "ms"),
             f"first piece: {x['first_chunk_long'][:40]}…")
        _row(t, "", "real-time factor", f"{x['rtf']:.3f}", f"{x['long_reply_audio_s']:.1f} s reply")
    vv = data.get("voice_to_voice_ms")
    if vv:
        e = data.get("e2e", {})
        missed = f", {len(e.get('missed', []))} missed" if e.get("missed") else ""
        missed += f", {len(e.get('dropped', []))} not counted" if e.get("dropped") else ""
        vad = data.get("settings", {}).get("vad", {})
        if "speculative_stt" in vad:
            spec = "speculative " + ("STT + reply" if vad["speculative_stt"] and vad.get("speculative_reply")
                                     else "STT" if vad["speculative_stt"] else "off")
            missed += f"; {spec}; end silence {vad.get('end_silence_ms')} ms"
        _row(t, "E2E", "voice-to-voice p50 / p95 / max",
             f"{_fmt(vv['p50'], 'ms')} / {_fmt(vv['p95'], 'ms')} / {_fmt(vv['max'], 'ms')}",
             f"{vv['n']} turns{missed}")
    parts: list[Any] = [t]
    stages = data.get("stages_ms")
    if stages and vv:
        b = Table(title="voice-to-voice breakdown (ms): end of speech → first reply sample", title_justify="left")
        b.add_column("stage")
        for col in ("p50", "p95", "max"):
            b.add_column(col, justify="right")
        for key in ("endpoint_wait", "stt", "stt_wait", "llm_first_token", "tts_first_audio", "other",
                    "hidden_by_speculation", "after_endpoint"):
            if key in stages:
                st = stages[key]
                b.add_row(BREAKDOWN_LABELS[key], *(f"{st[c]:.0f}" for c in ("p50", "p95", "max")))
        b.add_row("[bold]voice-to-voice[/]", *(f"[bold]{vv[c]:.0f}[/]" for c in ("p50", "p95", "max")))
        parts.append(b)
    mach = data.get("machine", {})
    if mach:
        parts.append(f"[dim]{mach.get('cpu')}, {mach.get('cores_usable')} cores, load {mach.get('load_average_start')}"
                     f" → {mach.get('load_average_end')}; wall {data.get('wall_s')} s[/]")
    return Group(*parts)


# --- JSON --------------------------------------------------------------------------------

def write_json(data: dict[str, Any], path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n", encoding="utf-8")
    except OSError as exc:
        raise VoicecliError(f"cannot write {path}: {exc.strerror}", "choose another --json path") from exc
    except ValueError as exc:
        raise VoicecliError(f"a figure is not a number ({exc})", "run again with --verbose and report it") from exc


_BENCH_JSON_HINT = "pass a file written by `voicecli bench --json`"


def read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise VoicecliError(f"cannot read {path}: {exc.strerror}", _BENCH_JSON_HINT) from exc
    except ValueError as exc:
        raise VoicecliError(f"{path} is not JSON: {exc}", _BENCH_JSON_HINT) from exc
    if not isinstance(data, dict) or "schema" not in data:
        raise VoicecliError(f"{path} is not a voicecli bench report", _BENCH_JSON_HINT)
    return data


def numeric_leaves(data: Any, prefix: str = "") -> Iterator[tuple[str, float]]:
    """Every number in a nested JSON value, with its dotted path (lists indexed)."""
    if isinstance(data, bool):
        return
    if isinstance(data, (int, float)):
        yield prefix, float(data)
    elif isinstance(data, dict):
        for k, v in data.items():
            yield from numeric_leaves(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            yield from numeric_leaves(v, f"{prefix}.{i}")


# --- compare -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Delta:
    figure: Figure
    old: float
    new: float

    @property
    def change(self) -> float:
        return self.new - self.old

    @property
    def pct(self) -> float | None:
        return None if self.old == 0 else 100.0 * (self.new - self.old) / abs(self.old)

    @property
    def verdict(self) -> str:
        """"better", "worse" or "same" (within ``NOISE_PCT``)."""
        pct = self.pct
        if pct is None or abs(pct) < NOISE_PCT:
            return "same"
        improved = (pct > 0) == self.figure.higher_is_better
        return "better" if improved else "worse"

    def as_json(self) -> dict[str, Any]:
        pct = self.pct
        return {"old": self.old, "new": self.new, "delta": round(self.change, 4),
                "delta_pct": round(pct, 1) if pct is not None else None, "verdict": self.verdict}


def compare(old: dict[str, Any], new: dict[str, Any]) -> tuple[list[Delta], list[str]]:
    """Deltas of the headline figures both reports have, and warnings about what makes the
    comparison unfair (other machine, other models, other mode)."""
    deltas = []
    for f in HEADLINES:
        a, b = get(old, f.key), get(new, f.key)
        if isinstance(a, (int, float)) and isinstance(b, (int, float)):
            deltas.append(Delta(f, float(a), float(b)))
    warnings = []
    for key, what in (("machine.cpu", "CPU"), ("machine.cores_usable", "core count"), ("mode", "mode")):
        if get(old, key) != get(new, key):
            warnings.append(f"{what} differs: {get(old, key)} → {get(new, key)}")
    for kind in ("stt", "llm", "tts"):
        a, b = get(old, f"models.{kind}.name"), get(new, f"models.{kind}.name")
        if a and b and a != b:
            warnings.append(f"{kind} model differs: {a} → {b}")
    return deltas, warnings


def comparison_json(deltas: list[Delta], warnings: list[str], against: str) -> dict[str, Any]:
    """The ``compare`` section of a report written with ``--compare``."""
    return {"against": against, "warnings": warnings, "figures": {d.figure.key: d.as_json() for d in deltas}}


def render_compare(deltas: list[Delta], warnings: list[str], old_label: str) -> Group:
    t = Table(title=f"compared with {old_label}", title_justify="left")
    t.add_column("figure")
    t.add_column("old", justify="right")
    t.add_column("new", justify="right")
    t.add_column("Δ", justify="right")
    t.add_column("Δ %", justify="right")
    styles = {"better": "green", "worse": "red", "same": "dim"}
    for d in deltas:
        pct = d.pct
        unit = d.figure.unit
        if unit == "":
            change = f"{d.change:+.2%}"
        elif unit == "x" or abs(d.change) < 1:
            change = f"{d.change:+.3f}"
        else:
            change = f"{d.change:+.1f}"
        pct_text = "—" if pct is None else f"{pct:+.1f}%"
        style = styles[d.verdict]
        t.add_row(d.figure.label, _fmt(d.old, unit), _fmt(d.new, unit), f"[{style}]{change}[/]",
                  f"[{style}]{pct_text}[/]")
    parts: list[Any] = [t]
    if not deltas:
        parts.append("[yellow]no figure in common (were the same stages run?)[/]")
    parts.extend(f"[yellow]note: {w}[/]" for w in warnings)
    parts.append(f"[dim]changes under {NOISE_PCT:g}% are shown as noise; timings on a shared machine vary more[/]")
    return Group(*parts)


# --- plot --------------------------------------------------------------------------------

def plot_breakdown(data: dict[str, Any], path: Path) -> None:
    """Two panels: the median voice-to-voice breakdown with p50/p95 markers, and every turn."""
    if "stages_ms" not in data or "e2e" not in data:
        raise VoicecliError("--plot draws the voice-to-voice breakdown, but the e2e stage did not run",
                            "include e2e in --only")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise VoicecliError("--plot needs matplotlib", "pip install 'voicecli[plot]'") from exc

    stages = data["stages_ms"]
    turns = data["e2e"]["turns"]
    colors = dict(zip(BREAKDOWN, ("#8da0cb", "#66c2a5", "#fc8d62", "#e78ac3", "#b3b3b3"), strict=True))
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(10, 6.5), gridspec_kw={"height_ratios": [1, 2.5]})
    left = 0.0
    for key in BREAKDOWN:
        width = max(0.0, stages.get(key, {}).get("p50", 0.0))
        ax1.barh([0], [width], left=left, color=colors[key], label=BREAKDOWN_LABELS[key])
        if width > 60:
            ax1.text(left + width / 2, 0, f"{width:.0f}", ha="center", va="center", fontsize=8)
        left += width
    vv = data["voice_to_voice_ms"]
    for q, style in (("p50", "-"), ("p95", "--")):
        ax1.axvline(vv[q], color="black", linestyle=style, linewidth=1)
        ax1.text(vv[q], 0.45, f" v2v {q} {vv[q]:.0f} ms", fontsize=8, va="bottom")
    ax1.set_yticks([])
    ax1.set_xlabel("ms after the end of speech (medians per stage)")
    ax1.set_ylim(-0.6, 0.9)
    ax1.legend(ncol=5, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.45), frameon=False)
    for i, t in enumerate(turns):
        lat = t["latency_ms"]
        left = 0.0
        for key in BREAKDOWN:
            width = lat.get(key)
            if width is None or (isinstance(width, float) and math.isnan(width)):
                continue
            width = max(0.0, width)
            ax2.barh([i], [width], left=left, color=colors[key])
            left += width
        v2v = lat.get("voice_to_voice")
        if v2v is not None:
            ax2.plot([v2v, v2v], [i - 0.42, i + 0.42], color="black", linewidth=1.5)
    ax2.set_yticks(range(len(turns)))
    ax2.set_yticklabels([f"{i + 1}: {t['question'][:24]}" for i, t in enumerate(turns)], fontsize=7)
    ax2.invert_yaxis()
    hidden = any((t["latency_ms"].get("hidden_by_speculation") or 0) > 0 for t in turns)
    hidden_note = "\n(bars past the tick ran during the endpoint wait: the speculative reply hid them)"
    ax2.set_xlabel("ms per measured turn; black tick = voice-to-voice" + (hidden_note if hidden else ""))
    models = data.get("models", {})
    fig.suptitle(f"voice-to-voice latency — {models.get('stt', {}).get('name', '?')} / "
                 f"{models.get('llm', {}).get('name', '?')} / {models.get('tts', {}).get('name', '?')}, "
                 f"{data.get('machine', {}).get('cores_usable', '?')} cores", fontsize=10)
    fig.tight_layout()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=120)
    except OSError as exc:
        raise VoicecliError(f"cannot write {path}: {exc.strerror}", "choose another --plot path") from exc
    finally:
        plt.close(fig)
