"""OpenAI-compatible REST routes: audio transcriptions, speech, chat completions, models.
Inference runs on the shared executors; the event loop only parses, streams and encodes
nothing heavier than JSON. ``router`` is what ``create_app`` mounts."""

from __future__ import annotations

from fastapi import APIRouter

from voicecli.server.rest import chat, models, speech, transcriptions

router = APIRouter()
for _module in (transcriptions, speech, chat, models):
    router.include_router(_module.router)

__all__ = ["router"]
