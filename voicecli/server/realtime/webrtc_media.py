"""A WebRTC call's audio: the reply played on the server into the outgoing track (48 kHz,
20 ms frames paced in real time, silence between replies; aiortc encodes Opus), knowing how
much of each item was played (barge-in truncates to that), and the caller's track in → 16 kHz
mono for the pipeline. The ``output_audio_buffer.*`` events are OpenAI's for WebRTC."""

from __future__ import annotations

import asyncio
import collections
import fractions
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError
from av import AudioFrame

from voicecli.audio.format import PIPELINE_RATE_HZ, float_to_pcm16
from voicecli.audio.resample import StreamResampler, resample

TRACK_RATE_HZ = 48000
FRAME_SAMPLES = TRACK_RATE_HZ // 50
"""20 ms, WebRTC's usual packet time."""
TIME_BASE = fractions.Fraction(1, TRACK_RATE_HZ)

PlayerEvent = Callable[[str, str], None]
"""(server event type, response id): ``output_audio_buffer.started`` / ``stopped`` / ``cleared``."""


@dataclass
class _Piece:
    response_id: str
    item_id: str
    pcm: np.ndarray
    """int16 at 48 kHz."""
    offset: int = 0


class ReplyTrack(MediaStreamTrack):
    """The outgoing audio track and the server's player: :meth:`play` queues a piece, aiortc
    pulls a frame every 20 ms (:meth:`recv`), :meth:`clear` stops at once."""

    kind = "audio"

    def __init__(self, on_event: PlayerEvent) -> None:
        super().__init__()
        self._on_event = on_event
        self._queue: collections.deque[_Piece] = collections.deque()
        self._start: float | None = None
        self._pts = 0
        self._playing: str | None = None
        """The response whose audio plays (from its first frame until stopped or cleared)."""
        self._finished: set[str] = set()
        """Responses that will send no more audio."""
        self._item: str | None = None
        self._item_played = 0
        """48 kHz samples of ``_item`` played so far."""

    # --- AudioOut -----------------------------------------------------------------------------
    def play(self, response_id: str, item_id: str, samples: np.ndarray, rate_hz: int) -> None:
        pcm = np.frombuffer(float_to_pcm16(resample(samples, rate_hz, TRACK_RATE_HZ)), dtype=np.int16)
        if len(pcm):
            self._queue.append(_Piece(response_id, item_id, pcm))

    def done(self, response_id: str) -> None:
        """``response_id`` sends no more audio: ``stopped`` once what is queued has played."""
        self._finished.add(response_id)
        if self._playing == response_id and not self._queue:
            self._stopped()
        elif self._playing != response_id and not any(p.response_id == response_id for p in self._queue):
            self._finished.discard(response_id)  # it never played (text only, or cleared)

    def clear(self) -> tuple[str, int] | None:
        playing, item, played = self._playing, self._item, self._item_played
        self._queue.clear()
        self._finished.clear()
        self._playing = None
        if playing is None or item is None:
            return None
        self._on_event("output_audio_buffer.cleared", playing)
        return item, played * 1000 // TRACK_RATE_HZ

    # --- aiortc -------------------------------------------------------------------------------
    async def recv(self) -> AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.time()
        else:
            self._pts += FRAME_SAMPLES
            wait = self._start + self._pts / TRACK_RATE_HZ - time.time()
            if wait > 0:
                await asyncio.sleep(wait)
        frame = AudioFrame.from_ndarray(self._take(FRAME_SAMPLES).reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = TRACK_RATE_HZ
        frame.pts = self._pts
        frame.time_base = TIME_BASE
        return frame

    def _take(self, n: int) -> np.ndarray:
        out = np.zeros(n, np.int16)
        filled = 0
        while filled < n and self._queue:
            piece = self._queue[0]
            if self._playing != piece.response_id:
                self._playing = piece.response_id
                self._on_event("output_audio_buffer.started", piece.response_id)
            if self._item != piece.item_id:
                self._item, self._item_played = piece.item_id, 0
            k = min(n - filled, len(piece.pcm) - piece.offset)
            out[filled:filled + k] = piece.pcm[piece.offset:piece.offset + k]
            piece.offset += k
            filled += k
            self._item_played += k
            if piece.offset >= len(piece.pcm):
                self._queue.popleft()
        if not self._queue and self._playing in self._finished:
            self._stopped()
        return out

    def _stopped(self) -> None:
        playing = self._playing
        if playing is not None:
            self._finished.discard(playing)
            self._playing = None
            self._on_event("output_audio_buffer.stopped", playing)


async def pump_input(track: MediaStreamTrack, on_samples: Callable[[np.ndarray], None]) -> None:
    """Decoded frames of the caller's track → 16 kHz mono float samples, until the track ends."""
    resampler: StreamResampler | None = None
    while True:
        try:
            frame = await track.recv()
        except MediaStreamError:
            return
        if not isinstance(frame, AudioFrame):
            continue
        samples = frame.to_ndarray()
        channels = len(frame.layout.channels)
        if frame.format.is_planar:
            mono = samples.astype(np.float32).mean(axis=0)
        else:
            mono = samples.reshape(-1, channels).astype(np.float32).mean(axis=1)
        if samples.dtype == np.int16:
            mono /= 32768.0
        if resampler is None or resampler.from_hz != frame.sample_rate:
            resampler = StreamResampler(frame.sample_rate, PIPELINE_RATE_HZ)
        out = resampler.process(mono)
        if len(out):
            on_samples(out)
