"""The player's signals (drained, audio queued) and the rate its audio carries."""

from __future__ import annotations

import threading

import numpy as np

from voicecli.audio.format import AudioChunk
from voicecli.audio.io import InstantOutput
from voicecli.audio.playback import Player


def chunk(n: int, rate: int = 16000) -> AudioChunk:
    return AudioChunk(np.full(n, 0.1, np.float32), rate)


def test_drained_fires_once_the_reply_has_played_out():
    p = Player(16000)
    fired: list[str] = []
    p.enqueue(1, 0, chunk(300))
    p.enqueue(2, 0, chunk(100))
    p.when_drained(1, lambda: fired.append("1"))
    p.when_drained(2, lambda: fired.append("2"))
    p.fill(np.zeros(200, np.float32))
    assert fired == []
    p.fill(np.zeros(200, np.float32))
    assert fired == ["1", "2"]
    p.when_drained(1, lambda: fired.append("again"))  # nothing left: at once
    assert fired == ["1", "2", "again"]


def test_clear_releases_drain_waiters_and_the_audio_signal():
    p = Player(16000)
    fired: list[int] = []
    p.enqueue(1, 0, chunk(1000))
    assert p.wait_for_audio(0)
    p.when_drained(1, lambda: fired.append(1))
    p.clear()
    assert fired == [1] and p.pending_samples() == 0 and not p.wait_for_audio(0)


def test_an_empty_piece_counts_as_queued_but_never_blocks_draining():
    p = Player(16000)
    p.enqueue(1, 0, chunk(0))
    fired: list[int] = []
    p.when_drained(1, lambda: fired.append(1))
    assert fired == [1] and p.progress(1).queued_samples == {0: 0} and not p.is_playing()


def test_audio_at_another_rate_is_resampled_to_the_players():
    p = Player(22050)
    p.enqueue(1, 0, chunk(16000, rate=16000))
    assert abs(p.pending_samples() - 22050) < 50


def test_instant_output_drains_as_soon_as_audio_is_queued_and_stops_promptly():
    p = Player(16000)
    out = InstantOutput(p)
    out.start()
    done = threading.Event()
    p.enqueue(1, 0, chunk(5000))
    p.when_drained(1, done.set)
    assert done.wait(2)
    assert p.progress(1).played_samples == {0: 5000}
    stopper = threading.Thread(target=out.stop)
    stopper.start()
    stopper.join(0.5)
    assert not stopper.is_alive()


def test_pause_holds_the_queue_after_a_short_fade_and_resume_goes_on_from_there():
    p = Player(16000)
    p.enqueue(1, 0, chunk(1000))
    out = np.zeros(100, np.float32)
    p.fill(out)
    p.pause()
    assert not p.wait_for_audio(0)  # an instant output must not spin while paused
    p.fill(out)  # the fade-out (8 ms = 128 samples; 100 of them here), then silence
    assert out[0] > 0.09 and out[-1] < out[0]
    p.fill(out)
    assert np.count_nonzero(out) == 28 - 1  # the rest of the fade (its last sample is 0)
    p.fill(out)
    assert not out.any() and p.paused and p.is_playing()
    assert p.progress(1).played_samples == {0: 228}
    p.resume()
    assert p.wait_for_audio(0)
    p.fill(out)
    assert out[0] == 0.0 and 0.0 < out[64] < 0.1 and out[-1] > 0.07  # faded in
    assert p.progress(1).played_samples == {0: 328}


def test_a_paused_reply_is_not_drained_and_clear_unpauses():
    p = Player(16000)
    p.enqueue(1, 0, chunk(300))
    fired: list[int] = []
    p.when_drained(1, lambda: fired.append(1))
    p.pause()
    for _ in range(10):
        p.fill(np.zeros(100, np.float32))
    assert fired == [] and p.pending_samples() > 0
    p.clear()
    assert fired == [1] and not p.paused
