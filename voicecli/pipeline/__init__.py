"""The conversation pipeline: events, turn-taking, orchestration and the history store.

``session.build_conversation`` assembles a :class:`~voicecli.pipeline.conversation.Conversation`
(frame loop, turns, barge-in) from engines, a frame source, a player and an output. A reply
(``reply``) is answered by ``responding`` and spoken by ``speaking``; ``listening`` turns frames
into endpoint events; ``chat_context`` is what the LLM sees; ``events`` is what renderers see."""
