"""Tool calling without a model: schema → grammar (checked by matching JSON texts against the
grammar, translated to a regular expression), the forced-call decoder, calls read from text,
the OpenAI stream decoder, the request checks, the prompt a tool-less template gets, and the
chat route on a fake model that calls tools."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest

from tests.unit.fake_engines import FakeEngines, FakeTranscriber, rest_client
from voicecli.llm.forced_call import ForcedCallDecoder, call_header, forced_call_grammar
from voicecli.llm.json_grammar import UnsupportedSchema, schema_to_gbnf
from voicecli.llm.openai_wire import StreamDecoder, message_json, tool_call_delta_json, tools_body
from voicecli.llm.tool_checks import ToolLimits, ToolSpecError, check_tool_request
from voicecli.llm.tool_text import ToolTextParser
from voicecli.llm.tools import (
    ReplyEnded,
    TextDelta,
    ToolCall,
    ToolCallAssembler,
    ToolCallDelta,
    ToolChoice,
    ToolRequest,
    ToolSchemaError,
    ToolSpec,
)
from voicecli.llm.types import ChatMessage

# -- a GBNF grammar without recursion as a Python regular expression ---------------------------

_TOKEN = re.compile(r'\s+|"(?:\\.|[^"\\])*"|\[(?:\\.|[^\]\\])*\]|\{\d+(?:,\d*)?\}|[()|?*+]|[a-zA-Z0-9-]+')


def _literal(text: str) -> str:
    body = re.sub(r"\\x([0-9A-Fa-f]{2})", lambda m: chr(int(m.group(1), 16)), text[1:-1])
    body = body.replace("\\n", "\n").replace("\\r", "\r").replace("\\t", "\t")
    return re.escape(re.sub(r"\\(.)", r"\1", body))


def gbnf_regex(gbnf: str) -> re.Pattern[str]:
    rules = dict(line.split(" ::= ", 1) for line in gbnf.strip().splitlines())

    def expand(name: str, depth: int) -> str:
        assert depth < 40, "recursive grammar"
        out = []
        for tok in _TOKEN.findall(rules[name]):
            if tok.isspace():
                continue
            if tok.startswith('"'):
                out.append(_literal(tok))
            elif tok.startswith("["):
                out.append(tok)
            elif tok == "(":
                out.append("(?:")
            elif tok in ")|?*+" or tok.startswith("{"):
                out.append(tok)
            else:
                out.append(f"(?:{expand(tok, depth + 1)})")
        return "".join(out)

    return re.compile(expand("root", 0), re.DOTALL)


WEATHER = {"type": "object", "properties": {"city": {"type": "string", "description": "City"},
                                            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
           "required": ["city", "unit"]}
OPTIONAL = {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "boolean"},
                                             "c": {"type": "null"}}}
MIXED = {"type": "object", "properties": {
    "n": {"type": "number"}, "tags": {"type": "array", "items": {"type": "string", "maxLength": 3},
                                      "minItems": 1, "maxItems": 2},
    "when": {"anyOf": [{"type": "integer"}, {"const": "now"}]}, "maybe": {"type": ["string", "null"]},
    "where": {"$ref": "#/$defs/place"}},
    "required": ["n", "tags", "when", "maybe", "where"],
    "$defs": {"place": {"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]}}}

GRAMMAR_CASES = [
    (WEATHER, ['{"city": "Paris", "unit": "celsius"}', '{"city":"Zürich \\"Z\\" \\u00e9","unit":"fahrenheit"}'],
     ['{"city": "Paris"}', '{"city": "Paris", "unit": "kelvin"}', '{"city": "Pa\nris", "unit": "celsius"}',
      '{"unit": "celsius", "city": "Paris"}', '{"city": "Paris", "unit": "celsius", "x": 1}']),
    (OPTIONAL, ["{}", '{"a": 1}', '{"b": true}', '{"a": -20, "c": null}', '{"a": 0, "b": false, "c": null}'],
     ['{"b": true, "a": 1}', '{"a": 01}', '{"a": 1.5}', '{,"b": true}', '{"a": 1,}']),
    (MIXED, ['{"n": -1.5e3, "tags": ["ab"], "when": 3, "maybe": null, "where": {"x": 2}}',
             '{"n": 0, "tags": ["", "xyz"], "when": "now", "maybe": "s", "where": {"x": -1}}'],
     ['{"n": 1, "tags": [], "when": 3, "maybe": null, "where": {"x": 2}}',
      '{"n": 1, "tags": ["a", "b", "c"], "when": 3, "maybe": null, "where": {"x": 2}}',
      '{"n": 1, "tags": ["abcd"], "when": 3, "maybe": null, "where": {"x": 2}}',
      '{"n": 1, "tags": ["a"], "when": "later", "maybe": null, "where": {"x": 2}}']),
]


@pytest.mark.parametrize(("schema", "valid", "invalid"), GRAMMAR_CASES, ids=["required", "optional", "mixed"])
def test_grammar_accepts_exactly_the_valid_arguments(schema, valid, invalid):
    pattern = gbnf_regex(schema_to_gbnf(schema))
    for text in valid:
        assert pattern.fullmatch(text), text
        json.loads(text)
    for text in invalid:
        assert not pattern.fullmatch(text), text


def test_maxlength_in_the_thousands_stays_one_repetition():
    """Regression: llama-cpp-python's converter nests one group per allowed character, and a
    maxLength of 2000 made llama.cpp's grammar parser fail and the process crash."""
    gbnf = schema_to_gbnf({"type": "object", "properties": {"s": {"type": "string", "maxLength": 100_000}}})
    assert len(gbnf) < 1000 and "{0,100000}" in gbnf


@pytest.mark.parametrize(("schema", "path"), [
    ({"type": "object", "properties": {"n": {"type": "integer", "minimum": 0}}}, "/properties/n/minimum"),
    ({"type": "object", "properties": {"s": {"type": "string", "pattern": "^a"}}}, "/properties/s/pattern"),
    ({"type": "object", "properties": {"l": {"type": "array", "uniqueItems": True}}}, "/properties/l/uniqueItems"),
    ({"type": "object", "properties": {"r": {"$ref": "https://example.com/s.json"}}}, "/properties/r/$ref"),
    ({"type": "object", "properties": {"r": {"$ref": "#/$defs/missing"}}}, "/properties/r/$ref"),
    ({"type": "object", "properties": {"x": False}, "required": ["x"]}, "/properties/x"),
    ({"type": "object", "allOf": [{"type": "object"}]}, "/allOf"),
])
def test_unenforceable_schemas_are_refused_with_their_path(schema, path):
    with pytest.raises(UnsupportedSchema) as info:
        schema_to_gbnf(schema)
    assert info.value.path == path


def test_forced_call_grammar_prefix_cache_and_errors():
    weather = ToolSpec.of("get_weather", "", WEATHER)
    clock = ToolSpec.of("get_time", "", OPTIONAL)
    one = forced_call_grammar((weather,))
    assert one.prefix == call_header("get_weather") == '{"name": "get_weather", "arguments": '
    assert gbnf_regex(one.gbnf).fullmatch('{"city": "Oslo", "unit": "celsius"}}')
    two = forced_call_grammar((weather, clock))
    assert two.prefix == '{"name": "' and forced_call_grammar((weather, clock)) is two
    pattern = gbnf_regex(two.gbnf)
    assert pattern.fullmatch('get_time", "arguments": {"a": 1}}')
    assert not pattern.fullmatch('get_time", "arguments": {"city": "Oslo", "unit": "celsius"}}')
    with pytest.raises(ToolSchemaError) as info:
        forced_call_grammar((weather, ToolSpec.of("bad", "", {"type": "object", "not": {}})))
    assert info.value.tool == "bad"


@pytest.mark.parametrize("pieces", [['{"ci', 'ty": "Oslo', '", "unit": "celsius"', "}}"],
                                    ['{"city": "Oslo", "unit": "celsius"}}'], list('{"city": "Oslo", "unit": "celsius"}}')])
def test_forced_call_decoder_streams_the_arguments(pieces):
    grammar = forced_call_grammar((ToolSpec.of("get_weather", "", WEATHER),))
    decoder = ForcedCallDecoder(grammar, "call_1")
    deltas = [d for p in pieces for d in decoder.feed(p)] + decoder.finish(complete=True)
    assert deltas[0] == ToolCallDelta(0, "", "call_1", "get_weather")
    assembler = ToolCallAssembler()
    for d in deltas:
        assembler.add(d)
    assert assembler.calls() == [ToolCall("call_1", "get_weather", '{"city": "Oslo", "unit": "celsius"}')]


def test_forced_call_decoder_waits_for_the_whole_name():
    grammar = forced_call_grammar((ToolSpec.of("get", "", OPTIONAL), ToolSpec.of("get_time", "", OPTIONAL)))
    decoder = ForcedCallDecoder(grammar, "c")
    assert decoder.feed("get") == [] and decoder.feed("_time") == []
    out = decoder.feed('", "arguments": {"a"') + decoder.feed(": 1}") + decoder.feed("}") + decoder.finish(True)
    assert out[0].name == "get_time" and "".join(d.arguments for d in out) == '{"a": 1}'
    cut = ForcedCallDecoder(grammar, "c")
    out = cut.feed('get", "arguments": {"a": 1}') + cut.finish(complete=False)
    assert "".join(d.arguments for d in out) == '{"a": 1}'


@pytest.mark.parametrize(("pieces", "text", "calls"), [
    (["Hello", " there", ", <tool", " friend."], "Hello there, <tool friend.", []),
    (["Sure. <tool_", 'call>{"name": "get_time", "arguments": {"a": 1}}</tool_call>'], "Sure. ",
     [("get_time", {"a": 1})]),
    (["  {\"name\": \"get_time\", ", '"parameters": {}}'], "", [("get_time", {})]),
    (['<tool_call>{"name": "rm_rf", "arguments": {}}</tool_call>'],
     '<tool_call>{"name": "rm_rf", "arguments": {}}</tool_call>', []),
    (["{not json"], "{not json", []),
])
def test_calls_written_as_text(pieces, text, calls):
    parser = ToolTextParser({"get_time"})
    events = [e for p in pieces for e in parser.feed(p)] + parser.finish()
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == text
    got = [(e.name, json.loads(e.arguments)) for e in events if isinstance(e, ToolCallDelta)]
    assert got == calls


def test_stream_decoder_normalises_repeated_ids_and_reads_the_finish():
    decoder = StreamDecoder()
    head = {"index": 0, "id": "call_x", "type": "function", "function": {"name": "f", "arguments": '{"a"'}}
    again = {"index": 0, "id": "call_x", "type": "function", "function": {"name": "f", "arguments": ": 1}"}}
    events = (decoder.feed({"choices": [{"delta": {"role": "assistant", "content": None, "tool_calls": [head]}}]})
              + decoder.feed({"choices": [{"delta": {"tool_calls": [again]}, "finish_reason": None}]})
              + decoder.feed({"choices": [{"delta": {}, "finish_reason": "tool_calls"}]})
              + decoder.feed({"choices": [], "usage": {"completion_tokens": 7}}))
    assert events == [ToolCallDelta(0, '{"a"', "call_x", "f"), ToolCallDelta(0, ": 1}")]
    assert decoder.finish_reason == "tool_calls" and decoder.completion_tokens == 7
    assert tool_call_delta_json(events[0]) == {"index": 0, "id": "call_x", "type": "function",
                                               "function": {"name": "f", "arguments": '{"a"'}}
    assert tool_call_delta_json(events[1]) == {"index": 0, "function": {"arguments": ": 1}"}}


def test_wire_shapes_of_messages_and_tools():
    call = ToolCall("call_1", "f", "{}")
    assert message_json(ChatMessage("assistant", "", (call,))) == {
        "role": "assistant", "content": "", "tool_calls": [{"id": "call_1", "type": "function",
                                                             "function": {"name": "f", "arguments": "{}"}}]}
    assert message_json(ChatMessage("tool", "42", tool_call_id="call_1"))["tool_call_id"] == "call_1"
    body = tools_body(ToolRequest((ToolSpec.of("f", "does f", WEATHER),), ToolChoice.function("f"), False))
    assert body["tool_choice"] == {"type": "function", "function": {"name": "f"}}
    assert body["tools"][0]["function"]["parameters"] == WEATHER and body["parallel_tool_calls"] is False


def _spec(name: str = "f", schema: object = WEATHER) -> ToolSpec:
    return ToolSpec(name, "", json.dumps(schema))


def _nested(depth: int) -> dict:
    schema: dict = {"type": "string"}
    for _ in range(depth):
        schema = {"type": "object", "properties": {"a": schema}}
    return schema


@pytest.mark.parametrize(("request_", "param", "code"), [
    (ToolRequest(tuple(_spec(f"f{i}") for i in range(129))), "tools", "too_many_tools"),
    (ToolRequest((_spec("no spaces"),)), "tools[0].function.name", "invalid_function_name"),
    (ToolRequest((_spec("f"), _spec("f"))), "tools[1].function.name", "duplicate_function_name"),
    (ToolRequest((_spec(schema={"type": "object", "description": "x" * 20_000}),)), "tools[0].function.parameters",
     "schema_too_large"),
    (ToolRequest((_spec(schema=_nested(40)),)), "tools[0].function.parameters", "invalid_function_parameters"),
    (ToolRequest((_spec(schema={"type": "string"}),)), "tools[0].function.parameters", "invalid_function_parameters"),
    (ToolRequest((_spec(schema={"type": "object", "properties": {"a": {"type": "text"}}}),)),
     "tools[0].function.parameters", "invalid_function_parameters"),
    (ToolRequest((_spec(schema={"type": "object", "required": "a"}),)), "tools[0].function.parameters",
     "invalid_function_parameters"),
    (ToolRequest((_spec(schema={"type": "object", "properties": {"a": 5}}),)), "tools[0].function.parameters",
     "invalid_function_parameters"),
    (ToolRequest((_spec(),), ToolChoice.function("g")), "tool_choice", "invalid_tool_choice"),
    (ToolRequest((), ToolChoice("required")), "tool_choice", "invalid_value"),
])
def test_tool_request_checks(request_, param, code):
    with pytest.raises(ToolSpecError) as info:
        check_tool_request(request_, ToolLimits())
    assert (info.value.param, info.value.code) == (param, code)


def test_valid_tool_requests_pass():
    check_tool_request(ToolRequest((_spec("get_weather"), _spec("t", MIXED)), ToolChoice("required")))
    check_tool_request(ToolRequest((_spec("a", {"type": "object"}),), ToolChoice.function("a")))


def test_a_template_without_tools_gets_calls_and_results_as_text():
    from voicecli.llm.llama_prompt import CHATML, ChatTemplate

    template = ChatTemplate(CHATML, "", "<|im_end|>")
    assert not template.supports_tools and ChatTemplate("{{ tools }}", "", "").supports_tools
    call = ToolCall("call_1", "get_weather", '{"city": "Paris"}')
    prompt = template.render([ChatMessage("system", "Be brief."), ChatMessage("user", "Weather?"),
                              ChatMessage("assistant", "", (call,)),
                              ChatMessage("tool", "sunny", tool_call_id="call_1")],
                             (ToolSpec.of("get_weather", "Weather now", WEATHER),), describe_tools=True)
    assert 'I called get_weather({"city": "Paris"}).' in prompt.text
    assert "<|im_start|>user\nResult of get_weather: sunny<|im_end|>" in prompt.text
    assert prompt.text.startswith("<|im_start|>system\nBe brief.\n\nYou call a function")
    assert '"name": "get_weather", "description": "Weather now"' in prompt.text and prompt.stop == ("<|im_end|>",)


# -- the chat route on a fake model ----------------------------------------------------------


class FakeToolChat:
    """Calls the first offered tool (forced or auto), or says what tool results it got."""

    name = "fake-tool-llm"

    def __init__(self) -> None:
        self.seen: list[tuple[list[ChatMessage], ToolRequest | None]] = []

    def stream(self, messages, options) -> Iterator[str]:
        yield "plain"

    def stream_reply(self, messages, options, tools=None):
        self.seen.append((list(messages), tools))
        if tools is not None and tools.tools and tools.choice.mode != "none":
            spec = tools.candidates()[0] if tools.choice.forces_call else tools.tools[0]
            if spec.name == "unenforceable":
                raise ToolSchemaError(spec.name, "parameters /minimum: cannot be enforced")
            yield ToolCallDelta(0, "", "call_fake", spec.name)
            yield ToolCallDelta(0, '{"city": ')
            yield ToolCallDelta(0, '"Paris"}')
            yield ReplyEnded("tool_calls", 3)
            return
        yield TextDelta("Results: ")
        yield TextDelta(", ".join(m.content for m in messages if m.role == "tool"))
        yield ReplyEnded("stop", 2)

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def warm_up(self, system_prompt: str = "") -> None:
        pass


TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Weather", "parameters": WEATHER}},
         {"type": "function", "function": {"name": "get_time", "parameters": OPTIONAL}}]
USER = [{"role": "user", "content": "Weather in Paris?"}]


@pytest.fixture
def tool_engines():
    return FakeEngines(FakeTranscriber(()), FakeToolChat())


def test_chat_route_returns_and_streams_tool_calls(tool_engines):
    body = {"model": "x", "messages": USER, "tools": TOOLS,
            "tool_choice": {"type": "function", "function": {"name": "get_time"}}}
    with rest_client(tool_engines) as client:
        whole = client.post("/v1/chat/completions", json=body).json()
        streamed = client.post("/v1/chat/completions", json={**body, "stream": True}).text
    choice = whole["choices"][0]
    assert choice["finish_reason"] == "tool_calls" and choice["message"]["content"] is None
    assert choice["message"]["tool_calls"] == [{"id": "call_fake", "type": "function",
                                                "function": {"name": "get_time", "arguments": '{"city": "Paris"}'}}]
    request = tool_engines.chat.seen[0][1]
    assert request.choice == ToolChoice.function("get_time") and [t.name for t in request.tools] == ["get_weather",
                                                                                                     "get_time"]
    assert request.tools[0].parameters == WEATHER
    chunks = [json.loads(line[6:]) for line in streamed.splitlines() if line.startswith("data: {")]
    deltas = [c["choices"][0]["delta"] for c in chunks]
    assert deltas[0] == {"role": "assistant", "content": None}
    calls = [d["tool_calls"][0] for d in deltas if "tool_calls" in d]
    assert calls[0] == {"index": 0, "id": "call_fake", "type": "function",
                        "function": {"name": "get_time", "arguments": ""}}
    assert all(set(c) == {"index", "function"} for c in calls[1:])
    assert "".join(c["function"]["arguments"] for c in calls) == '{"city": "Paris"}'
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls" and streamed.endswith("data: [DONE]\n\n")


def test_chat_route_passes_tool_results_to_the_model(tool_engines):
    messages = [*USER, {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": [{"type": "text", "text": "21 C, sunny"}]}]
    with rest_client(tool_engines) as client:
        r = client.post("/v1/chat/completions", json={"model": "x", "messages": messages, "tools": TOOLS,
                                                      "tool_choice": "none"}).json()
    assert r["choices"][0]["message"]["content"] == "Results: 21 C, sunny"
    assert r["choices"][0]["finish_reason"] == "stop" and "tool_calls" not in r["choices"][0]["message"]
    seen, request = tool_engines.chat.seen[0]
    assert seen[1] == ChatMessage("assistant", "", (ToolCall("call_1", "get_weather", '{"city": "Paris"}'),))
    assert seen[2] == ChatMessage("tool", "21 C, sunny", tool_call_id="call_1") and request.choice.mode == "none"


@pytest.mark.parametrize(("extra", "param", "code"), [
    ({"tool_choice": {"type": "function", "function": {"name": "nope"}}}, "tool_choice", "invalid_tool_choice"),
    ({"tool_choice": "sometimes"}, "tool_choice", "invalid_tool_choice"),
    ({"tool_choice": "required", "tools": []}, "tool_choice", "invalid_value"),
    ({"tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": []}}}]},
     "tools[0].function.parameters", "invalid_function_parameters"),
    ({"tools": [{"type": "function", "function": {"name": f"f{i}"}} for i in range(200)]}, "tools", "too_many_tools"),
    ({"tools": [{"type": "function", "function": {"name": "f", "parameters": {
        "type": "object", "properties": {f"p{i}": {"type": "string", "description": "d" * 50} for i in range(400)}}}}]},
     "tools[0].function.parameters", "schema_too_large"),
    ({"tools": [{"type": "code_interpreter"}]}, "tools[0].type", "invalid_tool_type"),
    ({"tools": [TOOLS[0], {"type": "function", "function": {"name": "unenforceable"}}],
      "tool_choice": {"type": "function", "function": {"name": "unenforceable"}}},
     "tools[1].function.parameters", "invalid_function_parameters"),
    ({"messages": [*USER, {"role": "tool", "tool_call_id": "call_9", "content": "x"}]}, "messages[1].tool_call_id",
     "invalid_tool_call_id"),
    ({"messages": [*USER, {"role": "tool", "content": "x"}]}, "messages[1].tool_call_id", None),
])
def test_chat_route_rejects_bad_tools_with_openai_errors(tool_engines, extra, param, code):
    with rest_client(tool_engines) as client:
        r = client.post("/v1/chat/completions", json={"model": "x", "messages": USER, "tools": TOOLS, **extra})
    error = r.json()["error"]
    assert r.status_code == 400 and error["type"] == "invalid_request_error", error
    assert error["param"] == param and (code is None or error["code"] == code), error
