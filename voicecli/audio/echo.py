"""Streaming acoustic echo cancellation (AEC) for voicecli.

Backends
--------
* ``"webrtc"`` (default, preferred): WebRTC AEC3 via the PyPI wheel ``pywebrtc-audio``
  (``pip install pywebrtc-audio``; Apache-2.0; wheels for Linux x86_64/aarch64,
  macOS x86_64/arm64, Windows; CPython 3.10-3.14; no system libraries).
  AEC3 estimates the echo delay itself; ``filter_ms`` is ignored.
* ``"speex"`` (fallback): Xiph libspeexdsp through ctypes (no Python package needed,
  but the system library is: Debian/Ubuntu ``apt-get install libspeexdsp1``,
  macOS ``brew install speexdsp``; or set ``SPEEXDSP_LIB=/path/to/libspeexdsp.so``).
  Linear MDF filter + speex residual-echo suppressor; ``filter_ms`` must cover
  echo-path delay + room tail.
* ``"auto"``: webrtc if importable, else speex.

The reference must be the signal actually sent to the loudspeaker, fed in the same
call as the microphone block it overlaps in time (same clock, same length). In a conversation
:class:`voicecli.pipeline.echo_path.EchoPath` does that alignment (a play-out model of the
output device plus the measured echo delay), so the echo reaches the canceller a few ms after
its reference whatever the device's latency; ``set_delay_hint`` tells AEC3 that remainder.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
from typing import Protocol

import numpy as np

__all__ = ["EchoCanceller"]


def _to_int16(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    if x.dtype == np.int16:
        return np.ascontiguousarray(x)
    if np.issubdtype(x.dtype, np.floating):
        return np.clip(np.round(x * 32768.0), -32768, 32767).astype(np.int16)
    return np.clip(x, -32768, 32767).astype(np.int16)


class _Engine(Protocol):
    """One AEC backend: cancels whole ``block``-sample int16 blocks."""

    block: int

    def run(self, mic: np.ndarray, ref: np.ndarray) -> np.ndarray: ...

    def reset(self) -> None: ...

    def set_delay_hint(self, delay_ms: int) -> None: ...


class _WebRTCEngine:
    def __init__(self, sr: int, stream_delay_ms: int, noise_suppression: bool):
        import pywebrtc_audio as pw  # noqa: WPS433 (optional dependency)

        self._ap: pw.AudioProcessor | pw.EchoCanceller
        if noise_suppression:
            self._ap = pw.AudioProcessor(sample_rate=sr, echo_cancellation=True,
                                         noise_suppression=True, stream_delay_ms=stream_delay_ms)
        else:
            self._ap = pw.EchoCanceller(sample_rate=sr, stream_delay_ms=stream_delay_ms)
        self.block = sr // 100  # WebRTC works on 10 ms frames

    def run(self, mic: np.ndarray, ref: np.ndarray) -> np.ndarray:
        return self._ap.process(mic, ref)

    def reset(self) -> None:
        self._ap.reset()

    def set_delay_hint(self, delay_ms: int) -> None:
        self._ap.stream_delay_ms = delay_ms


_I16P = ctypes.POINTER(ctypes.c_int16)


def _load_speexdsp() -> ctypes.CDLL:
    names = [os.environ.get("SPEEXDSP_LIB"), ctypes.util.find_library("speexdsp"),
             "libspeexdsp.so.1", "libspeexdsp.dylib", "/opt/homebrew/lib/libspeexdsp.dylib",
             "/usr/local/lib/libspeexdsp.dylib"]
    for n in filter(None, names):
        try:
            lib = ctypes.CDLL(n)
        except OSError:
            continue
        lib.speex_echo_state_init.restype = ctypes.c_void_p
        lib.speex_echo_state_init.argtypes = [ctypes.c_int, ctypes.c_int]
        lib.speex_echo_state_destroy.argtypes = [ctypes.c_void_p]
        lib.speex_echo_state_reset.argtypes = [ctypes.c_void_p]
        lib.speex_echo_cancellation.argtypes = [ctypes.c_void_p, _I16P, _I16P, _I16P]
        lib.speex_echo_ctl.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
        lib.speex_preprocess_state_init.restype = ctypes.c_void_p
        lib.speex_preprocess_state_init.argtypes = [ctypes.c_int, ctypes.c_int]
        lib.speex_preprocess_state_destroy.argtypes = [ctypes.c_void_p]
        lib.speex_preprocess_ctl.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
        lib.speex_preprocess_run.argtypes = [ctypes.c_void_p, _I16P]
        return lib
    raise ImportError("libspeexdsp not found (apt-get install libspeexdsp1 / brew install speexdsp, "
                      "or set SPEEXDSP_LIB)")


class _SpeexEngine:
    _ECHO_SET_SAMPLING_RATE = 24
    _PP_SET_DENOISE = 0
    _PP_SET_ECHO_STATE = 24

    def __init__(self, sr: int, frame_samples: int, filter_ms: int, residual_suppression: bool):
        self._lib = _load_speexdsp()
        b = 1 << int(round(np.log2(sr * 0.016)))            # ~16 ms, power of two (256 @ 16 kHz)
        self.block = b if frame_samples % b == 0 else frame_samples
        self._sr, self._taps, self._rs = sr, max(self.block, sr * filter_ms // 1000), residual_suppression
        self._echo = self._pp = None
        self._create()

    def _create(self) -> None:
        lib = self._lib
        self._echo = lib.speex_echo_state_init(self.block, self._taps)
        rate = ctypes.c_int(self._sr)
        lib.speex_echo_ctl(self._echo, self._ECHO_SET_SAMPLING_RATE, ctypes.byref(rate))
        if self._rs:  # residual echo suppression only acts when the preprocessor's denoiser is on
            self._pp = lib.speex_preprocess_state_init(self.block, self._sr)
            lib.speex_preprocess_ctl(self._pp, self._PP_SET_ECHO_STATE, ctypes.c_void_p(self._echo))
            on = ctypes.c_int(1)
            lib.speex_preprocess_ctl(self._pp, self._PP_SET_DENOISE, ctypes.byref(on))

    def run(self, mic: np.ndarray, ref: np.ndarray) -> np.ndarray:
        out = np.empty_like(mic)
        lib, b = self._lib, self.block
        for i in range(0, len(mic), b):
            o = out[i:i + b]
            lib.speex_echo_cancellation(self._echo, mic[i:i + b].ctypes.data_as(_I16P),
                                        ref[i:i + b].ctypes.data_as(_I16P), o.ctypes.data_as(_I16P))
            if self._pp:
                lib.speex_preprocess_run(self._pp, o.ctypes.data_as(_I16P))
        return out

    def close(self) -> None:
        if self._pp:
            self._lib.speex_preprocess_state_destroy(self._pp)
            self._pp = None
        if self._echo:
            self._lib.speex_echo_state_destroy(self._echo)
            self._echo = None

    def reset(self) -> None:
        self.close()
        self._create()

    def set_delay_hint(self, delay_ms: int) -> None:
        pass  # the MDF filter covers ``filter_ms`` of delay; it takes no hint

    def __del__(self) -> None:
        try:
            self.close()
        except (AttributeError, TypeError, OSError):  # half-built, or the library is gone at interpreter exit
            pass


class EchoCanceller:
    """Remove the assistant's own playback (``reference``) from the microphone signal.

    ``process(mic, reference)`` takes equal-length mono blocks (int16, or float in [-1, 1])
    and returns the cleaned mic block with the same dtype and length. Internally the signal
    is re-blocked to the engine's frame size; the output is delayed by
    ``latency_samples`` (+ engine-internal delay: ~8 ms for AEC3, ~16 ms for speex with
    residual suppression). With 512-sample frames the re-blocking delay is <= 128 samples.
    Not thread-safe: call from the single audio thread.

    Args:
        frame_samples: usual block size passed to ``process`` (512 = 32 ms @ 16 kHz).
        sample_rate_hz: 16000 (also 32000/48000 for webrtc).
        filter_ms: speex only - echo tail covered by the adaptive filter
            (echo-path delay + reverb; 250 ms covers ~150 ms delay + 100 ms room).
        backend: "auto" | "webrtc" | "speex".
        stream_delay_ms: webrtc only - optional playback->capture delay hint (0 = estimate).
        noise_suppression: webrtc only - also run WebRTC NS (more echo/noise removal).
        residual_suppression: speex only - speex residual echo suppressor (+ its denoiser).
    """

    def __init__(self, frame_samples: int = 512, sample_rate_hz: int = 16000, filter_ms: int = 250,
                 backend: str = "auto", stream_delay_ms: int = 0, noise_suppression: bool = False,
                 residual_suppression: bool = True):
        self.frame_samples, self.sample_rate_hz, self.filter_ms = frame_samples, sample_rate_hz, filter_ms
        engine: _Engine | None = None
        if backend in ("auto", "webrtc"):
            try:
                engine = _WebRTCEngine(sample_rate_hz, stream_delay_ms, noise_suppression)
                self.backend = "webrtc"
            except ImportError:
                if backend == "webrtc":
                    raise
        if engine is None:
            if backend not in ("auto", "speex"):
                raise ValueError(f"unknown backend {backend!r}")
            engine = _SpeexEngine(sample_rate_hz, frame_samples, filter_ms, residual_suppression)
            self.backend = "speex"
        self._eng = engine
        self.block_samples = engine.block
        self.latency_samples = 0  # grows once, up to block-1, if calls don't align with blocks
        self._mic = np.zeros(0, np.int16)
        self._ref = np.zeros(0, np.int16)
        self._out = np.zeros(0, np.int16)

    def process(self, mic: np.ndarray, reference: np.ndarray) -> np.ndarray:
        """Cancel echo of ``reference`` in ``mic``; returns an array like ``mic``."""
        mic_a = np.asarray(mic)
        if mic_a.ndim != 1 or np.shape(reference) != mic_a.shape:
            raise ValueError("mic and reference must be 1-D arrays of equal length")
        n = len(mic_a)
        self._mic = np.concatenate([self._mic, _to_int16(mic_a)])
        self._ref = np.concatenate([self._ref, _to_int16(reference)])
        k = (len(self._mic) // self.block_samples) * self.block_samples
        if k:
            done = self._eng.run(self._mic[:k], self._ref[:k])
            self._mic, self._ref = self._mic[k:], self._ref[k:]
            self._out = np.concatenate([self._out, done])
        short = n - len(self._out)
        if short > 0:  # not enough processed audio yet: add (permanent) latency instead of dropping
            self._out = np.concatenate([np.zeros(short, np.int16), self._out])
            self.latency_samples += short
        res, self._out = self._out[:n], self._out[n:]
        if mic_a.dtype == np.int16:
            return res
        if np.issubdtype(mic_a.dtype, np.floating):
            return (res.astype(np.float32) / 32768.0).astype(mic_a.dtype)
        return res.astype(mic_a.dtype)

    def reset(self) -> None:
        """Forget the adapted echo path (e.g. after the audio device changed)."""
        self._eng.reset()

    def set_delay_hint(self, delay_ms: int) -> None:
        """The echo's delay behind the reference as now fed, if known (AEC3's stream delay: it
        starts its search there after a reset; the speex filter ignores it)."""
        self._eng.set_delay_hint(delay_ms)
