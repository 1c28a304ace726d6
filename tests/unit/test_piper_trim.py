"""Piper's leading silence is cut to a few milliseconds (pure wait before a reply's first word)."""

import numpy as np

from voicecli.tts.piper_voice import trim_leading_silence

RATE = 22050


def test_leading_silence_is_cut_to_ten_ms():
    sound = np.full(1000, 0.5, np.float32)
    x = np.concatenate([np.zeros(int(0.040 * RATE), np.float32), sound])
    out = trim_leading_silence(x, RATE)
    assert len(out) == int(0.010 * RATE) + len(sound)
    assert np.array_equal(out[-len(sound):], sound)


def test_nothing_loud_is_left_alone():
    x = np.full(500, 1e-4, np.float32)
    assert trim_leading_silence(x, RATE) is x


def test_a_sound_at_the_start_keeps_everything():
    x = np.full(500, 0.5, np.float32)
    assert len(trim_leading_silence(x, RATE)) == 500
