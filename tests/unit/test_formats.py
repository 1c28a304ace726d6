"""Format writers against exact expected files (openai-whisper's layouts)."""

from __future__ import annotations

import json

import pytest

from voicecli.stt.formats import FORMATS, format_timestamp, render, to_dict
from voicecli.stt.types import Segment, Transcription, Word

T = Transcription(
    text="Hello there. General --> Kenobi\tyes.",
    language="en", language_probability=0.987654, duration_s=3725.25,
    segments=(
        Segment(0, 0.0, 1.0, " Hello there."),
        Segment(1, 1.0, 3723.4567, " General --> Kenobi\tyes."),
    ))

WORDS = Transcription(
    text="Hi you.", language="en", language_probability=1.0, duration_s=2.0,
    segments=(Segment(0, 0.5, 1.5, " Hi you.", words=(Word(0.5, 0.9, " Hi", 0.91234), Word(1.0, 1.5, " you.", 0.8))),))


@pytest.mark.parametrize("seconds,marker,expected", [
    (0.0, ",", "00:00:00,000"),
    (1.0, ",", "00:00:01,000"),
    (1.0, ".", "00:00:01.000"),
    (61.0004, ".", "00:01:01.000"),   # nearest millisecond
    (59.9996, ".", "00:01:00.000"),   # rounding carries into minutes
    (3723.4567, ",", "01:02:03,457"),
    (-0.2, ".", "00:00:00.000"),      # never negative
    (360000.0, ".", "100:00:00.000"),
])
def test_format_timestamp(seconds, marker, expected):
    assert format_timestamp(seconds, marker) == expected


def test_txt():
    assert render(T, "txt") == "Hello there.\nGeneral --> Kenobi\tyes.\n"


def test_srt():
    assert render(T, "srt") == (
        "1\n00:00:00,000 --> 00:00:01,000\nHello there.\n"
        "\n"
        "2\n00:00:01,000 --> 01:02:03,457\nGeneral -> Kenobi\tyes.\n")


def test_vtt():
    assert render(T, "vtt") == (
        "WEBVTT\n\n"
        "00:00:00.000 --> 00:00:01.000\nHello there.\n"
        "\n"
        "00:00:01.000 --> 01:02:03.457\nGeneral -> Kenobi\tyes.\n")


def test_tsv_integer_milliseconds_and_no_tabs_in_text():
    assert render(T, "tsv") == ("start\tend\ttext\n"
                                "0\t1000\tHello there.\n"
                                "1000\t3723457\tGeneral --> Kenobi yes.\n")


def test_json_without_words():
    doc = json.loads(render(T, "json"))
    assert doc == {
        "text": "Hello there. General --> Kenobi\tyes.", "language": "en", "language_probability": 0.9877,
        "duration": 3725.25,
        "segments": [{"id": 0, "start": 0.0, "end": 1.0, "text": "Hello there."},
                     {"id": 1, "start": 1.0, "end": 3723.457, "text": "General --> Kenobi\tyes."}]}


def test_json_with_words():
    assert to_dict(WORDS)["segments"][0]["words"] == [
        {"start": 0.5, "end": 0.9, "word": "Hi", "probability": 0.9123},
        {"start": 1.0, "end": 1.5, "word": "you.", "probability": 0.8}]


def test_json_keeps_non_ascii_readable():
    t = Transcription("Бедняга", "ru", 0.9, 1.0, (Segment(0, 0, 1, " Бедняга"),))
    assert "Бедняга" in render(t, "json")


@pytest.mark.parametrize("fmt", FORMATS)
def test_empty_transcription_is_still_a_valid_file(fmt):
    empty = Transcription("", "en", 1.0, 0.0, ())
    text = render(empty, fmt)
    assert text == {"txt": "", "srt": "", "vtt": "WEBVTT\n\n", "tsv": "start\tend\ttext\n"}.get(fmt, text)
    if fmt == "json":
        assert json.loads(text)["segments"] == []


def test_unknown_format():
    with pytest.raises(ValueError, match="unknown format 'doc'"):
        render(T, "doc")


# ---------------------------------------------------------------- the batch job (voicecli/stt/jobs.py)
# Kept here with the writers it feeds; a fake transcriber, no model.

import numpy as np  # noqa: E402

from voicecli.errors import AudioInputError, ConfigError, NoSpeechError  # noqa: E402
from voicecli.stt.jobs import TranscribeJob, output_stem  # noqa: E402
from voicecli.stt.types import TranscribeOptions, TranscriptionInfo  # noqa: E402


class FakeTranscriber:
    name = "fake.en"
    is_multilingual = False

    def __init__(self, texts: list[str]):
        self.texts = texts
        self.calls = 0

    def transcribe_stream(self, audio, options):
        self.calls += 1
        duration = len(audio) / 16000
        text = self.texts[(self.calls - 1) % len(self.texts)]
        if text == "boom":
            raise RuntimeError("CUDA out of memory")
        segs = [Segment(0, 0.0, duration / 2, f" {text}"), Segment(1, duration / 2, duration, " end.")] if text else []
        return TranscriptionInfo("en", 1.0, duration), iter(segs)


class Recorder:
    def __init__(self):
        self.events = []

    def started(self, label, duration_s):
        self.events.append(("started", label, duration_s))

    def advanced(self, position_s):
        self.events.append(("advanced", position_s))

    def finished(self):
        self.events.append(("finished",))


@pytest.fixture
def wav(tmp_path):
    from tests.helpers import write_wav

    return write_wav(tmp_path / "speech.wav", np.full(16000 * 2, 0.1, np.float32))


def test_job_loads_the_model_once_and_keeps_going_after_bad_inputs(wav, tmp_path):
    fake, loads = FakeTranscriber(["hello", "", "boom", "again"]), []
    progress = Recorder()
    job = TranscribeJob(lambda: loads.append(1) or fake, TranscribeOptions(), progress)
    results = job.run([str(wav), str(tmp_path / "missing.wav"), str(wav), str(wav), str(wav)])
    assert len(loads) == 1
    assert [r.ok for r in results] == [True, False, False, False, True]
    assert results[0].transcription.text == "hello end." and results[0].audio_s == 2.0
    assert isinstance(results[1].error, AudioInputError) and "no such file" in results[1].error.message
    assert isinstance(results[2].error, NoSpeechError) and results[2].error.message == f"{wav}: no speech found"
    assert "transcription failed (RuntimeError: CUDA out of memory)" in results[3].error.message
    assert isinstance(results[3].error.__cause__, RuntimeError)  # --verbose shows its traceback
    assert results[4].transcription.text == "again end."
    assert progress.events[:4] == [("started", str(wav), 2.0), ("advanced", 1.0), ("advanced", 2.0), ("finished",)]


def test_job_never_loads_a_model_for_only_bad_inputs(tmp_path):
    def no_model():
        raise AssertionError("must not load")

    results = TranscribeJob(no_model, TranscribeOptions()).run([str(tmp_path), str(tmp_path / "x.mp3")])
    assert [r.error.message for r in results] == [f"{tmp_path}: is a directory, not an audio file",
                                                   f"{tmp_path / 'x.mp3'}: no such file"]


def test_job_reads_stdin_once_for_dash(wav):
    fake = FakeTranscriber(["from stdin"])
    job = TranscribeJob(lambda: fake, TranscribeOptions(), read_stdin=lambda: wav.read_bytes())
    (result,) = job.run(["-"])
    assert result.ok and result.label == "<stdin>" and output_stem("-") == "stdin"
    empty = TranscribeJob(lambda: fake, TranscribeOptions(), read_stdin=lambda: b"").run(["-"])[0]
    assert empty.error.message == "<stdin>: no data (empty input)"


def test_job_refuses_a_language_the_model_cannot_do(wav):
    job = TranscribeJob(lambda: FakeTranscriber(["x"]), TranscribeOptions(language="fr"))
    with pytest.raises(ConfigError, match="English-only"):
        job.run([str(wav)])
