"""Checks on tools a client offers, before any model sees them: counts and sizes within
:class:`ToolLimits`, OpenAI's function-name rule, a tool choice that names an offered tool, and
parameter schemas that are well-formed JSON Schema (structure and keyword value types; no
meta-schema library needed). Whether a local grammar can *enforce* a schema is decided later,
by the model adapter (:mod:`voicecli.llm.json_grammar`). Errors say which field is wrong in
OpenAI's ``param`` notation (``tools[2].function.parameters``)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

from voicecli.errors import VoicecliError
from voicecli.llm.tools import ToolRequest

NAME_RE = re.compile(r"[a-zA-Z0-9_-]{1,64}")
"""OpenAI's rule for function names."""
_TYPES = {"string", "number", "integer", "boolean", "null", "object", "array"}
_SCHEMA_KEYS = ("not", "if", "then", "else", "additionalProperties", "contains", "propertyNames",
                "unevaluatedProperties", "unevaluatedItems", "additionalItems")
_SCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_SCHEMA_MAPS = ("properties", "$defs", "definitions", "patternProperties", "dependentSchemas")
_COUNTS = ("minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties",
           "minContains", "maxContains")
_NUMBERS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")


@dataclass(frozen=True)
class ToolLimits:
    max_tools: int = 128
    """Functions per request."""
    max_schema_chars: int = 16_384
    """One function's parameters schema, as compact JSON."""
    max_total_chars: int = 262_144
    """All functions together (names, descriptions, schemas)."""
    max_schema_depth: int = 32
    """Nesting of objects and lists inside one schema."""
    max_description_chars: int = 4_096


DEFAULT_TOOL_LIMITS = ToolLimits()


class ToolSpecError(VoicecliError):
    """An invalid tool, schema or tool choice. ``param`` names the field."""

    def __init__(self, message: str, param: str, code: str = "invalid_value") -> None:
        super().__init__(message)
        self.param = param
        self.code = code


def check_tool_request(request: ToolRequest, limits: ToolLimits = DEFAULT_TOOL_LIMITS) -> None:
    """Raise :class:`ToolSpecError` for the first problem found."""
    if len(request.tools) > limits.max_tools:
        raise ToolSpecError(f"too many tools: {len(request.tools)} (at most {limits.max_tools})", "tools",
                            "too_many_tools")
    seen: set[str] = set()
    total = 0
    for i, spec in enumerate(request.tools):
        where = f"tools[{i}].function"
        if not NAME_RE.fullmatch(spec.name):
            raise ToolSpecError(f"{where}.name {spec.name[:80]!r} must be 1 to 64 letters, digits, _ or -",
                                f"{where}.name", "invalid_function_name")
        if spec.name in seen:
            raise ToolSpecError(f"two tools are named {spec.name!r}", f"{where}.name", "duplicate_function_name")
        seen.add(spec.name)
        if len(spec.description) > limits.max_description_chars:
            raise ToolSpecError(f"{where}.description is longer than {limits.max_description_chars} characters",
                                f"{where}.description", "string_above_max_length")
        if len(spec.parameters_json) > limits.max_schema_chars:
            raise ToolSpecError(f"{where}.parameters is larger than {limits.max_schema_chars} characters of JSON",
                                f"{where}.parameters", "schema_too_large")
        total += len(spec.name) + len(spec.description) + len(spec.parameters_json)
        if total > limits.max_total_chars:
            raise ToolSpecError(f"the tools are larger than {limits.max_total_chars} characters in total", "tools",
                                "schema_too_large")
        problem = schema_problem(spec.parameters, limits.max_schema_depth, top=True)
        if problem is not None:
            raise ToolSpecError(f"invalid schema for function '{spec.name}': {problem}", f"{where}.parameters",
                                "invalid_function_parameters")
    choice = request.choice
    if choice.forces_call and not request.tools:
        raise ToolSpecError(f"tool_choice '{choice.mode}' needs tools", "tool_choice")
    if choice.mode == "function" and choice.name not in seen:
        raise ToolSpecError(f"tool_choice names function {str(choice.name)[:80]!r}, which is not among the tools",
                            "tool_choice", "invalid_tool_choice")


def schema_problem(schema: object, max_depth: int, top: bool = False, path: str = "") -> str | None:
    """What makes ``schema`` malformed (``None`` if nothing): a subschema that is not an object
    or boolean, or a keyword with a value of the wrong kind. Unknown keywords are allowed, as
    JSON Schema allows them. The top level must describe an object."""
    here = path or "/"
    if max_depth < 0:
        return f"{here}: nested too deeply"
    if isinstance(schema, bool) and not top:
        return None
    if not isinstance(schema, Mapping):
        return f"{here}: a schema must be a JSON object"
    if top and schema.get("type", "object") != "object":
        return "the parameters schema must have type 'object'"
    type_ = schema.get("type")
    if type_ is not None:
        types = type_ if isinstance(type_, list) else [type_]
        if not types or any(not isinstance(t, str) or t not in _TYPES for t in types):
            return f"{here}/type: {json.dumps(type_)[:60]} is not a JSON Schema type"
    for key in _COUNTS:
        value = schema.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            return f"{here}/{key}: must be a non-negative integer"
    for key in _NUMBERS:
        value = schema.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            return f"{here}/{key}: must be a number"
    required = schema.get("required")
    if required is not None and (not isinstance(required, list) or not all(isinstance(r, str) for r in required)):
        return f"{here}/required: must be a list of property names"
    if "enum" in schema and not isinstance(schema["enum"], list):
        return f"{here}/enum: must be a list"
    if "pattern" in schema and not isinstance(schema["pattern"], str):
        return f"{here}/pattern: must be a string"
    children: list[tuple[str, object]] = [(f"{path}/{k}", schema[k]) for k in _SCHEMA_KEYS if k in schema]
    for key in _SCHEMA_LISTS:
        if key in schema:
            value = schema[key]
            if not isinstance(value, list) or not value:
                return f"{here}/{key}: must be a non-empty list of schemas"
            children += [(f"{path}/{key}/{i}", v) for i, v in enumerate(value)]
    for key in _SCHEMA_MAPS:
        if key in schema:
            value = schema[key]
            if not isinstance(value, Mapping):
                return f"{here}/{key}: must be an object of schemas"
            children += [(f"{path}/{key}/{k}", v) for k, v in value.items()]
    if "items" in schema:
        items = schema["items"]
        children += ([(f"{path}/items/{i}", v) for i, v in enumerate(items)] if isinstance(items, list)
                     else [(f"{path}/items", items)])
    for child_path, child in children:
        problem = schema_problem(child, max_depth - 1, path=child_path)
        if problem is not None:
            return problem
    return None
