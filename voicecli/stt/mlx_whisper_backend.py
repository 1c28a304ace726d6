"""mlx-whisper adapter (Apple Silicon only). Selected by :func:`voicecli.stt.backend.choose_backend`."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from voicecli.errors import BackendUnavailableError
from voicecli.stt.types import Segment, TranscribeOptions, Transcription, TranscriptionInfo, Word


class MlxWhisperTranscriber:
    def __init__(self, model_path: str, name: str) -> None:
        try:
            import mlx_whisper  # noqa: F401
        except ImportError as exc:
            raise BackendUnavailableError("mlx-whisper is not installed",
                                          "pip install 'voicecli[mlx]' on Apple Silicon") from exc
        self._path = model_path
        self.name = name
        self.is_multilingual = not name.endswith(".en")

    def warm_up(self) -> None:
        self.transcribe(np.zeros(8000, np.float32), TranscribeOptions(language="en"))

    def transcribe(self, audio: np.ndarray, options: TranscribeOptions) -> Transcription:
        import mlx_whisper

        result = mlx_whisper.transcribe(audio, path_or_hf_repo=self._path, language=options.language,
                                        word_timestamps=options.word_timestamps,
                                        initial_prompt=options.initial_prompt, temperature=options.temperature)
        segs = tuple(
            Segment(id=i, start=float(s["start"]), end=float(s["end"]), text=s["text"],
                    words=tuple(Word(float(w["start"]), float(w["end"]), w["word"], float(w.get("probability", 0)))
                                for w in s.get("words", [])),
                    seek=int(s.get("seek", 0)), tokens=tuple(s.get("tokens", [])),
                    temperature=float(s.get("temperature", 0)), avg_logprob=float(s.get("avg_logprob", 0)),
                    compression_ratio=float(s.get("compression_ratio", 0)),
                    no_speech_prob=float(s.get("no_speech_prob", 0)))
            for i, s in enumerate(result.get("segments", [])))
        return Transcription(text=result["text"].strip(), language=result.get("language", "en"),
                             language_probability=1.0, duration_s=len(audio) / 16000, segments=segs)

    def transcribe_stream(self, audio: np.ndarray,
                          options: TranscribeOptions) -> tuple[TranscriptionInfo, Iterator[Segment]]:
        t = self.transcribe(audio, options)
        return TranscriptionInfo(t.language, t.language_probability, t.duration_s), iter(t.segments)
