"""Semantic end of turn in the real Conversation, on fakes (tests/unit/pipeline_fakes.py): a
turn model asked at pause checkpoints ends the turn early when it says complete, the silence
fallback ends it otherwise, a pause inside a sentence stays one turn, the transcript vetoes."""

from __future__ import annotations

import asyncio
import functools
import threading

import numpy as np
import pytest

from tests.unit.pipeline_fakes import FakeEngines, Harness, until
from voicecli.pipeline.conversation import Conversation, ConversationOptions
from voicecli.pipeline.events import TurnCompleted, UserSpeechStopped
from voicecli.vad.endpointer import EndpointerParams
from voicecli.vad.turn import SemanticTurnParams

CHECK_FRAMES = 7
"""200 ms at 32 ms frames: the first checkpoint."""
FALLBACK_FRAMES = 47
"""1500 ms: the silence that ends a turn the model called unfinished."""
PHRASES = {0.9: "And so my fellow Americans", 0.8: "ask not what your country can do for you.",
           0.7: "Can you remind me to...", 0.6: "call my mother?"}
SEMANTIC = SemanticTurnParams(checks_ms=(200, 600), threshold=0.5, max_silence_ms=1500, words_end_ms=None)
OPTIONS = ConversationOptions(endpointer=EndpointerParams(), semantic_turn=SEMANTIC)


class FakeTurnModel:
    """Complete or not by the last voiced frame's value (the frame value is the phrase)."""

    def __init__(self, verdicts: dict[float, float], fail: bool = False) -> None:
        self.verdicts = verdicts
        self.fail = fail
        self.calls: list[float] = []
        self.thread: str | None = None

    def probability(self, audio: np.ndarray) -> float:
        self.thread = threading.current_thread().name
        if self.fail:
            raise RuntimeError("model broke")
        voiced = audio[audio > 0]
        last = round(float(voiced[-1]), 2) if voiced.size else 0.0
        self.calls.append(last)
        return self.verdicts.get(last, 0.0)


def harness(model: FakeTurnModel, **options: object) -> Harness:
    from dataclasses import replace

    factory = functools.partial(Conversation, turn_model=model)
    return Harness(factory, FakeEngines(PHRASES, {}), replace(OPTIONS, **options))


def records(h: Harness) -> list:
    return [e.record for e in h.of(TurnCompleted)]


def run(scenario) -> None:
    asyncio.run(asyncio.wait_for(scenario(), 8))


def test_a_complete_verdict_ends_the_turn_at_the_first_checkpoint():
    model = FakeTurnModel({0.8: 0.95})

    async def scenario() -> None:
        async with harness(model) as h:
            await h.silence(3)
            await h.speak(0.8, 10)
            await h.silence(CHECK_FRAMES)  # no more frames: the verdict alone ends the turn
            await until(lambda: records(h), what="turn ended by the verdict")
            assert h.vad.frames == 3 + 10 + CHECK_FRAMES
        (rec,) = records(h)
        assert rec.user == "ask not what your country can do for you."
        assert rec.latency.endpoint_wait is not None
        assert model.calls == [0.8]
        assert model.thread is not None and model.thread.startswith("turn")  # never the event loop
    run(scenario)


def test_an_unfinished_verdict_waits_for_the_fallback_silence():
    model = FakeTurnModel({0.8: 0.1})

    async def scenario() -> None:
        async with harness(model) as h:
            await h.silence(3)
            await h.speak(0.8, 10)
            await h.silence(FALLBACK_FRAMES - 1)
            await asyncio.sleep(0.05)
            assert not h.of(UserSpeechStopped)  # asked twice, told "not done" twice
            assert model.calls == [0.8, 0.8]
            await h.silence(1)
            await until(lambda: records(h), what="turn ended by the fallback")
    run(scenario)


def test_words_that_do_not_trail_off_end_the_turn_at_words_end_ms_whatever_the_model_says():
    # Smart Turn hears a flat "Can you tell me a fun fact about the moon" (no "?") as unfinished;
    # at 800 ms of silence words that do not trail off end it, not the 1.5 s fallback
    from dataclasses import replace

    model = FakeTurnModel({0.8: 0.1})

    async def scenario() -> None:
        async with harness(model, semantic_turn=replace(SEMANTIC, words_end_ms=800)) as h:
            await h.silence(3)
            await h.speak(0.8, 10)
            await h.silence(CHECK_FRAMES)  # 200 ms: "unfinished"
            await until(lambda: len(model.calls) == 1, what="the model asked at 200 ms")
            await h.silence(19 - CHECK_FRAMES)  # 600 ms: "unfinished"
            await until(lambda: len(model.calls) == 2, what="the model asked at 600 ms")
            assert not records(h)
            await h.silence(25 - 19)  # 800 ms: the third check
            await until(lambda: records(h), what="turn ended by the words at 800 ms")
            assert h.vad.frames == 3 + 10 + 25
        assert model.calls == [0.8, 0.8]  # asked at 200 and 600 ms only
    run(scenario)


def test_jfk_clip_regression_a_long_pause_inside_a_sentence_stays_one_turn():
    # "And so my fellow Americans … ask not what …": a 640 ms pause, longer than the silence
    # endpointer's 400 ms; the model hears an unfinished sentence, so it is one turn
    model = FakeTurnModel({0.9: 0.2, 0.8: 0.95})

    async def scenario() -> None:
        async with harness(model) as h:
            await h.silence(3)
            await h.speak(0.9, 10)
            await h.silence(20)
            await h.speak(0.8, 10)
            await h.silence(CHECK_FRAMES)
            await until(lambda: records(h), what="one turn")
        assert [r.user for r in records(h)] == ["And so my fellow Americans ask not what your country can do for you."]
    run(scenario)


def test_the_silence_endpointer_splits_that_sentence_without_a_turn_model():
    async def scenario() -> None:
        h = Harness(Conversation, FakeEngines(PHRASES, {}), OPTIONS)
        async with h:
            await h.silence(3)
            await h.speak(0.9, 10)
            await h.silence(20)
            await h.speak(0.8, 10)
            await h.silence(14)
            await until(lambda: len(records(h)) == 2, what="two turns")
    run(scenario)


def test_a_trailing_off_transcript_vetoes_a_complete_verdict():
    model = FakeTurnModel({0.7: 0.99, 0.6: 0.99})

    async def scenario() -> None:
        async with harness(model) as h:
            await h.silence(3)
            await h.speak(0.7, 10)
            await h.silence(1)
            await until(lambda: h.engines.transcriber.calls, what="speculative transcript")
            await h.silence(CHECK_FRAMES - 1)
            await until(lambda: h.conv._judge.verdicts, what="verdict")
            await asyncio.sleep(0.05)
            assert not records(h)  # "Can you remind me to..." is not a finished turn
            assert model.calls == []  # the words settled it: the model was not even asked
            await h.silence(5)
            await h.speak(0.6, 10)
            await h.silence(CHECK_FRAMES)
            await until(lambda: records(h), what="turn")
        assert [r.user for r in records(h)] == ["Can you remind me to... call my mother?"]
    run(scenario)


def test_a_finished_question_ends_the_turn_even_when_the_model_hears_an_unfinished_one():
    # Smart Turn on espeak-ng's flat "Why is the sky blue?": p 0.01; Whisper's "?" settles it
    model = FakeTurnModel({0.6: 0.01})

    async def scenario() -> None:
        async with harness(model) as h:
            await h.silence(3)
            await h.speak(0.6, 10)
            await h.silence(1)
            await until(lambda: h.engines.transcriber.calls, what="speculative transcript")
            await h.silence(CHECK_FRAMES - 1)
            await until(lambda: records(h), what="turn ended at the first checkpoint")
        assert [r.user for r in records(h)] == ["call my mother?"]
    run(scenario)


def test_a_failing_turn_model_falls_back_to_silence():
    model = FakeTurnModel({}, fail=True)

    async def scenario() -> None:
        async with harness(model) as h:
            await h.silence(3)
            await h.speak(0.8, 10)
            await h.silence(FALLBACK_FRAMES)
            await until(lambda: records(h), what="turn ended by the fallback")
    run(scenario)


def test_push_to_talk_never_asks_the_turn_model():
    model = FakeTurnModel({0.8: 0.95})

    async def scenario() -> None:
        async with harness(model, push_to_talk=True) as h:
            await h.silence(3)
            h.conv.push_to_talk()
            await h.settle()
            await h.speak(0.8, 10)
            await h.silence(20)
            assert model.calls == []
    run(scenario)


# --- a reply cut by the token cap ends at its last full sentence ---------------------------
from voicecli.llm.types import GenerationOptions  # noqa: E402
from voicecli.pipeline.events import ReplyAudio  # noqa: E402

CAPPED_REPLY = "Paris is the capital of France. It is known for the Eiffel Tower and"


def _capped_harness(max_tokens: int) -> Harness:
    from dataclasses import replace

    engines = FakeEngines({0.8: "What is the capital of France?"}, {"What is the capital of France?": CAPPED_REPLY})
    options = replace(OPTIONS, semantic_turn=None, generation=GenerationOptions(max_tokens=max_tokens))
    return Harness(Conversation, engines, options)


def _ask(h: Harness):
    async def scenario() -> None:
        async with h:
            await h.silence(3)
            await h.speak(0.8, 10)
            await h.silence(14)
            await until(lambda: records(h), what="turn")
    run(scenario)
    (rec,) = records(h)
    return rec


def test_token_cap_regression_a_reply_cut_mid_sentence_ends_at_its_last_full_sentence():
    # regression: replies stopped mid-sentence at the token cap ("… the Eiffel Tower and")
    h = _capped_harness(max_tokens=len(CAPPED_REPLY.split()))  # the fake streams a word per token
    rec = _ask(h)
    assert [e.text for e in h.of(ReplyAudio)] == ["Paris is the capital of France."]
    assert rec.assistant == rec.full_reply == "Paris is the capital of France."
    assert h.conv.history[-1].content == "Paris is the capital of France."


def test_a_reply_that_ends_below_the_cap_is_spoken_whole_even_unpunctuated():
    h = _capped_harness(max_tokens=96)
    rec = _ask(h)
    assert rec.assistant == CAPPED_REPLY


def test_latency_breakdown_adds_up_to_voice_to_voice():
    # regression: the stage columns did not add up to voice-to-voice; the rest is its own field
    h = _capped_harness(max_tokens=96)
    lat = _ask(h).latency
    assert lat.other is not None and lat.other >= 0 and lat.hidden_by_speculation is not None
    parts = lat.endpoint_wait + lat.stt_wait + lat.llm_first_token + lat.tts_first_audio + lat.other
    assert parts - lat.hidden_by_speculation == pytest.approx(lat.voice_to_voice, abs=0.01)
    assert {"other", "hidden_by_speculation"} <= set(lat.as_dict())


# --- the first piece's speech goes first: the LLM waits while it is synthesised ------------
class _SlowFirstSynth:
    """Records how many tokens the LLM had handed out when each synthesis started and ended."""

    def __init__(self, inner, chat) -> None:
        self.inner, self.chat = inner, chat
        self.name, self.sample_rate_hz = inner.name, inner.sample_rate_hz
        self.tokens_at: list[tuple[int, int]] = []

    def synthesize(self, text: str, speed: float = 1.0):
        import time

        before = sum(self.chat.yielded)
        if not self.tokens_at:
            time.sleep(0.15)  # the first piece takes a while
        out = list(self.inner.synthesize(text, speed))
        self.tokens_at.append((before, sum(self.chat.yielded)))
        return iter(out)

    def warm_up(self) -> None:
        pass


class _SlowChat:
    """The fake LLM at 200 tokens/s (it would hand out ~30 tokens during the first synthesis)."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.name = inner.name

    @property
    def yielded(self) -> list[int]:
        return self.inner.yielded

    def stream(self, messages, options):
        import time

        for token in self.inner.stream(messages, options):
            time.sleep(0.005)
            yield token

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def warm_up(self, system_prompt: str) -> None:
        pass


def test_the_llm_waits_while_the_first_piece_is_synthesised():
    from dataclasses import replace

    long_reply = "Paris is the capital of France. " + " ".join(f"word{i}" for i in range(40)) + "."
    engines = FakeEngines({0.8: "What is the capital of France?"}, {"What is the capital of France?": long_reply})
    engines.chat = _SlowChat(engines.chat)
    engines.speaker = _SlowFirstSynth(engines.speaker, engines.chat)
    h = Harness(Conversation, engines, replace(OPTIONS, semantic_turn=None))
    rec = _ask(h)
    (first_start, first_end), *_ = engines.speaker.tokens_at
    assert first_end - first_start <= 1  # at most the token already in flight
    assert rec.assistant == long_reply  # and the rest of the reply still came


def test_without_smart_turn_installed_turns_end_after_silence_with_a_one_line_notice():
    from dataclasses import replace

    from voicecli.pipeline.session import SMART_TURN_MISSING, load_turn_model

    notes: list[str] = []
    assert load_turn_model(replace(OPTIONS, smart_turn_model=None), notes.append) is None
    assert notes == [SMART_TURN_MISSING] and "\n" not in SMART_TURN_MISSING
    assert load_turn_model(replace(OPTIONS, semantic_turn=None), notes.append) is None  # not asked for
    assert len(notes) == 1


def test_a_broken_smart_turn_file_is_a_notice_not_a_crash(tmp_path):
    from dataclasses import replace

    from voicecli.pipeline.session import load_turn_model

    bad = tmp_path / "smart-turn.onnx"
    bad.write_bytes(b"not a model")
    notes: list[str] = []
    assert load_turn_model(replace(OPTIONS, smart_turn_model=bad), notes.append) is None
    assert len(notes) == 1 and "silence alone" in notes[0]


def hold_transcripts(h: Harness, gate: threading.Event) -> None:
    """Every transcript waits (up to 3 s) until ``gate`` is set: words late in the pause."""
    real = h.engines.transcriber.transcribe

    def slow(audio, options):
        gate.wait(3)
        return real(audio, options)

    h.engines.transcriber.transcribe = slow


def test_a_question_transcribed_after_the_first_checkpoint_ends_the_turn_when_its_words_arrive():
    # the transcript is not ready at 200 ms: the model is not asked beside it (it would take a
    # core from the speculative reply); the words arrive later in the pause and end the turn
    # then, not at the 600 ms checkpoint, and the model is never asked
    model = FakeTurnModel({0.6: 0.01})
    gate = threading.Event()

    async def scenario() -> None:
        async with harness(model) as h:
            hold_transcripts(h, gate)
            await h.silence(3)
            await h.speak(0.6, 10)
            await h.silence(CHECK_FRAMES)  # the checkpoint: no transcript yet
            await asyncio.sleep(0.1)
            assert not records(h) and model.calls == []
            gate.set()  # the transcript arrives, 12 frames before the next checkpoint
            await until(lambda: records(h), what="turn ended by the words")
            assert h.vad.frames == 3 + 10 + CHECK_FRAMES
        assert [r.user for r in records(h)] == ["call my mother?"]
        assert model.calls == []
    run(scenario)


def test_words_that_arrive_late_and_settle_nothing_ask_the_model_then():
    # "ask not what your country can do for you." settles nothing by its words: once it arrives
    # the model is asked (with the checkpoint's audio) and its "complete" ends the turn
    model = FakeTurnModel({0.8: 0.95})
    gate = threading.Event()

    async def scenario() -> None:
        async with harness(model) as h:
            hold_transcripts(h, gate)
            await h.silence(3)
            await h.speak(0.8, 10)
            await h.silence(CHECK_FRAMES)
            await asyncio.sleep(0.1)
            assert model.calls == [] and not records(h)
            gate.set()
            await until(lambda: records(h), what="turn ended by the model after the words")
            assert h.vad.frames == 3 + 10 + CHECK_FRAMES
        assert model.calls == [0.8]
    run(scenario)


def test_the_next_reply_prompt_is_evaluated_ahead_once_a_reply_ends():
    # the history and the user's next message (empty so far) go to the model while it is idle,
    # so the next reply only evaluates the words it was not told yet
    model = FakeTurnModel({0.8: 0.95})

    async def scenario() -> None:
        async with harness(model) as h:
            await h.silence(3)
            await h.speak(0.8, 10)
            await h.silence(CHECK_FRAMES)
            await until(lambda: records(h), what="a turn")
            await until(lambda: h.engines.chat.prefilled, what="a prefill after the reply")
        (rec,) = records(h)
        last = h.engines.chat.prefilled[-1]
        assert [m.role for m in last][-3:] == ["user", "assistant", "user"]
        assert last[-3].content == rec.user and last[-2].content == rec.assistant and last[-1].content == ""
    run(scenario)


async def pause_with_first_audio_held(h: Harness, silence_frames: int) -> threading.Event:
    """Speak phrase 0.8 and pause ``silence_frames`` while the speculative reply's second token
    (so its first audio) waits for the returned event."""
    hold = h.engines.chat.hold = threading.Event()
    await h.silence(3)
    await h.speak(0.8, 10)
    await h.silence(silence_frames)
    return hold


def test_the_model_waits_for_the_speculative_reply_s_first_audio():
    # on two cores a Smart Turn run beside the reply's first tokens slowed both; the verdict is
    # asked once the reply's first audio is ready (it plays the moment the verdict says complete)
    model = FakeTurnModel({0.8: 0.95})

    async def scenario() -> None:
        async with harness(model) as h:
            hold = await pause_with_first_audio_held(h, CHECK_FRAMES)
            await asyncio.sleep(0.1)
            assert model.calls == [] and not records(h)
            hold.set()
            await until(lambda: records(h), what="turn ended by the model after the first audio")
            assert model.calls == [0.8]
            assert h.vad.frames == 3 + 10 + CHECK_FRAMES
    run(scenario)


def test_the_model_waits_for_the_first_audio_only_so_long():
    from voicecli.pipeline.turn_end import MODEL_WAIT_MAX_S

    model = FakeTurnModel({0.8: 0.95})

    async def scenario() -> None:
        async with harness(model) as h:
            hold = await pause_with_first_audio_held(h, CHECK_FRAMES)
            await until(lambda: model.calls, timeout_s=MODEL_WAIT_MAX_S + 1, what="the model asked anyway")
            hold.set()
            await until(lambda: records(h), what="turn answered")
    run(scenario)


def test_a_check_of_a_pause_an_earlier_verdict_ended_runs_no_model():
    # the 600 ms check queues behind the 200 ms one (which waits for the first audio); once the
    # 200 ms verdict has ended the turn, the model is not run again beside the reply
    model = FakeTurnModel({0.8: 0.95})

    async def scenario() -> None:
        async with harness(model) as h:
            hold = await pause_with_first_audio_held(h, 19)  # both checkpoints, 200 and 600 ms
            await until(lambda: records(h) or model.calls, timeout_s=2, what="the first check ran")
            hold.set()
            await until(lambda: records(h), what="turn answered")
            await asyncio.sleep(0.1)
        assert model.calls == [0.8]
    run(scenario)
