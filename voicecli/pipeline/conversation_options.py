"""Per-session options of a conversation (built from settings by :mod:`voicecli.pipeline.options`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from voicecli.llm.tools import ToolRequest
from voicecli.llm.types import GenerationOptions
from voicecli.pipeline.wake_gate import WakeOptions
from voicecli.stt.types import TranscribeOptions
from voicecli.tts.chunker import ChunkerParams
from voicecli.vad.endpointer import EndpointerParams
from voicecli.vad.turn import SemanticTurnParams


@dataclass(frozen=True)
class ConversationOptions:
    endpointer: EndpointerParams = EndpointerParams()
    """When a user turn starts and ends (after silence alone)."""
    semantic_turn: SemanticTurnParams | None = None
    """End turns with a semantic turn detector (asked at short pauses, the long silence as the
    fallback); used when the conversation has a turn model, else the silence endpointer alone."""
    smart_turn_model: Path | None = None
    """The Smart Turn ONNX file :func:`~voicecli.pipeline.session.build_conversation` loads as
    that model (None: not installed)."""
    barge_in_ms: int = 192
    """Voiced time needed during a reply to interrupt it."""
    continue_ms: int = 0
    """Speech that starts within this long after the end of the turn the current reply answers,
    and cuts that reply, continues that turn: the reply is dropped and the whole turn answered
    (:mod:`voicecli.pipeline.going_on`). 0: every barge-in is a new turn."""
    stt: TranscribeOptions = TranscribeOptions(language="en")
    generation: GenerationOptions = GenerationOptions()
    system_prompt: str = ""
    history_tokens: int = 1024
    """Budget of the chat history sent with each turn (the oldest turns are forgotten first)."""
    chunker: ChunkerParams = ChunkerParams()
    """How the streamed reply is cut into pieces to speak."""
    speed: float = 1.0
    """Speaking speed (1.0 = the voice's own)."""
    speculative_stt: bool = True
    """Transcribe when silence begins, before the endpointer has decided the turn is over."""
    speculative_reply: bool = True
    """When silence begins, also start the reply (LLM + first TTS) on the speculative transcript;
    it is played only if the endpointer confirms the turn, and dropped if the user goes on."""
    partials: bool = False
    """Live partial transcripts while the user speaks (:mod:`voicecli.pipeline.partials`)."""
    echo_cancel: bool = True
    """Remove the assistant's own voice from the microphone (needs an echo canceller)."""
    push_to_talk: bool = False
    """The microphone is open only between two ``push_to_talk()`` presses; that span is the turn."""
    auto_respond: bool = True
    """Answer a finished user turn at once; when False the turn is only transcribed (UserTranscribed)
    and a protocol adapter answers later with ``reply_to`` (realtime ``create_response: false``)."""
    tools: ToolRequest | None = None
    """Tools offered to the model in each reply (a protocol adapter's client's, checked with
    :mod:`voicecli.llm.tool_checks`). None: the conversation's tool runner's, if it has one."""
    wake: WakeOptions | None = None
    """``talk --wake-word``: answer only after the wake word, then follow-ups until a quiet time
    (None: every turn is answered)."""
