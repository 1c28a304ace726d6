"""Decoding uploads for the REST API: off the event loop and off the STT queue, on a small pool
of threads that run at a lower CPU priority than inference, within the audio and time limits.

A hostile file (hours of audio behind a header that says nothing, millions of tiny frames) is
stopped by :func:`voicecli.audio.decode.decode_audio`'s bounds; while it decodes, other uploads
still decode (two threads), and the transcriptions someone is waiting for get the CPU first."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import os
import threading

import numpy as np

from voicecli.audio.decode import decode_audio

DECODE_THREADS = 2
"""One slow upload never holds up the next."""
DECODE_NICENESS = 5
"""Added to the decode threads' nice value (Linux; elsewhere they run at normal priority): when inference
keeps every core busy, a decode gets about a third of the CPU an inference thread gets."""


def _lower_priority() -> None:
    with contextlib.suppress(AttributeError, OSError):  # per-thread niceness: Linux only
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + DECODE_NICENESS))


def make_decode_pool() -> concurrent.futures.ThreadPoolExecutor:
    return concurrent.futures.ThreadPoolExecutor(DECODE_THREADS, thread_name_prefix="srv-decode",
                                                 initializer=_lower_priority)


async def decode_upload(pool: concurrent.futures.Executor, data: bytes, name: str, *, max_audio_s: float,
                        max_decode_s: float) -> np.ndarray:
    """16 kHz mono samples of an uploaded file; raises the decoder's AudioInputError (or its
    AudioTooLongError) for a file that is not audio, is truncated, or passes a limit."""
    decode = functools.partial(decode_audio, data, name, max_seconds=max_audio_s, time_budget_s=max_decode_s)
    return await asyncio.get_running_loop().run_in_executor(pool, decode)
