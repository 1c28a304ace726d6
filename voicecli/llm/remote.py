"""Any OpenAI-compatible chat server (llama.cpp server, vLLM, Ollama) as the LLM tier. Tools,
tool choices, past calls and ``tool`` messages pass through unchanged; the server's streamed
text and call deltas come back as reply events."""

from __future__ import annotations

import json
from collections.abc import Generator, Iterator, Sequence

import httpx

from voicecli.errors import VoicecliError
from voicecli.llm.openai_wire import StreamDecoder, message_json, tools_body
from voicecli.llm.tools import ReplyDelta, ReplyEnded, ToolCallDelta, ToolRequest, text_of
from voicecli.llm.types import ChatMessage, GenerationOptions


class OpenAIChat:
    def __init__(self, base_url: str, model: str | None = None, api_key: str | None = None,
                 timeout_s: float = 60.0) -> None:
        self.base_url = base_url.rstrip("/")
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout_s)
        self.name = model or self._first_model()

    def _first_model(self) -> str:
        try:
            r = self._client.get("/models")
            r.raise_for_status()
            return str(r.json()["data"][0]["id"])
        except (httpx.HTTPError, KeyError, IndexError, ValueError) as exc:
            raise VoicecliError(f"cannot reach the LLM server at {self.base_url}: {exc}",
                                "check --llm-url (it should end in /v1)") from exc

    def count_tokens(self, text: str) -> int:
        return max(1, len(text) // 4)

    def stream(self, messages: Sequence[ChatMessage], options: GenerationOptions) -> Iterator[str]:
        return text_of(self.stream_reply(messages, options))

    def stream_reply(self, messages: Sequence[ChatMessage], options: GenerationOptions,
                     tools: ToolRequest | None = None) -> Generator[ReplyDelta, None, None]:
        body: dict[str, object] = {"model": self.name, "stream": True, "max_tokens": options.max_tokens,
                                   "temperature": options.temperature,
                                   "messages": [message_json(m) for m in messages]}
        if options.stop:
            body["stop"] = list(options.stop)
        if tools is not None and tools.tools:
            body.update(tools_body(tools))
        decoder = StreamDecoder()
        count = 0
        called = False
        try:
            with self._client.stream("POST", "/chat/completions", json=body) as r:
                if r.status_code >= 400:
                    r.read()
                    raise VoicecliError(f"LLM server error {r.status_code}: {r.text[:200]}")
                for line in r.iter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        break
                    try:
                        chunk = json.loads(data)
                    except ValueError as exc:
                        raise VoicecliError(f"LLM server sent invalid JSON: {data[:100]!r}") from exc
                    if isinstance(chunk, dict) and "error" in chunk:
                        raise VoicecliError(f"LLM server error: {str(chunk['error'])[:200]}")
                    for event in decoder.feed(chunk if isinstance(chunk, dict) else {}):
                        count += 1
                        called = called or isinstance(event, ToolCallDelta)
                        yield event
        except httpx.HTTPError as exc:
            raise VoicecliError(f"LLM server at {self.base_url} failed: {exc}",
                                "check that it is running") from exc
        reason = decoder.finish_reason or ("tool_calls" if called else "stop")
        yield ReplyEnded(reason, decoder.completion_tokens if decoder.completion_tokens is not None else count)

    def warm_up(self, system_prompt: str) -> None:
        for _ in self.stream([ChatMessage("system", system_prompt), ChatMessage("user", "Hi")],
                             GenerationOptions(max_tokens=2, temperature=0.0)):
            pass
