"""Keeps the assistant's own voice from cutting its reply or becoming a user turn.

:class:`TalkOverGuard` is the conversation's one contact for this: every frame of an active
reply goes through the barge-in state machine (:mod:`voicecli.pipeline.barge_in`: interrupt,
or pause and wait for evidence), and every ended utterance heard while the loudspeaker reached
the microphone (or while a reply is paused) is *suspect*: it is transcribed first and compared
with what was just played (:mod:`voicecli.pipeline.echo_check`), and only a verdict of "the
user" lets it become a turn. Utterances heard in silence, or with headphones, pass straight
through (no added latency). A suspect utterance is transcribed from the linear canceller's
output (:meth:`~voicecli.pipeline.echo_path.EchoPath.transcript_audio`), which keeps the words
of a user talking over the assistant."""

from __future__ import annotations

import collections
import concurrent.futures
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from voicecli.audio.format import FRAME_SAMPLES
from voicecli.audio.playback import Player
from voicecli.pipeline.barge_in import Action, BargeIn, BargeInParams
from voicecli.pipeline.chat_context import clean_transcript, heard_text
from voicecli.pipeline.echo_check import AcousticEvidence, is_own_echo
from voicecli.pipeline.echo_path import EchoPath
from voicecli.pipeline.events import NoticeRaised
from voicecli.pipeline.reply import Reply
from voicecli.stt.types import Transcription

SttFuture = concurrent.futures.Future[tuple[Transcription, float]]
RECENT_WORDS = 40
"""Played words an echo is compared with (the last ~12 s, across the end of the previous reply):
an echo holds only what was just played, and a user's question that an older reply happened to
repeat must not be dropped."""
IGNORED = "ignored my own voice"
"""The notice for an utterance dropped as the assistant's own voice (its transcript follows)."""
UNPLAYED_WORDS = 12
"""Words past the played count also compared (the count runs ahead of the echo, not behind)."""
ECHO_TAIL_S = 1.0
"""A reply's last words are still in the output device's buffers (longer on a busy machine) and
in the room when the player has handed over its last sample: speech that starts this soon after
a reply heard on the loudspeaker ended is checked like speech heard during it (seen on the echo
rig at load ≈ 10: the tail of a story became the next user turn, 0.5–0.7 s after the reply ended)."""


@dataclass(frozen=True)
class ConversationHooks:
    """What the guard asks of the conversation (all called on the event loop)."""

    interrupt: Callable[[str], None]
    start_turn: Callable[[np.ndarray, float, float, SttFuture, tuple[int, int]], object]
    """A checked utterance is the user's: start its turn (with its transcript on the way; the
    last argument: its first and last voiced endpointer frames)."""
    transcribe: Callable[[np.ndarray], SttFuture]
    post: Callable[[Callable[[], None]], None]
    """Run on the event loop (from a worker thread)."""
    emit: Callable[[NoticeRaised], None]
    listening: Callable[[], None]
    """Nothing to answer: back to listening (if no reply is in progress)."""


class TalkOverGuard:
    def __init__(self, echo: EchoPath | None, player: Player, hooks: ConversationHooks) -> None:
        self._echo = echo
        self._player = player
        self._hooks = hooks
        self._barge = BargeIn(BargeInParams())
        self._played = collections.deque[str](maxlen=RECENT_WORDS)
        """The last played words of finished replies."""
        self.dropped = 0
        """Utterances dropped as the assistant's own voice."""
        self._tail = (0.0, 0.0)
        """Monotonic span in which an utterance's onset may be the last reply's echo tail."""

    @property
    def pauses(self) -> int:
        return self._barge.pauses

    # --- while a reply is active ----------------------------------------------------------
    def frame(self, voiced_ms: float, speaking: bool, barge_in_ms: float) -> None:
        """One microphone frame while a reply is active."""
        if self._barge.p.barge_in_ms != barge_in_ms:
            self._barge.p = BargeInParams(barge_in_ms=barge_in_ms)
        echo = self._echo.state if self._echo is not None else None
        action = self._barge.step(voiced_ms, speaking, echo)
        if action is Action.INTERRUPT:
            self._hooks.interrupt("speech")
        elif action is Action.PAUSE:
            self._player.pause()
            self._hooks.emit(NoticeRaised("paused: was that you?"))

    def reply_over(self, reply: Reply | None) -> None:
        """The current reply ended or was cut (``reply``: remember what was played of it)."""
        self._barge.reset()
        if reply is not None:
            self._played.extend(self._played_words(reply))
            if self._echo is not None and self._echo.state.heard:
                now = time.monotonic()
                self._tail = (now, now + ECHO_TAIL_S)

    def utterance_dropped(self) -> None:
        """The endpointer dropped an utterance as too short: a paused reply plays on."""
        self._act(self._barge.utterance_over(had_speech=False))

    # --- an utterance ended ---------------------------------------------------------------
    def utterance_ended(self, start_frame: int, last_voiced_frame: int, audio: np.ndarray, end_of_speech_at: float,
                        endpoint_at: float, stt: SttFuture | None, current: Reply | None,
                        onset_at: float | None = None) -> bool:
        """True when the guard takes the utterance over (it decides whether it becomes a turn).
        ``onset_at``: when its first voiced frame was captured (monotonic)."""
        holding = self._barge.holding
        evidence = self._suspect(start_frame, last_voiced_frame)
        if evidence is None and self._echo is not None and onset_at is not None \
                and self._tail[0] <= onset_at < self._tail[1]:
            evidence = self._echo.evidence(start_frame, last_voiced_frame)  # maybe the last reply's tail
        if evidence is None and not holding:
            return False
        self._barge.utterance_over(had_speech=True)
        frames = len(audio) // FRAME_SAMPLES
        linear = self._echo.transcript_audio(start_frame, start_frame + frames - 1) if self._echo else None
        if linear is not None and len(linear[0]) >= len(audio):
            audio, stt = linear[0], None  # the linear canceller kept the user's words where both talked
        stt = stt or self._hooks.transcribe(audio)
        played = self._recent(current)

        def verdict(own: bool, text: str) -> None:
            action = self._barge.checked(own)
            if not own:
                self._hooks.start_turn(audio, end_of_speech_at, endpoint_at, stt, (start_frame, last_voiced_frame))
                return
            self.dropped += 1
            self._hooks.emit(NoticeRaised(f"{IGNORED}: {text!r}" if text else IGNORED))
            self._act(action)
            self._hooks.listening()

        def done(fut: SttFuture) -> None:  # STT worker thread
            try:
                text = clean_transcript(fut.result()[0])
                own = is_own_echo(text, played, evidence)
            except Exception:  # noqa: BLE001 - a failed transcript is the responder's to report
                text, own = "", False
            self._hooks.post(lambda: verdict(own, text))

        stt.add_done_callback(done)
        return True

    def _suspect(self, first_frame: int, last_frame: int) -> AcousticEvidence | None:
        """Evidence for an utterance that overlapped the loudspeaker (None: not suspect)."""
        if self._echo is None or not self._echo.state.heard:
            return None
        evidence = self._echo.evidence(first_frame, last_frame)
        return evidence if evidence.far_coverage > 0 else None

    def _act(self, action: Action) -> None:
        if action is Action.RESUME:
            self._player.resume()
        elif action is Action.INTERRUPT:
            self._hooks.interrupt("speech")

    def _recent(self, current: Reply | None) -> str:
        """The last ``RECENT_WORDS`` words played (across replies), and a few queued after them."""
        now = self._played_words(current) if current is not None else []
        rest = " ".join(current.pieces).split()[len(now):][:UNPLAYED_WORDS] if current is not None else []
        return " ".join([*self._played, *now][-RECENT_WORDS:] + rest)

    def _played_words(self, r: Reply) -> list[str]:
        prog = self._player.progress(r.turn)
        return heard_text(r.pieces, prog.played_samples, prog.queued_samples, prog.voiced_spans).split()
