"""Pipeline events (past tense), observed by the TUI, the plain/JSON printers and the history."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any

import numpy as np

from voicecli.audio.format import AudioChunk
from voicecli.llm.tools import ToolCall, ToolOutcome


class AssistantState(str, Enum):
    LISTENING = "listening"
    HEARING = "hearing you"
    THINKING = "thinking"
    SPEAKING = "speaking"


@dataclass(frozen=True)
class Latency:
    """Milliseconds, measured from the real end of the user's speech (last voiced frame)."""

    endpoint_wait: float | None = None
    """End of speech → endpointer decided the turn was over."""
    stt: float | None = None
    """Transcription compute time."""
    stt_wait: float | None = None
    """How long the turn waited for STT after the endpoint (0 when speculative STT finished first)."""
    llm_first_token: float | None = None
    """LLM request → first token."""
    tts_first_audio: float | None = None
    """First speakable text → its audio synthesised."""
    voice_to_voice: float | None = None
    """End of speech → first reply sample handed to the output device."""
    other: float | None = None
    """The rest of voice_to_voice (≥ 0): the LLM's time from its first token to the first
    speakable clause, hand-offs, the output device's block boundary. With ``hidden_by_speculation``:
    endpoint_wait + stt_wait + llm_first_token + tts_first_audio + other − hidden_by_speculation
    = voice_to_voice."""
    hidden_by_speculation: float | None = None
    """How much of those stages the speculative reply ran inside the end-of-turn silence (≥ 0)."""

    def as_dict(self) -> dict[str, float | None]:
        return {k: (round(v, 1) if v is not None else None) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class TurnRecord:
    turn: int
    user: str
    assistant: str
    """What the user heard (the whole reply unless interrupted)."""
    interrupted: bool
    full_reply: str
    started_at: float
    """Unix time the user started speaking (or typed)."""
    ended_at: float
    latency: Latency
    interrupted_by: str | None = None
    interrupt_output_s: float | None = None
    """Output-timeline position (s) where barge-in was detected and playback cleared."""
    tools: tuple[ToolOutcome, ...] = ()
    """Tools run during the reply, in order (talk), each with its call and result."""
    language: str | None = None
    """The language the user spoke (multilingual Whisper), which the reply was asked for in."""
    voice: str | None = None
    """The voice that spoke the reply."""

    def to_json(self) -> dict[str, Any]:
        return {"type": "turn", "turn": self.turn, "user": self.user, "assistant": self.assistant,
                "interrupted": self.interrupted, "interrupted_by": self.interrupted_by,
                "full_reply": self.full_reply, "started_at": self.started_at, "ended_at": self.ended_at,
                "interrupt_output_s": self.interrupt_output_s, "latency_ms": self.latency.as_dict(),
                "language": self.language, "voice": self.voice,
                "tools": [{"id": t.call.id, "name": t.call.name, "arguments": t.call.arguments, "output": t.output,
                           "error": t.error} for t in self.tools]}


@dataclass(frozen=True)
class StateChanged:
    state: AssistantState


@dataclass(frozen=True)
class LevelMeasured:
    dbfs: float
    muted: bool = False


@dataclass(frozen=True)
class UserTranscribed:
    turn: int
    text: str
    language: str | None = None


@dataclass(frozen=True)
class UserPartialTranscript:
    """A live partial transcript of the utterance in progress (:mod:`voicecli.pipeline.partials`):
    ``stable`` words two passes agreed on (never taken back; it only grows), then the latest
    pass's ``unstable`` rest. The final transcript comes as :class:`UserTranscribed`."""

    started_ms: float
    """The utterance: its :class:`UserSpeechStarted` ``audio_ms``."""
    stable: str
    unstable: str


@dataclass(frozen=True)
class ReplyDelta:
    turn: int
    text: str


@dataclass(frozen=True)
class ReplyInterrupted:
    turn: int
    reason: str
    output_s: float


@dataclass(frozen=True)
class UserSpeechStarted:
    audio_ms: float
    """Position in the input stream (pre-roll included)."""


@dataclass(frozen=True)
class UserSpeechStopped:
    audio_ms: float
    """Position in the input stream of the end of the last voiced frame."""


@dataclass(frozen=True)
class ReplyStarted:
    turn: int


@dataclass(frozen=True)
class ReplyAudio:
    """One synthesised piece of the reply, as it is queued for playback."""

    turn: int
    piece: int
    text: str
    samples: np.ndarray
    """Mono float32 at ``sample_rate_hz``."""
    sample_rate_hz: int

    @property
    def audio(self) -> AudioChunk:
        return AudioChunk(self.samples, self.sample_rate_hz)


@dataclass(frozen=True)
class UserTurnDiscarded:
    """A user turn ended without anything to answer (e.g. STT heard no words)."""

    turn: int
    reason: str


@dataclass(frozen=True)
class ToolCalled:
    """The model called a tool during the reply to ``turn`` (talk runs it; the realtime server
    hands it to its client)."""

    turn: int
    call: ToolCall


@dataclass(frozen=True)
class ToolFinished:
    """A tool this machine ran for ``turn`` returned (or failed: ``outcome.error``)."""

    turn: int
    outcome: ToolOutcome


@dataclass(frozen=True)
class WakeChanged:
    """``talk --wake-word``: the assistant woke (the wake word or phrase was heard) or fell
    asleep (``reason`` "quiet": the follow-up time passed; "start": asleep at the start)."""

    awake: bool
    reason: str
    score: float | None = None
    """The wake model's score when it woke (None in phrase mode)."""


@dataclass(frozen=True)
class TurnCompleted:
    record: TurnRecord


@dataclass(frozen=True)
class NoticeRaised:
    message: str


@dataclass(frozen=True)
class PipelineFailed:
    message: str
    fatal: bool = True


@dataclass(frozen=True)
class SessionStarted:
    session_id: str | None
    models: dict[str, str] = field(default_factory=dict)


Event = (StateChanged | LevelMeasured | UserTranscribed | ReplyDelta | ReplyInterrupted | TurnCompleted
         | NoticeRaised | PipelineFailed | SessionStarted | UserSpeechStarted | UserSpeechStopped
         | ReplyStarted | ReplyAudio | UserTurnDiscarded | ToolCalled | ToolFinished | WakeChanged
         | UserPartialTranscript)


def event_to_json(ev: Event) -> dict[str, Any] | None:
    """The --json line for an event (None for events that are not printed, like audio)."""
    if isinstance(ev, TurnCompleted):
        return ev.record.to_json()
    if isinstance(ev, StateChanged):
        return {"type": "state", "state": ev.state.value}
    if isinstance(ev, LevelMeasured):
        return {"type": "level", "dbfs": round(ev.dbfs, 1), "muted": ev.muted}
    if isinstance(ev, UserTranscribed):
        return {"type": "user", "turn": ev.turn, "text": ev.text, "language": ev.language}
    if isinstance(ev, UserPartialTranscript):
        return {"type": "partial", "started_ms": round(ev.started_ms), "stable": ev.stable, "unstable": ev.unstable}
    if isinstance(ev, ReplyDelta):
        return {"type": "reply_delta", "turn": ev.turn, "text": ev.text}
    if isinstance(ev, UserTurnDiscarded):
        return {"type": "discarded", "turn": ev.turn, "reason": ev.reason}
    if isinstance(ev, ReplyInterrupted):
        return {"type": "interrupted", "turn": ev.turn, "reason": ev.reason, "output_s": round(ev.output_s, 3)}
    if isinstance(ev, ToolCalled):
        return {"type": "tool_call", "turn": ev.turn, "id": ev.call.id, "name": ev.call.name,
                "arguments": ev.call.arguments}
    if isinstance(ev, ToolFinished):
        o = ev.outcome
        return {"type": "tool_result", "turn": ev.turn, "id": o.call.id, "name": o.call.name, "output": o.output,
                "error": o.error, "elapsed_ms": round(o.elapsed_ms, 1)}
    if isinstance(ev, WakeChanged):
        return {"type": "wake", "state": "awake" if ev.awake else "asleep", "reason": ev.reason,
                "score": None if ev.score is None else round(ev.score, 3)}
    if isinstance(ev, NoticeRaised):
        return {"type": "notice", "message": ev.message}
    if isinstance(ev, PipelineFailed):
        return {"type": "error", "message": ev.message, "fatal": ev.fatal}
    if isinstance(ev, SessionStarted):
        return {"type": "session", "session_id": ev.session_id, "models": ev.models}
    return None
