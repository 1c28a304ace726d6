"""Any OpenAI-compatible chat server (llama.cpp server, vLLM, Ollama) as the LLM tier."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence

import httpx

from voicecli.errors import VoicecliError
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
        body = {"model": self.name, "stream": True, "max_tokens": options.max_tokens,
                "temperature": options.temperature,
                "messages": [{"role": m.role, "content": m.content} for m in messages]}
        if options.stop:
            body["stop"] = list(options.stop)
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
                        return
                    delta = json.loads(data)["choices"][0].get("delta", {}).get("content")
                    if delta:
                        yield delta
        except httpx.HTTPError as exc:
            raise VoicecliError(f"LLM server at {self.base_url} failed: {exc}",
                                "check that it is running") from exc

    def warm_up(self, system_prompt: str) -> None:
        for _ in self.stream([ChatMessage("system", system_prompt), ChatMessage("user", "Hi")],
                             GenerationOptions(max_tokens=2, temperature=0.0)):
            pass
