"""Settings → TranscribeOptions, by purpose (one mapper for every caller)."""

from __future__ import annotations

import dataclasses

import pytest

from voicecli.config import Settings, SttConfig
from voicecli.stt.options import transcribe_options
from voicecli.stt.types import TranscribeOptions


def _settings(**stt):
    return Settings(stt=SttConfig(**stt))


@pytest.mark.parametrize("stt,purpose,language,expected", [
    # files default to Whisper's beam 5 (issue 10: transcribe is not latency-bound)
    ({}, "file", None, TranscribeOptions(language=None, beam_size=5)),
    ({"language": "de", "beam_size": 1}, "file", None, TranscribeOptions(language="de", beam_size=1)),
    ({"language": "de"}, "file", "en", TranscribeOptions(language="en", beam_size=5)),
    # conversations have their own beam (the best WER that fits in the end-of-turn silence)
    ({}, "conversation", None,
     TranscribeOptions(language=None, beam_size=4, without_timestamps=True, short_window_s=10.0)),
    ({"short_window_s": 0.0}, "conversation", None,
     TranscribeOptions(beam_size=4, without_timestamps=True, short_window_s=None)),
    ({"short_window_s": 30.0}, "conversation", None,
     TranscribeOptions(beam_size=4, without_timestamps=True, short_window_s=None)),
    ({"short_window_s": 6.5, "language": "fr", "beam_size": 1, "conversation_beam_size": 2}, "conversation", None,
     TranscribeOptions(language="fr", beam_size=2, without_timestamps=True, short_window_s=6.5)),
])
def test_transcribe_options_by_purpose(stt, purpose, language, expected):
    assert transcribe_options(_settings(**stt), purpose=purpose, language=language) == expected


def test_only_conversations_get_the_short_window():
    s = _settings(short_window_s=10.0)
    assert transcribe_options(s, purpose="file").short_window_s is None
    assert transcribe_options(s, purpose="conversation").short_window_s == 10.0


def test_request_fields_are_added_by_the_caller():
    opts = dataclasses.replace(transcribe_options(_settings(), purpose="file"), word_timestamps=True)
    assert opts.word_timestamps and opts.beam_size == 5


def test_unknown_purpose_is_refused():
    with pytest.raises(ValueError):
        transcribe_options(_settings(), purpose="podcast")  # type: ignore[arg-type]


def test_digital_silence_is_not_transcribed_regression_beam_5_heard_you():
    # regression: with beam 5 (the new file default) Whisper "heard" " You" in 4 s of zeros
    import numpy as np

    from voicecli.stt.faster_whisper_backend import _silent

    assert _silent(np.zeros(64000, np.float32))
    assert _silent(np.full(100, 1e-4, np.float32))
    assert not _silent(np.full(100, 0.01, np.float32))
