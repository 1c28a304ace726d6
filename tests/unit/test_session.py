"""build_conversation: the player follows the voice, the parts are reachable, it runs."""

from __future__ import annotations

import asyncio

from tests.unit.pipeline_fakes import FakeEngines, FakeSynth, until
from voicecli.audio.io import InstantOutput, PushSource
from voicecli.pipeline.conversation import ConversationOptions
from voicecli.pipeline.events import Event, TurnCompleted
from voicecli.pipeline.session import build_conversation, load_echo_canceller


def test_built_conversation_speaks_with_the_given_voice_at_its_rate():
    engines = FakeEngines({}, {"Hi.": "Hello there."})
    voice = FakeSynth("other", sample_rate_hz=22050)
    events: list[Event] = []
    source = PushSource()
    convo = build_conversation(engines, source=lambda _: source, output=InstantOutput, emit=events.append,
                               options=ConversationOptions(), voice=voice)
    assert convo.source is source and convo.player.sample_rate_hz == 22050
    assert isinstance(convo.output, InstantOutput) and convo.output.player is convo.player

    async def scenario() -> None:
        task = asyncio.create_task(convo.run())
        await asyncio.sleep(0)
        convo.submit_text("Hi.")
        await until(lambda: any(isinstance(e, TurnCompleted) for e in events))
        source.end()
        await asyncio.wait_for(task, 3)

    asyncio.run(scenario())
    assert voice.calls == ["Hello there."] and engines.speaker.calls == []
    assert convo.completed[0].assistant == "Hello there."


def test_echo_canceller_failure_is_reported_not_raised(monkeypatch):
    import voicecli.audio.echo as echo

    def broken() -> None:
        raise RuntimeError("no AEC here")

    monkeypatch.setattr(echo, "EchoCanceller", broken)
    notes: list[str] = []
    assert load_echo_canceller(notes.append) is None
    assert notes == ["no AEC here"]
