"""Fake engines, a stepped output and a harness that drive the real ``Conversation`` in
milliseconds: no models, no devices, no real-time pacing.

Frames carry their own script: every sample of a frame has the same value, the fake VAD reports
that value as the speech probability, and the fake STT maps each distinct value it hears (in
order) to a phrase. So ``speak(0.9, 10)`` is ten frames of "speech" that transcribe as whatever
phrase 0.9 stands for, and a push-to-talk frame zeroed by the conversation reads as silence."""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence

import numpy as np

from voicecli.audio.format import FRAME_SAMPLES, AudioChunk
from voicecli.audio.io import InstantOutput, PushSource
from voicecli.audio.playback import Player
from voicecli.llm.tools import ReplyDelta, ReplyEnded, TextDelta, ToolCallDelta, ToolRequest
from voicecli.llm.types import ChatMessage, GenerationOptions
from voicecli.stt.types import Segment, TranscribeOptions, Transcription, TranscriptionInfo

RATE_HZ = 16_000
SAMPLES_PER_WORD = 1600
"""The fake voice speaks every word in 100 ms."""


class FakeVad:
    """The frame's (constant) sample value is its speech probability."""

    def __init__(self) -> None:
        self.frames = 0

    def probability(self, frame: np.ndarray) -> float:
        self.frames += 1
        return float(np.max(frame)) if frame.size else 0.0

    def reset(self) -> None:
        self.frames = 0


class FakeTranscriber:
    name = "fake-stt"
    is_multilingual = False

    def __init__(self, phrases: dict[float, str]) -> None:
        self.phrases = phrases
        self.calls: list[str] = []
        self._lock = threading.Lock()

    def transcribe(self, audio: np.ndarray, options: TranscribeOptions) -> Transcription:
        heard: list[float] = []
        for i in range(0, len(audio), FRAME_SAMPLES):
            v = round(float(audio[i]), 2)
            if v > 0 and v not in heard:
                heard.append(v)
        text = " ".join(self.phrases[v] for v in heard if self.phrases.get(v))
        with self._lock:
            self.calls.append(text)
        duration_s = len(audio) / RATE_HZ
        segments = (Segment(0, 0.0, duration_s, " " + text),) if text else ()
        return Transcription(text, "en", 1.0, duration_s, segments)

    def transcribe_stream(self, audio: np.ndarray,
                          options: TranscribeOptions) -> tuple[TranscriptionInfo, Iterator[Segment]]:
        t = self.transcribe(audio, options)
        return TranscriptionInfo(t.language, 1.0, t.duration_s), iter(t.segments)

    def warm_up(self) -> None:
        pass


class FakeChat:
    """Streams a scripted reply word by word; ``hold`` (when set) pauses it after the first word.
    With tools offered (``stream_reply``), a user text in ``tool_calls`` is answered with that
    call (name, arguments: streamed as a head and two argument pieces) when the request offers
    the function; a reply after a ``tool`` message says ``The answer is <result>.``;
    ``always_call`` calls its function whenever it is offered."""

    name = "fake-llm"

    def __init__(self, replies: dict[str, str]) -> None:
        self.replies = replies
        self.calls: list[list[ChatMessage]] = []
        self.yielded: list[int] = []
        """Tokens handed out, per call (a cancelled reply stops early)."""
        self.finished = 0
        self.hold: threading.Event | None = None
        self.tool_calls: dict[str, tuple[str, str]] = {}
        self.always_call: str | None = None
        self.requests: list[ToolRequest | None] = []
        """The tools of each ``stream_reply`` call."""
        self.prefilled: list[list[ChatMessage]] = []
        """The prompts evaluated ahead of a reply (``prefill``)."""

    def stream_reply(self, messages: Sequence[ChatMessage], options: GenerationOptions,
                     tools: ToolRequest | None = None) -> Iterator[ReplyDelta]:
        self.requests.append(tools)
        last = messages[-1]
        offered = {t.name for t in tools.tools} if tools is not None and tools.choice.mode != "none" else set()
        call = self.tool_calls.get(last.content) if last.role == "user" else None
        if self.always_call is not None:
            call = (self.always_call, "{}")
        if call is not None and call[0] in offered:
            self.calls.append(list(messages))
            self.yielded.append(3)
            n = len(self.calls)
            half = len(call[1]) // 2
            yield ToolCallDelta(0, id=f"call_{n}", name=call[0])
            yield ToolCallDelta(0, call[1][:half])
            yield ToolCallDelta(0, call[1][half:])
            yield ReplyEnded("tool_calls", 3)
            return
        count = 0
        for token in self._words(messages):
            count += 1
            yield TextDelta(token)
        yield ReplyEnded("stop", count)

    def stream(self, messages: Sequence[ChatMessage], options: GenerationOptions) -> Iterator[str]:
        return self._words(messages)

    def _words(self, messages: Sequence[ChatMessage]) -> Iterator[str]:
        self.calls.append(list(messages))
        self.yielded.append(0)
        call = len(self.yielded) - 1
        user = messages[-1].content
        if messages[-1].role == "tool":
            reply = f"The answer is {user}."
        else:
            reply = self.replies.get(user, f"You said {user}")
        for i, token in enumerate(re.findall(r"\S+\s*", reply)):
            if i == 1 and self.hold is not None:
                self.hold.wait(5)
            self.yielded[call] += 1
            yield token
        self.finished += 1

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def prefill(self, messages: Sequence[ChatMessage], tools: ToolRequest | None = None,
                give_way: Callable[[], bool] | None = None) -> int:
        self.prefilled.append(list(messages))
        return 0

    def warm_up(self, system_prompt: str) -> None:
        pass


class FakeSynth:
    """A constant tone, ``SAMPLES_PER_WORD`` per word."""

    def __init__(self, name: str = "fake-voice", sample_rate_hz: int = RATE_HZ) -> None:
        self.name = name
        self.sample_rate_hz = sample_rate_hz
        self.calls: list[str] = []

    def synthesize(self, text: str, speed: float = 1.0) -> Iterator[AudioChunk]:
        self.calls.append(text)
        n = len(text.split()) * SAMPLES_PER_WORD * self.sample_rate_hz // RATE_HZ
        yield AudioChunk(np.full(n, 0.01, np.float32), self.sample_rate_hz)

    def warm_up(self) -> None:
        pass


class FakeEngines:
    def __init__(self, phrases: dict[float, str], replies: dict[str, str]) -> None:
        self.transcriber = FakeTranscriber(phrases)
        self.chat = FakeChat(replies)
        self.speaker = FakeSynth()
        self.vads: list[FakeVad] = []

    def new_vad(self) -> FakeVad:
        self.vads.append(FakeVad())
        return self.vads[-1]


class SteppedOutput:
    """An output device the test drives: nothing plays until ``play`` pulls samples."""

    def __init__(self, player: Player) -> None:
        self.player = player

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def play(self, samples: int) -> None:
        self.player.fill(np.zeros(samples, np.float32))


async def until(cond: Callable[[], object], timeout_s: float = 3.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or cond}")
        await asyncio.sleep(0.001)


class Harness:
    """One Conversation on fakes. ``async with`` runs it; leaving ends the input and waits for
    the conversation to finish its replies."""

    def __init__(self, conversation_factory: Callable[..., object], engines: FakeEngines, options: object,
                 stepped: bool = False) -> None:
        self.engines = engines
        self.source = PushSource()
        self.player = Player(engines.speaker.sample_rate_hz)
        self.output: SteppedOutput | InstantOutput = (SteppedOutput(self.player) if stepped
                                                      else InstantOutput(self.player))
        self.events: list[object] = []
        self.conv = conversation_factory(engines, self.source, self.player, self.output, self.events.append,
                                         options)
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Harness:
        self._task = asyncio.create_task(self.conv.run())  # type: ignore[attr-defined]
        await asyncio.sleep(0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        if exc[0] is None:
            self.source.end()
            await asyncio.wait_for(self._task, 3)
        else:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    @property
    def vad(self) -> FakeVad:
        return self.engines.vads[-1]

    async def frames(self, value: float, n: int) -> None:
        """Push ``n`` frames and wait until the conversation has processed them."""
        target = self.vad.frames + n
        for _ in range(n):
            self.source.push(np.full(FRAME_SAMPLES, value, np.float32))
        await until(lambda: self.vad.frames >= target, what=f"{n} frames processed")

    async def speak(self, value: float, n: int = 10) -> None:
        await self.frames(value, n)

    async def silence(self, n: int) -> None:
        await self.frames(0.0, n)

    async def settle(self) -> None:
        """Let posted callbacks (controls called as from another thread) run."""
        for _ in range(5):
            await asyncio.sleep(0)

    def of(self, *kinds: type) -> list[object]:
        return [e for e in self.events if isinstance(e, kinds)]

    def names(self, *kinds: type) -> list[str]:
        return [type(e).__name__ for e in self.of(*kinds)]
