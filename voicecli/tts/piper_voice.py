"""Piper adapter: one loaded voice, synthesis sentence by sentence. Each sentence's leading
silence (30–40 ms of Piper's output) is cut to a few milliseconds: it is pure wait before the
first word of a reply. While other programs keep a core busy, a warmed-up voice synthesises on
a one-thread session: its two spinning threads then wait for each other on the shared core
(``benchmarks/busy_threads.py``: 177 ms on two threads vs 141 on one for a sentence; idle two
win, 128 vs 150)."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from voicecli.audio.format import AudioChunk
from voicecli.cpu_share import other_load, threads_for
from voicecli.errors import ModelLoadError

LEAD_SILENCE_DBFS = -50.0
"""Samples below this level before a sentence's first sound count as its leading silence."""
LEAD_KEEP_MS = 10.0
"""Silence kept before the first sound (the onset is not clipped)."""

_ESPEAK_LOCK = threading.Lock()
"""espeak-ng (Piper's phonemizer) keeps global state: one phonemization at a time, process-wide.
The ONNX inference that follows runs concurrently."""


MAX_PHONEMES = 400
"""Longest phoneme sequence one inference gets (~20 s of audio, ~300 MB at its peak); a longer
sentence is cut at a word boundary. Memory grows with the audio of one call: 1600 phonemes
took 1.3 GB, and a spelled-out nonsense "sentence" of 300 characters has 3600 (issue 12)."""


PHONEMES_PER_S = 20.0
"""Piper voices say about 20 phonemes a second at speed 1 (measured 19-21 on prose, digits read
out, spelled-out letters and other scripts), so phonemes predict the length of the audio."""


def bounded_phonemes(phonemes: list[str], limit: int = MAX_PHONEMES) -> list[list[str]]:
    """``phonemes`` cut into parts of at most ``limit``, after a word's last phoneme when possible."""
    parts = []
    while len(phonemes) > limit:
        cut = max((i + 1 for i in range(limit) if phonemes[i] == " "), default=limit)
        parts.append(phonemes[:cut])
        phonemes = phonemes[cut:]
    return [*parts, phonemes]


class PiperSpeaker:
    """Blocking synthesis; iterate to get one chunk per sentence Piper finds in the text."""

    def __init__(self, model_path: str | Path, name: str, threads: int = 0) -> None:
        from piper import PiperVoice
        from piper.config import PiperConfig

        model_path = Path(model_path)
        config_path = model_path.with_name(model_path.name + ".json")
        try:
            config = PiperConfig.from_dict(json.loads(config_path.read_text(encoding="utf-8")))
            session = _session(model_path, threads)
        except (OSError, ValueError, KeyError) as exc:
            raise ModelLoadError(f"cannot load Piper voice '{name}' from {model_path}: {exc}",
                                 "check the .onnx and .onnx.json files") from exc
        except Exception as exc:  # onnxruntime's own exception types
            raise ModelLoadError(f"Piper voice '{name}' is corrupt: {str(exc).splitlines()[0]}",
                                 "re-install or re-download the voice") from exc
        self._voice = PiperVoice(session=session, config=config)
        self._model_path = model_path
        self._config = config
        self._threads = threads or (os.cpu_count() or 1)
        self._one_thread: PiperVoice | None = None
        """The same voice on one thread, for when other programs keep a core busy (made by
        :meth:`warm_up`: the voice a conversation speaks with)."""
        self.name = name
        self.sample_rate_hz = int(config.sample_rate)
        self.language = str(getattr(config, "espeak_voice", "") or "en")

    def synthesize(self, text: str, speed: float = 1.0) -> Iterator[AudioChunk]:
        from piper.config import SynthesisConfig

        cfg = SynthesisConfig(length_scale=(1.0 / speed) if speed else None)
        with _ESPEAK_LOCK:
            sentences = self._voice.phonemize(text)
        for phonemes in (part for sentence in sentences for part in bounded_phonemes(sentence)):
            if not phonemes:
                continue
            voice = self._voice_now()
            audio = voice.phoneme_ids_to_audio(voice.phonemes_to_ids(phonemes), cfg)
            if isinstance(audio, tuple):
                audio = audio[0]
            peak = float(np.max(np.abs(audio))) if audio.size else 0.0
            if peak > 1e-8:
                audio = audio / peak  # Piper's own normalisation: every sentence at full scale
            samples = np.clip(audio, -1.0, 1.0).astype(np.float32).reshape(-1)
            yield AudioChunk(trim_leading_silence(samples, self.sample_rate_hz), self.sample_rate_hz)

    def duration_estimate_s(self, text: str, speed: float = 1.0) -> float:
        """How long saying ``text`` will take, from its phonemes (espeak only, no inference: ~10 ms
        per 1000 characters). Characters do not tell: 96 CJK characters read by an English voice
        last 74 s."""
        with _ESPEAK_LOCK:
            sentences = self._voice.phonemize(text)
        return sum(len(p) for p in sentences) / PHONEMES_PER_S / (speed or 1.0)

    def warm_up(self) -> None:
        from piper import PiperVoice

        if self._threads > 1 and self._one_thread is None:
            self._one_thread = PiperVoice(session=_session(self._model_path, 1), config=self._config)
            self._one_thread.phoneme_ids_to_audio(self._voice.phonemes_to_ids(self._voice.phonemize("Hello.")[0]))
        for _ in self.synthesize("Hello."):
            pass

    def _voice_now(self) -> Any:
        """The one-thread voice while other programs leave less than two cores free."""
        if self._one_thread is not None and threads_for(self._threads, os.cpu_count() or 1,
                                                        other_load().cores()) == 1:
            return self._one_thread
        return self._voice


def _session(model_path: Path, threads: int) -> Any:
    import onnxruntime

    opts = onnxruntime.SessionOptions()
    if threads:
        opts.intra_op_num_threads = threads
    return onnxruntime.InferenceSession(str(model_path), sess_options=opts, providers=["CPUExecutionProvider"])


def trim_leading_silence(samples: np.ndarray, rate_hz: int, dbfs: float = LEAD_SILENCE_DBFS,
                         keep_ms: float = LEAD_KEEP_MS) -> np.ndarray:
    """``samples`` from ``keep_ms`` before the first sample at or above ``dbfs`` (unchanged when
    nothing is that loud)."""
    loud = np.flatnonzero(np.abs(samples) >= 10 ** (dbfs / 20))
    if not loud.size:
        return samples
    start = max(0, int(loud[0]) - int(rate_hz * keep_ms / 1000))
    return samples[start:]
