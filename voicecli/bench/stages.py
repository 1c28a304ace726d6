"""Micro-benchmarks of each engine, called the way the conversation pipeline calls them.
Blocking and single-threaded; every runner warms up first and reports order statistics."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from voicecli.audio.format import FRAME_MS, FRAME_SAMPLES
from voicecli.bench.evalset import EvalClip
from voicecli.bench.stats import Summary, median, summarize
from voicecli.bench.wer import WerResult, word_error_rate
from voicecli.llm.types import ChatMessage, GenerationOptions
from voicecli.stt.types import TranscribeOptions
from voicecli.tts.chunker import ChunkerParams
from voicecli.tts.speakable import STREAM_CHUNKS, SpeakableStream, SpeechPiece, speakable_text

Tick = Callable[[int, int], None]
"""Progress callback: (steps done, steps in total)."""


def _no_tick(done: int, total: int) -> None:
    return None


# --- VAD ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class VadResult:
    frame_ms: Summary
    """Compute time of one 32 ms frame."""

    def as_json(self) -> dict[str, Any]:
        return {"frame_ms_p50": round(self.frame_ms.p50, 4), "frame_ms_p95": round(self.frame_ms.p95, 4),
                "frame_ms_max": round(self.frame_ms.max, 4), "frame_ms": self.frame_ms.as_json(4),
                "rtf": round(self.frame_ms.mean / FRAME_MS, 5), "frames": self.frame_ms.n}


def bench_vad(vad: Any, audio: np.ndarray, frames: int, warmup_frames: int = 50, tick: Tick = _no_tick) -> VadResult:
    """Feed consecutive frames of real speech (looped) to a fresh stateful VAD."""
    n_avail = len(audio) // FRAME_SAMPLES
    if n_avail == 0:
        raise ValueError("VAD bench needs at least one frame of audio")
    blocks = [np.ascontiguousarray(audio[i * FRAME_SAMPLES:(i + 1) * FRAME_SAMPLES], dtype=np.float32)
              for i in range(n_avail)]
    vad.reset()
    for i in range(warmup_frames):
        vad.probability(blocks[i % n_avail])
    times: list[float] = []
    step = max(1, frames // 20)
    for i in range(frames):
        t0 = time.perf_counter()
        vad.probability(blocks[i % n_avail])
        times.append((time.perf_counter() - t0) * 1000)
        if (i + 1) % step == 0:
            tick(i + 1, frames)
    return VadResult(summarize(times))


# --- STT ---------------------------------------------------------------------------------

LENGTH_BUCKETS_S: tuple[float, ...] = (2.0, 4.0, 7.0, 12.0, float("inf"))
"""Upper bounds of the utterance-length buckets STT latency is reported by."""


@dataclass(frozen=True)
class ClipTranscript:
    file: str
    duration_s: float
    reference: str
    hypothesis: str
    latency_ms: float
    """Median over repeats."""


@dataclass(frozen=True)
class SttResult:
    clips: tuple[ClipTranscript, ...]
    latency_ms: Summary
    """Every timed call (clips × repeats)."""
    rtf: float
    """Total compute time / total audio duration over every timed call."""
    wer: WerResult
    repeats: int

    def by_length(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        lo = 0.0
        for hi in LENGTH_BUCKETS_S:
            inside = [c for c in self.clips if lo <= c.duration_s < hi]
            if inside:
                audio_s = sum(c.duration_s for c in inside)
                lat = summarize(c.latency_ms for c in inside)
                rows.append({"bucket_s": [lo, hi if hi != float("inf") else None], "clips": len(inside),
                             "audio_s_mean": round(audio_s / len(inside), 3),
                             "latency_ms_p50": round(lat.p50, 1), "latency_ms_max": round(lat.max, 1),
                             "rtf": round(sum(c.latency_ms for c in inside) / 1000 / audio_s, 4)})
            lo = hi
        return rows

    def as_json(self) -> dict[str, Any]:
        return {"rtf": round(self.rtf, 4), "wer": round(self.wer.wer, 4), "wer_errors": self.wer.errors,
                "wer_reference_words": self.wer.reference_words, "clips_n": len(self.clips),
                "audio_s": round(sum(c.duration_s for c in self.clips), 3), "repeats": self.repeats,
                "latency_ms": self.latency_ms.as_json(1), "latency_ms_by_length": self.by_length(),
                "clips": [{"file": c.file, "duration_s": round(c.duration_s, 3), "latency_ms": round(c.latency_ms, 1),
                           "reference": c.reference, "hypothesis": c.hypothesis} for c in self.clips]}


def bench_stt(transcriber: Any, clips: Sequence[EvalClip], options: TranscribeOptions, repeats: int = 1,
              tick: Tick = _no_tick) -> SttResult:
    """Transcribe every clip ``repeats`` times (after one warm-up call) with the pipeline's call;
    WER from the first pass, latency per clip as the median over passes."""
    if not clips:
        raise ValueError("STT bench needs at least one clip")
    audio = [c.samples() for c in clips]
    transcriber.transcribe(audio[0], options)  # warm-up
    hyps: list[str] = []
    per_clip: list[list[float]] = [[] for _ in clips]
    total = len(clips) * repeats
    done = 0
    for rep in range(repeats):
        for i, samples in enumerate(audio):
            t0 = time.perf_counter()
            result = transcriber.transcribe(samples, options)
            per_clip[i].append((time.perf_counter() - t0) * 1000)
            if rep == 0:
                hyps.append(result.text)
            done += 1
            tick(done, total)
    durations = [len(a) / 16000 for a in audio]
    all_ms = [ms for row in per_clip for ms in row]
    rtf = sum(all_ms) / 1000 / (sum(durations) * repeats)
    transcripts = tuple(ClipTranscript(c.name, d, c.text, h, median(ms))
                        for c, d, h, ms in zip(clips, durations, hyps, per_clip, strict=True))
    return SttResult(transcripts, summarize(all_ms), rtf, word_error_rate([c.text for c in clips], hyps), repeats)


# --- LLM ---------------------------------------------------------------------------------

QUESTIONS = ("What is the capital of France?", "How far away is the moon?", "Why is the sky blue?",
             "What should I cook for dinner tonight?", "How do bees make honey?",
             "What is the tallest mountain in the world?", "Can you recommend a good book?",
             "How many legs does a spider have?")
LONG_REPLY_PROMPT = "Tell me a long, detailed story about a lighthouse keeper and a storm."


@dataclass(frozen=True)
class LlmResult:
    first_token_cold: Summary
    """System prompt not in the cache (first request of a session)."""
    first_token_cached: Summary
    """System prompt already evaluated (every later turn of a conversation)."""
    tokens_per_s: Summary
    """Generation speed after the first token."""
    reply_tokens: int
    """Tokens generated in the median speed run."""
    prompt_tokens: int
    """System prompt + question, as the model counts them (remote servers: an estimate)."""

    def as_json(self) -> dict[str, Any]:
        return {"first_token_ms": self.first_token_cached.as_json(1),
                "first_token_cold_ms": round(self.first_token_cold.p50, 1),
                "first_token_cached_ms": round(self.first_token_cached.p50, 1),
                "first_token_cold": self.first_token_cold.as_json(1),
                "tokens_per_s": round(self.tokens_per_s.p50, 2), "tokens_per_s_summary": self.tokens_per_s.as_json(2),
                "reply_tokens": self.reply_tokens, "prompt_tokens": self.prompt_tokens}


def _first_token_ms(chat: Any, messages: list[ChatMessage]) -> float:
    t0 = time.perf_counter()
    gen = chat.stream(messages, GenerationOptions(max_tokens=8, temperature=0.0))
    try:
        for _ in gen:
            return (time.perf_counter() - t0) * 1000
    finally:
        gen.close()
    raise RuntimeError("the LLM produced no token")


def _decode_rate(chat: Any, messages: list[ChatMessage], max_tokens: int,
                 budget_s: float) -> tuple[float, int] | None:
    """Stops early after ``budget_s`` (at least 8 tokens), so a starved CPU cannot stall the run."""
    stamps: list[float] = []
    text = ""
    gen = chat.stream(messages, GenerationOptions(max_tokens=max_tokens, temperature=0.0))
    try:
        for delta in gen:
            stamps.append(time.perf_counter())
            text += delta
            if len(stamps) >= 8 and stamps[-1] - stamps[0] > budget_s:
                break
    finally:
        gen.close()
    tokens = chat.count_tokens(text)
    if len(stamps) < 3 or tokens < 3 or stamps[-1] <= stamps[0]:
        return None
    # Tokens after the first one, over the time between the first and the last delta.
    return (tokens - 1) / (stamps[-1] - stamps[0]), tokens


def bench_llm(chat: Any, system_prompt: str, repeats: int = 3, speed_runs: int = 2, speed_tokens: int = 96,
              speed_budget_s: float = 20.0, tick: Tick = _no_tick) -> LlmResult:
    system = ChatMessage("system", system_prompt)
    total = 1 + 2 * repeats + speed_runs
    done = 0

    def step() -> None:
        nonlocal done
        done += 1
        tick(done, total)

    chat.warm_up(system_prompt)
    step()
    cold: list[float] = []
    cached: list[float] = []
    for i in range(repeats):
        question = ChatMessage("user", QUESTIONS[i % len(QUESTIONS)])
        # A unique first line makes the whole prompt new to the cache: a cold start.
        salted = ChatMessage("system", f"Session {uuid.uuid4().hex[:8]}. {system_prompt}")
        cold.append(_first_token_ms(chat, [salted, question]))
        step()
        # Prime with the real system prompt, then time a different question: only the question
        # is new, as in every turn after the first.
        _first_token_ms(chat, [system, ChatMessage("user", QUESTIONS[(i + 3) % len(QUESTIONS)])])
        cached.append(_first_token_ms(chat, [system, question]))
        step()
    rates: list[tuple[float, int]] = []
    for _ in range(speed_runs):
        r = _decode_rate(chat, [system, ChatMessage("user", LONG_REPLY_PROMPT)], speed_tokens, speed_budget_s)
        if r is not None:
            rates.append(r)
        step()
    if not rates:
        raise RuntimeError("the LLM stopped before generating 3 tokens; cannot measure tokens/s")
    rates.sort()
    prompt_tokens = chat.count_tokens(system_prompt) + chat.count_tokens(QUESTIONS[0])
    return LlmResult(summarize(cold), summarize(cached), summarize(r for r, _ in rates),
                     rates[len(rates) // 2][1], prompt_tokens)


# --- TTS ---------------------------------------------------------------------------------

SHORT_REPLY = "The capital of France is Paris."
LONG_REPLY = ("Paris is the capital of France, and it sits on the river Seine in the north of the country. "
              "It is famous for the Eiffel Tower, the Louvre museum and its many small cafés. "
              "About two million people live in the city itself, and more than twelve million live in the "
              "wider region around it. Most visitors come in the spring or the early autumn, when the weather "
              "is mild and the parks are at their best.")


@dataclass(frozen=True)
class TtsResult:
    first_audio_short_ms: tuple[float, ...]
    first_audio_long_ms: tuple[float, ...]
    rtf: Summary
    """Synthesis time / audio duration for the whole long reply."""
    long_audio_s: float
    first_chunk_long: str
    """The piece of the long reply voicecli speaks first."""

    def as_json(self) -> dict[str, Any]:
        short, long_ = summarize(self.first_audio_short_ms), summarize(self.first_audio_long_ms)
        return {"first_audio_ms": summarize([*self.first_audio_short_ms, *self.first_audio_long_ms]).as_json(1),
                "first_audio_short_ms": round(short.p50, 1), "first_audio_long_ms": round(long_.p50, 1),
                "first_audio_short": short.as_json(1), "first_audio_long": long_.as_json(1),
                "rtf": round(self.rtf.p50, 4), "long_reply_audio_s": round(self.long_audio_s, 3),
                "first_chunk_long": self.first_chunk_long}


_TOKEN = re.compile(r"\s*\S+")


def _speak_first_chunk(speaker: Any, text: str, chunker: ChunkerParams, speed: float) -> tuple[float, str]:
    """voicecli's path: cut the reply like the pipeline does, synthesise the first piece."""
    t0 = time.perf_counter()
    stream = SpeakableStream(chunker)
    pieces: list[SpeechPiece] = []
    for token in _TOKEN.findall(text):  # word by word, as the LLM streams it
        pieces.extend(stream.push(token))
        if pieces:
            break
    pieces = pieces or stream.flush()
    if not pieces:
        raise RuntimeError("the reply holds nothing to say")
    audio = [a.samples for a in speaker.synthesize(pieces[0].spoken, speed)]
    if not audio:
        raise RuntimeError("the voice produced no audio")
    return (time.perf_counter() - t0) * 1000, pieces[0].text


def bench_tts(speaker: Any, chunker: ChunkerParams = STREAM_CHUNKS, speed: float = 1.0, repeats: int = 3,
              tick: Tick = _no_tick) -> TtsResult:
    speaker.warm_up()
    total = 3 * repeats
    done = 0
    short: list[float] = []
    long_: list[float] = []
    rtf: list[float] = []
    first_chunk = ""
    long_audio_s = 0.0
    spoken_long = speakable_text(LONG_REPLY)
    for _ in range(repeats):
        short.append(_speak_first_chunk(speaker, SHORT_REPLY, chunker, speed)[0])
        done += 1
        tick(done, total)
        ms, first_chunk = _speak_first_chunk(speaker, LONG_REPLY, chunker, speed)
        long_.append(ms)
        done += 1
        tick(done, total)
        t0 = time.perf_counter()
        n = sum(len(a.samples) for a in speaker.synthesize(spoken_long, speed))
        elapsed = time.perf_counter() - t0
        long_audio_s = n / speaker.sample_rate_hz
        rtf.append(elapsed / long_audio_s)
        done += 1
        tick(done, total)
    return TtsResult(tuple(short), tuple(long_), summarize(rtf), long_audio_s, first_chunk)
