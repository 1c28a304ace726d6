"""The pure pieces behind the terminal screens (issue 16): help placeholders and summaries, path
and word fitting, latency lines, the live screen's wrapping and scrolling, the --text line
editor, escape keys, pactl parsing, and Ctrl-C hidden behind an ImportError. No models."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from rich.console import Console

from voicecli.audio.sound_server import parse_info, parse_short_list
from voicecli.cli.common import caused_by_interrupt
from voicecli.cli.help import summary
from voicecli.cli.tables import shorten_path
from voicecli.pipeline.events import (
    AssistantState,
    Latency,
    ReplyDelta,
    StateChanged,
    TurnCompleted,
    TurnRecord,
    UserTranscribed,
)
from voicecli.tui.keys import parse_escape
from voicecli.tui.latency import latency_lines, pack
from voicecli.tui.text_input import LineEditor
from voicecli.tui.textfit import clip_words
from voicecli.tui.view import (
    PTT_WAITING,
    TalkView,
    conversation_rows,
    render,
    scroll_limit,
    transcript,
    wrap_conversation,
)

LONG_REPLY = " ".join(f"Sentence number {i} of a long story about a lighthouse keeper and the storm." for i in range(40))


@pytest.mark.parametrize("text,expected", [
    ("List models.", "List models."),
    ("Measure VAD, STT (latency, RTF) and\n    voice-to-voice latency. More here.", "Measure VAD, STT (latency, RTF) and voice-to-voice latency."),
    ("Serve /v1/models, llama.cpp etc\n\nSecond paragraph.", "Serve /v1/models, llama.cpp etc"),
])
def test_summary_is_the_first_sentence_on_one_line(text, expected):
    assert summary(text) == expected


@pytest.mark.parametrize("path,width,expected", [
    ("/a/b/model.onnx", 40, "/a/b/model.onnx"),
    ("/work/main/.venv/lib/python3.11/site-packages/joe/data/en_US-joe-medium.onnx", 30, "…/data/en_US-joe-medium.onnx"),
    ("/x/averyveryverylongfilename.gguf", 12, "…lename.gguf"),
])
def test_shorten_path_keeps_the_end_and_cuts_at_slashes(path, width, expected):
    out = shorten_path(path, width)
    assert out == expected and len(out) <= width


def test_shorten_path_shows_home_as_tilde(monkeypatch):
    monkeypatch.setenv("HOME", "/home/ann")
    assert shorten_path("/home/ann/.cache/voicecli/whisper", 80) == "~/.cache/voicecli/whisper"


@pytest.mark.parametrize("text,n,expected", [
    ("What is the capital of France?", 40, "What is the capital of France?"),
    ("Tell me a long story about a lighthouse keeper", 20, "Tell me a long…"),
    ("Tell me a long story", 15, "Tell me a long…"),  # the cut falls on a space: the word before is whole
    ("Supercalifragilistic", 8, "Superca…"),
])
def test_clip_words_cuts_after_a_word_with_an_ellipsis(text, n, expected):
    out = clip_words(text, n)
    assert out == expected and len(out) <= n


def test_latency_lines_show_every_stage_and_break_between_stages():
    lat = Latency(endpoint_wait=400, stt=120.4, stt_wait=0, llm_first_token=300, tts_first_audio=90,
                  voice_to_voice=910).as_dict()
    lines = latency_lines(lat, 60)
    joined = " ".join(line.strip() for line in lines)
    for label in ("endpoint 400 ms", "stt 120 ms", "stt wait 0 ms", "llm 1st token 300 ms", "tts 1st audio 90 ms",
                  "voice-to-voice 910 ms"):
        assert label in joined
    assert all(len(line) <= 60 for line in lines) and len(lines) > 1
    assert pack(["a", "b"], 10) == ["a · b"]


def _view_with_long_reply() -> TalkView:
    view = TalkView()
    view.apply(UserTranscribed(1, "Tell me a long story."))
    rec = TurnRecord(1, "Tell me a long story.", LONG_REPLY, False, LONG_REPLY, time.time(), time.time(),
                     Latency(voice_to_voice=900))
    view.apply(TurnCompleted(rec))
    return view


def _screen_text(view: TalkView, width: int, height: int) -> list[str]:
    console = Console(width=width, height=height, record=True, color_system=None, legacy_windows=False)
    with console.capture() as cap:
        console.print(render(view, height, width))
    return cap.get().splitlines()


@pytest.mark.parametrize("width,height", [(80, 24), (100, 30)])
def test_live_screen_wraps_a_long_reply_shows_the_newest_and_scrolls_to_all_of_it(width, height):
    view = _view_with_long_reply()
    screen = _screen_text(view, width, height)
    assert len(screen) <= height and all(len(line) <= width for line in screen)
    newest = wrap_conversation(view, width - 4)[-1].plain.strip()
    assert LONG_REPLY.endswith(newest) and newest in "\n".join(screen)  # the newest line is in view
    assert "more above" in screen[4]  # the panel title says there is more
    seen: list[str] = []
    limit = scroll_limit(view, width, height)
    assert limit > 0
    for offset in range(limit, -1, -1):  # scroll from the top down, one line at a time
        view.scroll = offset
        body = [line[2:-2].rstrip() for line in _screen_text(view, width, height)[5:5 + conversation_rows(view, height)]]
        seen += body if offset == 0 else body[:1]
    words = " ".join(line.replace("bot:", "").replace("you:", "") for line in seen).split()
    assert " ".join(words).endswith(LONG_REPLY) and "…" not in " ".join(words)


def test_wrapped_lines_never_split_a_word():
    view = _view_with_long_reply()
    vocabulary = set(LONG_REPLY.split()) | {"you:", "bot:", "Tell", "me", "a", "long", "story."}
    for line in wrap_conversation(view, 37):
        assert set(line.plain.split()) <= vocabulary


def test_partial_reply_and_transcript_after_quitting():
    view = TalkView()
    view.apply(StateChanged(AssistantState.SPEAKING))
    view.apply(ReplyDelta(1, "Once upon a time"))
    lines = [t.plain for t in transcript(view, 80)]
    assert lines == ["assistant: Once upon a time [cut off]"]


def test_a_reply_cut_short_by_the_next_question_stays_under_its_own_question():
    view = TalkView()
    view.apply(UserTranscribed(1, "Tell me a story."))
    view.apply(ReplyDelta(1, "Once upon"))
    view.apply(UserTranscribed(2, "What is two plus two?"))  # typed while the first reply was spoken
    view.apply(ReplyDelta(2, "Four"))
    view.apply(ReplyDelta(1, " a time"))  # late piece of the interrupted reply
    view.apply(TurnCompleted(TurnRecord(1, "Tell me a story.", "Once upon", True, "Once upon a time", 0.0, 0.0,
                                        Latency(voice_to_voice=800))))
    assert [(m.speaker, m.turn) for m in view.lines] == [("you", 1), ("assistant", 1), ("you", 2)]
    assert view.partial_reply == "Four"
    lines = [t.plain for t in transcript(view, 80)]
    assert lines == ["you: Tell me a story.", "assistant: Once upon [interrupted]", "  latency: voice-to-voice 800 ms",
                     "you: What is two plus two?", "assistant: Four [cut off]"]


def test_push_to_talk_waiting_says_press_space():
    view = TalkView(ptt_open=False)
    screen = "\n".join(_screen_text(view, 80, 24))
    assert PTT_WAITING in screen and "LISTENING" not in screen
    view.ptt_open = True
    assert "LISTENING" in "\n".join(_screen_text(view, 80, 24))


def test_text_mode_shows_the_prompt_and_the_typed_line():
    view = TalkView(input=LineEditor())
    for key in "Hello thre":
        view.input.feed(key)
    view.input.feed("\x7f")
    view.input.feed("e")
    screen = "\n".join(_screen_text(view, 80, 24))
    assert "> Hello thre" in screen and "Enter sends" in screen and "READY" in screen and "dBFS" not in screen
    assert view.input.feed("\r") == "Hello thre"[:-1] + "e" and view.input.text == ""


@pytest.mark.parametrize("keys,line", [("hi\r", "hi"), ("  \r", None), ("abc\x15x\n", "x"), ("é!\r", "é!")])
def test_line_editor(keys, line):
    editor = LineEditor()
    results = [editor.feed(k) for k in keys]
    assert results[-1] == line


@pytest.mark.parametrize("sequence,name", [("[A", "up"), ("[B", "down"), ("[5~", "pgup"), ("[6~", "pgdn"),
                                           ("", "esc"), ("[Z", None), ("OB", "down")])
def test_escape_sequences(sequence, name):
    assert parse_escape(sequence) == name


PACTL_SOURCES = "0\tspk.monitor\tmodule-null-sink.c\ts16le 2ch 44100Hz\tIDLE\n2\tmic\tmodule-remap-source.c\ts16le 1ch 48000Hz\tIDLE\n"
PACTL_INFO = "Server Name: PulseAudio (on PipeWire 1.0.5)\nServer Version: 15.0.0\nDefault Sink: spk\nDefault Source: mic\n"


def test_pactl_parsing():
    name, source, sink = parse_info(PACTL_INFO)
    assert (name, source, sink) == ("PipeWire 1.0.5", "mic", "spk")
    devices = parse_short_list(PACTL_SOURCES, "input", source)
    assert [(d.name, d.channels, d.rate_hz, d.is_default, d.is_monitor) for d in devices] == [
        ("spk.monitor", 2, 44100, False, True), ("mic", 1, 48000, True, False)]


def test_ctrl_c_inside_a_native_import_counts_as_an_interrupt():
    try:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as inner:
            raise ImportError("initialization failed") from inner
    except ImportError as exc:
        assert caused_by_interrupt(exc)
    assert not caused_by_interrupt(ImportError("No module named 'x'"))


def test_config_shows_the_resolved_history_path(tmp_path):
    from voicecli.config import explain, resolve

    rows = {r.key: r for r in explain(resolve({}, env={}, file=tmp_path / "none.toml"))}
    assert Path(rows["history.path"].value).name == "history.sqlite3" and rows["history.path"].source == "default"
    rows = {r.key: r for r in explain(resolve({"history.path": str(tmp_path / "h.db")}, env={},
                                              file=tmp_path / "none.toml"))}
    assert rows["history.path"].value == str(tmp_path / "h.db")
