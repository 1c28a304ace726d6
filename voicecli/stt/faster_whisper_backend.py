"""faster-whisper (CTranslate2) adapter: CPU and CUDA."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import numpy as np

from voicecli.audio.format import PIPELINE_RATE_HZ
from voicecli.errors import ModelLoadError
from voicecli.stt.types import Segment, TranscribeOptions, Transcription, TranscriptionInfo, Word

SILENT_PEAK_DBFS = -70.0
"""Audio whose loudest sample is below this holds nothing to transcribe. Whisper with beam
search "hears" words in digital silence (" You", no-speech probability 0.95, log-probability
−0.98: just inside faster-whisper's thresholds), greedy decoding happened not to."""


def _silent(audio: np.ndarray) -> bool:
    return not audio.size or float(np.max(np.abs(audio))) < 10 ** (SILENT_PEAK_DBFS / 20)


def _resolve_device(device: str) -> str:
    if device != "auto":
        return device
    try:
        import ctranslate2

        return "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
    except Exception:  # noqa: BLE001 # pragma: no cover - ctranslate2 without CUDA support
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
        self._one_thread: Any = None
        """The same weights on one thread (CTranslate2 fixes threads at load) for the short window:
        there two threads wait on each other more than they gain. tiny.en on a 2.7 s question:
        80 vs 98 ms idle, 104 vs 180 ms with one core busy; and the other core stays free for the
        VAD and the LLM (benchmarks/RESULTS.md). Files (30 s windows, beam 5) keep all threads."""
        if self.device == "cpu" and (threads or os.cpu_count() or 1) > 1:
            import ctranslate2

            self._one_thread = ctranslate2.models.Whisper(model_path, device="cpu", compute_type=compute_type,
                                                          intra_threads=1)

    def warm_up(self) -> None:
        noise = 0.01 * np.random.default_rng(0).standard_normal(PIPELINE_RATE_HZ // 2)  # not silence: run the model
        self.transcribe(noise.astype(np.float32), TranscribeOptions(language="en"))

    def transcribe_stream(self, audio: np.ndarray,
                          options: TranscribeOptions) -> tuple[TranscriptionInfo, Iterator[Segment]]:
        language = options.language
        if not self.is_multilingual:
            language = "en"
        if _silent(audio):
            info = TranscriptionInfo(language=language or "en", language_probability=0.0,
                                     duration_s=len(audio) / PIPELINE_RATE_HZ)
            return info, iter(())
        kwargs = dict(language=language, beam_size=options.beam_size, vad_filter=options.vad_filter,
                      word_timestamps=options.word_timestamps, initial_prompt=options.initial_prompt,
                      temperature=options.temperature if options.temperature > 0 else [0.0, 0.2, 0.4, 0.6, 0.8, 1.0],
                      condition_on_previous_text=False, without_timestamps=options.without_timestamps)
        if options.vad_filter or options.batched:  # the same speech chunks either way (issue 12)
            from voicecli.stt.chunked_whisper import transcribe_chunked

            segments, info = transcribe_chunked(self._model, self._batched, audio, kwargs, batched=options.batched,
                                                batch_size=options.batch_size)
        else:
            segments, info = self._model.transcribe(audio, **kwargs)
        meta = TranscriptionInfo(language=info.language, language_probability=float(info.language_probability),
                                 duration_s=float(info.duration))
        return meta, (_convert(s, i) for i, s in enumerate(segments))

    def transcribe(self, audio: np.ndarray, options: TranscribeOptions) -> Transcription:
        fast = None if _silent(audio) else self._transcribe_short(audio, options)
        if fast is not None:
            return fast
        info, segments = self.transcribe_stream(audio, options)
        segs = tuple(segments)
        return Transcription(text="".join(s.text for s in segs).strip(), language=info.language,
                             language_probability=info.language_probability, duration_s=info.duration_s,
                             segments=segs)

    def _transcribe_short(self, audio: np.ndarray, options: TranscribeOptions) -> Transcription | None:
        """Whisper always encodes a 30 s window; CTranslate2 also accepts a shorter one. A fixed
        10 s window transcribes the eval set's short clips 3× faster at the same word error rate
        (4.4 % vs 4.9 %; benchmarks/RESULTS.md). Greedy, no temperature fallback: a result that
        looks unreliable (low log-probability, repetitive) is redone on the normal path."""
        window_s = options.short_window_s
        language = options.language or (None if self.is_multilingual else "en")
        duration_s = len(audio) / PIPELINE_RATE_HZ
        if (window_s is None or language is None or duration_s > window_s - 0.5 or options.batched
                or options.word_timestamps or options.vad_filter or options.initial_prompt):
            return None
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_ctranslate2_storage

        model = self._model
        frames = int(window_s * 100)
        features = model.feature_extractor(audio)[:, :frames]
        if features.shape[1] < frames:
            features = np.pad(features, ((0, 0), (0, frames - features.shape[1])))
        tokenizer = Tokenizer(model.hf_tokenizer, model.model.is_multilingual, task="transcribe", language=language)
        prompt = model.get_prompt(tokenizer, [], without_timestamps=True)
        ct2 = self._one_thread if self._one_thread is not None else model.model
        encoded = ct2.encode(get_ctranslate2_storage(np.expand_dims(features, 0)))
        result = ct2.generate(encoded, [prompt], beam_size=options.beam_size,
                                      max_length=len(prompt) + int(duration_s * 6 + 10), suppress_blank=True,
                                      suppress_tokens=[-1], return_scores=True, return_no_speech_prob=True)[0]
        tokens = result.sequences_ids[0]
        text = tokenizer.decode(tokens).strip()
        avg_logprob = float(result.scores[0]) / (len(tokens) + 1) if result.scores else 0.0
        ratio = _compression_ratio(text)
        if text and options.retry_unreliable and (avg_logprob < -1.0 or ratio > 2.4):
            return None
        seg = Segment(id=0, start=0.0, end=duration_s, text=" " + text if text else "", tokens=tuple(tokens),
                      avg_logprob=avg_logprob, compression_ratio=ratio,
                      no_speech_prob=float(result.no_speech_prob))
        return Transcription(text=text, language=language, language_probability=1.0, duration_s=duration_s,
                             segments=(seg,) if text else ())


def _compression_ratio(text: str) -> float:
    import zlib

    data = text.encode("utf-8")
    return len(data) / max(1, len(zlib.compress(data))) if data else 0.0


def _convert(s: Any, index: int) -> Segment:
    """A faster_whisper.transcribe.Segment in our vocabulary."""
    words = tuple(Word(float(w.start), float(w.end), w.word, float(w.probability)) for w in (s.words or ()))
    return Segment(id=index, start=float(s.start), end=float(s.end), text=s.text, words=words,
                   seek=int(s.seek), tokens=tuple(int(t) for t in s.tokens),
                   temperature=float(s.temperature or 0.0), avg_logprob=float(s.avg_logprob),
                   compression_ratio=float(s.compression_ratio), no_speech_prob=float(s.no_speech_prob))
