"""The TTS seam: what the conversation, the servers and the bench need from a voice."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from voicecli.audio.format import AudioChunk


class Synthesizer(Protocol):
    """A loaded voice (``PiperSpeaker``). Blocking calls; the caller chooses the thread."""

    name: str
    sample_rate_hz: int
    """Rate of every chunk ``synthesize`` yields."""

    def synthesize(self, text: str, speed: float = 1.0) -> Iterator[AudioChunk]:
        """Speak ``text``; one chunk per sentence the voice finds in it (lazily)."""
        ...

    def warm_up(self) -> None:
        """Synthesise a word once so the first real call is not slow."""
        ...
