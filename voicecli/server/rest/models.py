"""``GET /v1/models`` and ``GET /v1/models/{id}``: the loaded models, the installed voices and
the OpenAI model names this server answers to."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from voicecli.server.http_errors import ApiError
from voicecli.server.rest.common import ERRORS, server_state
from voicecli.server.state import REALTIME_ALIASES, STT_ALIASES, TTS_ALIASES, ServerState

router = APIRouter()


def _models(state: ServerState) -> list[dict[str, Any]]:
    names = state.model_names()
    ids = [names["stt"], names["llm"], *state.voices.installed, state.config.model_id,
           *STT_ALIASES, *TTS_ALIASES, *REALTIME_ALIASES]
    created = int(state.started_at)
    return [{"id": i, "object": "model", "created": created, "owned_by": "voicecli"} for i in dict.fromkeys(ids)]


@router.get("/v1/models", responses=ERRORS)
async def list_models(request: Request) -> JSONResponse:
    return JSONResponse({"object": "list", "data": _models(server_state(request))})


@router.get("/v1/models/{model_id:path}", responses={**ERRORS, 404: {"description": "No such model"}})
async def get_model(request: Request, model_id: str) -> JSONResponse:
    for m in _models(server_state(request)):
        if m["id"] == model_id:
            return JSONResponse(m)
    raise ApiError(404, f"the model {model_id[:100]!r} does not exist", "model", "model_not_found")
