"""The audio formats of the realtime wire: 24 kHz PCM16 and G.711 (μ-law ``audio/pcmu``, A-law
``audio/pcma``, 8 kHz, as telephony bridges send them), their GA and beta names, and the byte ⇄
sample conversion. G.711 is coded by ``audioop`` (the C codec of the standard library up to
Python 3.12; its maintained port ``audioop-lts`` from 3.13). Pure."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from voicecli.audio.format import float_to_pcm16, pcm16_to_float
from voicecli.server.realtime.protocol import AUDIO_FORMATS, G711_RATE_HZ, WIRE_RATE_HZ, ClientEventError, FormatName

with warnings.catch_warnings():  # the stdlib module warns of its move to audioop-lts
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

_GA_TYPES: dict[str, FormatName] = {ga: name for name, ga in AUDIO_FORMATS.items()}


@dataclass(frozen=True)
class WireFormat:
    name: FormatName = "pcm16"

    @property
    def rate_hz(self) -> int:
        return WIRE_RATE_HZ if self.name == "pcm16" else G711_RATE_HZ

    @property
    def bytes_per_sample(self) -> int:
        return 2 if self.name == "pcm16" else 1

    def decode(self, data: bytes) -> np.ndarray:
        """Float samples at :attr:`rate_hz` (``data`` a whole number of samples)."""
        if self.name == "g711_ulaw":
            data = audioop.ulaw2lin(data, 2)
        elif self.name == "g711_alaw":
            data = audioop.alaw2lin(data, 2)
        return pcm16_to_float(data)

    def encode(self, samples: np.ndarray) -> bytes:
        """Bytes of float samples at :attr:`rate_hz`."""
        pcm = float_to_pcm16(samples)
        if self.name == "g711_ulaw":
            return audioop.lin2ulaw(pcm, 2)
        if self.name == "g711_alaw":
            return audioop.lin2alaw(pcm, 2)
        return pcm


PCM16 = WireFormat()


def parse_format(value: Any, param: str) -> WireFormat:
    """A beta name (``pcm16``, ``g711_ulaw``, ``g711_alaw``) or a GA object (``{"type":
    "audio/pcm", "rate": 24000}``, ``{"type": "audio/pcmu"}``, ``{"type": "audio/pcma"}``)."""
    if isinstance(value, str):
        if value not in AUDIO_FORMATS:
            raise ClientEventError(f"'{param}' must be 'pcm16' (24 kHz), 'g711_ulaw' or 'g711_alaw', not "
                                   f"{value[:40]!r}", param, "unsupported_audio_format")
        return WireFormat(value)
    if not isinstance(value, dict):
        raise ClientEventError(f"'{param}' must be an object", param, "invalid_type")
    kind = value.get("type", "audio/pcm")
    name = _GA_TYPES.get(kind) if isinstance(kind, str) else None
    if name is None:
        raise ClientEventError(f"'{param}.type' must be 'audio/pcm', 'audio/pcmu' or 'audio/pcma', not "
                               f"{str(kind)[:40]!r}", f"{param}.type", "unsupported_audio_format")
    fmt = WireFormat(name)
    rate = value.get("rate", fmt.rate_hz)
    if rate != fmt.rate_hz or isinstance(rate, bool):
        raise ClientEventError(f"'{param}.rate': {kind} is {fmt.rate_hz} Hz", f"{param}.rate",
                               "unsupported_audio_format")
    return fmt
