"""The controls a protocol adapter (a realtime server session) has over its
:class:`~voicecli.pipeline.conversation.Conversation`, on top of the microphone loop's own
turn-taking: manual turns, replies on request, tool results, cancelling and truncating. Call
them on the event-loop thread."""

from __future__ import annotations

import concurrent.futures
import time
from typing import TYPE_CHECKING

import numpy as np

from voicecli.llm.types import ChatMessage
from voicecli.pipeline.conversation_options import ConversationOptions
from voicecli.pipeline.events import TurnRecord
from voicecli.pipeline.language import LanguageVoices
from voicecli.pipeline.reply import Reply, ReplyPhase
from voicecli.tts.types import Synthesizer

if TYPE_CHECKING:
    from voicecli.pipeline.listening import Listener
    from voicecli.pipeline.responding import Responder, SttFuture
    from voicecli.vad.turn import SemanticTurnParams


class AdapterControls:
    """Mixed into the conversation: its state is the conversation's."""

    if TYPE_CHECKING:
        o: ConversationOptions
        _turn: int
        _reply: Reply | None
        _responder: Responder
        _ears: Listener
        _speculative: dict[int, SttFuture]

        def _start_turn(self, audio: np.ndarray | None, end_of_speech_at: float | None,
                        endpoint_at: float | None, speculative: SttFuture | None, text: str | None = None,
                        started_at: float | None = None) -> Reply: ...

        def _interrupt(self, reason: str) -> None: ...

        def _semantic(self, options: ConversationOptions) -> SemanticTurnParams | None: ...

    def use_speaker(self, speaker: Synthesizer | None) -> None:
        """Speak the replies that start from now on with ``speaker`` (None: ``engines.speaker``
        again); a reply keeps the voice it started with. Audio at another rate than the
        player's is resampled."""
        self._responder.voice.choose(speaker)

    def use_language_voices(self, voices: LanguageVoices) -> None:
        """Take the voices of detected languages from ``voices`` (a server's shared catalogue)."""
        self._responder.languages = voices

    @property
    def turn(self) -> int:
        """Number of the latest turn started (the next audio or text turn gets ``turn + 1``)."""
        return self._turn

    @property
    def history(self) -> list[ChatMessage]:
        return self._responder.context.messages

    @property
    def completed(self) -> list[TurnRecord]:
        """Every finished turn, in order."""
        return self._responder.completed

    def use_executors(self, stt: concurrent.futures.Executor | None = None,
                      llm: concurrent.futures.Executor | None = None,
                      tts: concurrent.futures.Executor | None = None) -> None:
        """Run inference on executors shared with other conversations (a server) instead of this
        conversation's own threads. ``run`` shuts them down at the end, so pass per-session
        wrappers whose ``shutdown`` only cancels this session's work."""
        self._responder.workers.use(stt, llm, tts)

    def reconfigure(self, options: ConversationOptions) -> None:
        """Replace the options between turns (realtime ``session.update``). New endpointer
        parameters take effect when the endpointer is quiet; the input position is kept."""
        self.o = options
        self._ears.reconfigure(options.endpointer, self._semantic(options))

    def reset_input(self) -> None:
        """Forget the utterance in progress (realtime ``input_audio_buffer.clear`` / ``commit``)."""
        self._ears.reset()
        self._speculative.clear()

    def submit_audio(self, samples16k: np.ndarray, respond: bool = True) -> int:
        """End a user turn with this audio now (manual turn-taking: realtime
        ``input_audio_buffer.commit``). Returns the turn number."""
        now = time.monotonic()
        r = self._start_turn(samples16k.astype(np.float32, copy=False), now, now, None, started_at=time.time())
        r.respond = respond
        return self._turn

    def reply_to(self, text: str | None, system_prompt: str | None = None, out_of_band: bool = False,
                 context: tuple[ChatMessage, ...] | None = None) -> int:
        """Answer ``text`` now, like ``submit_text`` but synchronous, optionally with a system
        prompt for this reply only (realtime ``response.create``); None: go on from the results
        given with :meth:`add_tool_result`. ``out_of_band``: the turn stays out of the history
        (answered from ``context`` instead of it, if given). Returns the turn number."""
        now = time.monotonic()
        r = self._start_turn(None, now, now, None, text="" if text is None else text.strip() or "…")
        r.system_prompt, r.continues = system_prompt, text is None
        r.out_of_band, r.context = out_of_band, context
        r.respond = True
        return self._turn

    def add_tool_result(self, call_id: str, output: str) -> bool:
        """The adapter's client's result for a call the last turn ended with (see
        :meth:`ChatContext.add_tool_result`); False if no such call waits."""
        return self._responder.context.add_tool_result(call_id, output)

    def cancel_reply(self, reason: str) -> bool:
        """Stop the reply in progress (if any) as barge-in does; True if one was stopped."""
        r = self._reply
        if r is None or r.phase is not ReplyPhase.ACTIVE:
            return False
        self._interrupt(reason)
        return True

    def truncate_history(self, turn: int, heard: str) -> bool:
        """Keep only ``heard`` of ``turn``'s reply in the history: the client played no more
        (realtime ``conversation.item.truncate``). False if the turn is not in the history."""
        return self._responder.truncate(turn, heard)
