"""Live partial transcripts: the LocalAgreement-2 policy (pure functions), the deltas built from
it, and the scheduler's rules (a pass only while speaking, only when the STT worker is idle,
never two at once, nothing after the utterance ends). The STT worker is a fake future here: the
scheduler's surroundings, not the unit under test."""

from __future__ import annotations

import concurrent.futures
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from voicecli.pipeline.events import UserPartialTranscript, event_to_json
from voicecli.pipeline.partials import (
    Agreement,
    PartialHooks,
    PartialParams,
    PartialTranscripts,
    agreed_words,
    newly_stable,
    params_for,
    partial_options,
    remainder,
)
from voicecli.stt.types import TranscribeOptions
from voicecli.vad.endpointer import SpeechPaused, SpeechResumed, SpeechStarted, UtteranceEnded


def test_agreed_words_compares_words_without_case_or_punctuation():
    assert agreed_words("Hello, there my".split(), "hello there, friend".split()) == 2
    assert agreed_words([], "a b".split()) == 0
    assert agreed_words("a b".split(), "c b".split()) == 0


def test_local_agreement_two_passes_must_agree_and_stable_never_shrinks():
    a = Agreement()
    assert a.update("the quick") == ("", "the quick")  # one pass: nothing agreed yet
    assert a.update("the quick brown") == ("the quick", "brown")
    assert a.update("the quick brown fox") == ("the quick brown", "fox")
    # whisper changes its mind about an agreed word: the stable prefix stays as published, and the
    # agreement goes on after it
    assert a.update("a quick brown fox jumps") == ("the quick brown fox", "jumps")
    assert a.update("a quick brown fox jumps over") == ("the quick brown fox jumps", "over")
    assert a.update("the quick brown fox jumps over the") == ("the quick brown fox jumps over", "the")


def test_local_agreement_goes_on_when_whisper_adds_a_first_word():
    a = Agreement()
    a.update("Mr. John Dashwood had")
    assert a.update("Mr. John Dashwood had then") == ("Mr. John Dashwood had", "then")
    assert a.update("And Mr. John Dashwood had then leisure") == ("Mr. John Dashwood had then", "leisure")
    assert a.update("And Mr. John Dashwood had then leisure to") == ("Mr. John Dashwood had then leisure", "to")

def test_local_agreement_a_one_word_flicker_is_never_stable():
    a = Agreement()
    for text in ("I want", "I went to", "I want to go", "I went to go"):
        stable, _ = a.update(text)
    assert stable == "I"


def test_newly_stable_deltas_concatenate():
    assert newly_stable("", "hello there") == "hello there"
    assert newly_stable("hello there", "hello there my friend") == " my friend"
    assert newly_stable("hello there", "hello there") == ""
    assert "" + "hello there" + " my friend" == "hello there my friend"


@pytest.mark.parametrize(("sent", "final", "rest"), [
    ("", "Hello there.", "Hello there."),
    ("hello there", "Hello there, my friend.", " my friend."),
    ("Hello there my", "Hello there, my friend.", " friend."),
    ("the quick brown", "A quick brown fox.", " fox."),  # a changed word stays as published
    ("the quick brown", "the quick brown", ""),
    ("one two three four", "one two", ""),  # the final dropped words: nothing to add
    ("set a timer", "Set a timer for five minutes.", " for five minutes."),
])
def test_remainder_completes_the_published_text(sent, final, rest):
    assert remainder(sent, final) == rest


def test_deltas_plus_remainder_read_as_the_final_text_when_the_passes_were_right():
    final = "And mister John Dashwood had then leisure to consider."
    a, sent = Agreement(), ""
    for n in (2, 3, 5, 6, 8):
        stable, _ = a.update(" ".join(final.split()[:n]))
        sent += newly_stable(sent, stable)
    assert sent + remainder(sent, final) == final


def test_partial_options_are_greedy_without_retry():
    conv = TranscribeOptions(language="en", beam_size=4, short_window_s=10.0, initial_prompt="Dashwood")
    o = partial_options(conv, 2.4)
    assert (o.beam_size, o.retry_unreliable, o.without_timestamps, o.initial_prompt) == (1, False, True, None)
    assert o.short_window_s == 5.0  # fits the audio, with room: the short path takes it
    assert partial_options(conv, 9.3).short_window_s == 10.0
    assert partial_options(TranscribeOptions(), 3.0).short_window_s is None  # no short window configured
    assert params_for(conv).max_audio_s == 9.5
    assert params_for(TranscribeOptions()).max_audio_s == 30.0


def test_partial_event_json_line():
    line = event_to_json(UserPartialTranscript(320.0, "hello there", "my"))
    assert line == {"type": "partial", "started_ms": 320, "stable": "hello there", "unstable": "my"}


# --- the scheduler ------------------------------------------------------------------------------
@dataclass
class Text:
    text: str


class FakeStt:
    """Passes the test finishes by hand; records what was asked."""

    def __init__(self) -> None:
        self.futures: list[concurrent.futures.Future[Any]] = []
        self.others_running = False

    def submit(self, audio: np.ndarray) -> concurrent.futures.Future[Any]:
        fut: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self.futures.append(fut)
        return fut

    def idle(self) -> bool:
        return not self.others_running and all(f.done() for f in self.futures)

    def finish(self, text: str) -> None:
        self.futures[-1].set_result((Text(text), 1.0))


def scheduler(audio_s: float = 2.0) -> tuple[PartialTranscripts, FakeStt, list[UserPartialTranscript]]:
    stt, emitted = FakeStt(), []
    audio = np.zeros(int(audio_s * 16000), np.float32)
    p = PartialTranscripts(PartialHooks(stt.submit, stt.idle, lambda: audio, emitted.append),
                           PartialParams(interval_s=0.32, min_audio_s=0.5, max_audio_s=9.5))
    return p, stt, emitted


def frames(p: PartialTranscripts, n: int, allowed: bool = True) -> None:
    for _ in range(n):
        p.frame([], allowed)


def test_scheduler_passes_while_speaking_and_publishes_agreed_words():
    p, stt, emitted = scheduler()
    p.frame([SpeechStarted(10, 20)], True)
    frames(p, 9)
    assert len(stt.futures) == 0  # 10 frames × 32 ms < 320 ms
    frames(p, 1)
    assert len(stt.futures) == 1
    stt.finish("hello there")
    frames(p, 10)
    assert emitted == [UserPartialTranscript(320.0, "", "hello there")]
    assert len(stt.futures) == 2
    stt.finish("hello there my")
    frames(p, 1)
    assert emitted[-1] == UserPartialTranscript(320.0, "hello there", "my")


def test_scheduler_never_queues_a_pass_behind_another_or_behind_other_stt_work():
    p, stt, _ = scheduler()
    p.frame([SpeechStarted(0, 10)], True)
    frames(p, 40)
    assert len(stt.futures) == 1  # the first pass has not returned: no second one
    stt.finish("hello")
    stt.others_running = True  # a speculative or final transcript runs
    frames(p, 40)
    assert len(stt.futures) == 1 and p.skipped > 0
    stt.others_running = False
    frames(p, 1)
    assert len(stt.futures) == 2


def test_scheduler_stops_at_a_pause_and_at_the_end_and_when_not_allowed():
    p, stt, emitted = scheduler()
    p.frame([SpeechStarted(0, 10)], True)
    frames(p, 10)
    assert len(stt.futures) == 1
    p.frame([SpeechPaused(20)], True)
    stt.finish("hello")
    frames(p, 40)
    assert len(stt.futures) == 1  # paused: no pass (the finished one still counts)
    assert emitted[-1].unstable == "hello"
    p.frame([SpeechResumed(70)], True)
    assert len(stt.futures) == 2
    p.frame([UtteranceEnded(0, 80, 95)], True)
    stt.finish("hello there")
    frames(p, 40)
    assert len(stt.futures) == 2 and len(emitted) == 1  # the pass that ran past the end is dropped
    p.frame([SpeechStarted(200, 210)], False)
    frames(p, 40, allowed=False)
    assert len(stt.futures) == 2  # a reply is running (or asleep): no partials


def test_scheduler_skips_utterances_too_short_or_too_long_for_a_pass():
    for audio_s in (0.2, 12.0):
        p, stt, _ = scheduler(audio_s)
        p.frame([SpeechStarted(0, 10)], True)
        frames(p, 40)
        assert stt.futures == []


def test_a_failed_pass_is_only_a_missing_preview():
    p, stt, emitted = scheduler()
    p.frame([SpeechStarted(0, 10)], True)
    frames(p, 10)
    stt.futures[-1].set_exception(RuntimeError("model failed"))
    frames(p, 10)
    assert emitted == [] and len(stt.futures) == 2


def test_talk_screen_shows_the_words_live_then_the_transcript():
    from rich.console import Console

    from voicecli.pipeline.events import UserSpeechStarted, UserTranscribed
    from voicecli.tui.view import TalkView, render

    def screen(view: TalkView) -> str:
        console = Console(width=80, height=24, record=True, color_system=None, legacy_windows=False)
        with console.capture() as cap:
            console.print(render(view, 24, 80))
        return cap.get()

    view = TalkView()
    view.apply(UserSpeechStarted(320.0))
    view.apply(UserPartialTranscript(320.0, "what is the", "weather"))
    assert "you: what is the weather …" in screen(view)
    view.apply(UserTranscribed(1, "What is the weather like?"))
    shown = screen(view)
    assert "you: What is the weather like?" in shown and "…" not in shown


def test_the_servers_stt_pool_says_when_it_is_idle_for_every_session():
    import threading

    from voicecli.server.state import CountingPool, SessionExecutor

    pool = CountingPool(1, "test-stt")
    mine, other = SessionExecutor(pool), SessionExecutor(pool)
    release = threading.Event()
    try:
        assert mine.idle() and pool.idle()
        fut = other.submit(release.wait, 10)
        assert not pool.idle() and not mine.idle()  # another session's transcript runs: no partial pass
        release.set()
        fut.result(timeout=10)
        deadline = time.monotonic() + 5  # the done callbacks run just after the result is set
        while not (pool.idle() and mine.idle()) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert pool.idle() and mine.idle()
    finally:
        release.set()
        pool.shutdown()


def test_partials_are_off_with_a_remote_stt_tier():
    """With --stt-url every pass would be an HTTP request to someone else's server (and a fault
    injected for the next request would hit a preview instead of the turn)."""
    from voicecli.config import Settings, SttConfig
    from voicecli.pipeline.options import conversation_options

    assert conversation_options(Settings()).partials
    assert not conversation_options(Settings(stt=SttConfig(partials=False))).partials
    assert not conversation_options(Settings(stt=SttConfig(url="http://127.0.0.1:9/v1"))).partials
