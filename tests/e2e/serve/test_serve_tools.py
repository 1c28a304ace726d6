"""Tool calling through ``/v1/chat/completions`` with the official ``openai`` SDK: forced calls
(named and ``required``) from the bundled SmolLM2 in process, whose arguments validate against
the function's schema, streamed and whole; the tool's result answered in text; and, with
``--llm-url``, tools, choices and tool messages passed through to llama-cpp-python's server
(a recording proxy in between shows what it received) and its calls passed back.

``jsonschema`` is not installed here, so :func:`schema_errors` checks the keywords these
schemas use by hand."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from tests.e2e.serve.conftest import server_env, start_server, stop_server
from tests.e2e.serve.test_serve_llm_url import llama_server  # noqa: F401 - the fixture

pytestmark = [pytest.mark.models, pytest.mark.slow]

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Get the current weather in a city", "strict": True,
    "parameters": {"type": "object", "additionalProperties": False, "required": ["city", "unit"], "properties": {
        "city": {"type": "string", "description": "The city name", "maxLength": 40},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}}}}
ALARM = {"type": "function", "function": {
    "name": "set_alarm", "description": "Set an alarm clock", "strict": True,
    "parameters": {"type": "object", "additionalProperties": False, "required": ["hour", "minute", "days"],
                   "properties": {"hour": {"type": "integer"}, "minute": {"type": "integer"},
                                  "days": {"type": "array", "items": {"type": "string", "maxLength": 10},
                                           "maxItems": 3}}}}}
TOOLS = [WEATHER, ALARM]
SCHEMAS = {t["function"]["name"]: t["function"]["parameters"] for t in TOOLS}
QUESTION = [{"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "What is the weather like in Paris today?"}]
NAMED = {"type": "function", "function": {"name": "get_weather"}}


def schema_errors(value: object, schema: dict, path: str = "$") -> list[str]:
    """What makes ``value`` invalid under ``schema`` (type, enum, properties, required,
    additionalProperties, items, maxItems, maxLength)."""
    kinds = {"object": dict, "array": list, "string": str, "boolean": bool, "integer": int, "number": (int, float)}
    kind = schema.get("type")
    if kind and (not isinstance(value, kinds[kind]) or (kind in ("integer", "number") and isinstance(value, bool))):
        return [f"{path}: {value!r} is not of type {kind}"]
    errors = [f"{path}: {value!r} not in {schema['enum']}"] if "enum" in schema and value not in schema["enum"] else []
    if isinstance(value, str) and len(value) > schema.get("maxLength", len(value)):
        errors.append(f"{path}: longer than {schema['maxLength']}")
    if isinstance(value, dict):
        errors += [f"{path}: missing {k}" for k in schema.get("required", []) if k not in value]
        for k, v in value.items():
            if k in schema.get("properties", {}):
                errors += schema_errors(v, schema["properties"][k], f"{path}.{k}")
            elif schema.get("additionalProperties") is False:
                errors.append(f"{path}: unexpected {k}")
    if isinstance(value, list):
        if len(value) > schema.get("maxItems", len(value)):
            errors.append(f"{path}: more than {schema['maxItems']} items")
        errors += [e for i, v in enumerate(value) for e in schema_errors(v, schema.get("items", {}), f"{path}[{i}]")]
    return errors


def test_schema_errors_catches_what_it_checks():
    schema = SCHEMAS["set_alarm"]
    assert schema_errors({"hour": 7, "minute": 30, "days": ["mon"]}, schema) == []
    assert len(schema_errors({"hour": "7", "minute": True, "days": ["x" * 11, "a", "b", "c"], "extra": 1}, schema)) == 5


def assert_valid_call(call, names=("get_weather",)) -> dict:
    assert call.type == "function" and call.id and call.function.name in names, call
    arguments = json.loads(call.function.arguments)
    assert schema_errors(arguments, SCHEMAS[call.function.name]) == [], call.function.arguments
    return arguments


def streamed_calls(stream) -> tuple[list[dict], str | None]:
    """Reassemble ``delta.tool_calls`` by index, checking the OpenAI streaming shape."""
    calls: dict[int, dict] = {}
    finish = None
    for chunk in stream:
        if not chunk.choices:
            continue
        choice = chunk.choices[0]
        finish = choice.finish_reason or finish
        assert not choice.delta.content, "a forced call has no text"
        for d in choice.delta.tool_calls or ():
            if d.index not in calls:
                assert d.id and d.type == "function" and d.function.name, d
                calls[d.index] = {"id": d.id, "name": d.function.name, "arguments": ""}
            else:
                assert d.id is None and d.function.name is None, "id and name only come once"
            calls[d.index]["arguments"] += d.function.arguments or ""
    return [calls[i] for i in sorted(calls)], finish


@pytest.fixture(scope="module")
def client(server):
    return server.client()


def test_named_tool_choice_whole_and_streamed_gives_the_same_valid_call(client):
    args = dict(model="x", messages=QUESTION, tools=TOOLS, tool_choice=NAMED, max_tokens=120, temperature=0)
    r = client.chat.completions.create(**args)
    choice = r.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content is None
    assert len(choice.message.tool_calls) == 1
    arguments = assert_valid_call(choice.message.tool_calls[0])
    assert r.usage.completion_tokens > 0

    calls, finish = streamed_calls(client.chat.completions.create(**args, stream=True))
    assert finish == "tool_calls" and len(calls) == 1
    assert calls[0]["name"] == "get_weather" and json.loads(calls[0]["arguments"]) == arguments

    # The SDK's own stream accumulator (it parses the arguments of strict tools) agrees.
    with client.chat.completions.stream(**args) as stream:
        final = stream.get_final_completion()
    sdk_call = final.choices[0].message.tool_calls[0]
    assert sdk_call.function.name == "get_weather" and sdk_call.function.parsed_arguments == arguments


def test_required_picks_one_of_several_tools_with_valid_arguments(client):
    for messages in (QUESTION, [{"role": "user", "content": "Wake me up at 7:30 on Monday."}]):
        r = client.chat.completions.create(model="x", messages=messages, tools=TOOLS, tool_choice="required",
                                           max_tokens=120, temperature=0)
        assert r.choices[0].finish_reason == "tool_calls"
        assert_valid_call(r.choices[0].message.tool_calls[0], names=("get_weather", "set_alarm"))
    calls, finish = streamed_calls(client.chat.completions.create(
        model="x", messages=QUESTION, tools=TOOLS, tool_choice="required", max_tokens=120, stream=True))
    assert finish == "tool_calls" and len(calls) == 1
    assert schema_errors(json.loads(calls[0]["arguments"]), SCHEMAS[calls[0]["name"]]) == []


def test_tool_result_is_answered_in_text(client):
    call = client.chat.completions.create(model="x", messages=QUESTION, tools=TOOLS, tool_choice=NAMED,
                                          max_tokens=120, temperature=0).choices[0].message.tool_calls[0]
    history = [*QUESTION, {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
               {"role": "tool", "tool_call_id": call.id, "content": json.dumps({"temperature_c": 21, "sky": "sunny"})}]
    r = client.chat.completions.create(model="x", messages=history, tools=TOOLS, max_tokens=40, temperature=0)
    choice = r.choices[0]
    assert choice.finish_reason in ("stop", "length") and not choice.message.tool_calls
    assert choice.message.content and choice.message.content.strip()


def test_unenforceable_schema_and_bad_choice_are_400s(client):
    import openai

    bounded = {"type": "function", "function": {"name": "volume", "parameters": {
        "type": "object", "properties": {"level": {"type": "integer", "minimum": 0, "maximum": 10}}}}}
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="x", messages=QUESTION, tools=[WEATHER, bounded], tool_choice="required")
    assert info.value.body["param"] == "tools[1].function.parameters" and "minimum" in info.value.body["message"]
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="x", messages=QUESTION, tools=TOOLS,
                                       tool_choice={"type": "function", "function": {"name": "nope"}})
    assert info.value.body["param"] == "tool_choice"


def test_a_maxlength_in_the_thousands_does_not_crash_the_server(client):
    """Regression: llama-cpp-python's schema converter turns maxLength 2000 into a grammar that
    llama.cpp cannot parse, and the unchecked result crashed the process."""
    note = {"type": "function", "function": {"name": "note", "parameters": {
        "type": "object", "properties": {"text": {"type": "string", "maxLength": 5000}}, "required": ["text"]}}}
    r = client.chat.completions.create(model="x", messages=[{"role": "user", "content": "Note: buy milk."}],
                                       tools=[note], tool_choice="required", max_tokens=60, temperature=0)
    assert r.choices[0].message.tool_calls[0].function.name == "note"
    assert client.models.list().data


# -- --llm-url: pass-through to llama-cpp-python's server ------------------------------------


class RecordingProxy:
    """Forwards HTTP to ``upstream`` and keeps the JSON bodies of chat requests."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.bodies: list[dict] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def _forward(self, method: str) -> None:
                data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if data:
                    proxy.bodies.append(json.loads(data))
                path = self.path[len("/v1"):] if self.path.startswith("/v1") else self.path
                r = httpx.request(method, proxy.upstream + path, content=data or None, timeout=300,
                                  headers={"Content-Type": "application/json"})
                self.send_response(r.status_code)
                self.send_header("Content-Type", r.headers.get("content-type", "application/json"))
                self.send_header("Content-Length", str(len(r.content)))
                self.end_headers()
                self.wfile.write(r.content)

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                self._forward("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._forward("POST")

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def proxy(llama_server):  # noqa: F811 - the imported fixture
    p = RecordingProxy(llama_server)
    yield p
    p.close()


@pytest.fixture(scope="module")
def remote(proxy, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("serve-tools-remote")
    s = start_server(tmp, "--llm-url", proxy.url, env=server_env(tmp))
    yield s
    stop_server(s)
    assert "Traceback" not in s.log_text(), s.log_text()[-4000:]


def test_auto_tools_pass_through_to_the_remote_server(remote, proxy):
    client = remote.client()
    proxy.bodies.clear()
    r = client.chat.completions.create(model="x", messages=QUESTION, tools=TOOLS, tool_choice="auto",
                                       parallel_tool_calls=False, max_tokens=20)
    assert r.model == "smol-remote" and r.choices[0].finish_reason in ("stop", "length", "tool_calls")
    sent = proxy.bodies[-1]
    assert sent["tools"] == TOOLS and sent["tool_choice"] == "auto" and sent["parallel_tool_calls"] is False
    assert sent["messages"] == QUESTION

    client.chat.completions.create(model="x", messages=QUESTION, tools=TOOLS, tool_choice="required", max_tokens=20)
    assert proxy.bodies[-1]["tool_choice"] == "required" and proxy.bodies[-1]["tools"] == TOOLS


def test_remote_calls_come_back_whole_and_streamed(remote, proxy):
    """llama-cpp-python's server forces a named call with its own grammar (it treats
    ``required`` like ``auto``), so the call it returns is asked for by name."""
    client = remote.client()
    r = client.chat.completions.create(model="x", messages=QUESTION, tools=TOOLS, tool_choice=NAMED, max_tokens=120)
    assert proxy.bodies[-1]["tool_choice"] == NAMED
    choice = r.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.tool_calls[0].function.name == "get_weather"
    call = choice.message.tool_calls[0]
    assert isinstance(json.loads(call.function.arguments), dict)

    calls, finish = streamed_calls(client.chat.completions.create(
        model="x", messages=QUESTION, tools=TOOLS, tool_choice=NAMED, max_tokens=120, stream=True))
    assert finish == "tool_calls" and [c["name"] for c in calls] == ["get_weather"]
    assert isinstance(json.loads(calls[0]["arguments"]), dict)

    history = [*QUESTION, {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
               {"role": "tool", "tool_call_id": call.id, "content": "21 C and sunny"}]
    text = client.chat.completions.create(model="x", messages=history, tools=TOOLS, max_tokens=30)
    sent = proxy.bodies[-1]["messages"]
    assert sent[2]["tool_calls"][0]["id"] == call.id and sent[2]["tool_calls"][0]["function"]["name"] == "get_weather"
    assert sent[3] == {"role": "tool", "content": "21 C and sunny", "tool_call_id": call.id}
    assert text.choices[0].message.content
