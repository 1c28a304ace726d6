"""SRT and WebVTT bodies from transcript segments."""

from __future__ import annotations

from collections.abc import Sequence

from voicecli.stt.types import Segment


def _timestamp(seconds: float, sep: str) -> str:
    ms = max(0, int(round(seconds * 1000)))
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def srt(segments: Sequence[Segment]) -> str:
    blocks = [f"{i}\n{_timestamp(s.start, ',')} --> {_timestamp(s.end, ',')}\n{s.text.strip()}\n"
              for i, s in enumerate(segments, start=1)]
    return "\n".join(blocks)


def vtt(segments: Sequence[Segment]) -> str:
    blocks = [f"{_timestamp(s.start, '.')} --> {_timestamp(s.end, '.')}\n{s.text.strip()}\n" for s in segments]
    return "WEBVTT\n\n" + "\n".join(blocks)
