"""Transcript writers: pure functions from a :class:`Transcription` to the text of one file.

The formats follow openai-whisper's writers (``whisper/utils.py``), so files are
interchangeable with its output: txt is one stripped segment per line; srt and vtt cues carry
``HH:MM:SS,mmm`` / ``HH:MM:SS.mmm`` times; tsv is ``start<TAB>end<TAB>text`` in integer
milliseconds; json has ``text``, ``language``, ``duration`` and ``segments`` (with ``words``
when word timestamps were requested)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from voicecli.stt.types import Segment, Transcription

FORMATS: tuple[str, ...] = ("txt", "srt", "vtt", "json", "tsv")
"""Every output format; ``--format all`` writes each of them."""


def format_timestamp(seconds: float, decimal_marker: str = ".") -> str:
    """``HH:MM:SS<marker>mmm``, rounded to the millisecond (never negative)."""
    total_ms = max(0, round(seconds * 1000.0))
    hours, rest = divmod(total_ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, ms = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{decimal_marker}{ms:03d}"


def _cue_text(segment: Segment) -> str:
    # "-->" inside a cue would end the timing line for srt/vtt readers.
    return segment.text.strip().replace("-->", "->")


def to_txt(t: Transcription) -> str:
    return "".join(f"{s.text.strip()}\n" for s in t.segments)


def to_srt(t: Transcription) -> str:
    cues = []
    for i, s in enumerate(t.segments, start=1):
        cues.append(f"{i}\n{format_timestamp(s.start, ',')} --> {format_timestamp(s.end, ',')}\n"
                    f"{_cue_text(s)}\n")
    return "\n".join(cues)


def to_vtt(t: Transcription) -> str:
    cues = [f"{format_timestamp(s.start)} --> {format_timestamp(s.end)}\n{_cue_text(s)}\n"
            for s in t.segments]
    return "WEBVTT\n\n" + "\n".join(cues)


def to_tsv(t: Transcription) -> str:
    rows = ["start\tend\ttext\n"]
    for s in t.segments:
        text = s.text.strip().replace("\t", " ")
        rows.append(f"{round(1000 * s.start)}\t{round(1000 * s.end)}\t{text}\n")
    return "".join(rows)


def to_dict(t: Transcription) -> dict[str, Any]:
    """The JSON document as a dict. ``words`` appear only when the segments carry them
    (``--word-timestamps``)."""
    with_words = any(s.words for s in t.segments)
    segments = []
    for s in t.segments:
        seg: dict[str, Any] = {"id": s.id, "start": round(s.start, 3), "end": round(s.end, 3), "text": s.text.strip()}
        if with_words:
            seg["words"] = [{"start": round(w.start, 3), "end": round(w.end, 3), "word": w.word.strip(),
                             "probability": round(w.probability, 4)} for w in s.words]
        segments.append(seg)
    return {"text": t.text, "language": t.language,
            "language_probability": round(t.language_probability, 4),
            "duration": round(t.duration_s, 3), "segments": segments}


def to_json(t: Transcription) -> str:
    return json.dumps(to_dict(t), ensure_ascii=False, indent=2) + "\n"


WRITERS: dict[str, Callable[[Transcription], str]] = {
    "txt": to_txt, "srt": to_srt, "vtt": to_vtt, "json": to_json, "tsv": to_tsv,
}


def render(t: Transcription, fmt: str) -> str:
    """The file text of ``t`` in ``fmt`` (one of :data:`FORMATS`)."""
    try:
        return WRITERS[fmt](t)
    except KeyError:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}") from None
