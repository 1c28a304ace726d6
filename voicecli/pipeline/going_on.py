"""The user goes on after a pause that ended their turn.

A long pause inside a sentence ("And so, my fellow Americans … ask not what your country can
do for you …") can end the turn; the user then goes on while the reply is being made or has
barely started. Answering each half is wrong (the first answer is to half a sentence, and the
second half arrives as a barge-in judged on its own). So when speech that starts within
``continue_ms`` of the end of the utterance the current reply answers *cuts that reply*
(barge-in, or the own-voice check's verdict "the user"), it continues that turn: the reply is
dropped — it never becomes a turn in the history — and the turn is asked again with the audio
of both parts. Speech that does not cut the reply (the assistant's own echo, a cough the
endpointer drops) changes nothing; a dropped utterance after a merge asks the first part again.

The assistant's own voice must never pass for the user going on (on loudspeakers without a
canceller that would drop every reply): a cut without the own-voice check (an immediate
barge-in) continues the turn only if the speech cannot be the reply's echo — it began before
the reply's first sample was played, or the canceller hears no loudspeaker (headphones).

The conversation owns the replies and the microphone; this module only remembers which reply
the utterance in progress may continue and which it did."""

from __future__ import annotations

from voicecli.audio.format import FRAME_MS
from voicecli.pipeline.reply import Reply


class GoingOn:
    def __init__(self) -> None:
        self._candidate: Reply | None = None
        """The reply the utterance in progress started soon enough after to continue its turn."""
        self._after_playback = False
        """That utterance began after the candidate's first sample was played."""
        self.merged: Reply | None = None
        """The reply dropped because the utterance in progress continues its turn."""

    def speech_started(self, current: Reply | None, onset_frame: int, after_playback: bool, window_ms: int) -> None:
        """A new utterance began at its first voiced endpointer frame ``onset_frame``;
        ``after_playback``: after ``current``'s first sample was played."""
        self.merged = None
        self._candidate = None
        if current is None or window_ms <= 0 or current.utterance is None:
            return
        gap_ms = (onset_frame - current.utterance[1] - 1) * FRAME_MS
        if 0 <= gap_ms <= window_ms:
            self._candidate = current
            self._after_playback = after_playback

    def take(self, cut: Reply | None, checked: bool, loudspeaker_heard: bool = True) -> Reply | None:
        """``cut`` is being cut by the user's speech (``checked``: the own-voice check found it
        to be the user's; ``loudspeaker_heard``: the microphone may hear the speaker, or nothing
        says it does not): returns it if that speech continues its turn (it is then marked
        merged, not a turn), else None (a new turn)."""
        if cut is None or cut is not self._candidate or cut.utterance is None:
            return None
        if self._after_playback and loudspeaker_heard and not checked:
            return None
        self._candidate = None
        self.merged = cut
        cut.merged = True
        return cut

    def forget(self) -> Reply | None:
        """The utterance in progress was dropped: the reply it had replaced (to ask again)."""
        merged, self.merged, self._candidate = self.merged, None, None
        return merged
