"""The far-end reference placed on the capture timeline: late threads, queued frames and output
underruns must not shift which played sample is paired with which captured sample."""

from __future__ import annotations

import numpy as np

from voicecli.audio.reference import RATE_HZ, ReferenceTimeline

BLOCK = 320  # 20 ms output blocks
FRAME = 512  # 32 ms capture frames


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def ramp(start: int, n: int) -> np.ndarray:
    """Reference samples whose value is their own sample number (so a read shows its source)."""
    return np.arange(start, start + n, dtype=np.float32)


def play(tl: ReferenceTimeline, clock: Clock, first_block: int, blocks: int, at: float,
         late_s: dict[int, float] | None = None) -> None:
    """Hand ``blocks`` 20 ms blocks over, block k at ``at + k·20 ms`` (plus any lateness)."""
    for k in range(blocks):
        clock.t = at + k * BLOCK / RATE_HZ + (late_s or {}).get(k, 0.0)
        tl.append(ramp((first_block + k) * BLOCK, BLOCK))


def capture(tl: ReferenceTimeline, frames: int, origin: float, late_s: dict[int, float] | None = None) -> None:
    for i in range(frames):
        tl.pair((i + 1) * FRAME, origin + (i + 1) * FRAME / RATE_HZ + (late_s or {}).get(i, 0.0))


def test_capture_sample_reads_the_sample_playing_at_its_capture_time():
    clock = Clock()
    tl = ReferenceTimeline(clock)
    play(tl, clock, 0, 100, at=100.0)  # sample s leaves the device at 100 + s/16000
    capture(tl, 40, origin=100.5)  # capture sample k is taken at 100.5 + k/16000
    got = tl.read(1024, 4, delay_samples=0)
    assert np.allclose(got, 8000 + 1024 + np.arange(4), atol=1)
    # the echo arrives 1600 samples (100 ms) later: delay 1600 reads 1600 samples earlier
    assert np.allclose(tl.read(1024, 4, 1600), 8000 + 1024 - 1600 + np.arange(4), atol=1)


def test_late_frame_timestamps_do_not_move_the_pairing():
    clock = Clock()
    tl = ReferenceTimeline(clock)
    play(tl, clock, 0, 150, at=100.0)
    late = {i: 0.15 for i in range(20, 60, 3)}  # a busy loop: some callbacks 150 ms late
    capture(tl, 80, origin=100.5, late_s=late)
    assert np.allclose(tl.read(2048, 4, 0), 8000 + 2048 + np.arange(4), atol=1)
    assert tl.origin_moves == 0


def test_an_output_underrun_inserts_silence_and_later_samples_play_later():
    clock = Clock()
    tl = ReferenceTimeline(clock)
    play(tl, clock, 0, 50, at=100.0)  # 1.0 s, playing until 101.0
    play(tl, clock, 50, 50, at=101.3)  # the device thread was 300 ms late: silence 101.0–101.3
    capture(tl, 60, origin=100.0)
    assert abs(tl.underrun_s - 0.3) < 1e-6
    # capture sample at 101.1 s (17600): silence; at 101.4 s (22400): block 50 started at 101.3
    assert np.all(tl.read(17600, 8, 0) == 0)
    assert np.allclose(tl.read(22400, 4, 0), 50 * BLOCK + 1600 + np.arange(4), atol=1)


def test_blocks_handed_together_queue_behind_each_other_as_far_as_the_device_holds():
    clock = Clock()
    tl = ReferenceTimeline(clock)
    play(tl, clock, 0, 10, at=100.0)
    for k in range(10, 12):  # a late callback catching up: two blocks (40 ms) at once
        clock.t = 100.21
        tl.append(ramp(k * BLOCK, BLOCK))
    capture(tl, 20, origin=100.0)
    # block 10 plays from 100.21 (the device ran dry 10 ms), block 11 right after it
    assert np.allclose(tl.read(int(0.235 * RATE_HZ), 4, 0), 11 * BLOCK + 80 + np.arange(4), atol=1)
    assert tl.dropped_s == 0


def test_nothing_is_known_before_the_first_frame():
    clock = Clock()
    tl = ReferenceTimeline(clock)
    play(tl, clock, 0, 10, at=100.0)
    assert np.all(tl.read(0, 16, 0) == 0)


def test_capture_samples_lost_in_an_overflow_move_the_origin_within_seconds():
    clock = Clock()
    tl = ReferenceTimeline(clock)
    play(tl, clock, 0, 400, at=100.0)
    capture(tl, 100, origin=100.0)
    # the device dropped 100 ms of capture: from now on frame k was taken 100 ms later
    for i in range(100, 250):
        tl.pair((i + 1) * FRAME, 100.1 + (i + 1) * FRAME / RATE_HZ)
    assert abs(tl.origin - 100.1) < 1e-6
    assert np.allclose(tl.read(200 * FRAME, 4, 0), 1600 + 200 * FRAME + np.arange(4), atol=1)


def test_a_burst_of_seconds_of_audio_in_an_instant_is_taken_as_dropped():
    clock = Clock()
    tl = ReferenceTimeline(clock)
    play(tl, clock, 0, 50, at=100.0)  # 1 s, playing until 101.0
    for k in range(50, 550):  # 10 s handed over within 0.1 s (PortAudio spinning after an xrun)
        clock.t = 100.9 + (k - 50) * 0.0002
        tl.append(ramp(k * BLOCK, BLOCK))
    play(tl, clock, 550, 50, at=101.3)
    capture(tl, 60, origin=100.0)
    assert tl.dropped_s > 9.0
    # 101.4 s: block 550 (handed at 101.3) is playing, not audio handed 10 s of blocks earlier
    assert np.allclose(tl.read(22400, 4, 0), 550 * BLOCK + 1600 + np.arange(4), atol=1)
