"""Does a catalogue model fit this machine? A rule of thumb from the model's (approximate)
download size, not a measurement: the memory a model needs loaded is about its file size plus a
working set (llama.cpp's KV cache and buffers at the default context, CTranslate2's decoding
buffers, onnxruntime's arena), and a voice assistant holds three models at once, so one model
"fits" when it needs at most half the RAM and is "tight" up to 80 %. No tokens/s probe: the
expected speed is not estimated."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from voicecli.catalog.resolve import ManifestEntry

WORKING_SET_MB = {"llm": 400, "stt": 300, "tts": 100, "vad": 20}
"""Added to the file size: what a loaded model needs beyond its weights (rough, per kind)."""
FITS_SHARE = 0.5
TIGHT_SHARE = 0.8


@dataclass(frozen=True)
class Fit:
    need_mb: int | None
    """Estimated RAM the model needs loaded (None: size unknown)."""
    verdict: str
    """"yes", "tight", "no", or "?" (size or RAM unknown)."""


def ram_need_mb(entry: ManifestEntry) -> int | None:
    if entry.size_mb is None:
        return None
    return int(entry.size_mb * 1.1) + WORKING_SET_MB.get(entry.kind, 100)


def machine_ram_mb() -> int | None:
    from voicecli.bench.machine import memory_gib

    gib = memory_gib()
    return None if gib is None else int(gib * 1024 * 1.048576)  # GiB → MB (10^6 bytes)


def fit(entry: ManifestEntry, ram_mb: int | None) -> Fit:
    need = ram_need_mb(entry)
    if need is None or not ram_mb:
        return Fit(need, "?")
    if need <= ram_mb * FITS_SHARE:
        return Fit(need, "yes")
    return Fit(need, "tight" if need <= ram_mb * TIGHT_SHARE else "no")
