"""REST subtitles come from the same writer as ``voicecli transcribe`` (stt/formats.py)."""

from __future__ import annotations

import pytest

from tests.unit.fake_engines import FakeEngines, FakeTranscriber, rest_client, wav_bytes
from voicecli.stt.formats import render
from voicecli.stt.types import Segment, Transcription

SEGMENTS = (Segment(0, 0.0, 0.5, " Turn left --> then right."), Segment(1, 0.5, 1.0, " Done."))


@pytest.mark.parametrize("fmt", ["srt", "vtt"])
def test_rest_subtitles_escape_arrow_like_transcribe(fmt):
    # Bug: REST had its own SRT/VTT writer without the "-->" escaping of stt/formats.py, so a
    # transcript containing "-->" produced a cue whose text looked like a timing line.
    with rest_client(FakeEngines(FakeTranscriber(SEGMENTS))) as client:
        r = client.post("/v1/audio/transcriptions", files={"file": ("a.wav", wav_bytes(), "audio/wav")},
                        data={"model": "whisper-1", "response_format": fmt})
    assert r.status_code == 200, r.text
    timing_lines = [line for line in r.text.splitlines() if "-->" in line]
    assert len(timing_lines) == len(SEGMENTS)
    assert "Turn left -> then right." in r.text
    expected = render(Transcription("Turn left --> then right. Done.", "en", 1.0, 1.0, SEGMENTS), fmt)
    assert r.text == expected
