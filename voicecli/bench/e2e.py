"""Voice-to-voice latency through the real conversation pipeline.

Recorded questions are played into :class:`~voicecli.pipeline.conversation.Conversation` frame by
frame in real time, exactly as ``voicecli talk --input`` does (same engines, options from the same
settings, same endpointer, echo canceller and player). Two things differ, and neither touches a
measured interval:

* the gaps: after each question the source keeps sending real-time silence until that turn is over
  (so a reply never overlaps the next question and no gap has to be guessed);
* the output device drains the player on a virtual clock: one 20 ms block per real 20 ms while
  idle (so the first reply sample is timed at a device block boundary, as with a real speaker),
  ``playback_speed`` blocks per tick while a reply plays (so the bench does not wait out replies).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from voicecli.audio.format import FRAME_SAMPLES, PIPELINE_RATE_HZ
from voicecli.audio.io import END_OF_INPUT, CapturedFrame
from voicecli.audio.playback import Player
from voicecli.bench.stats import Summary, summarize
from voicecli.concurrency import Pacer, post
from voicecli.config import Settings
from voicecli.pipeline.events import (
    AssistantState,
    Event,
    PipelineFailed,
    StateChanged,
    TurnCompleted,
    TurnRecord,
    UserTurnDiscarded,
)

if TYPE_CHECKING:
    from voicecli.engines import EngineSet

STAGES = ("endpoint_wait", "stt", "stt_wait", "llm_first_token", "tts_first_audio")
"""Latency fields of a turn (``TurnRecord.latency``), in pipeline order. They are durations and
may overlap: speculative STT runs during the endpoint wait, a speculative reply even its LLM/TTS."""
SEQUENTIAL = ("endpoint_wait", "stt_wait", "llm_first_token", "tts_first_audio")
"""The parts of voice-to-voice that follow one another when nothing is speculative."""
OUTPUT_BLOCK_MS = 20


@dataclass(frozen=True)
class Question:
    name: str
    samples: np.ndarray
    """16 kHz mono float32."""

    @property
    def duration_s(self) -> float:
        return len(self.samples) / PIPELINE_RATE_HZ


@dataclass(frozen=True)
class TurnResult:
    question: str
    record: TurnRecord

    def _residual_ms(self) -> float | None:
        lat = self.record.latency
        parts = [getattr(lat, k) for k in SEQUENTIAL]
        if lat.voice_to_voice is None or any(p is None for p in parts):
            return None
        return float(lat.voice_to_voice - sum(parts))

    @property
    def other_ms(self) -> float | None:
        """Voice-to-voice beyond the sequential stages (≥ 0): the LLM's time from its first token
        to the first speakable clause, hand-offs, and the output device's block boundary."""
        r = self._residual_ms()
        return None if r is None else max(r, 0.0)

    @property
    def hidden_ms(self) -> float | None:
        """How much of the sequential stages a speculative reply ran during the endpoint wait (≥ 0)."""
        r = self._residual_ms()
        return None if r is None else max(-r, 0.0)

    @property
    def after_endpoint_ms(self) -> float | None:
        """What the user waits once the endpointer has decided: voice-to-voice − endpoint wait."""
        lat = self.record.latency
        if lat.voice_to_voice is None or lat.endpoint_wait is None:
            return None
        return lat.voice_to_voice - lat.endpoint_wait


@dataclass(frozen=True)
class E2eResult:
    turns: tuple[TurnResult, ...]
    """Measured turns (warm-up turns excluded)."""
    warmup_turns: int
    missed: tuple[str, ...]
    """Questions that produced no completed turn (nothing heard, no words, or an error)."""
    dropped: tuple[str, ...]
    """Turns left out of the statistics: interrupted or never played (a question the endpointer
    split at a long pause gives several turns, each cut off by the next)."""
    playback_speed: float
    wall_s: float

    def voice_to_voice(self) -> Summary:
        return summarize(t.record.latency.voice_to_voice for t in self.turns
                         if t.record.latency.voice_to_voice is not None)

    def stages(self) -> dict[str, Summary]:
        out: dict[str, Summary] = {}
        for name in STAGES:
            vals = [getattr(t.record.latency, name) for t in self.turns]
            vals = [v for v in vals if v is not None]
            if vals:
                out[name] = summarize(vals)
        derived = {"other": "other_ms", "hidden_by_speculation": "hidden_ms", "after_endpoint": "after_endpoint_ms"}
        for name, attr in derived.items():
            vals = [v for v in (getattr(t, attr) for t in self.turns) if v is not None]
            if vals:
                out[name] = summarize(vals)
        return out

    def as_json(self) -> dict[str, Any]:
        return {"turns_n": len(self.turns), "warmup_turns": self.warmup_turns, "missed": list(self.missed),
                "dropped": list(self.dropped),
                "playback_speed": self.playback_speed, "wall_s": round(self.wall_s, 2),
                "turns": [{"question": t.question, "user": t.record.user, "assistant": t.record.full_reply,
                           "interrupted": t.record.interrupted,
                           "latency_ms": {**t.record.latency.as_dict(),
                                          "other": _round(t.other_ms), "hidden_by_speculation": _round(t.hidden_ms),
                                          "after_endpoint": _round(t.after_endpoint_ms)}}
                          for t in self.turns]}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


class TurnTracker:
    """Observes pipeline events (on the event loop) and tells the source thread when the turn
    started by the current question is over."""

    def __init__(self) -> None:
        self.question = -1
        self.state = AssistantState.LISTENING
        self._busy = False
        self._lock = threading.Lock()
        self._done = threading.Event()
        self.records: list[tuple[int, TurnRecord]] = []
        self.problems: list[tuple[int, str]] = []

    def begin(self, question: int) -> None:
        with self._lock:
            self.question = question
            self._busy = False
            self._done.clear()

    def played(self) -> None:
        """The question's last frame was sent: forget anything that ended mid-question (a
        discarded click); from now on the turn is over when the pipeline is idle again."""
        with self._lock:
            self._busy = self.state != AssistantState.LISTENING
            self._done.clear()

    @property
    def busy(self) -> bool:
        return self._busy

    def is_done(self) -> bool:
        return self._done.is_set()

    def __call__(self, ev: Event) -> None:
        if isinstance(ev, StateChanged):
            with self._lock:
                self.state = ev.state
                if ev.state != AssistantState.LISTENING:
                    self._busy = True
                elif self._busy:
                    self._done.set()
        elif isinstance(ev, TurnCompleted):
            self.records.append((self.question, ev.record))
        elif isinstance(ev, UserTurnDiscarded):
            self.problems.append((self.question, ev.reason))
        elif isinstance(ev, PipelineFailed):
            self.problems.append((self.question, ev.message))


class QuestionSource:
    """A frame source like :class:`~voicecli.audio.io.FileSource` (real-time 32 ms frames, capture
    time = the frame's due time) that plays each question, then silence until its turn is over."""

    def __init__(self, questions: Sequence[Question], tracker: TurnTracker, lead_in_s: float = 0.5,
                 gap_s: float = 0.5, turn_timeout_s: float = 60.0, unheard_s: float = 3.0) -> None:
        self.questions = list(questions)
        self.tracker = tracker
        self.lead_in_s = lead_in_s
        self.gap_s = gap_s
        self.turn_timeout_s = turn_timeout_s
        self.unheard_s = unheard_s
        """Give up on a question when the pipeline stays idle this long after it (nothing heard)."""
        self._stop = threading.Event()
        self.timed_out: list[int] = []

    def start(self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[CapturedFrame | None]) -> None:
        threading.Thread(target=self._run, args=(loop, queue), name="bench-source", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[CapturedFrame | None]) -> None:
        silence = np.zeros(FRAME_SAMPLES, np.float32)
        pacer = Pacer(PIPELINE_RATE_HZ)
        index = 0

        def send(frame: np.ndarray) -> bool:
            nonlocal index
            due = pacer.wait((index + 1) * FRAME_SAMPLES)
            post(loop, queue.put_nowait, CapturedFrame(index, frame, due))
            index += 1
            return not self._stop.is_set()

        def silence_for(seconds: float) -> bool:
            return all(send(silence) for _ in range(int(seconds * PIPELINE_RATE_HZ / FRAME_SAMPLES)))

        try:
            if not silence_for(self.lead_in_s):
                return
            for qi, q in enumerate(self.questions):
                self.tracker.begin(qi)
                audio = q.samples.astype(np.float32)
                n = -(-len(audio) // FRAME_SAMPLES)
                audio = np.concatenate([audio, np.zeros(n * FRAME_SAMPLES - len(audio), np.float32)])
                for i in range(n):
                    if not send(audio[i * FRAME_SAMPLES:(i + 1) * FRAME_SAMPLES]):
                        return
                self.tracker.played()
                played_at = time.monotonic()
                while not self.tracker.is_done():
                    waited = time.monotonic() - played_at
                    if waited > self.turn_timeout_s or (not self.tracker.busy and waited > self.unheard_s):
                        self.timed_out.append(qi)
                        break
                    if not send(silence):
                        return
                if not silence_for(self.gap_s):
                    return
        finally:
            post(loop, queue.put_nowait, END_OF_INPUT)


class PacedNullOutput:
    """A virtual output device: drains the player from its own thread in 20 ms blocks, one per
    real 20 ms while nothing plays, ``playback_speed`` per 20 ms while a reply plays."""

    def __init__(self, player: Player, playback_speed: float = 8.0) -> None:
        self.player = player
        self.playback_speed = max(1.0, playback_speed)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.failed: str | None = None
        self.active = False

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="bench-output", daemon=True)
        self.active = True
        self._thread.start()

    def _run(self) -> None:
        buf = np.zeros(int(self.player.sample_rate_hz * OUTPUT_BLOCK_MS / 1000), np.float32)
        pacer = Pacer(self.player.sample_rate_hz)
        tick = 0
        credit = 0.0
        while not self._stop.is_set():
            pacer.wait(tick * len(buf))
            tick += 1
            self.player.fill(buf)
            credit += self.playback_speed - 1.0
            while credit >= 1.0 and self.player.is_playing():
                self.player.fill(buf)
                credit -= 1.0
            if not self.player.is_playing():
                credit = 0.0

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None
        self.active = False


def load_questions(paths: Sequence[Path]) -> list[Question]:
    from voicecli.audio.decode import decode_audio

    return [Question(p.name, decode_audio(p)) for p in paths]


def bench_e2e(engines: EngineSet, settings: Settings, questions: Sequence[Question], turns: int,
              warmup_turns: int = 1, playback_speed: float = 8.0, tick: Callable[[int, int], None] | None = None,
              notice: Callable[[str], None] = lambda m: None) -> E2eResult:
    """Run ``warmup_turns + turns`` questions (cycling through ``questions``) through one
    conversation and collect its :class:`TurnRecord` s."""
    from voicecli.pipeline.options import conversation_options
    from voicecli.pipeline.session import build_conversation, load_echo_canceller

    if not questions:
        raise ValueError("the end-to-end bench needs at least one question")
    plan = [questions[i % len(questions)] for i in range(warmup_turns + turns)]
    tracker = TurnTracker()
    aec = (load_echo_canceller(lambda why: notice(f"echo cancellation unavailable ({why}); measured without it"))
           if settings.audio.echo_cancel else None)
    total = len(plan)

    def emit(ev: Event) -> None:
        tracker(ev)
        if tick is not None and isinstance(ev, StateChanged) and ev.state == AssistantState.LISTENING:
            tick(min(tracker.question + 1, total), total)

    # The pipeline's steady state: the system prompt is in the LLM's cache (talk warms it up).
    engines.chat.warm_up(settings.llm.system_prompt)
    convo = build_conversation(engines, source=lambda _: QuestionSource(plan, tracker),
                               output=lambda player: PacedNullOutput(player, playback_speed), emit=emit,
                               options=conversation_options(settings), echo_canceller=aec)
    t0 = time.monotonic()
    asyncio.run(convo.run())
    wall_s = time.monotonic() - t0
    answered = {qi for qi, _ in tracker.records}
    missed = tuple(f"{plan[qi].name} ({msg})" for qi, msg in tracker.problems if qi not in answered)
    missed += tuple(f"{plan[qi].name} (no turn)" for qi in range(len(plan))
                    if qi not in answered and not any(p == qi for p, _ in tracker.problems))
    measured: list[TurnResult] = []
    dropped: list[str] = []
    for qi, rec in tracker.records:
        if qi < warmup_turns:
            continue
        if rec.interrupted or rec.latency.voice_to_voice is None:
            why = f"interrupted by {rec.interrupted_by}" if rec.interrupted else "reply never played"
            dropped.append(f"{plan[qi].name}: turn {rec.turn} {rec.user!r} ({why})")
        else:
            measured.append(TurnResult(plan[qi].name, rec))
    if not measured:
        raise RuntimeError("no turn completed: " + "; ".join(missed + tuple(dropped) or ("nothing heard",)))
    return E2eResult(tuple(measured), warmup_turns, missed, tuple(dropped), playback_speed, wall_s)
