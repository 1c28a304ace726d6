"""talk's tools (``--tools``): the :class:`~voicecli.tools.runner.LocalTools` runner started
before the models load (a bad ``tool_choice`` fails at once; an MCP server that cannot start
is a notice), and due reminders turned into spoken turns: the reminder is shown as a notice and
sent as a typed turn ("Reminder: …") that the assistant answers out loud, with no tools offered
for that one reply (a forced tool choice would otherwise call a tool instead)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from voicecli.config import ToolsConfig
from voicecli.pipeline.events import Event, NoticeRaised
from voicecli.tools.reminders import Reminder
from voicecli.tools.runner import LocalTools


class TalkTools:
    def __init__(self) -> None:
        self._notices: list[str] = []
        self._conversation: Any = None
        self._emit: Callable[[Event], None] | None = None
        self.runner: LocalTools | None = None

    @classmethod
    def start(cls, config: ToolsConfig) -> TalkTools:
        talk_tools = cls()
        talk_tools.runner = LocalTools.start(config, on_due=talk_tools._due, on_notice=talk_tools._notice)
        return talk_tools

    def attach(self, conversation: Any, emit: Callable[[Event], None]) -> None:
        """From now on reminders go to ``conversation``; notices so far are emitted now."""
        self._conversation, self._emit = conversation, emit
        for line in self._notices:
            emit(NoticeRaised(line))
        self._notices.clear()

    def _notice(self, line: str) -> None:
        if self._emit is None:
            self._notices.append(line)
        else:
            self._emit(NoticeRaised(line))

    def _due(self, reminder: Reminder) -> None:
        """A timer thread: show the reminder, and have the assistant say it."""
        self._notice(f"reminder: {reminder.text}")
        if self._conversation is not None and self.runner is not None:
            self.runner.skip_next_request()
            self._conversation.submit_text(f"Reminder: {reminder.text}")

    def close(self) -> None:
        if self.runner is not None:
            self.runner.close()
