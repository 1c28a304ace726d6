"""Wyoming event framing as the server reads it (fake engines, loopback): unreadable headers are
answered with an error and the connection lives; lengths out of bounds close it; a client sending
only garbage is hung up on."""

from __future__ import annotations

import json

import pytest
from wyoming.info import Describe, Info

from tests.unit.wyoming_harness import Client, error_of, make_engines, run
from voicecli.server.wyoming import protocol

pytestmark = pytest.mark.timeout(30)


@pytest.mark.parametrize("line,code", [
    (b"this is not json\n", "invalid-json"),
    (b"[1, 2, 3]\n", "invalid-event"),
    (b'{"data": {"text": "no type"}}\n', "invalid-event"),
    (b'{"type": ""}\n', "invalid-event"),
    (b'{"type": "synthesize", "data_length": 5}\n{oops', "invalid-json"),
    (b'{"type": "synthesize", "data_length": 4}\n[12]', "invalid-event"),
], ids=["not-json", "not-an-object", "no-type", "empty-type", "data-not-json", "data-not-an-object"])
def test_unreadable_events_get_an_error_and_the_connection_lives(line, code):
    async def script(c: Client):
        await c.send_raw(line)
        error = error_of(await c.read())
        await c.assert_alive()
        return error

    assert run(make_engines(), script).code == code


@pytest.mark.parametrize("header", [
    {"type": "audio-chunk", "payload_length": protocol.MAX_PAYLOAD_BYTES + 1},
    {"type": "synthesize", "data_length": protocol.MAX_DATA_BYTES + 1},
    {"type": "audio-chunk", "payload_length": -1},
    {"type": "synthesize", "data_length": "12"},
    {"type": "synthesize", "data_length": True},
], ids=["payload-too-long", "data-too-long", "negative", "string", "bool"])
def test_bad_lengths_are_an_error_and_close_the_connection(header):
    async def script(c: Client):
        await c.send_raw(json.dumps(header).encode() + b"\n")
        return error_of(await c.read()), await c.read()  # then EOF: the byte stream is out of sync

    error, after = run(make_engines(), script)
    assert error.code == "invalid-event" and after is None


def test_a_header_line_over_the_stream_limit_is_an_error_and_the_connection_lives():
    async def script(c: Client):
        await c.send_raw(b'{"type": "' + b"x" * (200 * 1024) + b'"}\n')
        errors = await c.read_until("error")
        await c.send(Describe().event())
        rest = await c.read_until("info")  # the tail of the long line may be a second error
        return errors + rest

    events = run(make_engines(), script)
    assert error_of(events[0]).code == "invalid-json"
    assert {e.type for e in events[1:-1]} <= {"error"} and Info.is_type(events[-1].type)


def test_a_client_sending_only_garbage_is_hung_up_on():
    async def script(c: Client):
        await c.send_raw(b"garbage\n" * protocol.MAX_BAD_EVENTS_IN_A_ROW)  # more could reset the socket
        return await c.read_to_close()

    events = run(make_engines(), script)
    assert len(events) == protocol.MAX_BAD_EVENTS_IN_A_ROW
    assert {error_of(e).code for e in events} == {"invalid-json"}
