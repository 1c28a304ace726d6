"""The dialogue as the LLM sees it: what the user said and what they actually heard back.
Owns the chat history, its trimming to a token budget, and what an interrupted reply leaves
in it (``heard_text``): exactly the words that were played, nothing appended — an ellipsis or
a marker in the assistant's own messages is a pattern a small LLM learns to repeat ("The …").
The interruption itself is recorded on the turn (``TurnRecord.interrupted``), not in the text."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from voicecli.llm.tools import ToolCall, ToolOutcome
from voicecli.llm.types import ChatMessage, messages_to_forget, trim_history
from voicecli.pipeline.tool_use import call_messages
from voicecli.stt.types import Transcription

PAUSE_LETTERS = 3
"""A punctuation mark after a word takes about as long (its pause) as this many letters."""

class ChatContext:
    def __init__(self) -> None:
        self._messages: list[ChatMessage] = []

    @property
    def messages(self) -> list[ChatMessage]:
        """The history (user, assistant and tool messages, oldest first); a copy."""
        return list(self._messages)

    def prompt(self, system_prompt: str, user: str | None, budget_tokens: int,
               count_tokens: Callable[[str], int], forget: bool = True) -> list[ChatMessage]:
        """The messages to send for ``user``'s new turn (None: no new message, the reply goes on
        from the tool results at the end): the system prompt and as much history as fits
        ``budget_tokens``. Once the history overflows, its oldest turns are forgotten for good in
        steps (see :func:`messages_to_forget`), which keeps the prompt prefix stable. ``forget``
        False: only look (the prompt a turn would get, for evaluating it ahead of time)."""
        system = ChatMessage("system", system_prompt)
        new = [ChatMessage("user", user)] if user is not None else []
        drop = messages_to_forget(system, [*self._messages, *new], budget_tokens, count_tokens)
        kept = self._messages[min(drop, len(self._messages)):]
        if forget:
            self._messages = kept
        return trim_history(system, without_unanswered_calls([*kept, *new]), budget_tokens, count_tokens)

    def add_turn(self, user: str | None, heard: str, interrupted: bool, tools: Sequence[ToolOutcome] = (),
                 pending: Sequence[ToolCall] = ()) -> None:
        """A finished turn: the user's words, the calls run during the reply with their results
        (``tools``), and what the user heard of the reply (if anything; an interrupted reply is
        stored as the words heard, unmarked). A reply that ended calling ``pending`` (for the
        adapter's client to answer, :meth:`add_tool_result`) stores the heard text with them.
        ``user`` None: the turn went on from tool results (no user message)."""
        if user is not None:
            self._messages.append(ChatMessage("user", user))
        self._messages.extend(call_messages(tools))
        if pending:
            self._messages.append(ChatMessage("assistant", heard, tool_calls=tuple(pending)))
        elif heard:
            self._messages.append(ChatMessage("assistant", heard))

    def add_tool_result(self, call_id: str, output: str) -> bool:
        """The result of a call the history's last turn made (the adapter's client answered it),
        placed after the call and the results already given. False if no such call waits."""
        for i in range(len(self._messages) - 1, -1, -1):
            msg = self._messages[i]
            if msg.role == "user":
                return False
            if msg.role == "assistant" and any(c.id == call_id for c in msg.tool_calls):
                answered = {m.tool_call_id for m in self._messages[i + 1:] if m.role == "tool"}
                if call_id in answered:
                    return False
                self._messages.append(ChatMessage("tool", output, tool_call_id=call_id))
                return True
        return False

    def truncate_reply(self, user: str | None, said: str, heard: str) -> None:
        """The newest assistant message ``said`` after ``user`` was heard only up to ``heard``:
        keep that, or drop the message when nothing was heard (a message making calls stays,
        without text). The calls and results between ``user`` and the reply are kept. ``user``
        None: the reply went on from tool results (the newest such message is the one)."""
        for i in range(len(self._messages) - 1, 0, -1):
            msg = self._messages[i]
            if msg.role != "assistant" or msg.content != said:
                continue
            before = next((m for m in reversed(self._messages[:i]) if m.role == "user"), None)
            if user is not None and (before is None or before.content != user):
                continue
            if heard or msg.tool_calls:
                self._messages[i] = ChatMessage("assistant", heard, tool_calls=msg.tool_calls)
            else:
                del self._messages[i]
            return


def standalone_prompt(system_prompt: str, context: Sequence[ChatMessage], user: str, budget_tokens: int,
                      count_tokens: Callable[[str], int]) -> list[ChatMessage]:
    """The messages for a reply to ``user`` after ``context`` instead of the history (an
    out-of-band reply on its own input), trimmed to ``budget_tokens``."""
    return trim_history(ChatMessage("system", system_prompt), [*context, ChatMessage("user", user)],
                        budget_tokens, count_tokens)


def without_unanswered_calls(messages: list[ChatMessage]) -> list[ChatMessage]:
    """``messages`` without the calls no ``tool`` message answered (the adapter's client never
    gave their result before the user went on): OpenAI-style servers refuse a call without its
    result. A message left with neither text nor calls goes too."""
    answered = {m.tool_call_id for m in messages if m.role == "tool"}
    out = []
    for m in messages:
        if m.tool_calls and any(c.id not in answered for c in m.tool_calls):
            m = ChatMessage(m.role, m.content, tuple(c for c in m.tool_calls if c.id in answered))
            if not m.content and not m.tool_calls:
                continue
        out.append(m)
    return out


def said_text(assistant: str, interrupted: bool) -> str:
    """The assistant message :meth:`ChatContext.add_turn` stored for a turn (the words heard)."""
    return assistant


def clean_transcript(t: Transcription) -> str:
    """Drop segments Whisper itself marks as probably not speech (hallucinations on noise)."""
    kept = [s.text for s in t.segments if not (s.no_speech_prob > 0.6 and s.avg_logprob < -1.0)]
    text = "".join(kept).strip()
    return text if any(c.isalnum() for c in text) else ""


def heard_text(pieces: list[str], played: dict[int, int], queued: dict[int, int],
               voiced: dict[int, tuple[int, int]] | None = None) -> str:
    """The part of an interrupted reply the user actually heard: whole pieces that finished
    playing, then the words of the cut piece whose middle was played. The TTS gives no timing of
    its own, so within a piece each word takes a share of its voiced span (``voiced``: first and
    end sample above silence; the voice's leading and trailing silence hold no words) in
    proportion to its letters, a punctuation mark adding a pause: against Whisper's word times
    on Piper's voice that places a word's middle 108 ms off on average, an even share per word
    217 ms."""
    words: list[str] = []
    for i, text in enumerate(pieces):
        total = queued.get(i, 0)
        done = played.get(i, 0)
        if total == 0 or done == 0:
            break
        piece_words = text.split()
        if done >= total:
            words.extend(piece_words)
            continue
        first, end = (voiced or {}).get(i, (0, total))
        words.extend(piece_words[:words_spoken(piece_words, (done - first) / max(1, end - first))])
        break
    return " ".join(words)


def words_spoken(words: list[str], fraction: float) -> int:
    """How many of ``words`` have their middle within the first ``fraction`` of the speech."""
    weights = [len(w) + 1 + (PAUSE_LETTERS if w[-1] in ",;:.!?" else 0) for w in words]
    total, spoken, pos = sum(weights), 0, 0
    for w in weights:
        if (pos + w / 2) / total > fraction:
            break
        spoken += 1
        pos += w
    return spoken
