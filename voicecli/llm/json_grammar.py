"""JSON Schema → llama.cpp GBNF grammar, for constrained generation of tool arguments.

Pure Python (no llama.cpp import). It covers the subset that a grammar can enforce exactly, so
every text the grammar accepts is JSON that validates against the schema:

- ``type`` (one or a list), ``enum``, ``const``, ``anyOf``/``oneOf`` (alternatives; ``oneOf``
  branches are assumed not to overlap), local ``$ref`` into ``$defs``/``definitions``;
- objects: ``properties``, ``required``, ``additionalProperties`` (extra keys are never
  generated, which every setting allows; without ``properties`` they follow its schema);
- arrays: ``items``, ``minItems``, ``maxItems``; strings: ``minLength``, ``maxLength``;
- annotations are ignored: ``description``, ``title``, ``default``, ``examples``, ``format`` …

Any other keyword (``minimum``, ``pattern``, ``uniqueItems``, ``not`` …) raises
:class:`UnsupportedSchema` naming it, rather than producing arguments that might not validate.
Repetitions use GBNF's ``{m,n}`` (llama.cpp's own converter expands them into nested rules,
and a ``maxLength`` of a few thousand crashes its grammar parser). Output size is capped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

ANNOTATIONS = frozenset({"title", "description", "default", "examples", "$schema", "$id", "$comment",
                         "deprecated", "readOnly", "writeOnly", "format", "$defs", "definitions", "nullable"})
ENFORCED = frozenset({"type", "enum", "const", "anyOf", "oneOf", "$ref", "properties", "required",
                      "additionalProperties", "items", "minItems", "maxItems", "minLength", "maxLength"})
MAX_GRAMMAR_CHARS = 65_536
"""A grammar larger than this is refused (llama.cpp parses it for every generation)."""
MAX_RULES = 2_000

_PRIMITIVES = {
    "sp": '" "?',
    "chr": r'[^"\\\x7F\x00-\x1F] | "\\" (["\\/bfnrt] | "u" [0-9a-fA-F]{4})',
    "string": r'"\"" chr* "\""',
    "integer": '"-"? ("0" | [1-9] [0-9]{0,15})',
    "number": '"-"? ("0" | [1-9] [0-9]{0,15}) ("." [0-9]{1,15})? ([eE] [-+]? [0-9]{1,3})?',
    "boolean": '"true" | "false"',
    "null": '"null"',
    "value": "object | array | string | number | boolean | null",
    "object": '"{" ( string ":" sp value ("," sp string ":" sp value)* )? "}"',
    "array": '"[" ( value ("," sp value)* )? "]"',
}
_DEPENDS = {"string": ("chr",), "value": ("object", "array", "string", "number", "boolean", "null"),
            "object": ("string", "sp", "value"), "array": ("value", "sp")}
_JSON_TYPES = ("string", "number", "integer", "boolean", "null", "object", "array")


class UnsupportedSchema(ValueError):
    """The schema uses something a grammar cannot enforce, or is malformed. ``path`` is a JSON
    pointer into the schema."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path or '/'}: {message}")
        self.path = path


def gbnf_literal(text: str) -> str:
    """``text`` as a GBNF string literal."""
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _repeat(item: str, low: int, high: int | None) -> str:
    if high is None:
        return f"({item})*" if low == 0 else f"({item}){{{low},}}"
    return f"({item}){{{low},{high}}}"


def _count(schema: Mapping[str, object], key: str, path: str) -> int | None:
    value = schema.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise UnsupportedSchema(f"{path}/{key}", "must be a non-negative integer")
    return value


def _matches_type(value: object, type_: str) -> bool:
    checks: dict[str, bool] = {
        "string": isinstance(value, str), "boolean": isinstance(value, bool), "null": value is None,
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "number": isinstance(value, int | float) and not isinstance(value, bool),
        "object": isinstance(value, dict), "array": isinstance(value, list)}
    return checks[type_]


class GrammarBuilder:
    """Collects rules for one or more schemas. ``prefix`` keeps the rule names of several
    schemas (one per tool) apart inside one grammar."""

    def __init__(self) -> None:
        self.rules: dict[str, str] = {}
        self._root: Mapping[str, object] = {}
        self._refs: dict[str, str] = {}

    def add(self, schema: object, prefix: str) -> str:
        """Add the rules for ``schema``; return the name of its top rule."""
        if not isinstance(schema, Mapping):
            raise UnsupportedSchema("", "the schema must be a JSON object")
        self._root, self._refs = schema, {}
        return self._visit(schema, prefix, "")

    def grammar(self, root: str) -> str:
        """The whole grammar with ``root ::= <root>``."""
        text = "\n".join([f"root ::= {root}", *(f"{name} ::= {body}" for name, body in self.rules.items())]) + "\n"
        if len(text) > MAX_GRAMMAR_CHARS or len(self.rules) > MAX_RULES:
            raise UnsupportedSchema("", f"the schema is too complex for a grammar ({len(text)} characters)")
        return text

    def _rule(self, name: str, body: str) -> str:
        base = re.sub(r"[^a-zA-Z0-9-]+", "-", name).strip("-") or "r"
        unique, n = base, 1
        while unique in self.rules or unique in _PRIMITIVES or unique == "root":
            n += 1
            unique = f"{base}-{n}"
        self.rules[unique] = body
        return unique

    def _primitive(self, name: str) -> str:
        if name not in self.rules:
            self.rules[name] = _PRIMITIVES[name]
            for dep in _DEPENDS.get(name, ()):
                self._primitive(dep)
        return name

    def _visit(self, schema: object, name: str, path: str) -> str:
        if schema is True or schema == {}:
            return self._primitive("value")
        if not isinstance(schema, Mapping):
            raise UnsupportedSchema(path, "a schema that accepts nothing cannot be generated"
                                    if schema is False else "a schema must be an object or a boolean")
        for key in schema:
            if key not in ENFORCED and key not in ANNOTATIONS:
                raise UnsupportedSchema(f"{path}/{key}", f"'{key}' cannot be enforced by constrained generation")
        if "$ref" in schema:
            return self._ref(schema, path)
        if "anyOf" in schema or "oneOf" in schema:
            return self._union(schema, name, path)
        if "const" in schema or "enum" in schema:
            return self._literals(schema, name, path)
        type_ = schema.get("type")
        if isinstance(type_, list):
            if not type_ or not all(isinstance(t, str) for t in type_):
                raise UnsupportedSchema(f"{path}/type", "must be a type name or a non-empty list of them")
            branches = [self._visit({**schema, "type": t}, f"{name}-{t}", path) for t in dict.fromkeys(type_)]
            return self._rule(name, " | ".join(branches))
        if type_ is None:
            type_ = next((t for t, keys in (("object", ("properties", "additionalProperties", "required")),
                                            ("array", ("items", "minItems", "maxItems")),
                                            ("string", ("minLength", "maxLength")))
                          if any(k in schema for k in keys)), None)
            if type_ is None:
                return self._primitive("value")
        if type_ not in _JSON_TYPES:
            raise UnsupportedSchema(f"{path}/type", f"unknown type {str(type_)[:40]!r}")
        if type_ == "object":
            return self._object(schema, name, path)
        if type_ == "array":
            return self._array(schema, name, path)
        if type_ == "string" and ("minLength" in schema or "maxLength" in schema):
            low = _count(schema, "minLength", path) or 0
            high = _count(schema, "maxLength", path)
            if high is not None and high < low:
                raise UnsupportedSchema(path, "maxLength is below minLength")
            self._primitive("chr")
            return self._rule(name, r'"\"" ' + _repeat("chr", low, high) + r' "\""')
        return self._primitive(str(type_))

    def _ref(self, schema: Mapping[str, object], path: str) -> str:
        ref = schema["$ref"]
        extra = [k for k in schema if k != "$ref" and k not in ANNOTATIONS]
        if extra:
            raise UnsupportedSchema(f"{path}/{extra[0]}", "keywords beside $ref are not supported")
        match = re.fullmatch(r"#/(\$defs|definitions)/([^/]+)", ref) if isinstance(ref, str) else None
        if match is None:
            raise UnsupportedSchema(f"{path}/$ref", "only local references (#/$defs/NAME) are supported")
        pointer = match.group(0)
        if pointer not in self._refs:
            defs = self._root.get(match.group(1))
            target = defs.get(match.group(2)) if isinstance(defs, Mapping) else None
            if target is None:
                raise UnsupportedSchema(f"{path}/$ref", f"{pointer} is not defined")
            self._refs[pointer] = rule = self._rule(f"def-{match.group(2)}", "")  # placeholder: recursion
            self.rules[rule] = self._visit(target, f"def-{match.group(2)}-body", pointer[1:])
        return self._refs[pointer]

    def _union(self, schema: Mapping[str, object], name: str, path: str) -> str:
        key = "anyOf" if "anyOf" in schema else "oneOf"
        branches = schema[key]
        extra = [k for k in schema if k != key and k not in ANNOTATIONS]
        if extra:
            raise UnsupportedSchema(f"{path}/{extra[0]}", f"keywords beside {key} are not supported")
        if not isinstance(branches, list) or not branches:
            raise UnsupportedSchema(f"{path}/{key}", "must be a non-empty list of schemas")
        return self._rule(name, " | ".join(self._visit(b, f"{name}-{i}", f"{path}/{key}/{i}")
                                           for i, b in enumerate(branches)))

    def _literals(self, schema: Mapping[str, object], name: str, path: str) -> str:
        values = [schema["const"]] if "const" in schema else schema["enum"]
        if not isinstance(values, list):
            raise UnsupportedSchema(f"{path}/enum", "must be a list")
        type_ = schema.get("type")
        types = [type_] if isinstance(type_, str) else type_ if isinstance(type_, list) else None
        if types is not None:
            values = [v for v in values if any(t in _JSON_TYPES and _matches_type(v, t) for t in types)]
        if not values:
            raise UnsupportedSchema(path, "no enum/const value matches the type")
        literals = dict.fromkeys(json.dumps(v, ensure_ascii=False) for v in values)
        return self._rule(name, " | ".join(gbnf_literal(text) for text in literals))

    def _object(self, schema: Mapping[str, object], name: str, path: str) -> str:
        props = schema.get("properties", {})
        required = schema.get("required", [])
        extra = schema.get("additionalProperties", True)
        if not isinstance(props, Mapping) or not isinstance(required, list):
            raise UnsupportedSchema(path, "properties must be an object and required a list")
        if not props and extra is not False and extra is not True and "required" not in schema:
            # Only additionalProperties: a map from any key to that schema.
            sp, key = self._primitive("sp"), self._primitive("string")
            value = self._visit(extra, f"{name}-value", f"{path}/additionalProperties")
            pair = f'{key} ":" {sp} {value}'
            return self._rule(name, f'"{{" ( {pair} ("," {sp} {pair})* )? "}}"')
        if not props and not required:
            return self._primitive("object") if extra is not False else self._rule(name, '"{" "}"')
        sp = self._primitive("sp")
        pairs: dict[str, str] = {}
        for key, sub in props.items():
            if sub is False:
                if key in required:
                    raise UnsupportedSchema(f"{path}/properties/{key}", "a required property cannot be false")
                continue
            value = self._visit(sub, f"{name}-{key}", f"{path}/properties/{key}")
            pairs[key] = f'{gbnf_literal(json.dumps(key, ensure_ascii=False))} ":" {sp} {value}'
        for key in required:
            if not isinstance(key, str):
                raise UnsupportedSchema(f"{path}/required", "must list property names")
            if key not in pairs:  # required but not described: any value
                pairs[key] = f'{gbnf_literal(json.dumps(key, ensure_ascii=False))} ":" {sp} {self._primitive("value")}'
        needed = [pairs[k] for k in pairs if k in required]
        optional = [pairs[k] for k in pairs if k not in required]
        if needed:
            body = f' "," {sp} '.join(needed) + "".join(f' ("," {sp} {o})?' for o in optional)
            return self._rule(name, f'"{{" {body} "}}"')
        # No required key: any in-order subset of the optional ones, commas between.
        tails = [""] * (len(optional) + 1)
        for i in range(len(optional) - 1, 0, -1):
            tails[i] = self._rule(f"{name}-tail", f'("," {sp} {optional[i]})? {tails[i + 1]}'.strip())
        firsts = " | ".join(f"{o} {tails[i + 1]}".strip() for i, o in enumerate(optional))
        return self._rule(name, f'"{{" ( {firsts} )? "}}"')

    def _array(self, schema: Mapping[str, object], name: str, path: str) -> str:
        low = _count(schema, "minItems", path) or 0
        high = _count(schema, "maxItems", path)
        if high is not None and high < low:
            raise UnsupportedSchema(path, "maxItems is below minItems")
        items = schema.get("items", True)
        if items is False or high == 0:
            if low > 0:
                raise UnsupportedSchema(path, "minItems cannot be met")
            return self._rule(name, '"[" "]"')
        item = self._visit(items, f"{name}-item", f"{path}/items")
        sp = self._primitive("sp")
        rest = _repeat(f'"," {sp} {item}', max(low - 1, 0), None if high is None else high - 1)
        body = f"{item} {rest}" if low > 0 else f"( {item} {rest} )?"
        return self._rule(name, f'"[" {body} "]"')


def schema_to_gbnf(schema: object) -> str:
    """A grammar whose every sentence is compact JSON valid under ``schema``."""
    builder = GrammarBuilder()
    return builder.grammar(builder.add(schema, "args"))
