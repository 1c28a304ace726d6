"""The own-voice guard's memory of what was played: the last words, across replies."""

from __future__ import annotations

import numpy as np

from voicecli.audio.format import AudioChunk
from voicecli.audio.playback import Player
from voicecli.pipeline.own_voice import RECENT_WORDS, UNPLAYED_WORDS, ConversationHooks, TalkOverGuard
from voicecli.pipeline.reply import Reply


def reply(player: Player, turn: int, pieces: list[str], played_pieces: int) -> Reply:
    r = Reply(turn, "q", 0.0)
    for i, text in enumerate(pieces):
        r.pieces.append(text)
        player.enqueue(turn, i, AudioChunk(np.full(100 * len(text.split()), 0.1, np.float32), 16000))
    for i in range(played_pieces):
        player.fill(np.zeros(100 * len(pieces[i].split()), np.float32))
    return r


def guard(player: Player) -> TalkOverGuard:
    def nothing(*_: object) -> None:
        return None

    return TalkOverGuard(None, player, ConversationHooks(nothing, nothing, nothing, nothing, nothing, nothing))


def test_recent_words_span_the_end_of_the_last_reply_and_what_is_playing_now():
    player = Player(16000)
    g = guard(player)
    old = reply(player, 1, [" ".join(f"old{i}" for i in range(60))], 1)
    g.reply_over(old)
    now = reply(player, 2, ["one two three.", "four five six.", " ".join(f"later{i}" for i in range(20))], 2)
    recent = g._recent(now).split()
    assert recent[:RECENT_WORDS - 6] == [f"old{i}" for i in range(60 - RECENT_WORDS + 6, 60)]
    assert recent[RECENT_WORDS - 6:RECENT_WORDS] == ["one", "two", "three.", "four", "five", "six."]
    assert recent[RECENT_WORDS:] == [f"later{i}" for i in range(UNPLAYED_WORDS)]


class _Echo:
    """An echo path whose microphone hears the loudspeaker, with no acoustic evidence to give."""

    def __init__(self) -> None:
        from voicecli.pipeline.echo_path import EchoState

        self.state = EchoState(heard=True, delay_ms=60.0, erle_db=20.0, far_active=False)

    def evidence(self, first: int, last: int):
        from voicecli.pipeline.echo_check import AcousticEvidence

        return AcousticEvidence(0.0, None)

    def transcript_audio(self, first: int, last: int) -> None:
        return None


def test_speech_right_after_a_reply_heard_on_the_loudspeaker_is_checked_as_its_echo_tail():
    # the echo rig at load 10: a story's last words, still in the device's buffers when the
    # player had handed over its last sample, became the next user turn
    import concurrent.futures
    import time

    from voicecli.pipeline.events import NoticeRaised
    from voicecli.stt.types import Segment, Transcription

    player = Player(16000)
    started, notices, transcript = [], [], ["she loved the sea"]

    def transcribe(audio):
        fut = concurrent.futures.Future()
        text = transcript[0]
        fut.set_result((Transcription(text, "en", 1.0, 1.0, (Segment(0, 0.0, 1.0, text),)), 5.0))
        return fut

    g = TalkOverGuard(_Echo(), player, ConversationHooks(  # type: ignore[arg-type]
        lambda reason: None, lambda *a: started.append(a), transcribe, lambda fn: fn(),
        notices.append, lambda: None))
    before = time.monotonic()
    g.reply_over(reply(player, 1, ["Once there was a sailor.", "She loved the sea."], 2))
    audio = np.zeros(16000, np.float32)
    now = time.monotonic()
    # the tail of the reply: checked, recognised as its own words, dropped
    assert g.utterance_ended(0, 30, audio, now, now, None, None, onset_at=now + 0.3) is True
    assert not started and isinstance(notices[-1], NoticeRaised) and "ignored my own voice" in notices[-1].message
    # the user's answer in the tail: checked, and a turn
    transcript[0] = "what happened next"
    assert g.utterance_ended(0, 30, audio, now, now, None, None, onset_at=now + 0.3) is True
    assert len(started) == 1
    # speech that began before the reply ended (a turn continued over it), or after the tail: not suspect
    assert g.utterance_ended(0, 30, audio, now, now, None, None, onset_at=before - 0.1) is False
    assert g.utterance_ended(0, 30, audio, now, now, None, None, onset_at=now + 1.5) is False
