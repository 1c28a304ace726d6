"""The speaker output's closing report: underflows (gaps in playback) are reported when a
healthy stream stops, not when the stream died with its device (the sound server went away):
then the device error is the one line the user sees."""

from __future__ import annotations

import logging

import pytest

from voicecli.audio.io import SpeakerOutput
from voicecli.audio.playback import Player


class _Stream:
    def __init__(self, active: bool) -> None:
        self.active = active

    def stop(self) -> None:
        pass

    def close(self) -> None:
        pass


@pytest.mark.parametrize("active,reported", [(True, True), (False, False)])
def test_underflows_are_reported_only_by_a_stream_that_did_not_die(caplog, active, reported):
    out = SpeakerOutput(Player(22050), device=None)
    out._stream = _Stream(active)
    out.underflows = 3
    with caplog.at_level(logging.WARNING, logger="voicecli.audio.io"):
        out.stop()
    assert any("3 underflows" in r.getMessage() for r in caplog.records) is reported
