"""Build the conversation's per-session options from resolved settings (the one place that
maps config to pipeline parameters, shared by talk, bench and serve)."""

from __future__ import annotations

from pathlib import Path

from voicecli.audio.format import FRAME_MS
from voicecli.config import Settings
from voicecli.llm.types import GenerationOptions
from voicecli.pipeline.conversation import ConversationOptions
from voicecli.pipeline.wake_gate import WakeOptions
from voicecli.stt.options import transcribe_options
from voicecli.tts.chunker import ChunkerParams
from voicecli.vad.endpointer import EndpointerParams
from voicecli.vad.turn import SemanticTurnParams


def endpointer_params(settings: Settings) -> EndpointerParams:
    v = settings.vad
    return EndpointerParams(threshold=v.threshold, start_ms=v.start_ms, min_speech_ms=v.min_speech_ms,
                            preroll_ms=v.preroll_ms, end_silence_ms=v.end_silence_ms, frame_ms=FRAME_MS)


def semantic_turn_params(settings: Settings) -> SemanticTurnParams | None:
    """The semantic turn detector's parameters, or None for ``vad.turn_detector = silence``."""
    v = settings.vad
    if v.turn_detector != "smart_turn":
        return None
    return SemanticTurnParams(checks_ms=tuple(v.turn_checks_ms), threshold=v.turn_threshold,
                              max_silence_ms=v.turn_max_silence_ms, words_end_ms=v.turn_words_end_ms or None)


def smart_turn_model_path(settings: Settings) -> Path | None:
    """``vad.smart_turn_model``, else the model inside an installed pipecat-ai (None: neither)."""
    from voicecli.vad.smart_turn import bundled_model_path

    if settings.vad.smart_turn_model:
        return Path(settings.vad.smart_turn_model).expanduser()
    return bundled_model_path()


def conversation_options(settings: Settings, push_to_talk: bool = False) -> ConversationOptions:
    semantic = None if push_to_talk else semantic_turn_params(settings)
    return ConversationOptions(
        endpointer=endpointer_params(settings),
        semantic_turn=semantic,
        smart_turn_model=smart_turn_model_path(settings) if semantic is not None else None,
        barge_in_ms=settings.vad.barge_in_ms,
        continue_ms=settings.vad.continue_ms,
        stt=transcribe_options(settings, purpose="conversation"),
        generation=GenerationOptions(max_tokens=settings.llm.max_reply_tokens, temperature=settings.llm.temperature),
        system_prompt=settings.llm.system_prompt,
        history_tokens=settings.llm.history_tokens,
        chunker=ChunkerParams(first_chunk_min_words=settings.tts.first_chunk_min_words),
        speed=settings.tts.speed,
        echo_cancel=settings.audio.echo_cancel,
        speculative_stt=settings.vad.speculative_stt,
        speculative_reply=settings.vad.speculative_stt and settings.vad.speculative_reply,
        partials=settings.stt.partials and settings.stt.url is None,  # not a request per pass to a remote tier
        push_to_talk=push_to_talk,
    )


def wake_options(settings: Settings) -> WakeOptions | None:
    """``wake.*`` for talk: None when no wake word is set (always awake)."""
    from voicecli.vad.wake import is_model_path, spoken_phrase

    w = settings.wake
    if not w.word:
        return None
    if w.word.startswith("phrase:"):
        phrase, model = w.word.removeprefix("phrase:").strip(" \"'"), None
    else:
        model = w.word if is_model_path(w.word) else w.word.strip().replace(" ", "_").lower()
        phrase = spoken_phrase(model)
    return WakeOptions(phrase=phrase, model=model, threshold=w.threshold, follow_up_s=w.follow_up_s, cue=w.cue)
