"""Assembling a conversation: engines + a frame source + a player at the voice's rate + an
output + options (+ an echo canceller, + the Smart Turn model when the options ask for semantic
end of turn) → a ready :class:`Conversation`. ``talk`` (microphone or file in, speaker or WAV
out) and ``bench`` (paced questions in, a fast virtual device out) build theirs here."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from voicecli.audio.io import AudioOutput, FrameSource
from voicecli.audio.playback import Player
from voicecli.errors import ModelLoadError
from voicecli.llm.tools import ToolRunner
from voicecli.pipeline.conversation import Conversation
from voicecli.pipeline.conversation_options import ConversationOptions
from voicecli.pipeline.echo_path import EchoCanceller
from voicecli.pipeline.events import Event, NoticeRaised, TurnRecord
from voicecli.tts.types import Synthesizer
from voicecli.vad.turn import TurnModel
from voicecli.vad.wake import WakeDetector

if TYPE_CHECKING:
    from voicecli.engines import EngineSet


def build_conversation(engines: EngineSet, *, source: Callable[[Player], FrameSource],
                       output: Callable[[Player], AudioOutput], emit: Callable[[Event], None],
                       options: ConversationOptions, echo_canceller: EchoCanceller | None = None,
                       on_turn: Callable[[TurnRecord], None] | None = None,
                       voice: Synthesizer | None = None, tools: ToolRunner | None = None,
                       wake_detector: WakeDetector | None = None, turn_model: TurnModel | None = None) -> Conversation:
    """A conversation whose player runs at ``voice``'s rate (default: ``engines.speaker``).

    ``source`` and ``output`` are factories given that player (a file source mixing simulated
    echo, a WAV writer, an instant output all need it); a ready source is passed as
    ``lambda _: source``. ``voice``, when given, is the conversation's voice from the first
    reply on (:meth:`Conversation.use_speaker`). The conversation's parts stay reachable as
    ``.source``, ``.player`` and ``.output``. ``tools`` runs the calls the model makes (see
    :mod:`voicecli.pipeline.tool_use`). ``wake_detector``: the wake-word model when
    ``options.wake`` names one (talk loads it before the other models: a bad name fails fast).
    ``turn_model``: a semantic turn model already loaded (a realtime session has it ready for a
    ``semantic_vad`` switch); default: the one the options ask for, if any."""
    voice = voice or engines.speaker
    player = Player(voice.sample_rate_hz)
    conversation = Conversation(engines, source(player), player, output(player), emit, options,
                                echo_canceller=echo_canceller, on_turn=on_turn,
                                turn_model=turn_model or load_turn_model(options, lambda why: emit(NoticeRaised(why))),
                                tools=tools, wake_detector=wake_detector)
    if voice is not engines.speaker:
        conversation.use_speaker(voice)
    return conversation


def load_echo_canceller(on_unavailable: Callable[[str], None]) -> EchoCanceller | None:
    """The WebRTC (or Speex) echo canceller, or None — after telling ``on_unavailable`` why —
    when neither can be loaded here (echo cancellation is an enhancement, not a requirement)."""
    try:
        from voicecli.audio.echo import EchoCanceller as Canceller

        return Canceller()
    except Exception as exc:  # noqa: BLE001 - any failure to load it means: go on without
        on_unavailable(str(exc))
        return None


SMART_TURN_MISSING = ("Smart Turn is not installed: turns end after silence alone "
                      "(make install adds it; vad.turn_detector = silence hides this note)")


def load_turn_model(options: ConversationOptions, on_unavailable: Callable[[str], None]) -> TurnModel | None:
    """The semantic turn model the options ask for (loaded once per process), or None — after
    telling ``on_unavailable`` why, in one line — when it is not installed or cannot load: the
    conversation then ends turns after silence alone."""
    if options.semantic_turn is None or options.push_to_talk:
        return None
    if options.smart_turn_model is None:
        on_unavailable(SMART_TURN_MISSING)
        return None
    from voicecli.vad.smart_turn import load_smart_turn

    try:
        return load_smart_turn(options.smart_turn_model)
    except ModelLoadError as exc:
        on_unavailable(f"{exc.one_line()}; turns end after silence alone")
        return None
