"""The threads a conversation runs inference on: one single-thread executor per stateful engine
(STT, LLM, TTS), or executors a server shares between sessions, and the threads tools run on."""

from __future__ import annotations

import concurrent.futures


class Workers:
    def __init__(self) -> None:
        self.stt: concurrent.futures.Executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="stt")
        self.llm: concurrent.futures.Executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="llm")
        self.tts: concurrent.futures.Executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="tts")
        self.prefill: concurrent.futures.Executor = concurrent.futures.ThreadPoolExecutor(
            1, thread_name_prefix="prefill")
        """Evaluating the next reply's prompt ahead of time (never the reply's own LLM thread)."""
        self.tools: concurrent.futures.Executor = concurrent.futures.ThreadPoolExecutor(2, thread_name_prefix="tool")
        """Tool calls (two: one stuck past its timeout does not hold up the next)."""

    def use(self, stt: concurrent.futures.Executor | None = None, llm: concurrent.futures.Executor | None = None,
            tts: concurrent.futures.Executor | None = None) -> None:
        """Replace some of the executors (the replaced own threads are shut down)."""
        if stt is not None:
            self.stt.shutdown(wait=False)
            self.stt = stt
        if llm is not None:
            self.llm.shutdown(wait=False)
            self.llm = llm
        if tts is not None:
            self.tts.shutdown(wait=False)
            self.tts = tts

    def shutdown(self) -> None:
        """Cancel queued work and let the threads go (running calls finish on their own)."""
        for pool in (self.stt, self.llm, self.tts, self.prefill, self.tools):
            pool.shutdown(wait=False, cancel_futures=True)
