"""The response lifecycle on the wire: ``response.created`` → output item and content part added →
text or audio (with transcript) deltas → the ``*.done`` events → ``response.done`` with status,
usage and output; a reply that calls a function adds a ``function_call`` item after its message
(if any); one response active at a time. Also what each spoken reply sent, piece by
piece, so ``conversation.item.truncate`` can map milliseconds played back to words heard."""

from __future__ import annotations

import base64
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

from voicecli.audio.resample import resample
from voicecli.llm.tools import ToolCall
from voicecli.pipeline.conversation import heard_text
from voicecli.server.realtime.items import FunctionCallItem, ItemStore, MessageItem, OutputAudio, OutputText
from voicecli.server.realtime.outbox import EventSender
from voicecli.server.realtime.protocol import (
    BETA,
    GA,
    WIRE_RATE_HZ,
    ClientEventError,
    ResponseParams,
    new_id,
)
from voicecli.server.realtime.transport import AudioOut
from voicecli.server.realtime.wire_audio import PCM16, WireFormat

AUDIO_DELTA_MS = 200
"""Audio is sent in deltas of this length (a sentence is synthesised at once)."""

ResponseStatus = Literal["in_progress", "completed", "cancelled", "failed"]


@dataclass
class Response:
    """One response while it runs."""

    id: str
    item_id: str
    params: ResponseParams
    audio: bool
    """Spoken (audio plus transcript) rather than text only."""
    turn: int | None = None
    """The pipeline turn answering it (None until the pipeline starts it)."""
    output_started: bool = False
    transcript: list[str] = field(default_factory=list)
    text: str = ""
    pieces: list[str] = field(default_factory=list)
    piece_samples: list[int] = field(default_factory=list)
    """24 kHz samples sent per piece (for conversation.item.truncate; G.711's 8 kHz counted ×3)."""
    format: WireFormat = PCM16
    """The session's output format when the response began."""
    failed: str | None = None
    message_closed: bool = False
    output: list[dict[str, Any]] = field(default_factory=list)
    """The wire form of each finished output item (the message first, then function calls)."""

    def ids(self) -> dict[str, Any]:
        return {"response_id": self.id, "item_id": self.item_id, "output_index": 0, "content_index": 0}

    def item(self, status: Literal["in_progress", "completed", "incomplete"]) -> MessageItem:
        part = OutputAudio("".join(self.transcript)) if self.audio else OutputText(self.text)
        return MessageItem(self.item_id, "assistant", (part,), status)

    def usage(self) -> dict[str, Any]:
        out_tokens = max(1, len("".join(self.transcript) or self.text) // 4)
        return {"total_tokens": out_tokens, "input_tokens": 0, "output_tokens": out_tokens,
                "input_token_details": {"text_tokens": 0, "audio_tokens": 0, "cached_tokens": 0},
                "output_token_details": {"text_tokens": out_tokens, "audio_tokens": 0}}


@dataclass(frozen=True)
class SpokenReply:
    """A finished spoken response: its pipeline turn and the text and length of each piece."""

    turn: int
    pieces: tuple[str, ...]
    piece_samples: tuple[int, ...]

    def heard_until(self, end_ms: int) -> str:
        """The words of the reply within its first ``end_ms`` milliseconds of audio."""
        total_ms = sum(self.piece_samples) * 1000 / WIRE_RATE_HZ
        if end_ms > math.ceil(total_ms):
            raise ClientEventError(f"audio_end_ms {end_ms} is beyond the item's audio ({total_ms:.0f} ms)",
                                   "audio_end_ms", "invalid_value")
        remaining = end_ms * WIRE_RATE_HZ // 1000
        played: dict[int, int] = {}
        for i, n in enumerate(self.piece_samples):
            played[i] = min(n, remaining)
            remaining -= played[i]
        return heard_text(list(self.pieces), played, dict(enumerate(self.piece_samples)))


class Responses:
    """Owns the active response and the events of its lifecycle. ``on_done`` runs after every
    ``response.done`` (the session then restores its voice and resumes queued input). With an
    ``audio_out`` (WebRTC) the reply's audio plays there instead of going out as deltas."""

    def __init__(self, sender: EventSender, items: ItemStore, conversation_id: str,
                 on_done: Callable[[], None], max_spoken: int = 1000, audio_out: AudioOut | None = None) -> None:
        self._send = sender
        self._audio_out = audio_out
        self._max_spoken = max_spoken
        self._items = items
        self._conversation_id = conversation_id
        self._on_done = on_done
        self.active: Response | None = None
        self.output_format = PCM16
        self._spoken: dict[str, SpokenReply] = {}
        self._turn_ids: dict[int, tuple[str, str]] = {}
        """turn → (response id, assistant item id), for the per-turn latency event."""
        self._pending_truncations: dict[int, str] = {}

    def create(self, params: ResponseParams, audio: bool, turn: int | None = None) -> Response:
        resp = Response(new_id("resp"), new_id("item"), params, audio, turn=turn, format=self.output_format)
        self.active = resp
        self._send.send("response.created", response=self._wire(resp, "in_progress"))
        return resp

    def for_turn(self, turn: int) -> Response | None:
        resp = self.active
        return resp if resp is not None and resp.turn == turn else None

    def started(self, resp: Response, turn: int, message_now: bool = True) -> None:
        """The pipeline began answering ``resp`` as ``turn``: its message item starts now, or
        (``message_now`` False: tools are offered, the reply may only call one) with its first
        text or audio."""
        self._turn_ids[turn] = (resp.id, resp.item_id)
        if message_now:
            self._begin_output(resp)

    def pop_turn_ids(self, turn: int) -> tuple[str | None, str | None]:
        return self._turn_ids.pop(turn, (None, None))

    def text_delta(self, turn: int, text: str) -> None:
        resp = self.for_turn(turn)
        if resp is not None and not resp.audio:
            self._begin_output(resp)
            resp.text += text
            self._send.send("response.output_text.delta", **resp.ids(), delta=text)

    def audio(self, turn: int, text: str, samples: np.ndarray, rate_hz: int) -> bool:
        """Send one spoken piece (transcript delta, then audio deltas); False if ``turn`` has no
        spoken response."""
        resp = self.for_turn(turn)
        if resp is None or not resp.audio:
            return False
        self._begin_output(resp)
        fmt = resp.format
        samples = np.asarray(samples, dtype=np.float32)
        wire = resample(samples, rate_hz, fmt.rate_hz) if self._audio_out is None else samples
        piece_text = text if not resp.transcript else " " + text
        resp.transcript.append(piece_text)
        resp.pieces.append(text)
        resp.piece_samples.append(len(samples) * WIRE_RATE_HZ // rate_hz if self._audio_out is not None
                                  else len(wire) * WIRE_RATE_HZ // fmt.rate_hz)
        ids = resp.ids()
        self._send.send("response.output_audio_transcript.delta", **ids, delta=piece_text)
        if self._audio_out is not None:
            self._audio_out.play(resp.id, resp.item_id, samples, rate_hz)
            return True
        step = fmt.rate_hz * AUDIO_DELTA_MS // 1000
        for i in range(0, len(wire), step):
            chunk = fmt.encode(wire[i:i + step])
            self._send.send("response.output_audio.delta", **ids, delta=base64.b64encode(chunk).decode("ascii"))
        return True

    def _begin_output(self, resp: Response) -> None:
        if resp.output_started:
            return
        resp.output_started = True
        item = resp.item("in_progress")
        self._send.send("response.output_item.added", response_id=resp.id, output_index=0,
                        item=item.to_wire(self._send.dialect))
        if not resp.params.out_of_band:
            self._items.add(item)
        part = {"type": "audio", "transcript": ""} if resp.audio else {"type": "text", "text": ""}
        self._send.send("response.content_part.added", **resp.ids(), part=part)

    def function_call(self, turn: int, call: ToolCall) -> FunctionCallItem | None:
        """The reply to ``turn`` called a function: close its message (if it said something
        first) and send the call as a ``function_call`` output item, whole: added (to the
        response and the conversation), its arguments as one delta, then done."""
        resp = self.for_turn(turn)
        if resp is None:
            return None
        self._close_message(resp, "completed")
        index = len(resp.output)
        started = FunctionCallItem(new_id("item"), call.id, call.name, "", "in_progress")
        self._send.send("response.output_item.added", response_id=resp.id, output_index=index,
                        item=started.to_wire(self._send.dialect))
        if not resp.params.out_of_band:
            self._items.add(started)
        ids = {"response_id": resp.id, "item_id": started.id, "output_index": index, "call_id": call.id}
        self._send.send("response.function_call_arguments.delta", **ids, delta=call.arguments)
        named = {"name": call.name} if self._send.dialect == GA else {}
        self._send.send("response.function_call_arguments.done", **ids, **named, arguments=call.arguments)
        item = replace(started, arguments=call.arguments, status="completed")
        self._items.replace(item)
        wire = item.to_wire(self._send.dialect)
        self._send.send("response.output_item.done", response_id=resp.id, output_index=index, item=wire)
        if self._send.dialect == GA and not resp.params.out_of_band:
            self._send.send("conversation.item.done", item=wire, previous_item_id=self._items.previous(item.id))
        resp.output.append(wire)
        return item

    def finish(self, resp: Response, status: ResponseStatus, reason: str | None) -> None:
        """Close ``resp`` (if it is still the active one) with its ``*.done`` events."""
        if self.active is not resp:
            return
        self.active = None
        self._close_message(resp, "completed" if status == "completed" else "incomplete")
        self._send.send("response.done", response=self._wire(resp, status, reason, resp.output))
        if self._audio_out is not None:
            self._audio_out.done(resp.id)
        self._on_done()

    def _close_message(self, resp: Response, status: Literal["completed", "incomplete"]) -> None:
        """The ``*.done`` events of ``resp``'s message item (once, if it was started)."""
        if resp.output_started and not resp.message_closed:
            resp.message_closed = True
            ids = resp.ids()
            transcript = "".join(resp.transcript)
            if resp.audio:
                self._send.send("response.output_audio.done", **ids)
                self._send.send("response.output_audio_transcript.done", **ids, transcript=transcript)
                part = {"type": "audio", "transcript": transcript}
            else:
                self._send.send("response.output_text.done", **ids, text=resp.text)
                part = {"type": "text", "text": resp.text}
            self._send.send("response.content_part.done", **ids, part=part)
            item = resp.item(status)
            self._items.replace(item)
            wire = item.to_wire(self._send.dialect)
            self._send.send("response.output_item.done", response_id=resp.id, output_index=0, item=wire)
            if self._send.dialect == GA and not resp.params.out_of_band:
                self._send.send("conversation.item.done", item=wire, previous_item_id=self._items.previous(item.id))
            resp.output.insert(0, wire)
            if resp.audio and resp.turn is not None and not resp.params.out_of_band:
                self._spoken[resp.item_id] = SpokenReply(resp.turn, tuple(resp.pieces), tuple(resp.piece_samples))
                while len(self._spoken) > self._max_spoken:  # the oldest can no longer be truncated
                    del self._spoken[next(iter(self._spoken))]

    def _wire(self, resp: Response, status: ResponseStatus, reason: str | None = None,
              output: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        details: dict[str, Any] | None = None
        if status == "cancelled":
            details = {"type": "cancelled", "reason": reason}
        elif status == "failed":
            details = {"type": "failed", "error": {"type": "server_error", "code": "pipeline_error",
                                                   "message": resp.failed}}
        obj: dict[str, Any] = {"id": resp.id, "object": "realtime.response", "status": status,
                               "status_details": details, "output": output or [],
                               "conversation_id": None if resp.params.out_of_band else self._conversation_id,
                               "metadata": resp.params.metadata,
                               "usage": resp.usage() if status != "in_progress" else None}
        if self._send.dialect == BETA:
            obj["modalities"] = ["text", "audio"] if resp.audio else ["text"]
        else:
            obj["output_modalities"] = ["audio"] if resp.audio else ["text"]
        return obj

    # --- truncation of spoken replies -------------------------------------------------------
    def spoken(self, item_id: str) -> SpokenReply | None:
        return self._spoken.get(item_id)

    def forget(self, item_id: str) -> None:
        """The item was deleted: it can no longer be truncated."""
        self._spoken.pop(item_id, None)

    def truncate_item(self, item_id: str, heard: str) -> None:
        """The assistant item now says only what was heard."""
        item = self._items.get(item_id)
        if isinstance(item, MessageItem):
            self._items.replace(replace(item, content=tuple(
                OutputAudio(heard) if isinstance(part, OutputAudio) else part for part in item.content)))

    def defer_truncation(self, turn: int, heard: str) -> None:
        """Apply to the history when ``turn`` completes (it is not in the history yet)."""
        self._pending_truncations[turn] = heard

    def pop_truncation(self, turn: int) -> str | None:
        return self._pending_truncations.pop(turn, None)
