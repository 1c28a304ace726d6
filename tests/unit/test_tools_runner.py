"""talk's tool runner without MCP servers: config, enable/disable, tool_choice, call outcomes;
the [tools] config section; the history and screens showing calls."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from voicecli.config import McpServerConfig, ToolsConfig, resolve
from voicecli.errors import ConfigError
from voicecli.llm.tools import ToolCall, ToolChoice, ToolOutcome
from voicecli.tools.runner import LocalTools, is_enabled


def start(**config) -> LocalTools:
    return LocalTools.start(ToolsConfig(**config))


def test_builtins_offered_with_the_configured_choice():
    runner = start(tool_choice="get_time", disabled=["calculate"])
    try:
        request = runner.request()
        assert request is not None and request.choice == ToolChoice.function("get_time")
        names = [t.name for t in request.tools]
        assert "get_time" in names and "set_reminder" in names and "calculate" not in names
        assert {i.name: i.enabled for i in runner.listing()}["calculate"] is False
        assert all(i.source == "builtin" for i in runner.listing())
    finally:
        runner.close()


def test_enabled_list_and_sources():
    config = ToolsConfig(enabled=["builtin", "lookup"], disabled=["get_time"])
    assert is_enabled("calculate", "builtin", config) and not is_enabled("get_time", "builtin", config)
    assert is_enabled("anything", "mcp:lookup", config) and not is_enabled("anything", "mcp:other", config)
    assert is_enabled("x", "mcp:a", ToolsConfig()) and not is_enabled("x", "mcp:a", ToolsConfig(disabled=["a"]))


def test_choice_none_offers_nothing_and_bad_choices_are_one_line_errors():
    runner = start(tool_choice="none")
    assert runner.request() is None
    runner.close()
    with pytest.raises(ConfigError, match="names 'weather', which is not an enabled tool"):
        start(tool_choice="weather")
    with pytest.raises(ConfigError, match="names 'calculate', which is not an enabled tool"):
        start(tool_choice="calculate", disabled=["builtin"])
    with pytest.raises(ConfigError, match="'required' but no tool is enabled"):
        start(tool_choice="required", disabled=["builtin"])


def test_run_outcomes():
    runner = start()
    try:
        ok = runner.run(ToolCall("c1", "calculate", '{"expression": "6 * 7"}'), 5)
        assert (ok.output, ok.error, ok.call.id) == ("42", False, "c1") and ok.elapsed_ms >= 0
        for call, message in [
            (ToolCall("c2", "calculate", '{"expression": "import os"}'), "not an arithmetic expression"),
            (ToolCall("c3", "calculate", "{not json"), "not valid JSON"),
            (ToolCall("c4", "calculate", "[1]"), "must be a JSON object"),
            (ToolCall("c5", "weather", "{}"), "there is no tool named 'weather'"),
            (ToolCall("c6", "calculate", "{}"), "'expression' must be a non-empty string"),
        ]:
            outcome = runner.run(call, 5)
            assert outcome.error and message in outcome.output and "\n" not in outcome.output, outcome
    finally:
        runner.close()


def test_mcp_without_a_server_process_is_a_notice_not_a_crash(tmp_path):
    notices: list[str] = []
    runner = LocalTools.start(ToolsConfig(mcp={"gone": McpServerConfig(command=str(tmp_path / "no-such-server"))}),
                              on_notice=notices.append, connect_timeout_s=20)
    try:
        assert len(notices) == 1 and "MCP server 'gone' cannot start" in notices[0] and "\n" not in notices[0]
        assert all(i.source == "builtin" for i in runner.listing())
    finally:
        runner.close()


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "config.toml"
    p.write_text(text)
    return p


def test_tools_config_section(tmp_path):
    f = write(tmp_path, '[tools]\nuse = true\ntool_choice = "lookup"\ndisabled = ["calculate"]\n'
                        '[tools.mcp.files]\ncommand = "files-server"\nargs = ["--root", "/tmp"]\nenv = {A = "1"}\n'
                        '[tools.mcp.web]\nurl = "http://127.0.0.1:8000/mcp"\n')
    tools = resolve({}, env={"VOICECLI_TOOLS_ENABLED": "builtin, files"}, file=f).settings.tools
    assert tools.use and tools.tool_choice == "lookup" and tools.enabled == ["builtin", "files"]
    assert tools.mcp["files"].args == ["--root", "/tmp"] and tools.mcp["files"].env == {"A": "1"}
    assert tools.mcp["web"].url == "http://127.0.0.1:8000/mcp" and tools.mcp["web"].command is None


@pytest.mark.parametrize("text,message", [
    ('[tools.mcp.x]\nargs = ["a"]\n', "either command (stdio) or url"),
    ('[tools.mcp.x]\ncommand = "a"\nurl = "http://h/mcp"\n', "either command (stdio) or url"),
    ('[tools.mcp.x]\nurl = "ftp://h/mcp"\n', "url must start with http"),
    ('[tools.mcp.x]\ncommand = "a"\nport = 1\n', "tools.mcp.x.port"),
    ('[tools.mcp."a b"]\ncommand = "a"\n', "MCP server name 'a b'"),
    ('[tools]\ntool_choice = "two words"\n', "invalid value for tools.tool_choice"),
    ('[tools]\ntimeout_s = 0\n', "invalid value for tools.timeout_s"),
])
def test_bad_tools_config_is_one_line(tmp_path, text, message):
    with pytest.raises(ConfigError) as e:
        resolve({}, env={}, file=write(tmp_path, text))
    line = e.value.one_line()
    assert message in line and "\n" not in line and "(from file (" in line


def test_history_stores_tool_calls_and_results(tmp_path):
    import sqlite3

    from voicecli.pipeline.events import Latency, TurnRecord
    from voicecli.pipeline.history import HistoryStore

    db = tmp_path / "h.sqlite3"
    old = sqlite3.connect(db)  # a database from before tools were recorded
    old.executescript("CREATE TABLE turns (session_id TEXT NOT NULL, turn INTEGER NOT NULL, user TEXT NOT NULL, "
                      "assistant TEXT NOT NULL, full_reply TEXT NOT NULL, interrupted INTEGER NOT NULL, "
                      "started_at REAL NOT NULL, ended_at REAL NOT NULL, latency TEXT NOT NULL, "
                      "PRIMARY KEY (session_id, turn));")
    old.close()
    store = HistoryStore(db)
    sid = store.new_session({})
    call = ToolCall("call_1", "calculate", '{"expression":"6*7"}')
    store.add_turn(sid, TurnRecord(1, "what is six times seven", "42.", False, "42.", 1.0, 2.0, Latency(),
                                   tools=(ToolOutcome(call, "42", False, 1.5),)))
    store.add_turn(sid, TurnRecord(2, "hi", "hello", False, "hello", 3.0, 4.0, Latency()))
    turns = store.turns(sid)
    store.close()
    assert turns[0]["tools"] == [{"id": "call_1", "name": "calculate", "arguments": '{"expression":"6*7"}',
                                  "output": "42", "error": False}]
    assert turns[1]["tools"] == []


def test_screens_show_the_call_then_its_result():
    import io

    from voicecli.pipeline.events import Latency, ToolCalled, ToolFinished, TurnCompleted, TurnRecord
    from voicecli.tui.printers import JsonPrinter, PlainPrinter
    from voicecli.tui.view import TalkView, wrap_conversation

    call = ToolCall("call_1", "set_reminder", '{"minutes":2,"text":"tea"}')
    events = [ToolCalled(1, call), ToolFinished(1, ToolOutcome(call, "Reminder 1 set for 10:02:00", False, 3.0)),
              TurnCompleted(TurnRecord(1, "remind me", "Done.", False, "Done.", 1.0, 2.0, Latency()))]
    view = TalkView()
    view.apply(events[0])
    assert [m.text for m in view.lines] == ['set_reminder(minutes=2, text="tea") …']
    for ev in events[1:]:
        view.apply(ev)
    shown = [str(t) for t in wrap_conversation(view, 100)]
    assert shown == ['tool: set_reminder(minutes=2, text="tea") → Reminder 1 set for 10:02:00', "bot: Done."]
    plain, lines = io.StringIO(), io.StringIO()
    for ev in events:
        PlainPrinter(plain)(ev)
        JsonPrinter(lines)(ev)
    assert 'tool: set_reminder(minutes=2, text="tea") …' in plain.getvalue()
    assert [json.loads(x)["type"] for x in lines.getvalue().splitlines()] == ["tool_call", "tool_result", "turn"]


def test_a_due_reminder_is_shown_and_said_as_a_turn_without_tools():
    import threading

    from voicecli.cli.talk_tools import TalkTools
    from voicecli.pipeline.events import NoticeRaised

    said: list[str] = []
    done = threading.Event()

    class Conversation:  # the surroundings: what talk's conversation offers
        def submit_text(self, text: str) -> None:
            said.append(text)
            done.set()

    talk_tools = TalkTools.start(ToolsConfig(use=True, tool_choice="required"))
    notices: list[str] = []
    talk_tools.attach(Conversation(), lambda ev: notices.append(ev.message) if isinstance(ev, NoticeRaised) else None)
    runner = talk_tools.runner
    assert runner is not None
    try:
        outcome = runner.run(ToolCall("c1", "set_reminder", '{"minutes": 0.001, "text": "take the tea out"}'), 5)
        assert not outcome.error, outcome
        assert done.wait(5)
        assert said == ["Reminder: take the tea out"] and notices == ["reminder: take the tea out"]
        assert runner.request() is None  # the reminder's reply: just say it
        again = runner.request()
        assert again is not None and again.choice.mode == "required"
    finally:
        talk_tools.close()


def test_voicecli_config_masks_mcp_server_env(tmp_path):
    from voicecli.config import explain

    f = write(tmp_path, '[tools.mcp.x]\ncommand = "srv"\nenv = {TOKEN = "s3cret"}\n')
    row = next(r for r in explain(resolve({}, env={}, file=f)) if r.key == "tools.mcp")
    assert row.value == {"x": {"command": "srv", "env": {"TOKEN": "***"}}}
