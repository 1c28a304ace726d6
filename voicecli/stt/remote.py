"""Any OpenAI-compatible transcription server (another ``voicecli serve``, vLLM, speaches) as the
STT tier: ``POST /v1/audio/transcriptions`` with the audio as a 16 kHz WAV, ``verbose_json``
asked for (its language and segments are used when the server sends them; a plain ``json``
answer gives the text). Nothing is loaded locally."""

from __future__ import annotations

import io
import json
import wave
from collections.abc import Iterator
from typing import Any

import numpy as np

from voicecli.audio.format import PIPELINE_RATE_HZ, float_to_pcm16
from voicecli.errors import AudioInputError, RemoteEngineError
from voicecli.languages import normalize_language
from voicecli.remote_http import RemoteEndpoint
from voicecli.stt.types import Segment, TranscribeOptions, Transcription, TranscriptionInfo, Word

MAX_RESPONSE_BYTES = 8_000_000
"""A verbose transcript of the longest accepted audio with word timestamps fits several times over."""
MAX_UPLOAD_BYTES = 25 * 1024 * 1024
"""OpenAI's upload limit (and ``voicecli serve``'s default): about 13 min of 16 kHz 16-bit audio."""


def wav_bytes(audio: np.ndarray, rate_hz: int = PIPELINE_RATE_HZ) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate_hz)
        w.writeframes(float_to_pcm16(audio))
    return buf.getvalue()


class RemoteTranscriber:
    """``model`` is sent as the request's ``model`` (voicecli serve accepts any name; vLLM wants
    the name it serves, e.g. ``openai/whisper-large-v3-turbo``)."""

    def __init__(self, base_url: str, model: str, api_key: str | None = None, timeout_s: float = 30.0) -> None:
        self.endpoint = RemoteEndpoint(base_url, "the STT server", "--stt-url", api_key, timeout_s)
        self.model = model
        self.is_multilingual = not model.endswith(".en")
        """As Whisper's names say (``tiny.en`` is English-only); the server detects the language."""
        self.name = f"{model}@{self.endpoint.host}"

    def transcribe(self, audio: np.ndarray, options: TranscribeOptions) -> Transcription:
        form: dict[str, Any] = {"model": self.model, "response_format": "verbose_json",
                                "temperature": f"{options.temperature:g}"}
        if options.language:
            form["language"] = options.language
        if options.initial_prompt:
            form["prompt"] = options.initial_prompt
        if options.word_timestamps:
            form["timestamp_granularities[]"] = ["word", "segment"]
        if len(audio) * 2 + 44 > MAX_UPLOAD_BYTES:
            limit_min = MAX_UPLOAD_BYTES / 2 / PIPELINE_RATE_HZ / 60
            raise AudioInputError(f"{len(audio) / PIPELINE_RATE_HZ / 60:.0f} min of audio is more than an "
                                  f"OpenAI-compatible server accepts in one upload (25 MB, {limit_min:.0f} min)",
                                  "transcribe it without --stt-url, or split it")
        body, _ = self.endpoint.post("/audio/transcriptions", max_bytes=MAX_RESPONSE_BYTES, data=form,
                                     files={"file": ("audio.wav", wav_bytes(audio), "audio/wav")})
        return parse_transcription(body, len(audio) / PIPELINE_RATE_HZ, options.language, self.endpoint.base_url)

    def transcribe_stream(self, audio: np.ndarray,
                          options: TranscribeOptions) -> tuple[TranscriptionInfo, Iterator[Segment]]:
        t = self.transcribe(audio, options)
        return TranscriptionInfo(t.language, t.language_probability, t.duration_s), iter(t.segments)

    def warm_up(self) -> None:
        """No model to warm: check that the server answers, so a wrong URL fails at startup."""
        self.endpoint.check()


def parse_transcription(body: bytes, duration_s: float, language: str | None, url: str = "") -> Transcription:
    """An OpenAI ``verbose_json`` or ``json`` transcription body → :class:`Transcription`."""
    try:
        data = json.loads(body)
        if not isinstance(data, dict) or not isinstance(data.get("text"), str):
            raise ValueError("no text")
        segments = tuple(_segment(i, s) for i, s in enumerate(data.get("segments") or ()))
    except (ValueError, TypeError, KeyError, AttributeError):
        raise RemoteEngineError(f"the STT server at {url} sent something that is not an OpenAI transcription: "
                                f"{body[:80]!r}", "is --stt-url an OpenAI-compatible server?") from None
    text = data["text"].strip()
    if not segments and text:
        segments = (Segment(0, 0.0, duration_s, " " + text),)
    named = data.get("language")
    detected = normalize_language(named) if isinstance(named, str) else None
    duration = data.get("duration")
    return Transcription(text, detected or language or "en", 1.0 if detected or language else 0.0,
                         float(duration) if isinstance(duration, (int, float)) else duration_s, segments)


def _segment(i: int, s: dict[str, Any]) -> Segment:
    words = tuple(Word(float(w["start"]), float(w["end"]), str(w["word"]), float(w.get("probability", 1.0)))
                  for w in s.get("words") or ())
    return Segment(int(s.get("id", i)), float(s["start"]), float(s["end"]), str(s["text"]), words,
                   avg_logprob=float(s.get("avg_logprob", 0.0)), no_speech_prob=float(s.get("no_speech_prob", 0.0)))
