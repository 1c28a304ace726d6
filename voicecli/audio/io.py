"""Where frames come from and where reply audio goes: a microphone or a file played in real
time; a speaker or a WAV written on a true timeline. Downstream code only sees frames
(:class:`FrameSource` in, :class:`AudioOutput` out)."""

from __future__ import annotations

import asyncio
import collections
import logging
import threading
import time
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from voicecli.audio.format import FRAME_SAMPLES, PIPELINE_RATE_HZ, float_to_pcm16
from voicecli.audio.playback import Player
from voicecli.audio.resample import StreamResampler
from voicecli.concurrency import Pacer
from voicecli.concurrency import post as post  # re-exported: the pipeline and talk import it from here
from voicecli.errors import DeviceError

_LOG = logging.getLogger(__name__)

INPUT_LATENCY = "high"
"""PortAudio latency of the microphone stream ("low", "high" or seconds)."""
INPUT_BLOCK_SAMPLES = FRAME_SAMPLES // 2
"""Half a VAD frame per callback: through PulseAudio's ALSA plugin a speaker-to-microphone round
trip took 56 ms with 16 ms input blocks against 65 ms with 32 ms ones (the frame is complete
sooner after its last sample; ``latency`` made no difference; ``benchmarks/device_roundtrip.py``).
Frames are still 512 samples."""
OUTPUT_LATENCY = "low"
"""PortAudio latency of the speaker stream."""


@dataclass(frozen=True)
class CapturedFrame:
    index: int
    samples: np.ndarray
    """512 float32 samples at 16 kHz."""
    captured_at: float
    """Monotonic time at which the frame's last sample was captured."""


END_OF_INPUT = None


class FrameSource(Protocol):
    """Delivers 16 kHz frames to the conversation: ``start`` hands it the loop and the queue to
    fill (from any thread, through the loop) with :class:`CapturedFrame` s and finally
    ``END_OF_INPUT``; ``stop`` ends delivery early."""

    def start(self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[CapturedFrame | None]) -> None: ...

    def stop(self) -> None: ...


class AudioOutput(Protocol):
    """Drains a :class:`Player` into a device, a file or nowhere, between ``start`` and ``stop``."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


class _Framer:
    """Cuts arbitrary blocks into 512-sample frames."""

    def __init__(self) -> None:
        self._buf = np.zeros(0, np.float32)
        self.index = 0

    def push(self, block: np.ndarray) -> list[np.ndarray]:
        self._buf = np.concatenate([self._buf, block]) if self._buf.size else block
        frames = []
        while len(self._buf) >= FRAME_SAMPLES:
            frames.append(self._buf[:FRAME_SAMPLES].copy())
            self._buf = self._buf[FRAME_SAMPLES:]
        return frames


class SimulatedEcho:
    """Mixes what the player plays back into the microphone signal, delayed and attenuated, as a
    loudspeaker next to a microphone would. Used by tests and benchmarks with file input."""

    def __init__(self, player: Player, delay_ms: float = 60.0, gain: float = 0.5) -> None:
        self.gain = gain
        self._lock = threading.Lock()
        self._buf: collections.deque[float] = collections.deque([0.0] * int(delay_ms * 16), maxlen=None)
        player.add_tap(self._on_played)

    def _on_played(self, block16k: np.ndarray) -> None:
        with self._lock:
            self._buf.extend(block16k.tolist())

    def mix(self, frame: np.ndarray) -> np.ndarray:
        with self._lock:
            n = min(len(frame), len(self._buf))
            echo = np.array([self._buf.popleft() for _ in range(n)], dtype=np.float32)
        out = frame.copy()
        out[:n] += self.gain * echo
        return out


class FileSource:
    """Plays a recording into the pipeline in real time, frame by frame, as a microphone would,
    then ``trailing_silence_s`` of silence, then END_OF_INPUT."""

    def __init__(self, samples: np.ndarray, trailing_silence_s: float = 1.5, realtime: bool = True,
                 echo: SimulatedEcho | None = None) -> None:
        pad = np.zeros(int(trailing_silence_s * PIPELINE_RATE_HZ), np.float32)
        self._audio = np.concatenate([samples.astype(np.float32), pad])
        self._realtime = realtime
        self._echo = echo
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.duration_s = len(samples) / PIPELINE_RATE_HZ

    def start(self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[CapturedFrame | None]) -> None:
        self._thread = threading.Thread(target=self._run, args=(loop, queue), name="file-source", daemon=True)
        self._thread.start()

    def _run(self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[CapturedFrame | None]) -> None:
        n = len(self._audio) // FRAME_SAMPLES
        pacer = Pacer(PIPELINE_RATE_HZ)
        for i in range(n):
            if self._stop.is_set():
                return
            end = (i + 1) * FRAME_SAMPLES
            due = pacer.wait(end) if self._realtime else pacer.due(end)
            frame = self._audio[i * FRAME_SAMPLES:(i + 1) * FRAME_SAMPLES]
            if self._echo is not None:
                frame = self._echo.mix(frame)
            captured = due if self._realtime else time.monotonic()
            if not post(loop, queue.put_nowait, CapturedFrame(i, frame, captured)):
                return
        post(loop, queue.put_nowait, END_OF_INPUT)

    def stop(self) -> None:
        self._stop.set()


class MicrophoneSource:
    """sounddevice input stream, 16 kHz mono, 32 ms blocks. Falls back to the device's own rate
    plus resampling when it cannot capture at 16 kHz."""

    def __init__(self, device: int | None, latency: str | float = INPUT_LATENCY) -> None:
        self.device = device
        self.latency = latency
        self._stream: Any = None
        self._framer = _Framer()
        self._resampler: StreamResampler | None = None
        self.last_frame_at = time.monotonic()
        self.status_errors = 0
        """Callbacks that reported a problem (an input overflow: frames were lost)."""

    def start(self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[CapturedFrame | None]) -> None:
        from voicecli.audio.devices import sd

        s = sd()

        def callback(indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
            if status:
                self.status_errors += 1
            block = indata[:, 0].copy()
            if self._resampler is not None:
                block = self._resampler.process(block)
            now = time.monotonic()
            for f in self._framer.push(block):
                idx = self._framer.index
                self._framer.index += 1
                post(loop, queue.put_nowait, CapturedFrame(idx, f, now))
            self.last_frame_at = now

        try:
            try:
                self._stream = s.InputStream(device=self.device, channels=1, samplerate=PIPELINE_RATE_HZ,
                                             blocksize=INPUT_BLOCK_SAMPLES, dtype="float32", callback=callback,
                                             latency=self.latency)
            except s.PortAudioError:
                rate = int(s.query_devices(self.device, "input")["default_samplerate"])
                self._resampler = StreamResampler(rate, PIPELINE_RATE_HZ)
                self._stream = s.InputStream(device=self.device, channels=1, samplerate=rate,
                                             blocksize=int(rate * INPUT_BLOCK_SAMPLES / PIPELINE_RATE_HZ),
                                             dtype="float32", callback=callback, latency=self.latency)
            self._stream.start()
        except s.PortAudioError as exc:
            raise DeviceError(f"cannot open the input device: {exc}",
                              "is it busy or unplugged? pick another with --input-device") from exc
        self.last_frame_at = time.monotonic()

    def stop(self) -> None:
        if self._stream is not None:
            try:
                self._stream.abort()
                self._stream.close()
            except Exception:  # noqa: BLE001 - closing a vanished device may fail; nothing to do
                pass
            self._stream = None
            if self.status_errors:
                _LOG.warning("audio input: %d overflows (microphone audio was lost)", self.status_errors)


BLOCK_MS = 20
"""Output block: the device holds two of them ahead of the callback. 10 ms blocks cut a
speaker-to-microphone round trip through PulseAudio from 65 to 47 ms, but on this two-core machine
talk then reported 131 and 167 output underflows (gaps) in two of three device-loop sessions."""


class SpeakerOutput:
    """A sounddevice output stream pulling from the player in ``block_ms`` blocks."""

    def __init__(self, player: Player, device: int | None, latency: str | float = OUTPUT_LATENCY,
                 block_ms: float = BLOCK_MS) -> None:
        self.player = player
        self.device = device
        self.latency = latency
        self.block_ms = block_ms
        self._stream: Any = None
        self.failed: str | None = None
        self.underflows = 0
        """Callbacks that reported an output underflow (the device played a gap)."""

    def start(self) -> None:
        from voicecli.audio.devices import sd

        s = sd()

        def callback(outdata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
            if status.output_underflow:
                self.underflows += 1
            self.player.fill(outdata[:, 0])
            if outdata.shape[1] > 1:
                outdata[:, 1:] = outdata[:, :1]

        try:
            self._stream = s.OutputStream(device=self.device, channels=1, samplerate=self.player.sample_rate_hz,
                                          blocksize=int(self.player.sample_rate_hz * self.block_ms / 1000),
                                          dtype="float32", callback=callback, latency=self.latency)
            self._stream.start()
        except s.PortAudioError as exc:
            raise DeviceError(f"cannot open the output device: {exc}",
                              "is it busy or unplugged? pick another with --output-device, "
                              "or use --output FILE.wav") from exc

    @property
    def active(self) -> bool:
        return self._stream is not None and bool(self._stream.active)

    @property
    def latency_s(self) -> float | None:
        """The stream's reported output latency: how far ahead of the callback it holds audio."""
        return float(self._stream.latency) if self._stream is not None else None

    def stop(self) -> None:
        if self._stream is not None:
            # A stream that died with its device (the sound server went away) has nothing to
            # report: the device error is the one line the user needs.
            healthy = bool(getattr(self._stream, "active", True))
            try:
                self._stream.stop()
                self._stream.close()
            except Exception:  # noqa: BLE001
                pass
            self._stream = None
            if self.underflows and healthy:
                _LOG.warning("audio output: %d underflows (gaps in playback)", self.underflows)


class WavOutput:
    """A virtual output device: a thread pulls 20 ms blocks from the player in real time and
    writes them, silence included, so the WAV's timeline is the session's timeline."""

    def __init__(self, player: Player, path: str | Path) -> None:
        self.player = player
        self.path = Path(path)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.failed: str | None = None
        self.active = False

    def start(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._wav = wave.open(str(self.path), "wb")
        except OSError as exc:
            raise DeviceError(f"cannot write {self.path}: {exc.strerror}", "choose another --output path") from exc
        self._wav.setnchannels(1)
        self._wav.setsampwidth(2)
        self._wav.setframerate(self.player.sample_rate_hz)
        self._thread = threading.Thread(target=self._run, name="wav-output", daemon=True)
        self.active = True
        self._thread.start()

    def _run(self) -> None:
        block = int(self.player.sample_rate_hz * BLOCK_MS / 1000)
        buf = np.zeros(block, np.float32)
        pacer = Pacer(self.player.sample_rate_hz)
        n = 0
        while not self._stop.is_set():
            pacer.wait(n * block)
            self.player.fill(buf)
            self._wav.writeframes(float_to_pcm16(buf))
            n += 1

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None
            self._wav.close()
        self.active = False


class PushSource:
    """Frames pushed by the owner (a WebSocket session, a test): ``push`` any number of 16 kHz
    samples from the event-loop thread; ``end`` finishes the input."""

    def __init__(self) -> None:
        self._framer = _Framer()
        self._queue: asyncio.Queue[CapturedFrame | None] | None = None

    def start(self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[CapturedFrame | None]) -> None:
        self._queue = queue

    @property
    def started(self) -> bool:
        """The Conversation runs: :meth:`push` may be called."""
        return self._queue is not None

    def push(self, samples16k: np.ndarray) -> None:
        assert self._queue is not None, "start() first"
        now = time.monotonic()
        for f in self._framer.push(samples16k.astype(np.float32, copy=False)):
            self._queue.put_nowait(CapturedFrame(self._framer.index, f, now))
            self._framer.index += 1

    def end(self) -> None:
        if self._queue is not None:
            self._queue.put_nowait(END_OF_INPUT)

    def stop(self) -> None:
        pass


class InstantOutput:
    """Drains the player as soon as audio is queued (the audio itself goes out through
    ReplyAudio events, e.g. to a network client that plays it). Sleeps on the player's
    "audio queued" signal, not on a timer."""

    def __init__(self, player: Player) -> None:
        self.player = player
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="instant-output", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self.player.wait_for_audio():
                continue
            n = self.player.pending_samples()
            if n:
                self.player.fill(np.zeros(n, np.float32))

    def stop(self) -> None:
        self._stop.set()
        self.player.wake()
        if self._thread is not None:
            self._thread.join(timeout=1)
