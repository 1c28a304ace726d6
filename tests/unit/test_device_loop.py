"""The device-loop benchmark's analysis: where the question ends and the reply starts on one
recording (synthetic signals, so the true answer is known to the sample)."""

from __future__ import annotations

import numpy as np
import pytest

from voicecli.bench.device_loop import first_audible_sample, last_audible_sample, locate, time_turn, trim_to_voice

RATE = 16_000


def _tone(seconds: float, amp: float = 0.3, f: float = 440.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (amp * np.sin(2 * np.pi * f * t)).astype(np.float32)


def _question() -> np.ndarray:
    rng = np.random.default_rng(1)
    speech = (0.2 * rng.standard_normal(int(0.9 * RATE))).astype(np.float32)
    return np.concatenate([np.zeros(RATE // 5, np.float32), speech, np.zeros(RATE // 5, np.float32)])


def test_last_and_first_audible_sample_use_the_minus_45_dbfs_threshold():
    x = np.zeros(1000, np.float32)
    x[100] = 0.01  # −40 dBFS: audible
    x[500] = 0.004  # −48 dBFS: not
    assert last_audible_sample(x) == 101
    assert first_audible_sample(x, 0) == 100
    assert first_audible_sample(x, 101) is None


@pytest.mark.parametrize("gain", [1.0, 0.5])
def test_locate_finds_the_question_despite_a_wrong_guess_and_gain(gain):
    q = _question()
    rec = np.zeros(5 * RATE, np.float32)
    rec[RATE + 123: RATE + 123 + len(q)] += gain * q
    assert locate(rec, q, approx_start=RATE + 9000, search=2 * RATE) == RATE + 123


def test_time_turn_measures_question_end_to_reply_onset():
    q = _question()
    rec = np.zeros(6 * RATE, np.float32)
    start = RATE // 2
    rec[start: start + len(q)] = q
    q_end = start + last_audible_sample(q)
    reply_at = q_end + int(0.640 * RATE)
    rec[reply_at: reply_at + RATE] = _tone(1.0)
    t = time_turn(rec, q, approx_start=start - 4000, rate_hz=RATE)
    assert t.latency_ms == pytest.approx(640.0, abs=1.0)


def test_time_turn_reads_no_latency_when_sound_goes_on_over_the_questions_end():
    # a reply that began before the question was over: not a latency of 0 ms
    q = _question()
    rec = np.zeros(6 * RATE, np.float32)
    start = RATE // 2
    rec[start: start + len(q)] = q
    over = start + last_audible_sample(q) - int(0.3 * RATE)
    rec[over: over + RATE] += _tone(1.0)
    t = time_turn(rec, q, approx_start=start, rate_hz=RATE)
    assert t.sound_over_end and t.latency_ms is None


def test_time_turn_reports_no_reply_before_the_next_question():
    q = _question()
    rec = np.zeros(6 * RATE, np.float32)
    rec[RATE: RATE + len(q)] = q
    rec[4 * RATE: 5 * RATE] = _tone(1.0)
    t = time_turn(rec, q, approx_start=RATE, rate_hz=RATE, reply_before=3 * RATE)
    assert t.reply_onset_s is None and t.latency_ms is None


def test_time_turn_waits_for_the_recorded_questions_own_ringing_to_end():
    # regression: a resampled copy of the question rang ~2 ms past the clip's last audible
    # sample, so the "reply" was found at the question's own tail (0 ms latency)
    q = _question()
    rec = np.zeros(6 * RATE, np.float32)
    start = RATE
    rec[start: start + len(q)] = q
    q_end = start + last_audible_sample(q)
    rec[q_end: q_end + 40] = 0.01  # the ringing
    reply_at = q_end + 40 + int(0.5 * RATE)
    rec[reply_at: reply_at + RATE] = _tone(1.0)
    t = time_turn(rec, q, approx_start=start, rate_hz=RATE)
    assert t.latency_ms == pytest.approx(500.0, abs=1.0)


def test_time_turn_when_the_recorded_question_fades_sooner_than_the_clip():
    # regression: the recorded copy fell below −45 dBFS 10 ms before the clip did, the search
    # for the question's end started in the silence and took the reply's first clause for it
    q = _question()
    rec = np.zeros(6 * RATE, np.float32)
    start = RATE
    copy = q.copy()
    cut = last_audible_sample(q) - 160
    copy[cut:] = 0.0
    rec[start: start + len(q)] = copy
    reply_at = start + cut + int(0.7 * RATE)
    rec[reply_at: reply_at + RATE // 4] = _tone(0.25)
    rec[reply_at + RATE // 2: reply_at + RATE] = _tone(0.5)
    t = time_turn(rec, q, approx_start=start, rate_hz=RATE)
    assert t.latency_ms == pytest.approx(700.0, abs=1.0)


def test_trim_to_voice_cuts_room_tone_after_the_last_voiced_frame():
    # 0.5 s of "voice" then 0.5 s of room noise above -45 dBFS that a VAD calls silence
    rate, frame = 16000, 512
    rng = np.random.default_rng(0)
    voice = 0.3 * np.sin(2 * np.pi * 220 * np.arange(rate // 2) / rate).astype(np.float32)
    noise = (0.01 * rng.standard_normal(rate // 2)).astype(np.float32)  # ~-40 dBFS
    clip = np.concatenate([voice, noise])
    probs = [0.9 if (i + 1) * frame <= len(voice) + frame else 0.1 for i in range(len(clip) // frame)]
    trimmed = trim_to_voice(clip, probs, frame, rate_hz=rate)
    # the end falls inside the last voiced frame (which overlaps the noise by < one frame)
    assert len(voice) - frame <= last_audible_sample(trimmed) <= len(voice) + frame
    assert len(trimmed) < len(voice) + frame
    assert last_audible_sample(clip) > len(voice) + rate // 4  # untrimmed, the noise was the end


def test_trim_to_voice_leaves_a_clip_that_ends_in_silence_alone():
    clip = np.concatenate([_tone(0.5), np.zeros(RATE // 5, np.float32)])
    probs = [0.9] * (len(clip) // 512)
    assert trim_to_voice(clip, probs, 512) is clip


def test_locate_finds_a_quiet_question_beside_a_loud_reply():
    # the reply (near full scale) is within the search window; raw correlation preferred it
    q = 0.05 * _question()
    rec = np.zeros(8 * RATE, np.float32)
    rec[RATE: 3 * RATE] = 0.9 * np.random.default_rng(7).standard_normal(2 * RATE).astype(np.float32).clip(-1, 1)
    at = 4 * RATE + 77
    rec[at: at + len(q)] += q
    assert locate(rec, q, approx_start=3 * RATE, search=2 * RATE) == at
