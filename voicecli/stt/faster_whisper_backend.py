"""faster-whisper (CTranslate2) adapter: CPU and CUDA."""

from __future__ import annotations

from typing import Iterator

import numpy as np

from voicecli.audio.format import PIPELINE_RATE_HZ
from voicecli.errors import ModelLoadError
from voicecli.stt.types import Segment, TranscribeOptions, Transcription, TranscriptionInfo, Word


def _resolve_device(device: str) -> str:
    if device != "auto":
        return device
    try:
        import ctranslate2

        return "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
    except Exception:  # pragma: no cover - ctranslate2 without CUDA support
        return "cpu"


class WhisperTranscriber:
    """Loads a CTranslate2 Whisper directory once; transcribes many times (thread-safe)."""

    def __init__(self, model_path: str, name: str, device: str = "auto", compute_type: str = "int8",
                 threads: int = 0) -> None:
        from faster_whisper import BatchedInferencePipeline, WhisperModel

        self.name = name
        self.device = _resolve_device(device)
        try:
            self._model = WhisperModel(model_path, device=self.device, compute_type=compute_type,
                                       cpu_threads=threads, local_files_only=True)
        except (RuntimeError, ValueError, OSError) as exc:
            raise ModelLoadError(f"cannot load Whisper model '{name}' from {model_path}: {exc}",
                                 "check the model files or pick another with --model") from exc
        self._batched = BatchedInferencePipeline(self._model)
        self.is_multilingual = bool(self._model.model.is_multilingual)

    def warm_up(self) -> None:
        self.transcribe(np.zeros(PIPELINE_RATE_HZ // 2, np.float32), TranscribeOptions(language="en"))

    def transcribe_stream(self, audio: np.ndarray, options: TranscribeOptions) -> tuple[TranscriptionInfo, Iterator[Segment]]:
        language = options.language
        if not self.is_multilingual:
            language = "en"
        kwargs = dict(language=language, beam_size=options.beam_size, vad_filter=options.vad_filter,
                      word_timestamps=options.word_timestamps, initial_prompt=options.initial_prompt,
                      temperature=options.temperature if options.temperature > 0 else [0.0, 0.2, 0.4, 0.6, 0.8, 1.0],
                      condition_on_previous_text=False, without_timestamps=options.without_timestamps)
        if options.batched:
            segments, info = self._batched.transcribe(audio, batch_size=options.batch_size, **kwargs)
        else:
            segments, info = self._model.transcribe(audio, **kwargs)
        meta = TranscriptionInfo(language=info.language, language_probability=float(info.language_probability),
                                 duration_s=float(info.duration))
        return meta, (_convert(s, i) for i, s in enumerate(segments))

    def transcribe(self, audio: np.ndarray, options: TranscribeOptions) -> Transcription:
        info, segments = self.transcribe_stream(audio, options)
        segs = tuple(segments)
        return Transcription(text="".join(s.text for s in segs).strip(), language=info.language,
                             language_probability=info.language_probability, duration_s=info.duration_s,
                             segments=segs)


def _convert(s, index: int) -> Segment:  # noqa: ANN001 - faster_whisper.transcribe.Segment
    words = tuple(Word(float(w.start), float(w.end), w.word, float(w.probability)) for w in (s.words or ()))
    return Segment(id=index, start=float(s.start), end=float(s.end), text=s.text, words=words,
                   seek=int(s.seek), tokens=tuple(int(t) for t in s.tokens),
                   temperature=float(s.temperature or 0.0), avg_logprob=float(s.avg_logprob),
                   compression_ratio=float(s.compression_ratio), no_speech_prob=float(s.no_speech_prob))
