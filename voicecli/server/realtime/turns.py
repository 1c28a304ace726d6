"""User turns: which user item each pipeline turn transcribes, whether the Conversation answers
it itself or holds it for a ``response.create``, audio committed while the pipeline is busy
(queued in order), and user text waiting for the next response. Sends the input-side events:
``speech_started``/``speech_stopped``, ``committed`` and the transcription results."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from voicecli.audio.format import PIPELINE_RATE_HZ
from voicecli.pipeline.conversation import Conversation
from voicecli.pipeline.partials import newly_stable, remainder
from voicecli.server.realtime.items import InputAudio, ItemStore, MessageItem
from voicecli.server.realtime.outbox import EventSender
from voicecli.server.realtime.protocol import new_id


class UserTurns:
    """Bookkeeping between the client's user items and the Conversation's turns. ``on_settled``
    runs (soon, on the loop) after each transcription result: the session then starts a
    response that waited for it, or the next queued commit."""

    def __init__(self, sender: EventSender, items: ItemStore, conv: Conversation,
                 on_settled: Callable[[], None]) -> None:
        self._send = sender
        self._items = items
        self._conv = conv
        self._on_settled = on_settled
        self._speech_item: str | None = None
        self._speech_start_ms = 0.0
        self._item_audio_s: dict[str, float] = {}
        self._streamed: dict[str, str] = {}
        """Transcript text already sent as live deltas, by item (:mod:`voicecli.pipeline.partials`)."""
        self._turn_items: dict[int, str] = {}
        self.awaiting: set[int] = set()
        """Audio turns submitted to the pipeline and not yet transcribed."""
        self._held: set[int] = set()
        """Transcribed but not answered by the Conversation itself (commits, create_response off)."""
        self._queued: list[tuple[np.ndarray, str]] = []
        self._pending_text: list[str] = []
        self._tool_outputs: dict[str, tuple[str, str]] = {}
        """function_call_output items for the next response: item id → (call_id, output)."""

    # --- audio in ---------------------------------------------------------------------------
    def speech_started(self, audio_ms: float) -> None:
        """Server VAD heard speech start: name the user item it will become."""
        if self._speech_item is not None:  # the last utterance was too short to become an item
            self._streamed.pop(self._speech_item, None)
        self._speech_item = new_id("item")
        self._speech_start_ms = audio_ms
        self._send.send("input_audio_buffer.speech_started", audio_start_ms=int(audio_ms), item_id=self._speech_item)

    def speech_stopped(self, audio_ms: float) -> None:
        """Server VAD ended the utterance: the Conversation starts its turn right after this."""
        item_id = self._take_item_id()
        self._item_audio_s[item_id] = max(0.0, audio_ms - self._speech_start_ms) / 1000
        self._send.send("input_audio_buffer.speech_stopped", audio_end_ms=int(audio_ms), item_id=item_id)
        self._commit_item(item_id)
        turn = self._conv.turn + 1
        self._turn_items[turn] = item_id
        self.awaiting.add(turn)
        if not self._conv.o.auto_respond:
            self._held.add(turn)

    def commit(self, audio: np.ndarray, busy: bool) -> None:
        """``input_audio_buffer.commit``: a user item now; transcribed when the pipeline is free."""
        item_id = self._take_item_id()
        self._commit_item(item_id)
        self._submit_or_queue(audio, item_id, busy)

    def add_audio_item(self, item_id: str, audio: np.ndarray, busy: bool) -> None:
        """A user message item carrying audio: added now, transcribed when the pipeline is free."""
        self._items.add(MessageItem(item_id, "user", (InputAudio(),)))
        self._submit_or_queue(audio, item_id, busy)

    def has_queued(self) -> bool:
        return bool(self._queued)

    def submit_queued(self) -> None:
        """Hand the oldest queued commit to the pipeline."""
        audio, item_id = self._queued.pop(0)
        self._submit(audio, item_id)

    def _take_item_id(self) -> str:
        item_id = self._speech_item or new_id("item")
        self._speech_item = None
        return item_id

    def _commit_item(self, item_id: str) -> None:
        self._send.send("input_audio_buffer.committed", item_id=item_id, previous_item_id=self._items.last_id())
        self._items.add(MessageItem(item_id, "user", (InputAudio(),)))

    def _submit_or_queue(self, audio: np.ndarray, item_id: str, busy: bool) -> None:
        if busy:
            self._queued.append((audio, item_id))
        else:
            self._submit(audio, item_id)

    def _submit(self, audio: np.ndarray, item_id: str) -> None:
        self._item_audio_s[item_id] = len(audio) / PIPELINE_RATE_HZ
        turn = self._conv.submit_audio(audio, respond=False)
        self._turn_items[turn] = item_id
        self.awaiting.add(turn)
        self._held.add(turn)

    # --- transcripts ----------------------------------------------------------------------------
    def partial(self, started_ms: float, stable: str) -> None:
        """A live partial transcript of the utterance in progress: its newly stable words go out
        as a delta of the item the utterance will become (the rest follows with the final one)."""
        item_id = self._speech_item
        if item_id is None or started_ms != self._speech_start_ms:
            return
        sent = self._streamed.get(item_id, "")
        delta = newly_stable(sent, stable)
        if delta:
            self._streamed[item_id] = sent + delta
            self._send.send("conversation.item.input_audio_transcription.delta", item_id=item_id, content_index=0,
                            delta=delta)

    def transcribed(self, turn: int, text: str) -> None:
        """The pipeline transcribed ``turn`` (``text`` is empty if it heard no words)."""
        self.settle_older(turn)
        self._transcript(turn, text)

    def settle_older(self, turn: int) -> None:
        """Turns are handled in order: an audio turn older than ``turn`` that is still waiting for
        its transcript was dropped by the pipeline without words; close it as empty."""
        for old in sorted(t for t in self.awaiting if t < turn):
            self._transcript(old, "")

    def failed(self, turn: int, message: str) -> None:
        item_id = self._turn_items.pop(turn, None)
        self.awaiting.discard(turn)
        if item_id is not None:
            self._streamed.pop(item_id, None)
            self._send.send("conversation.item.input_audio_transcription.failed", item_id=item_id, content_index=0,
                            error={"type": "transcription_error", "code": "interrupted", "message": message,
                                   "param": None})
        asyncio.get_running_loop().call_soon(self._on_settled)

    def _transcript(self, turn: int, text: str) -> None:
        item_id = self._turn_items.pop(turn, None)
        if item_id is None:
            return  # a text turn: its user item was created by conversation.item.create
        self.awaiting.discard(turn)
        item = self._items.get(item_id)
        if isinstance(item, MessageItem):
            self._items.replace(replace(item, content=(InputAudio(text),)))
        sent = self._streamed.pop(item_id, "")
        delta = remainder(sent, text) if sent else text
        if delta:
            self._send.send("conversation.item.input_audio_transcription.delta", item_id=item_id, content_index=0,
                            delta=delta)
        self._send.send("conversation.item.input_audio_transcription.completed", item_id=item_id, content_index=0,
                        transcript=text,
                        usage={"type": "duration", "seconds": math.ceil(self._item_audio_s.pop(item_id, 0.0))})
        if text and turn in self._held:
            self._pending_text.append(text)
        self._held.discard(turn)
        asyncio.get_running_loop().call_soon(self._on_settled)

    # --- text and tool results for the next response ---------------------------------------------
    def add_text(self, text: str) -> None:
        self._pending_text.append(text)

    def forget_text(self, text: str) -> None:
        """A deleted item's text no longer goes to the next response."""
        if text in self._pending_text:
            self._pending_text.remove(text)

    def add_tool_output(self, item_id: str, call_id: str, output: str) -> None:
        self._tool_outputs[item_id] = (call_id, output)

    def forget_tool_output(self, item_id: str) -> None:
        self._tool_outputs.pop(item_id, None)

    def take_tool_outputs(self) -> list[tuple[str, str]]:
        """(call_id, output) of the function results given since the last response, in order."""
        outputs = list(self._tool_outputs.values())
        self._tool_outputs.clear()
        return outputs

    def take_pieces(self) -> list[str]:
        """User input since the last response, oldest first, for the next one."""
        pieces = [t for t in self._pending_text if t.strip()]
        self._pending_text.clear()
        return pieces
