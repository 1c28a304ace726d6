"""Messages (with past tool calls and results) and tools → the prompt text of a GGUF model,
rendered by the model's own chat template (llama-cpp-python's Jinja2 formatter).

A template that mentions ``tools`` is taken to support them natively: it gets the tools and
OpenAI/Hugging Face shaped calls and ``tool`` messages. Any other template (the bundled
SmolLM2's ChatML) only knows text, so a past call becomes an assistant sentence (``I called
get_weather({"city": "Paris"}).``; a small model copies a JSON-shaped call instead of
answering), a tool result becomes a user message naming the function, and, when a call is
forced, the functions are described in the system message."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from voicecli.llm.openai_wire import tool_json
from voicecli.llm.tools import ToolSpec
from voicecli.llm.types import ChatMessage

CHATML = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + "
          "'<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")
"""Used when a GGUF file carries no chat template."""

TOOLS_INTRO = ("You call a function to answer. Write the call as JSON: "
               '{"name": <function name>, "arguments": <arguments object>}. The functions:')


@dataclass(frozen=True)
class Prompt:
    text: str
    stop: tuple[str, ...]
    """The template's end-of-turn text."""
    add_bos: bool


def _arguments_object(arguments: str) -> object:
    try:
        return json.loads(arguments)
    except ValueError:
        return arguments


class ChatTemplate:
    """One model's chat template."""

    def __init__(self, template: str | None, bos_token: str, eos_token: str) -> None:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        source = template or CHATML
        self.supports_tools = re.search(r"\btools\b", source) is not None
        self._formatter = Jinja2ChatFormatter(source, eos_token=eos_token, bos_token=bos_token)
        self._eos = eos_token

    @classmethod
    def of_model(cls, llm: Any) -> ChatTemplate:
        """The template of a loaded ``llama_cpp.Llama``."""
        def token_text(token_id: int) -> str:
            return str(llm._model.token_get_text(token_id)) if token_id != -1 else ""

        return cls(llm.metadata.get("tokenizer.chat_template"), token_text(llm.token_bos()),
                   token_text(llm.token_eos()))

    def render(self, messages: Sequence[ChatMessage], tools: Sequence[ToolSpec] = (),
               describe_tools: bool = False) -> Prompt:
        """The prompt up to the start of the assistant's reply. ``tools`` go to a template that
        supports them; ``describe_tools`` also writes them into the system message of one that
        does not (used when a call is forced)."""
        if self.supports_tools:
            dicts = self._native(messages)
            result = self._formatter(messages=dicts, tools=[tool_json(t) for t in tools] or None)
        else:
            dicts = self._as_text(messages)
            if describe_tools and tools:
                dicts = self._with_tool_description(dicts, tools)
            result = self._formatter(messages=dicts)
        stop = (self._eos,) if self._eos else ()
        return Prompt(result.prompt, stop, not result.added_special)

    @staticmethod
    def _native(messages: Sequence[ChatMessage]) -> list[dict[str, object]]:
        names = {c.id: c.name for m in messages for c in m.tool_calls}
        out: list[dict[str, object]] = []
        for m in messages:
            d: dict[str, object] = {"role": m.role, "content": m.content}
            if m.tool_calls:
                d["tool_calls"] = [{"id": c.id, "type": "function",
                                    "function": {"name": c.name, "arguments": _arguments_object(c.arguments)}}
                                   for c in m.tool_calls]
            if m.role == "tool":
                d["tool_call_id"] = m.tool_call_id or ""
                d["name"] = names.get(m.tool_call_id or "", "")
            out.append(d)
        return out

    @staticmethod
    def _as_text(messages: Sequence[ChatMessage]) -> list[dict[str, object]]:
        names = {c.id: c.name for m in messages for c in m.tool_calls}
        out: list[dict[str, object]] = []
        for m in messages:
            if m.role == "tool":
                name = names.get(m.tool_call_id or "", "the function")
                out.append({"role": "user", "content": f"Result of {name}: {m.content}"})
            elif m.tool_calls:
                calls = " ".join(f"I called {c.name}({c.arguments})." for c in m.tool_calls)
                out.append({"role": "assistant", "content": f"{m.content}\n{calls}" if m.content else calls})
            else:
                out.append({"role": m.role, "content": m.content})
        return out

    @staticmethod
    def _with_tool_description(dicts: list[dict[str, object]], tools: Sequence[ToolSpec]) -> list[dict[str, object]]:
        described = "\n".join(json.dumps({"name": t.name, "description": t.description, "parameters": t.parameters},
                                         ensure_ascii=False) for t in tools)
        text = f"{TOOLS_INTRO}\n{described}"
        if dicts and dicts[0]["role"] == "system":
            return [{"role": "system", "content": f"{dicts[0]['content']}\n\n{text}"}, *dicts[1:]]
        return [{"role": "system", "content": text}, *dicts]
