"""Speech chunk planning and the skipped-tail repair, with fake decodes (no models): the mechanism
behind "``transcribe --batched`` and plain give the same words, and neither drops a sentence"."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from voicecli.stt.chunked_whisper import with_skipped_tails
from voicecli.stt.speech_chunks import ChunkParams, Span, chunk_index, plan_chunks, repeats, skipped_tail, wants_vad

P = ChunkParams(max_chunk_s=20.0, merge_gap_s=2.0, skipped_tail_s=1.0)


@dataclass
class Seg:
    start: float
    end: float
    text: str


def spans(*pairs: tuple[float, float]) -> list[Span]:
    return [Span(a, b) for a, b in pairs]


@pytest.mark.parametrize("regions,chunks", [
    ([], []),
    ([(0, 5)], [(0, 5)]),
    ([(0, 5), (6, 9)], [(0, 9)]),                     # a 1 s pause: decoded together
    ([(0, 5), (8, 9)], [(0, 5), (8, 9)]),             # a 3 s pause: apart
    ([(0, 12), (13, 19), (19.5, 25)], [(0, 19), (19.5, 25)]),  # never longer than 20 s
    ([(0, 20), (20, 40)], [(0, 20), (20, 40)]),       # speech the VAD capped at 20 s stays as cut
])
def test_plan_chunks(regions, chunks):
    assert plan_chunks(spans(*regions), P) == spans(*chunks)


@pytest.mark.parametrize("chunk,until,tail", [
    ((10, 20), 19.6, None),           # stopped within the padding: nothing lost
    ((10, 20), 18.5, (18.5, 20)),     # 1.5 s never read
    ((10, 20), None, (10, 20)),       # no segment at all
    ((10, 20), 21.0, None),           # a timestamp past the chunk
])
def test_skipped_tail(chunk, until, tail):
    assert skipped_tail(Span(*chunk), until, P) == (Span(*tail) if tail else None)


def test_chunk_index_follows_segments_in_order():
    chunks = spans((0, 10), (12, 20), (30, 35))
    assert chunk_index(chunks, 3.0, 0) == 0
    assert chunk_index(chunks, 11.7, 0) == 1  # a segment may start a little before its chunk
    assert chunk_index(chunks, 31.0, 0) == 2
    assert chunk_index(chunks, 5.0, 2) == 2   # never backwards


@pytest.mark.parametrize("text,before,repeat", [
    ("young man.", "He was not an ill disposed young man.", True),
    ("He was not", "He was here. Not an ill disposed young man.", False),
    ("Ten of clubs.", "Seven of hearts.", False),
    ("", "anything", True),
])
def test_repeats(text, before, repeat):
    assert repeats(text, before) is repeat


def test_a_chunk_whose_transcript_stops_early_is_decoded_again_from_there():
    # The batched bug: the second chunk's decode stopped at 14 s; "ten of clubs" (16-19 s) was lost.
    chunks = spans((0, 10), (12, 20), (22, 30))
    first = [Seg(0, 9.8, "one"), Seg(12, 14, "two"), Seg(22, 29.7, "four")]
    asked: list[Span] = []

    def decode_again(span: Span) -> list[Seg]:
        asked.append(span)
        return [Seg(span.start_s + 2, span.end_s - 1, "ten of clubs")]

    out = list(with_skipped_tails(iter(first), chunks, decode_again, P))
    assert [s.text for s in out] == ["one", "two", "ten of clubs", "four"]
    assert asked == [Span(14, 20)]


def test_a_repeated_tail_is_dropped_and_the_last_chunk_is_checked_too():
    chunks = spans((0, 10), (12, 20))
    first = [Seg(0, 9.8, "ask not what your country can do"), Seg(12, 15, "for you")]
    out = list(with_skipped_tails(iter(first), chunks, lambda span: [Seg(15, 19, "for you")], P))
    assert [s.text for s in out] == ["ask not what your country can do", "for you"]


@pytest.mark.parametrize("retry_empty,expected", [(True, ["again"]), (False, [])])
def test_an_empty_chunk_is_decoded_again_only_when_asked(retry_empty, expected):
    out = list(with_skipped_tails(iter([]), spans((0, 5)), lambda span: [Seg(0, 4, "again")], P,
                                  retry_empty=retry_empty))
    assert [s.text for s in out] == expected


@pytest.mark.parametrize("duration,explicit,vad", [
    (12.0, None, False), (30.0, None, False), (30.1, None, True), (600.0, None, True),
    (12.0, True, True), (600.0, False, False),
])
def test_vad_by_default_only_for_long_audio(duration, explicit, vad):
    assert wants_vad(duration, explicit) is vad
