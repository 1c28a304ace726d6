"""The realtime server's guards as tables, without a server: the rate limiter's buckets, cutting
prompt text to the LLM's budget with bounded tokenising, the session fields with ranges and
caps, the subprotocol choice, and the forms an API key may arrive in."""

from __future__ import annotations

from typing import Any

import pytest

from voicecli.server.limits import AuthMiddleware
from voicecli.server.realtime.context_budget import MAX_CHARS_PER_TOKEN, PromptBudget, fit, newest_within
from voicecli.server.realtime.endpoint import select_subprotocol
from voicecli.server.realtime.parsing import ToolLimits, parse_session_update
from voicecli.server.realtime.protocol import ClientEventError, SessionConfig
from voicecli.server.realtime.rate_limit import ClientRateLimit, RateLimits, TokenBucket


# --- rate limit ------------------------------------------------------------------------------------
def test_a_bucket_allows_its_burst_then_its_rate() -> None:
    b = TokenBucket.full(rate_per_s=10, capacity=5, now_s=0.0)
    assert [b.take(1, 0.0) for _ in range(6)] == [True] * 5 + [False]
    assert b.take(1, 0.1) and not b.take(1, 0.1)  # 0.1 s refills one
    assert not b.take(6, 100.0)  # never more than the capacity at once
    assert b.take(5, 100.0)


@pytest.mark.parametrize(("sizes", "dt_s", "allowed"), [
    ([10] * 4, 0.0, [True, True, True, False]),          # the event burst
    ([600, 600], 0.0, [True, False]),                     # the byte burst
    ([10] * 6, 0.5, [True] * 6),                          # within both rates
    ([2000], 0.0, [False]),                               # one event larger than the byte burst
])
def test_client_rate_limit_needs_both_buckets(sizes: list[int], dt_s: float, allowed: list[bool]) -> None:
    limit = ClientRateLimit(RateLimits(events_per_s=2, event_burst=3, bytes_per_s=1000, byte_burst=1000), 0.0)
    assert [limit.allow(n, i * dt_s) for i, n in enumerate(sizes)] == allowed
    assert (limit.events, limit.bytes) == (len(sizes), sum(sizes))


# --- prompt budget -----------------------------------------------------------------------------------
class CountingTokens:
    """One token per four characters; remembers how many characters it was asked to count."""

    def __init__(self) -> None:
        self.chars = 0

    def __call__(self, text: str) -> int:
        self.chars += len(text)
        return (len(text) + 3) // 4


def test_fit_keeps_everything_that_fits_and_cuts_at_words() -> None:
    count = CountingTokens()
    assert fit("short text", 100, count, keep_end=True) == ("short text", 3)
    text = " ".join(f"w{i:03d}" for i in range(200))  # 1000 characters, 250 tokens
    head, tokens = fit(text, 50, count, keep_end=False)
    tail, _ = fit(text, 50, count, keep_end=True)
    assert tokens <= 50 and text.startswith(head) and head.split()[-1] in text.split()
    assert text.endswith(tail) and tail.split()[0] in text.split() and tail.endswith("w199")
    assert fit("anything", 0, count, keep_end=True) == ("", 0)


def test_newest_pieces_win_and_older_ones_are_never_tokenised() -> None:
    count = CountingTokens()
    pieces = [f"old item {i} " + "x" * 4000 for i in range(2000)] + ["the question?"]
    kept, used = newest_within(pieces, 1000, count)
    assert kept[-1] == "the question?" and used <= 1000
    assert len("".join(kept)) < 4100
    assert count.chars <= 3 * 1000 * MAX_CHARS_PER_TOKEN  # bounded by the budget, not by 8 MB of items


def test_prompt_budget_splits_system_and_user() -> None:
    count = CountingTokens()
    budget = PromptBudget(1024, count)
    system = budget.system("Be brief. " * 1000, ["system item one", "system item two"])
    assert system.tokens <= 512 and system.text.startswith("Be brief.") and len(system.instructions) < 2100
    assert system.items == ("system item one", "system item two")  # in what the instructions left
    crowded = budget.system("Be brief.", [f"item {i} " + "y" * 400 for i in range(20)])
    assert crowded.tokens <= 512 and crowded.items[-1].startswith("item 19 ")  # the newest items win
    assert len(crowded.items) < 6
    small = budget.system("Be brief.", ["first", "", "second"])
    assert small.text == "Be brief.\n\nfirst\n\nsecond"
    user = budget.user(["a" * 100_000, "the question?"], small.tokens)
    assert user.endswith("\nthe question?") and count(user) <= 1024 - small.tokens
    assert budget.user(["  ", ""], 0) == ""


# --- session fields -----------------------------------------------------------------------------------
def session_error(session: dict[str, Any]) -> tuple[str, str | None, str]:
    with pytest.raises(ClientEventError) as exc:
        parse_session_update(SessionConfig(), session, ToolLimits())
    return exc.value.message, exc.value.param, exc.value.code


TD = "session.audio.input.turn_detection"


@pytest.mark.parametrize(("session", "expected"), [
    ({"audio": {"input": {"turn_detection": {"type": "server_vad", "idle_timeout_ms": -5}}}},
     (f"'{TD}.idle_timeout_ms' must be between 1000 and 3600000", f"{TD}.idle_timeout_ms", "invalid_value")),
    ({"audio": {"input": {"turn_detection": {"idle_timeout_ms": 10**12}}}},
     (f"'{TD}.idle_timeout_ms' must be between 1000 and 3600000", f"{TD}.idle_timeout_ms", "invalid_value")),
    ({"tools": [{"type": "function", "name": f"f{i}"} for i in range(100_000)]},
     ("'session.tools' has 100000 tools; at most 128", "session.tools", "invalid_value")),
    ({"tools": [{"type": "function", "description": "x" * 300_000}]},
     ("'session.tools' is too large (262144 bytes of JSON at most)", "session.tools", "invalid_value")),
    ({"tools": ["f"]}, ("'session.tools[0]' must be an object", "session.tools[0]", "invalid_type")),
    ({"tools": {}}, ("'session.tools' must be an array", "session.tools", "invalid_type")),
    ({"tool_choice": "x" * 10_000},
     ("'session.tool_choice' must be 'auto', 'none', 'required' or a small object naming a tool",
      "session.tool_choice", "invalid_value")),
    ({"input_audio_noise_reduction": {"type": "x" * 1000}},
     ("'session.input_audio_noise_reduction.type' must be 'near_field' or 'far_field'",
      "session.input_audio_noise_reduction.type", "invalid_value")),
    ({"model": "m" * 201}, ("'session.model' is too long (200 characters at most)", "session.model", "invalid_value")),
    ({"audio": {"input": {"transcription": {"prompt": "p" * 5000}}}},
     ("'session.audio.input.transcription.prompt' is too long (4096 characters at most)",
      "session.audio.input.transcription.prompt", "invalid_value")),
    ({"voicecli": {"latency_events": "yes"}},
     ("'session.voicecli.latency_events' has the wrong type: expected boolean", "session.voicecli.latency_events",
      "invalid_type")),
    ({"voicecli": {"other": 1}}, ("'session.voicecli' knows only 'latency_events'", "session.voicecli",
                                  "invalid_value")),
])
def test_out_of_range_session_fields_are_refused(session: dict[str, Any], expected: tuple[str, str, str]) -> None:
    assert session_error(session) == expected


def test_session_fields_within_their_ranges() -> None:
    cfg = parse_session_update(SessionConfig(), {
        "audio": {"input": {"turn_detection": {"idle_timeout_ms": 5000},
                            "noise_reduction": {"type": "near_field", "extra": "dropped"}}},
        "tools": [{"type": "function", "name": f"f{i}"} for i in range(128)], "tool_choice": "required",
        "voicecli": {"latency_events": True}})
    assert cfg.turn_detection is not None and cfg.turn_detection.idle_timeout_ms == 5000
    assert cfg.noise_reduction == {"type": "near_field"} and len(cfg.tools) == 128
    assert cfg.tool_choice == "required" and cfg.latency_events
    assert not parse_session_update(cfg, {"voicecli": {"latency_events": False}}).latency_events
    assert parse_session_update(cfg, {"voicecli": {}}).latency_events  # nothing said: unchanged


# --- handshake -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("offered", "selected"), [
    (["realtime", "openai-insecure-api-key.sk-123"], "realtime"),
    (["openai-insecure-api-key.sk-123", "realtime"], "realtime"),
    (["openai-insecure-api-key.sk-123"], None),
    (["openai-beta.realtime-v1"], None),
    ([], None),
])
def test_the_key_subprotocol_is_never_selected(offered: list[str], selected: str | None) -> None:
    assert select_subprotocol(offered) == selected


@pytest.mark.parametrize(("key", "sent", "ok"), [
    ("ascii-key", b"ascii-key", True),
    ("ascii-key", b"ascii-kez", False),
    ("clé", "clé".encode(), True),               # curl in a UTF-8 terminal
    ("clé", "clé".encode("latin-1"), True),      # browsers and Python clients: latin-1
    ("ключ-🔑", "ключ-🔑".encode(), True),
    ("ключ-🔑", "ключ-🔑".encode()[:-1], False),
    ("clé", b"cl\xc3\x83\xc2\xa9", False),        # the mojibake the old comparison produced
])
def test_api_keys_compare_as_the_bytes_sent(key: str, sent: bytes, ok: bool) -> None:
    middleware = AuthMiddleware(lambda *a: None, key)  # type: ignore[arg-type]
    assert middleware._ok(sent) is ok
