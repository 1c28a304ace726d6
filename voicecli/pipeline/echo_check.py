"""Is a heard utterance the assistant's own voice? Pure functions over a candidate's transcript,
what was just played, and how much of the utterance the loudspeaker explains acoustically.

An echo that leaks past the canceller is transcribed as a run of the words just played, often
garbled ("the island of the dress" for "the island of the key"): the transcript matches a
stretch of the played text with a few word errors. A user talking over the assistant says
something else. When the canceller is off track the transcript can also be a hallucination on
residual echo; then the signal itself tells: the raw microphone is (almost) a delayed copy of
the reference over nearly all of the utterance."""

from __future__ import annotations

import re
from dataclasses import dataclass

ECHO_WORD_DISTANCE = 0.5
"""A transcript within this many word errors per word of a stretch of played text is an echo,
when it has four words or more and most of its content words were played; a shorter one must
match a stretch exactly ("Hold on" is not an echo because a story said "on")."""
SHORT_WORDS = 3
CONTENT_LETTERS = 4
"""Words this long or longer, other than :data:`FUNCTION_WORDS`, carry content."""
FUNCTION_WORDS = frozenset(
    "what when where which while with would could should there their them then than that this "
    "these those have from your about into over just very been were they will".split())
SIMILAR_WORD = 0.34
"""Two words count as the same when their letter edit distance is at most this share of the
longer one ("fishermen" for "fisherman": the transcript of an echo is often a little off)."""
ECHO_NCC = 0.5
"""Microphone/reference correlation above which the speaker explains the utterance…"""
ECHO_COVERAGE = 0.8
"""…when the far end was active over at least this share of it."""

_WORD = re.compile(r"[a-z0-9']+")


def words(text: str) -> list[str]:
    """Lower-case words without punctuation (digits kept as they are)."""
    return [w.strip("'") for w in _WORD.findall(text.lower()) if w.strip("'")]


def similar(a: str, b: str) -> bool:
    if a == b:
        return True
    longest = max(len(a), len(b))
    if abs(len(a) - len(b)) > SIMILAR_WORD * longest:
        return False
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
        prev = cur
    return prev[-1] <= SIMILAR_WORD * longest


def substring_distance(needle: list[str], haystack: list[str]) -> int:
    """Fewest word edits turning ``needle`` into some contiguous stretch of ``haystack``
    (Sellers' algorithm: edit distance with a free start and end in the haystack; similar
    words count as equal)."""
    prev = [0] * (len(haystack) + 1)
    for i, w in enumerate(needle, 1):
        cur = [i] + [0] * len(haystack)
        for j, h in enumerate(haystack, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (not similar(w, h)))
        prev = cur
    return min(prev)


def _matches_played(said: list[str], heard: list[str]) -> bool:
    if len(said) <= SHORT_WORDS:
        return substring_distance(said, heard) == 0
    content = [w for w in said if len(w) >= CONTENT_LETTERS and w not in FUNCTION_WORDS]
    played = sum(any(similar(w, h) for h in heard) for w in content)
    return played * 2 >= len(content) and substring_distance(said, heard) <= ECHO_WORD_DISTANCE * len(said)


@dataclass(frozen=True)
class AcousticEvidence:
    """How the loudspeaker relates to the utterance's raw microphone signal."""

    far_coverage: float
    """Share of the utterance's frames during which the assistant's voice reached the microphone."""
    ncc: float | None
    """Peak normalised correlation of the raw microphone with the reference around the echo delay."""


def is_own_echo(transcript: str, played: str, evidence: AcousticEvidence | None = None) -> bool:
    """True when the utterance is best explained as the assistant hearing itself."""
    said = words(transcript)
    if not said:
        return True  # no words: nothing a user said
    heard = words(played)
    if heard and _matches_played(said, heard):
        return True
    return (evidence is not None and evidence.ncc is not None and evidence.far_coverage >= ECHO_COVERAGE
            and evidence.ncc >= ECHO_NCC)
