"""Realtime function tools: the session's (or one response's) ``tools`` and ``tool_choice`` as the
pipeline's :class:`~voicecli.llm.tools.ToolRequest`, checked by :mod:`voicecli.llm.tool_checks`
(a bad tool is a ``ClientEventError`` naming the field, e.g. ``session.tools[0].parameters``),
(the ``function_call`` items a response makes are :mod:`.responses`' business). Realtime tools are
flat: ``{"type": "function", "name", "description", "parameters"}``; a named choice is
``{"type": "function", "name": ...}`` (the chat form ``{"function": {"name": ...}}`` is taken too)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from voicecli.llm.tool_checks import ToolSpecError, check_tool_request
from voicecli.llm.tools import ToolChoice, ToolRequest, ToolSpec
from voicecli.server.realtime.protocol import ClientEventError

EMPTY_OBJECT_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}}
_MODES = {"auto": ToolChoice("auto"), "none": ToolChoice("none"), "required": ToolChoice("required")}


def tool_request(tools: Sequence[dict[str, Any]], choice: str | dict[str, Any], where: str) -> ToolRequest | None:
    """The tools on offer (None when there are none), or ClientEventError for the first problem;
    ``where`` prefixes the error's ``param`` (``session``, ``response``)."""
    specs = tuple(_spec(tool, f"{where}.tools[{i}]") for i, tool in enumerate(tools))
    request = ToolRequest(specs, _choice(choice, f"{where}.tool_choice"))
    try:
        check_tool_request(request)
    except ToolSpecError as exc:
        param = f"{where}.{exc.param.replace('.function', '')}"
        raise ClientEventError(exc.message.replace(".function", "").replace("tools[", f"{where}.tools["),
                               param, exc.code) from None
    return request if specs else None


def _spec(tool: dict[str, Any], param: str) -> ToolSpec:
    kind = tool.get("type", "function")
    if kind != "function":
        raise ClientEventError(f"'{param}.type' {str(kind)[:40]!r} is not supported (only 'function' tools)",
                               f"{param}.type", "invalid_tool_type")
    name = tool.get("name")
    if not isinstance(name, str):
        raise ClientEventError(f"'{param}.name' must be a string", f"{param}.name", "invalid_type")
    description = tool.get("description")
    if description is not None and not isinstance(description, str):
        raise ClientEventError(f"'{param}.description' must be a string", f"{param}.description", "invalid_type")
    parameters = tool.get("parameters")
    if parameters is not None and not isinstance(parameters, dict):
        raise ClientEventError(f"'{param}.parameters' must be a JSON Schema object", f"{param}.parameters",
                               "invalid_function_parameters")
    return ToolSpec.of(name, description or "", parameters if parameters is not None else EMPTY_OBJECT_SCHEMA)


def _choice(choice: str | dict[str, Any], param: str) -> ToolChoice:
    if isinstance(choice, str):
        return _MODES.get(choice) or ToolChoice.function(choice)
    inner = choice.get("function")
    name = inner.get("name") if isinstance(inner, dict) else choice.get("name")
    if choice.get("type") != "function" or not isinstance(name, str):
        raise ClientEventError(f"'{param}' must be 'auto', 'none', 'required' or "
                               '{"type": "function", "name": ...}', param, "invalid_tool_choice")
    return ToolChoice.function(name)
