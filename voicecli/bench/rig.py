"""What the talk-driving benchmarks (``benchmarks/device_loop.py``, ``echo_loop.py``,
``turn_detector.py``) set up around talk: spoken questions from espeak-ng voices, and cores kept
busy to measure under load. Needs ``espeak-ng`` and ``sox`` (``make test`` installs them)."""

from __future__ import annotations

import contextlib
import multiprocessing
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path

from voicecli.audio.format import PIPELINE_RATE_HZ

QUESTIONS = (
    ("en-us+m3", "What is the capital of France?"),
    ("en-gb+f3", "Can you tell me a fun fact about the moon?"),
    ("en-gb-scotland", "How many legs does a spider have?"),
    ("en-029+m1", "What should I cook for dinner tonight?"),
    ("en-us+f4", "Why is the sky blue?"),
    ("en-gb-x-rp+m7", "Name three colours of the rainbow."),
    ("en-us+m1", "Turn off the lights in the kitchen."),
    ("en-gb+m2", "Who wrote Pride and Prejudice?"),
    ("en-us+f2", "Set a timer for ten minutes."),
    ("en-gb-x-rp+f1", "How far away is the sun?"),
)
"""(espeak-ng voice, question): complete questions in several voices, none from the eval set
(the device loop asks the first six, the turn-detector benchmark all of them)."""


def espeak_wav(work: Path, name: str, voice: str, text: str, words_per_minute: int,
               pad_s: float | None = None, ssml: bool = False) -> Path:
    """``text`` spoken by espeak-ng ``voice``, as ``work/NAME.wav`` at 16 kHz mono 16-bit, with
    ``pad_s`` of silence before and after (None: none added); ``ssml``: ``text`` is SSML markup."""
    raw, wav = work / f"{name}.raw.wav", work / f"{name}.wav"
    markup = ["-m", f"<speak>{text}</speak>"] if ssml else [text]
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(words_per_minute), "-w", str(raw), *markup], check=True)
    pad: Sequence[str] = () if pad_s is None else ("pad", str(pad_s), str(pad_s))
    subprocess.run(["sox", str(raw), "-r", str(PIPELINE_RATE_HZ), "-c", "1", "-b", "16", str(wav), *pad], check=True)
    return wav


def _spin() -> None:
    while True:
        pass


@contextlib.contextmanager
def busy_cores(n: int) -> Iterator[None]:
    """``n`` processes spinning (one core each, ideally) until the block ends."""
    hogs = [multiprocessing.Process(target=_spin, daemon=True) for _ in range(n)]
    for h in hogs:
        h.start()
    try:
        yield
    finally:
        for h in hogs:
            h.terminate()
