"""One reply's record: the turn it answers, what the user said, what was said back and heard,
its timings, and its phase — an explicit state machine instead of optional flags.

    PREPARED ──open()──▶ ACTIVE ──interrupt()──▶ INTERRUPTED
        │                  │ └────hold()──────▶ HELD
        └──discard()──▶ DISCARDED

A speculative reply starts PREPARED (built behind a closed gate while the user pauses); every
other reply starts ACTIVE. Only ACTIVE and INTERRUPTED replies become a turn in the history."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from enum import Enum

from voicecli.llm.tools import ToolCall, ToolOutcome
from voicecli.llm.types import ChatMessage
from voicecli.pipeline.events import Event, Latency


class ReplyPhase(str, Enum):
    PREPARED = "prepared"
    """Speculative: transcribed, thought and synthesised from the pause's audio behind a closed
    gate; nothing is shown or played until the endpointer confirms the turn."""
    ACTIVE = "active"
    """The current turn's reply: transcribing, thinking or speaking, shown and played."""
    HELD = "held"
    """Transcribed, not answered (the protocol adapter answers later with ``reply_to``)."""
    INTERRUPTED = "interrupted"
    """Cut by barge-in, a key or the client; the history keeps what was heard."""
    DISCARDED = "discarded"
    """A prepared reply the user talked on over: dropped unseen."""


_ALLOWED = {
    ReplyPhase.PREPARED: {ReplyPhase.ACTIVE, ReplyPhase.DISCARDED},
    ReplyPhase.ACTIVE: {ReplyPhase.HELD, ReplyPhase.INTERRUPTED},
    ReplyPhase.HELD: set(),
    ReplyPhase.INTERRUPTED: set(),
    ReplyPhase.DISCARDED: set(),
}


class PhaseError(RuntimeError):
    """A reply was moved along a transition the state machine does not have (a bug)."""


@dataclass
class Reply:
    turn: int
    user: str
    """The user's words (typed, or the transcript once STT is done)."""
    started_at: float
    """Unix time the user started speaking (or typed)."""
    end_of_speech_at: float | None = None
    """Monotonic capture time of the last voiced frame (None for typed turns)."""
    phase: ReplyPhase = ReplyPhase.ACTIVE
    prepared_for: int | None = None
    """Speculative replies: the last voiced endpointer frame of the pause they were made for."""
    respond: bool | None = None
    """Answer this turn? None: as ``ConversationOptions.auto_respond`` says."""
    system_prompt: str | None = None
    """Overrides the session's system prompt for this reply only (``reply_to``)."""
    continues: bool = False
    """No new user message: the reply answers the results the adapter's client gave for the last
    turn's calls (``reply_to(None)``); its turn's ``user`` is empty."""
    out_of_band: bool = False
    """Answered, but not recorded in the history (realtime ``conversation: "none"``)."""
    context: tuple[ChatMessage, ...] | None = None
    """Messages to answer from instead of the history (with ``out_of_band``)."""
    cancel: threading.Event = field(default_factory=threading.Event)
    """Set when the reply ends for any reason; worker threads (the LLM stream) watch it."""
    gate: asyncio.Event = field(default_factory=asyncio.Event)
    """Open unless PREPARED: nothing is queued for playback before it opens."""
    held: list[Event] = field(default_factory=list)
    """Events of a PREPARED reply, shown when it opens."""
    pieces: list[str] = field(default_factory=list)
    """The text of each piece queued for playback, in order."""
    text: str = ""
    """Everything the LLM said so far."""
    interrupted_by: str | None = None
    interrupt_output_s: float | None = None
    """Output-timeline position (s) where the reply was cut."""
    latency: Latency = field(default_factory=Latency)
    stt_done_at: float | None = None
    endpoint_at: float | None = None
    language: str | None = None
    """The language the user spoke (multilingual Whisper; None: not known or not asked)."""
    voice: str | None = None
    """The voice that spoke the reply."""
    task: asyncio.Task[None] | None = None
    tool_outcomes: list[ToolOutcome] = field(default_factory=list)
    """Calls run during the reply (by the conversation's tool runner), with their results."""
    pending_calls: tuple[ToolCall, ...] = ()
    """Calls the reply ended with, for the adapter's client to answer (no tool runner)."""
    utterance: tuple[int, int] | None = None
    """Endpointer frames of the spoken turn it answers: where its audio starts, its last voiced frame."""
    merged: bool = False
    """Cut because the user went on with the same turn (:mod:`voicecli.pipeline.going_on`): not a
    turn itself; the next reply answers the whole of it."""

    def __post_init__(self) -> None:
        if self.phase is not ReplyPhase.PREPARED:
            self.gate.set()

    @property
    def visible(self) -> bool:
        """May its events be shown (not behind the gate, not dropped)?"""
        return self.phase not in (ReplyPhase.PREPARED, ReplyPhase.DISCARDED)

    @property
    def making_first_audio(self) -> bool:
        """A speculative reply still working towards its first audio (transcript, first tokens,
        first clause's synthesis): the work on the hot path of the turn it may answer. Read from
        other threads (a plain snapshot of its fields)."""
        return (self.phase is ReplyPhase.PREPARED and self.latency.tts_first_audio is None
                and not self.cancel.is_set())

    @property
    def becomes_turn(self) -> bool:
        """Does it end as a turn in the history (it was answered, fully or in part)?"""
        return ((bool(self.user) or self.continues) and not self.merged
                and self.phase in (ReplyPhase.ACTIVE, ReplyPhase.INTERRUPTED))

    def _move(self, to: ReplyPhase) -> None:
        if to not in _ALLOWED[self.phase]:
            raise PhaseError(f"reply of turn {self.turn}: {self.phase.value} → {to.value}")
        self.phase = to

    def open(self) -> list[Event]:
        """PREPARED → ACTIVE: the endpointer confirmed the turn. Returns the held events."""
        self._move(ReplyPhase.ACTIVE)
        self.gate.set()
        held, self.held = self.held, []
        return held

    def discard(self) -> None:
        """PREPARED → DISCARDED: the user went on speaking."""
        self._move(ReplyPhase.DISCARDED)
        self._stop()

    def hold(self) -> None:
        """ACTIVE → HELD: transcribed only; not answered, not in the history yet."""
        self._move(ReplyPhase.HELD)

    def interrupt(self, reason: str) -> None:
        """ACTIVE → INTERRUPTED."""
        self._move(ReplyPhase.INTERRUPTED)
        self.interrupted_by = reason
        self.cancel.set()

    def _stop(self) -> None:
        self.cancel.set()
        if self.task is not None:
            self.task.cancel()
