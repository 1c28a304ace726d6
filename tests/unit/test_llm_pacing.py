"""The LLM's pacing while a reply's first piece is cut and synthesised
(:mod:`voicecli.pipeline.llm_pacing`), alone and inside a real ReplyStream: no token is
computed while the first piece is being synthesised (the token in flight used to run beside
Piper and slow both on two cores)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator, Sequence

import numpy as np

from voicecli.audio.format import AudioChunk
from voicecli.audio.playback import Player
from voicecli.llm.tools import ReplyEnded, TextDelta, ToolRequest
from voicecli.llm.types import ChatMessage, GenerationOptions
from voicecli.pipeline.llm_pacing import LlmPacing
from voicecli.pipeline.reply import Reply
from voicecli.pipeline.speaking import ReplyStream, SpeakingOptions
from voicecli.pipeline.workers import Workers
from voicecli.tts.chunker import ChunkerParams

RATE = 16000


def _in_thread(fn) -> tuple[threading.Thread, threading.Event]:
    done = threading.Event()

    def run() -> None:
        fn()
        done.set()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, done


def test_before_the_first_piece_each_token_waits_for_the_loop_to_take_the_last():
    pacing = LlmPacing(max_wait_s=5)
    _, done = _in_thread(pacing.after_token)
    assert not done.wait(0.1)  # not taken yet: the next token is not computed
    pacing.token_taken()
    assert done.wait(1)


def test_the_token_that_cuts_the_first_piece_holds_the_model_until_released():
    pacing = LlmPacing(max_wait_s=5)
    _, done = _in_thread(pacing.after_token)
    pacing.token_taken(first_piece_cut=True)
    assert not done.wait(0.1)  # the first audio is being made
    pacing.release()
    assert done.wait(1)
    _, free = _in_thread(pacing.after_token)  # from then on it runs free
    assert free.wait(1)


def test_every_wait_is_bounded():
    pacing = LlmPacing(max_wait_s=0.1)
    t0 = time.monotonic()
    pacing.after_token()  # nobody takes it
    assert 0.09 <= time.monotonic() - t0 < 1


TOKENS = ["The", " capital", " of", " France", " is", " Paris", ".", " It", " is", " a", " big", " city", "."]


class _Chat:
    def __init__(self, log: list[tuple[str, str]]) -> None:
        self.log = log

    def stream_reply(self, messages: Sequence[ChatMessage], options: GenerationOptions,
                     tools: ToolRequest | None = None) -> Iterator[object]:
        for tok in TOKENS:
            self.log.append(("token", tok))
            yield TextDelta(tok)
        yield ReplyEnded("stop", len(TOKENS))

    def stream(self, messages: Sequence[ChatMessage], options: GenerationOptions) -> Iterator[str]:
        for ev in self.stream_reply(messages, options):
            if isinstance(ev, TextDelta):
                yield ev.text


class _Voice:
    name = "slow-voice"
    sample_rate_hz = RATE

    def __init__(self, log: list[tuple[str, str]]) -> None:
        self.log = log

    def synthesize(self, text: str, speed: float = 1.0) -> Iterator[AudioChunk]:
        self.log.append(("synth start", text))
        time.sleep(0.08)  # Piper's time for a short first piece
        self.log.append(("synth end", text))
        yield AudioChunk(np.full(RATE // 10, 0.1, np.float32), RATE)

    def warm_up(self) -> None:
        pass


async def _speak(log: list[tuple[str, str]]) -> None:
    player = Player(RATE)
    workers = Workers()
    stream = ReplyStream(Reply(1, "What is the capital of France?", time.time()), _Chat(log), _Voice(log),
                         player, workers, SpeakingOptions(GenerationOptions(max_tokens=40), ChunkerParams(), 1.0),
                         lambda r, ev: None, lambda: None)
    task = asyncio.ensure_future(stream.run([ChatMessage("user", "What is the capital of France?")]))
    try:
        while not task.done():  # the speaker plays in real time
            player.fill(np.zeros(RATE // 50, np.float32))
            await asyncio.sleep(0.02)
        await task
    finally:
        workers.shutdown()


def test_no_token_is_computed_while_the_first_piece_is_synthesised():
    log: list[tuple[str, str]] = []
    asyncio.run(asyncio.wait_for(_speak(log), 10))
    start = log.index(("synth start", "The capital of France"))
    end = log.index(("synth end", "The capital of France"))
    assert [e for e in log[start:end] if e[0] == "token"] == []
    # The cut needed " Paris" (is " is" a whole word?); not one token more was computed before it.
    assert [tok for kind, tok in log[:start] if kind == "token"] == TOKENS[:6]
    assert sum(kind == "token" for kind, _ in log) == len(TOKENS)  # and then the rest, in full
