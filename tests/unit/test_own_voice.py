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
