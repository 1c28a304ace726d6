"""Loudspeaker echo on the real device path, scored from outside: ``voicecli talk --json`` on a
PulseAudio virtual microphone and speaker (:mod:`voicecli.bench.virtual_audio`) with the speaker
looped back into the microphone at a gain and delay, questions and barge-ins spoken into the
microphone, and talk's own events read with their arrival times
(:mod:`voicecli.bench.talk_process`). Per reply it counts:

- **self-interruptions**: ``interrupted`` (reason speech) with no barge-in being spoken;
- **own-speech turns**: ``user`` events that belong to none of the utterances played into the mic;
- **pauses** (talk held its reply to check a voice) and **ignored** echoes (talk dropped one);
- for a barge-in: whether it was **detected** (``interrupted`` while or just after it was spoken)
  and the **WER** of its transcript against the spoken text; and the WER of what talk stored in
  the history for the cut reply against a transcript of the audio that was really played.

The pure scoring lives here; the driver is ``benchmarks/echo_loop.py``. WER uses
:mod:`voicecli.bench.wer` (case, punctuation, numbers and common abbreviations normalised)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from voicecli.bench.talk_process import TimedEvent
from voicecli.bench.wer import word_error_rate

ATTRIBUTE_S = 6.0
"""A played utterance's transcript arrives at most this long after it ended (STT under load)."""
DETECT_AFTER_S = 3.0
"""A barge-in counts as detected if talk cut its reply before the barge-in ended + this."""
PAUSED_NOTICE = "paused: was that you?"
IGNORED_NOTICE = "ignored my own voice"


@dataclass(frozen=True)
class Condition:
    gain_db: float
    delay_ms: int
    reflections: bool = False
    noise_dbfs: float | None = -50.0
    busy: int = 0

    @property
    def label(self) -> str:
        extra = (" +refl" if self.reflections else "") + (f" busy{self.busy}" if self.busy else "")
        return f"{self.gain_db:+.0f} dB / {self.delay_ms} ms{extra}"


@dataclass(frozen=True)
class Played:
    """An utterance played into the microphone."""

    text: str
    voice: str
    start_s: float
    end_s: float
    barge_in: bool = False


@dataclass(frozen=True)
class BargeInOutcome:
    spoken: str
    detected: bool
    heard: str
    """talk's transcript of the barge-in ("" when none matched it)."""
    wer: float | None
    history: str | None = None
    """What talk stored for the cut reply."""
    played_transcript: str | None = None
    """A transcript of the reply audio really played up to the cut."""
    history_wer: float | None = None


@dataclass
class ReplyOutcome:
    question: str
    self_interruptions: int = 0
    own_turns: list[str] = field(default_factory=list)
    pauses: int = 0
    ignored: int = 0
    question_heard: bool = False
    went_on: int = 0
    """Turns talk dropped because the user went on (answered as one turn with what followed)."""
    barge_in: BargeInOutcome | None = None
    cut_turn: int | None = None
    """The turn talk interrupted for the barge-in (its history row is checked)."""


def wer(reference: str, hypothesis: str) -> float:
    return word_error_rate([reference], [hypothesis]).wer


def score_window(events: Sequence[TimedEvent], played: Sequence[Played]) -> ReplyOutcome:
    """One reply's window: the question (``played[0]``), maybe a barge-in, and every event from
    the question's start until the next question. Each played utterance owns the first ``user``
    event that arrives after it started and at most ``ATTRIBUTE_S`` after it ended (however well
    it was transcribed); every other ``user`` event is the assistant's own speech. A turn talk
    discarded because the user went on is not a turn: the ``user`` event after it holds the whole."""
    out = ReplyOutcome(played[0].text)
    dropped = {ev.data.get("turn") for ev in events if ev.type == "discarded"}
    users = [ev for ev in events if ev.type == "user" and ev.data.get("turn") not in dropped]
    out.went_on = sum(ev.type == "discarded" and str(ev.data.get("reason", "")).startswith("the user went on")
                      for ev in events)
    owner: dict[int, Played] = {}
    for p in played:
        for i, ev in enumerate(users):
            if i not in owner and p.start_s <= ev.t_s <= p.end_s + ATTRIBUTE_S:
                owner[i] = p
                break
    for i, ev in enumerate(users):
        text = str(ev.data.get("text", ""))
        who = owner.get(i)
        if who is None:
            out.own_turns.append(text)
        elif who.barge_in:
            out.barge_in = _barge(who, events, text)
        else:
            out.question_heard = True
    for ev in events:
        if ev.type == "interrupted" and ev.data.get("reason") == "speech" and ev.data.get("turn") not in dropped:
            if not any(p.barge_in and p.start_s <= ev.t_s <= p.end_s + DETECT_AFTER_S for p in played):
                out.self_interruptions += 1
            elif isinstance(turn := ev.data.get("turn"), int):
                out.cut_turn = turn
        elif ev.type == "notice":
            message = ev.data.get("message")
            out.pauses += message == PAUSED_NOTICE
            out.ignored += isinstance(message, str) and message.startswith(IGNORED_NOTICE)
    for p in played:
        if p.barge_in and out.barge_in is None:
            out.barge_in = _barge(p, events, "")
    return out


def _barge(p: Played, events: Sequence[TimedEvent], heard: str) -> BargeInOutcome:
    detected = any(ev.type == "interrupted" and ev.data.get("reason") == "speech"
                   and p.start_s <= ev.t_s <= p.end_s + DETECT_AFTER_S for ev in events)
    return BargeInOutcome(p.text, detected, heard, wer(p.text, heard) if heard else None)


@dataclass(frozen=True)
class ConditionResult:
    condition: Condition
    replies: int
    self_interruptions: int
    own_turns: int
    questions_missed: int
    pauses: int
    ignored: int
    barge_ins: int
    detected: int
    barge_wer: float | None
    """Corpus WER over the barge-ins that were transcribed."""
    history_wer: float | None
    """Corpus WER of the stored cut replies against transcripts of the played audio."""
    underruns_s: float | None = None


def summarize(condition: Condition, outcomes: Sequence[ReplyOutcome]) -> ConditionResult:
    barges = [o.barge_in for o in outcomes if o.barge_in is not None]
    heard = [b for b in barges if b.heard]
    hist = [b for b in barges if b.history is not None and b.played_transcript]
    return ConditionResult(
        condition, len(outcomes), sum(o.self_interruptions for o in outcomes),
        sum(len(o.own_turns) for o in outcomes), sum(not o.question_heard for o in outcomes),
        sum(o.pauses for o in outcomes), sum(o.ignored for o in outcomes), len(barges),
        sum(b.detected for b in barges),
        word_error_rate([b.spoken for b in heard], [b.heard for b in heard]).wer if heard else None,
        word_error_rate([b.played_transcript or "" for b in hist],
                        [b.history or "" for b in hist]).wer if hist else None)


def results_table(results: Sequence[ConditionResult]) -> str:
    """A Markdown table, one row per condition."""
    def pct(x: float | None) -> str:
        return "–" if x is None else f"{100 * x:.1f} %"

    rows = ["| condition | replies | self-interruptions | own-speech turns | questions missed | pauses "
            "| echoes ignored | barge-in detected | barge-in WER | history WER |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        detected = f"{r.detected}/{r.barge_ins}" if r.barge_ins else "–"
        rows.append(f"| {r.condition.label} | {r.replies} | {r.self_interruptions} | {r.own_turns} "
                    f"| {r.questions_missed} | {r.pauses} | {r.ignored} | {detected} | {pct(r.barge_wer)} "
                    f"| {pct(r.history_wer)} |")
    return "\n".join(rows)
